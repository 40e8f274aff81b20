"""Image bytes as a build embeds them: EXIF orientation applied, the original bytes kept when nothing changes."""

import io

from PIL import Image, ImageOps

EXIF_ORIENTATION = 0x0112


def oriented_bytes(data: bytes) -> bytes:
    """`data` itself when the image needs no rotation, else the image turned upright and encoded again.

    JPEG is re-encoded as JPEG (quality 95), everything else as PNG.
    """
    with Image.open(io.BytesIO(data)) as image:
        if image.getexif().get(EXIF_ORIENTATION, 1) == 1:
            return data
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        if image.format == "JPEG":
            upright.save(buffer, format="JPEG", quality=95)
        else:
            upright.save(buffer, format="PNG")
        return buffer.getvalue()

"""Pictures of examples: the image with its annotation drawn on it, and the text of the example beside it.

Points become numbered markers (pixmo-points and pixmo-points-eval points are percent of the image size,
pixmo-count points are pixels), pixmo-points-eval masks a tinted overlay; captions, questions and answers, the
count and the clock's time go in a wrapped text panel to the right of the image.
"""

import functools
import io
import logging
import math
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .subsets import get_subset

logger = logging.getLogger(__name__)

PANEL_WIDTH = 380
MIN_SIDE, MAX_SIDE = 336, 800  # the drawn image's longer side: small images are enlarged so markers fit
TEXT_SIZE, TITLE_SIZE = 14, 17
MAX_PANEL_LINES = 48
MARKER = (255, 0, 200)
MASK_TINTS = ((255, 0, 200), (0, 200, 255), (255, 200, 0), (0, 230, 120), (150, 90, 255))
INK, HEAD, MUTED, PAPER = (20, 20, 20), (25, 70, 150), (100, 100, 100), (255, 255, 255)


@functools.lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def draw_example(subset: str, example: dict, title: Optional[str] = None) -> Image.Image:
    """The image of one example with its annotation drawn on it and its text in a panel beside it.

    Args:
        subset (`str`): the subset, by any name `pixmo.subsets.get_subset` takes (`pixmo_points`,
            `pixmo-count`); `pixmo-points-eval` (or an example with `masks`) draws the masks too.
        example (`dict`): a row of a built dataset: the Hub's columns and an `image` (a `PIL.Image.Image`, a
            `{"bytes", "path"}` dict or an `np.ndarray`). A pixmo-clocks row without an image gets a face drawn
            by `pixmo_clocks.render.render_row`.
        title (`str`, *optional*): the panel's first line; defaults to the subset's Hub name.

    Returns:
        `PIL.Image.Image`: the RGB picture.
    """
    package = _package(subset)
    image = _image_of(package, example)
    scale = _scale(image.size)
    canvas = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.NEAREST)
    if package == "pixmo_points" and example.get("masks"):
        canvas = _tint_masks(canvas, example["masks"])
    points = _points_in_pixels(package, example, image.size)
    if points:
        _draw_markers(canvas, [(x * scale, y * scale) for x, y in points])
    lines = _panel_lines(package, example)
    title = title or get_subset(package).hub_name + (" (eval)" if "masks" in example else "")
    return _with_panel(canvas, title, lines)


def contact_sheet(images: Sequence[Image.Image], columns: int, gap: int = 8) -> Image.Image:
    """Pictures in a grid of `columns` columns, each in a cell as large as the largest picture.

    Args:
        images (`Sequence[PIL.Image.Image]`): the pictures, in reading order.
        columns (`int`): pictures per row (at least 1).
        gap (`int`, *optional*, defaults to `8`): pixels between cells and around the sheet.
    """
    if not images:
        raise ValueError("contact_sheet needs at least one image, got none.")
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns!r}")
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    cell_w, cell_h = max(i.width for i in images), max(i.height for i in images)
    sheet = Image.new("RGB", (columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap), (200, 200, 200))
    for index, picture in enumerate(images):
        row, column = divmod(index, columns)
        sheet.paste(picture.convert("RGB"), (gap + column * (cell_w + gap), gap + row * (cell_h + gap)))
    return sheet


# -- the image ------------------------------------------------------------------------------------------------


def _package(subset: str) -> str:
    name = subset.split("/")[-1].lower().replace("_", "-")
    if name == "pixmo-points-eval":
        return "pixmo_points"
    return get_subset(subset).package


def _image_of(package: str, example: dict) -> Image.Image:
    image = example.get("image")
    if image is None:
        if package == "pixmo_clocks":
            from pixmo_clocks.render import render_row

            return render_row(example)
        raise ValueError(
            f"The {package} example has no `image` (columns: {sorted(example)}): build the subset with its images, "
            "or pass an example with an `image` column (datasets.Image)."
        )
    if isinstance(image, dict):
        image = Image.open(io.BytesIO(image["bytes"])) if image.get("bytes") else Image.open(image["path"])
    elif isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return image.convert("RGB")


def _scale(size: tuple[int, int]) -> float:
    """A whole-number enlargement for small images (pixels stay crisp), a reduction for large ones."""
    longest = max(size)
    if longest > MAX_SIDE:
        return MAX_SIDE / longest
    return float(max(1, round(MIN_SIDE / longest)))


def _points_in_pixels(package: str, example: dict, size: tuple[int, int]) -> list[tuple[float, float]]:
    """The example's points in pixels of the original image."""
    width, height = size
    if package == "pixmo_points":  # percent (0-100) of the image size
        return [(p["x"] / 100 * width, p["y"] / 100 * height) for p in example.get("points") or []]
    if package == "pixmo_count":  # pixels, a dict of lists
        points = example.get("points") or {"x": [], "y": []}
        return list(zip(points["x"], points["y"]))
    return []


def _tint_masks(canvas: Image.Image, masks: list) -> Image.Image:
    pixels = np.asarray(canvas, dtype=np.float32).copy()
    for index, mask in enumerate(masks):
        mask = np.asarray(mask, dtype=bool)
        if not mask.size:
            continue
        big = np.asarray(Image.fromarray(mask).resize(canvas.size, Image.Resampling.NEAREST), dtype=bool)
        pixels[big] = 0.45 * pixels[big] + 0.55 * np.array(MASK_TINTS[index % len(MASK_TINTS)], dtype=np.float32)
    return Image.fromarray(pixels.astype(np.uint8))


def _draw_markers(canvas: Image.Image, points: list[tuple[float, float]]) -> None:
    """A ring with a dot at each point, numbered from 1 in a tag up and to the right (kept inside the image)."""
    draw = ImageDraw.Draw(canvas)
    font = _font(12)
    for number, (x, y) in enumerate(points, start=1):
        for radius, color, width in ((8, PAPER, 4), (8, MARKER, 2)):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=color, width=width)
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=MARKER)
        left, top, right, bottom = draw.textbbox((0, 0), str(number), font=font)
        tag_w, tag_h = right - left + 6, bottom - top + 4
        tx = min(max(x + 7, 0), canvas.width - tag_w)
        ty = min(max(y - 7 - tag_h, 0), canvas.height - tag_h)
        draw.rectangle([tx, ty, tx + tag_w, ty + tag_h], fill=MARKER)
        draw.text((tx + 3 - left, ty + 2 - top), str(number), fill=PAPER, font=font)


# -- the text panel -------------------------------------------------------------------------------------------


def _panel_lines(package: str, example: dict) -> list[tuple[str, str]]:
    """`(kind, text)` paragraphs: kind `head` is drawn in a heading colour, `text` in ink, `note` muted."""
    get = example.get
    if package == "pixmo_points":
        count = len(get("points") or [])
        lines = [("head", f"label: {get('label')}"), ("text", f"count: {count} (numbered points)")]
        if get("collection_method"):
            lines.append(("note", f"collected by {get('collection_method')}"))
        if get("masks"):
            lines.append(("note", f"{len(get('masks'))} object masks tinted"))
        return lines
    if package == "pixmo_count":
        return [("head", f"label: {get('label')}"), ("text", f"count: {get('count')} (numbered points)")]
    if package == "pixmo_cap":
        lines = [("head", "caption"), ("text", get("caption") or "")]
        return lines + [("note", f"{len(get('transcripts') or [])} transcript(s)")]
    if package == "pixmo_capqa":
        messages = get("messages") or []
        turns = [("text", ("Q: " if i % 2 == 0 else "A: ") + m) for i, m in enumerate(messages)]
        return [("head", "conversation")] + (turns or [("text", get("question") or "")]) + [
            ("head", "answer"), ("text", get("answer") or "")]
    if package == "pixmo_ama":
        return [("head", "question"), ("text", get("question") or ""), ("head", "answer"), ("text", get("answer") or "")]
    if package == "pixmo_docs":
        questions = get("questions") or {"question": [], "answer": []}
        lines = [("note", f"image id: {get('image_id')}")]
        for question, answer in zip(questions["question"], questions["answer"]):
            lines += [("text", f"Q: {question}"), ("head", f"A: {answer}")]
        return lines
    if package == "pixmo_clocks":
        return [
            ("head", f"time: {get('text')}"),
            ("text", f"watch_time: {get('watch_time')}"),
            ("note", f"face: {get('watchface_name')} ({get('watchface_id')}), {get('time_format')}, "
                     f"seconds {'shown' if get('shows_seconds') else 'not shown'}"),
        ]
    return [("text", str({k: v for k, v in example.items() if k != "image"}))]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of `text` no wider than `width` pixels (a word longer than that is broken)."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        words = paragraph.split(" ")
        line = ""
        for word in words:
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.getlength(word) > width:  # a word wider than the panel: break it
                cut = max(1, int(len(word) * width / font.getlength(word)))
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _with_panel(canvas: Image.Image, title: str, paragraphs: list[tuple[str, str]]) -> Image.Image:
    font, title_font = _font(TEXT_SIZE), _font(TITLE_SIZE)
    inner = PANEL_WIDTH - 24
    rows: list[tuple[str, str]] = [("title", line) for line in _wrap(title, title_font, inner)]
    for kind, text in paragraphs:
        rows += [(kind, line) for line in _wrap(text, font, inner)]
    if len(rows) > MAX_PANEL_LINES:
        rows = rows[: MAX_PANEL_LINES - 1] + [("note", f"... ({len(rows) - MAX_PANEL_LINES + 1} more lines)")]
    line_height = TEXT_SIZE + 5
    text_height = 12 + TITLE_SIZE + 8 + line_height * len(rows)
    height = max(canvas.height, text_height)
    picture = Image.new("RGB", (canvas.width + PANEL_WIDTH, height), PAPER)
    picture.paste(canvas, (0, 0))
    draw = ImageDraw.Draw(picture)
    x, y = canvas.width + 12, 10
    for kind, line in rows:
        if kind == "title":
            draw.text((x, y), line, fill=INK, font=title_font)
            y += TITLE_SIZE + 8
            continue
        draw.text((x, y), line, fill={"head": HEAD, "text": INK, "note": MUTED}[kind], font=font)
        y += line_height
    draw.line([(canvas.width, 0), (canvas.width, height)], fill=(200, 200, 200))
    return picture


def load_examples(data_dir: str, split: str, start: int = 0, count: int = 1,
                  config: Optional[str] = None) -> list[dict[str, Any]]:
    """Rows `start` to `start + count - 1` of a built folder (fewer where the split ends).

    The folder is read with `datasets.load_dataset(data_dir, config, split=split, streaming=True)`: straight
    from its parquet files, with no cache to prepare (or to go stale when the folder is rebuilt).

    Raises:
        `IndexError`: `start` past the end of the split.
    """
    import datasets

    if start < 0:
        raise IndexError(f"index must be at least 0, got {start}.")
    dataset = datasets.load_dataset(str(data_dir), config, split=split, streaming=True)
    examples = list(dataset.skip(start).take(count))
    if not examples:
        raise IndexError(
            f"index {start} is outside split {split!r} of {data_dir} (it has fewer rows). Pass a smaller --index."
        )
    return examples

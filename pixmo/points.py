"""Points and counts in answers: write and read the three output styles, `molmo2`, `molmo` and `plain`.

One convention throughout: a point is an `(x, y)` pair in **percent (0-100) of the image width and height**,
the unit of pixmo-points. `format_points` takes such points and `parse_points` gives them back; only the
`plain` style writes pixels, so it needs the image size both ways. `to_pixels` and `to_percent` convert.

The styles (all points sorted by x, then y):

- `molmo2` (the default), as Molmo2 checkpoints emit:
  `<points coords="1 1 012 345 2 911 800">red car</points>`: the image index (1), then for each point its
  1-based id and x, y as integers on a 0-1000 scale, three digits zero padded.
- `molmo`, Molmo v1 point tags in percent with one decimal:
  `<point x="1.2" y="34.5" alt="red car">red car</point>`, or for several points
  `<points x1="1.2" y1="34.5" x2="91.1" y2="80.0" alt="red car">red car</points>`.
- `plain`, pixel integers: `Point: x=245 y=378` for one point and `Points: x=245 y=378; x=12 y=40` for
  several (one line, points separated by `; `).

Zero points are written `There are none.` in every style. Counting answers wrap the points:
`Counting the <points ...> shows a total of 3.`

Rounding of each style: `molmo2` and `molmo` keep x and y within 0.05 percent, `plain` within half a pixel.
"""

import html
import io
import re
from typing import Any, Literal, Optional, Sequence, get_args

from PIL import Image

Style = Literal["molmo2", "molmo", "plain"]
STYLES: tuple = get_args(Style)
DEFAULT_STYLE = "molmo2"

NONE_ANSWER = "There are none."
MOLMO2_SCALE = 1000  # molmo2 coordinates are integers on 0-1000
MOLMO2_IMAGE_INDEX = 1

_NUMBER = r"-?\d+(?:\.\d+)?"
# Attributes stop at the next `<` or `>` and bodies at the next `<`, so that degenerate, repetitive
# generations are read in linear time.
_TAG = re.compile(r"<points?\b([^<>]*)")
_TAG_WITH_BODY = re.compile(r"<(points?)\b[^<>]*>[^<]*</\1>|<points?\b[^<>]*>?")
_COORDS = re.compile(r'\bcoords\s*=\s*"([^"]*)"')
_MOLMO_X = re.compile(rf'\bx(\d*)\s*=\s*"({_NUMBER})"')
_PLAIN_POINT = re.compile(rf'(?<![\w"])x\s*=\s*({_NUMBER})\s*,?\s*y\s*=\s*({_NUMBER})(?![\w"])')
_PLAIN_RUN = re.compile(rf"\bPoints?:\s*x\s*=\s*{_NUMBER}\s*,?\s*y\s*=\s*{_NUMBER}(?:\s*;\s*x\s*=\s*{_NUMBER}\s*,?\s*y\s*=\s*{_NUMBER})*")
_NONE_STATEMENT = re.compile(r"\b(there\s+(are|is)\s+(none|no\b)|none\b|no\s+\w+\s+(are|is)\s+(visible|present|shown))", re.I)
_TOTAL = re.compile(r"\ba\s+total\s+of\s+(\d+)\b", re.I)

Point = tuple[float, float]


def check_style(style: str) -> str:
    """`style` itself, or a `ValueError` naming the styles there are."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return style


def get_image_size(image: Any) -> tuple[int, int]:
    """The `(width, height)` of a PIL image, an (H, W, ...) array, an undecoded `{"bytes", "path"}` dict or a pair."""
    if isinstance(image, (tuple, list)) and len(image) == 2:
        return int(image[0]), int(image[1])
    if hasattr(image, "size") and isinstance(image.size, tuple):
        return image.size
    if hasattr(image, "shape"):
        return int(image.shape[1]), int(image.shape[0])
    if isinstance(image, dict) and (image.get("bytes") or image.get("path")):
        source = io.BytesIO(image["bytes"]) if image.get("bytes") else image["path"]
        with Image.open(source) as opened:
            return opened.size
    raise ValueError(
        f"Expected an image (PIL image, array, {{'bytes', 'path'}} dict) or a (width, height) pair, got "
        f"{type(image).__name__}: decode the `image` column or pass image_size=(width, height)."
    )


def to_pixels(points: Sequence[Point], image_size: tuple[int, int]) -> list[Point]:
    """Percent points as pixels of an image of `image_size` `(width, height)`."""
    width, height = image_size
    return [(x * width / 100.0, y * height / 100.0) for x, y in points]


def to_percent(points: Sequence[Point], image_size: tuple[int, int]) -> list[Point]:
    """Pixel points of an image of `image_size` `(width, height)` as percent of its width and height."""
    width, height = image_size
    return [(x * 100.0 / width, y * 100.0 / height) for x, y in points]


def as_xy(points: Any) -> list[Point]:
    """Points given as `[{"x", "y"}, ...]` (pixmo-points), `{"x": [...], "y": [...]}` (pixmo-count) or pairs."""
    if isinstance(points, dict):
        return [(float(x), float(y)) for x, y in zip(points["x"], points["y"])]
    return [(float(p["x"]), float(p["y"])) if isinstance(p, dict) else (float(p[0]), float(p[1])) for p in points]


def format_points(
    points: Sequence[Point], label: str, style: str = DEFAULT_STYLE, image_size: Optional[tuple[int, int]] = None
) -> str:
    """Write points as an answer in one output style.

    Args:
        points (`Sequence[tuple[float, float]]`): `(x, y)` in percent (0-100) of the image width and height.
        label (`str`): what the points show (`"red car"`); the text of the tag and its `alt`.
        style (`str`, *optional*, defaults to `"molmo2"`): `"molmo2"`, `"molmo"` or `"plain"`.
        image_size (`tuple[int, int]`, *optional*): `(width, height)` in pixels; needed by `"plain"` only.

    Returns:
        `str`: the points in that style, or `"There are none."` when `points` is empty.
    """
    check_style(style)
    if not points:
        return NONE_ANSWER
    points = sorted((float(x), float(y)) for x, y in points)
    if style == "molmo2":
        return _format_molmo2(points, label)
    if style == "molmo":
        return _format_molmo(points, label)
    return _format_plain(points, _require_size(image_size))


def _require_size(image_size: Optional[tuple[int, int]]) -> tuple[int, int]:
    if image_size is None:
        raise ValueError("The plain style writes pixels: pass image_size=(width, height) of the image.")
    return get_image_size(image_size)


def _scale_1000(value: float) -> int:
    return min(MOLMO2_SCALE, max(0, round(value * MOLMO2_SCALE / 100.0)))


def _format_molmo2(points: list[Point], label: str) -> str:
    coords = " ".join(f"{i} {_scale_1000(x):03d} {_scale_1000(y):03d}" for i, (x, y) in enumerate(points, 1))
    return f'<points coords="{MOLMO2_IMAGE_INDEX} {coords}">{html.escape(label, quote=False)}</points>'


def _format_molmo(points: list[Point], label: str) -> str:
    alt = html.escape(label, quote=True)
    text = html.escape(label, quote=False)
    if len(points) == 1:
        (x, y), = points
        return f'<point x="{x:.1f}" y="{y:.1f}" alt="{alt}">{text}</point>'
    coords = " ".join(f'x{i}="{x:.1f}" y{i}="{y:.1f}"' for i, (x, y) in enumerate(points, 1))
    return f'<points {coords} alt="{alt}">{text}</points>'


def _format_plain(points: list[Point], image_size: tuple[int, int]) -> str:
    pixels = [(round(x), round(y)) for x, y in to_pixels(points, image_size)]
    if len(pixels) == 1:
        return f"Point: x={pixels[0][0]} y={pixels[0][1]}"
    return "Points: " + "; ".join(f"x={x} y={y}" for x, y in pixels)


def detect_style(text: str) -> Optional[str]:
    """The style whose points `text` holds (`"molmo2"`, `"molmo"`, `"plain"`), or `None` when it holds none."""
    if not isinstance(text, str):
        return None
    for match in _TAG.finditer(text):
        attrs = match.group(1)
        if _COORDS.search(attrs):
            return "molmo2"
        if _MOLMO_X.search(attrs):
            return "molmo"
    return "plain" if _PLAIN_POINT.search(text) else None


def parse_points(
    text: str, style: Optional[str] = None, image_size: Optional[tuple[int, int]] = None
) -> list[Point]:
    """Read the points of an answer in any of the three styles.

    Args:
        text (`str`): a model answer; garbage gives an empty list, never an error.
        style (`str`, *optional*): read only this style; by default the style is detected from the text.
        image_size (`tuple[int, int]`, *optional*): `(width, height)` in pixels; needed to read `"plain"` points.

    Returns:
        `list[tuple[float, float]]`: `(x, y)` in percent (0-100) of the image width and height, in the
        order written. Points outside the image are kept as written (below 0 or above 100).
    """
    style = style if style is not None else detect_style(text)
    if style is None or not isinstance(text, str):
        return []
    check_style(style)
    if style == "plain":
        if not _PLAIN_POINT.search(text):
            return []
        pixels = [(float(x), float(y)) for x, y in _PLAIN_POINT.findall(text)]
        return to_percent(pixels, _require_size(image_size))
    points = []
    for match in _TAG.finditer(text):
        attrs = match.group(1)
        points.extend(_read_molmo2(attrs) if style == "molmo2" else _read_molmo(attrs))
    return points


def _read_molmo2(attrs: str) -> list[Point]:
    coords = _COORDS.search(attrs)
    if not coords:
        return []
    values = coords.group(1).split()
    if not all(v.isdigit() for v in values) or len(values) < 4:
        return []
    # The first value is the image index; then (id, x, y) triples. A trailing partial triple is dropped.
    triples = values[1 : 1 + 3 * ((len(values) - 1) // 3)]
    return [(int(triples[i + 1]) / 10.0, int(triples[i + 2]) / 10.0) for i in range(0, len(triples), 3)]


def _read_molmo(attrs: str) -> list[Point]:
    points = []
    for index, x in _MOLMO_X.findall(attrs):
        y = re.search(rf'\by{index}\s*=\s*"({_NUMBER})"', attrs)
        if y:
            points.append((float(x), float(y.group(1))))
    return points


def strip_points(text: str) -> str:
    """`text` without its point tags and plain point runs, so that their digits are not read as numbers."""
    return _PLAIN_RUN.sub(" ", _TAG_WITH_BODY.sub(" ", text))


def says_none(text: str) -> bool:
    """Whether `text` (without its points) states that there is nothing: `"There are none."`, `"none"`."""
    return bool(_NONE_STATEMENT.search(strip_points(text)))


def format_count_answer(
    points: Sequence[Point], label: str, style: str = DEFAULT_STYLE, image_size: Optional[tuple[int, int]] = None
) -> str:
    """A counting answer: `Counting the <points ...> shows a total of N.`, or `There are none.` for zero.

    Args:
        points (`Sequence[tuple[float, float]]`): the counted objects, `(x, y)` in percent of the image size.
        label (`str`): what is counted.
        style (`str`, *optional*, defaults to `"molmo2"`): the style of the points.
        image_size (`tuple[int, int]`, *optional*): `(width, height)`; needed by `"plain"` only.
    """
    if not points:
        check_style(style)
        return NONE_ANSWER
    return f"Counting the {format_points(points, label, style, image_size)} shows a total of {len(points)}."


def total_in(text: str) -> Optional[int]:
    """N of "a total of N" in `text`, or `None`."""
    match = _TOTAL.search(strip_points(text)) if isinstance(text, str) else None
    return int(match.group(1)) if match else None


_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORDS = {word: value for value, word in enumerate(_UNITS)} | _TENS | {"hundred": 100}
_COUNT_TOKEN = re.compile(
    rf"\b(\d+)\b|\b({'|'.join(_TENS)})(?:[\s-]+({'|'.join(_UNITS[1:10])}))?\b|\b({'|'.join(_UNITS)}|hundred)\b",
    re.I,
)


def parse_count(text: str) -> Optional[int]:
    """The count a counting answer gives, or `None` when it gives none (an invalid answer).

    Read in this order: "a total of N"; the first number outside the points, in digits or words
    ("seven", "twenty-one"); a statement of none ("There are none.", "none") as 0; the number of points
    when the answer holds points only.

    Args:
        text (`str`): the answer, in any style.
    """
    if not isinstance(text, str):
        return None
    total = total_in(text)
    if total is not None:
        return total
    match = _COUNT_TOKEN.search(strip_points(text))
    if match:
        if match.group(1):
            return int(match.group(1))
        if match.group(2):
            return _TENS[match.group(2).lower()] + (_UNITS.index(match.group(3).lower()) if match.group(3) else 0)
        return _NUMBER_WORDS[match.group(4).lower()]
    if says_none(text):
        return 0
    style = detect_style(text)
    if style == "plain":
        return len(_PLAIN_POINT.findall(text)) or None
    return (len(parse_points(text, style)) or None) if style else None

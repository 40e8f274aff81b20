"""Clock faces drawn from a time: analog and seven-segment digital designs for every pixmo-clocks row.

The Hub ships pixmo-clocks as metadata only (the watch-face designs were not published), so a build gives
each row an image drawn here from the row's own columns: the time it shows, whether seconds are shown, and
its AM/PM format. The design is chosen from `watchface_name` and `watchface_id` with a stable hash, so a
row always gets the same face and rows of one design share it.

Geometry that the face keeps (and the tests measure): hands start at the centre, the hour hand reaches half
the face radius, the minute hand 0.78 and the second hand 0.92; numerals and ticks are never joined to the
centre. Digital faces draw each digit from seven segments.
"""

import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Literal, Optional

from PIL import Image, ImageDraw, ImageFont

from .builder import parse_watch_time

RGB = tuple[int, int, int]
TimeFormat = Literal["With AM/PM", "Without AM/PM"]
TIME_FORMATS = ("With AM/PM", "Without AM/PM")

HOUR_HAND, MINUTE_HAND, SECOND_HAND = 0.5, 0.78, 0.92  # lengths as fractions of the face radius
FACE_RADIUS = 0.46  # of the image size
DIGIT_WIDTH = 0.58  # of the digit height
ROMAN = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
# Segments a-g: top, upper right, lower right, bottom, lower left, upper left, middle.
DIGIT_SEGMENTS = {
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg",
    "5": "acdfg", "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg",
}


@dataclass(frozen=True)
class FaceStyle:
    """One watch-face design.

    Args:
        kind (`"analog"` or `"digital"`): hands on a dial, or seven-segment digits on a screen.
        background (`tuple[int, int, int]`): the colour around the face.
        face (`tuple[int, int, int]`): the dial or screen.
        ink (`tuple[int, int, int]`): hands, ticks and numerals, or lit segments.
        accent (`tuple[int, int, int]`): the second hand, or the AM/PM label.
        numerals (`"arabic"`, `"roman"` or `"none"`): numbers on an analog dial.
        ticks (`"all"` or `"quarters"`): 60 ticks, or four at 12, 3, 6 and 9.
        ghost (`tuple[int, int, int]`, *optional*): the colour of unlit segments, drawn faintly as on an LCD.
    """

    kind: Literal["analog", "digital"]
    background: RGB
    face: RGB
    ink: RGB
    accent: RGB
    numerals: Literal["arabic", "roman", "none"] = "arabic"
    ticks: Literal["all", "quarters"] = "all"
    ghost: Optional[RGB] = None


STYLES = {
    "classic": FaceStyle("analog", (70, 90, 110), (250, 250, 245), (20, 20, 20), (210, 30, 30)),
    "roman": FaceStyle("analog", (120, 85, 60), (245, 235, 210), (25, 35, 80), (160, 30, 30), numerals="roman"),
    "minimal": FaceStyle("analog", (235, 235, 235), (200, 205, 210), (30, 30, 30), (230, 120, 0),
                         numerals="none", ticks="quarters"),
    "dark": FaceStyle("analog", (200, 200, 200), (25, 25, 30), (240, 240, 240), (255, 150, 0)),
    "lcd": FaceStyle("digital", (60, 60, 60), (170, 190, 160), (25, 30, 25), (25, 30, 25), ghost=(161, 181, 151)),
    "led": FaceStyle("digital", (30, 30, 30), (5, 5, 5), (250, 40, 30), (250, 40, 30)),
    "mono": FaceStyle("digital", (210, 220, 230), (250, 250, 250), (15, 15, 15), (40, 90, 200)),
}
ANALOG_STYLES = tuple(name for name, s in STYLES.items() if s.kind == "analog")
DIGITAL_STYLES = tuple(name for name, s in STYLES.items() if s.kind == "digital")


def clock_text(hour: int, minute: int, second: Optional[int] = None, time_format: str = "Without AM/PM") -> str:
    """The time as a person reads it off the face: `"8:15:30"`, `"12:09"` for hour 0, `"11:57:04 PM"`.

    Args:
        hour (`int`): 0-23.
        minute (`int`): 0-59.
        second (`int`, *optional*): 0-59, or `None` for a face without seconds.
        time_format (`str`, *optional*, defaults to `"Without AM/PM"`): `"With AM/PM"` adds the suffix.
    """
    _check_time(hour, minute, second, time_format)
    text = f"{(hour % 12) or 12}:{minute:02d}" + ("" if second is None else f":{second:02d}")
    return text + (" PM" if hour >= 12 else " AM") if time_format == "With AM/PM" else text


def style_for(watchface_name: str, watchface_id: str = "") -> str:
    """The design for a watch face, chosen by a stable hash of its name and id.

    A name holding a design's name as a word ("Roman Analog") gets that design; one that says "analog" or
    "digital" gets a design of that kind.
    """
    lowered = watchface_name.lower()
    named = [name for name in STYLES if name in lowered.replace("-", " ").split()]
    if named:
        return named[0]
    if "digital" in lowered:
        names = DIGITAL_STYLES
    elif "analog" in lowered:
        names = ANALOG_STYLES
    else:
        names = tuple(STYLES)
    digest = hashlib.sha256(f"{watchface_name}\0{watchface_id}".encode("utf-8")).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def render_row(row: dict, size: int = 224) -> Image.Image:
    """The face of one pixmo-clocks row in the Hub schema, showing the time its columns say.

    The shown values are `hour_visible`, `minute_visible` and `second_visible`; where one is -1 the time in
    `watch_time` stands in (a -1 second, or `shows_seconds` false, draws no seconds).

    Args:
        row (`dict`): a row with `watchface_name`, `watchface_id`, `watch_time`, `time_format`, `shows_seconds`,
            `hour_visible`, `minute_visible` and `second_visible`.
        size (`int`, *optional*, defaults to `224`): the side of the square image in pixels.
    """
    stamp = parse_watch_time(row["watch_time"])
    if stamp is None:
        raise ValueError(
            f"watch_time must be NNN_YYYY-MM-DDTHH:MM:SS as on the Hub, got {row['watch_time']!r}; "
            "build with --on-bad-rows skip to drop such rows."
        )
    hour = row["hour_visible"] if row["hour_visible"] >= 0 else stamp.hour
    minute = row["minute_visible"] if row["minute_visible"] >= 0 else stamp.minute
    second = row["second_visible"] if row["shows_seconds"] and row["second_visible"] >= 0 else None
    return render_clock(
        hour, minute, second, style=style_for(row["watchface_name"], row["watchface_id"]), size=size,
        time_format=row["time_format"] if row["time_format"] in TIME_FORMATS else "Without AM/PM",
    )


def render_clock(
    hour: int,
    minute: int,
    second: Optional[int] = None,
    *,
    style: str = "classic",
    size: int = 224,
    time_format: str = "Without AM/PM",
) -> Image.Image:
    """A clock face showing a time.

    Args:
        hour (`int`): 0-23; an analog face shows it modulo 12.
        minute (`int`): 0-59.
        second (`int`, *optional*): 0-59; `None` draws no second hand (analog) or no seconds (digital).
        style (`str`, *optional*, defaults to `"classic"`): a key of `STYLES`.
        size (`int`, *optional*, defaults to `224`): the side of the square image in pixels (at least 32).
        time_format (`str`, *optional*, defaults to `"Without AM/PM"`): `"With AM/PM"` adds an AM or PM label.

    Returns:
        `PIL.Image.Image`: an RGB image of `size` x `size` pixels.
    """
    _check_time(hour, minute, second, time_format)
    if style not in STYLES:
        raise ValueError(f"style must be one of {sorted(STYLES)}, got {style!r}")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size!r}")
    face = STYLES[style]
    image = Image.new("RGB", (size, size), face.background)
    draw = ImageDraw.Draw(image)
    if face.kind == "analog":
        _draw_analog(draw, face, size, hour, minute, second, time_format)
    else:
        _draw_digital(draw, face, size, hour, minute, second, time_format)
    return image


def _check_time(hour: int, minute: int, second: Optional[int], time_format: str) -> None:
    for name, value, top in (("hour", hour, 23), ("minute", minute, 59), ("second", second, 59)):
        if value is not None and not 0 <= value <= top:
            raise ValueError(f"{name} must be in 0..{top}, got {value!r}")
    if time_format not in TIME_FORMATS:
        raise ValueError(f"time_format must be one of {TIME_FORMATS}, got {time_format!r}")


def _font(size: float) -> ImageFont.FreeTypeFont:
    return _font_of_size(max(6, int(size)))


@functools.lru_cache(maxsize=None)
def _font_of_size(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


# -- analog ---------------------------------------------------------------------------------------------------


def hand_angles(hour: int, minute: int, second: Optional[int] = None) -> tuple[float, float, Optional[float]]:
    """Clockwise angles from 12 o'clock, in degrees, of the hour, minute and second hands."""
    seconds = second or 0
    hour_angle = ((hour % 12) + minute / 60 + seconds / 3600) * 30.0
    minute_angle = (minute + seconds / 60) * 6.0
    return hour_angle, minute_angle, None if second is None else second * 6.0


def _polar(cx: float, cy: float, radius: float, degrees: float) -> tuple[float, float]:
    theta = math.radians(degrees)
    return cx + radius * math.sin(theta), cy - radius * math.cos(theta)


def _draw_analog(draw, face: FaceStyle, size: int, hour, minute, second, time_format) -> None:
    c = size / 2
    r = size * FACE_RADIUS
    draw.ellipse([c - r, c - r, c + r, c + r], fill=face.face, outline=face.ink, width=max(1, round(r * 0.03)))
    _draw_ticks(draw, face, c, r)
    if face.numerals != "none":
        labels = ROMAN if face.numerals == "roman" else ["12"] + [str(i) for i in range(1, 12)]
        font = _font(r * (0.15 if face.numerals == "arabic" else 0.12))
        for index, label in enumerate(labels):
            draw.text(_polar(c, c, r * 0.72, index * 30), label, fill=face.ink, font=font, anchor="mm")
    if time_format == "With AM/PM":
        label = "PM" if hour >= 12 else "AM"
        draw.text((c, c + r * 0.38), label, fill=face.accent, font=_font(r * 0.13), anchor="mm")
    hour_angle, minute_angle, second_angle = hand_angles(hour, minute, second)
    _draw_hand(draw, c, r * HOUR_HAND, hour_angle, r * 0.075, face.ink)
    _draw_hand(draw, c, r * MINUTE_HAND, minute_angle, r * 0.05, face.ink)
    if second_angle is not None:
        _draw_hand(draw, c, r * SECOND_HAND, second_angle, max(2.0, r * 0.022), face.accent, taper=1.0)
    cap = max(2.0, r * 0.05)
    draw.ellipse([c - cap, c - cap, c + cap, c + cap], fill=face.accent if second_angle is not None else face.ink)


def _draw_ticks(draw, face: FaceStyle, c: float, r: float) -> None:
    for index in range(60):
        major = index % 5 == 0
        if face.ticks == "quarters" and index % 15:
            continue
        inner = r * (0.85 if major else 0.91)
        width = max(1, round(r * (0.035 if major else 0.012)))
        draw.line([_polar(c, c, inner, index * 6), _polar(c, c, r * 0.95, index * 6)], fill=face.ink, width=width)


def _draw_hand(draw, c: float, length: float, degrees: float, width: float, fill: RGB, taper: float = 0.5) -> None:
    """A hand from the centre: a quadrilateral `width` wide at the centre, `width * taper` wide at the tip."""
    half, tip_half = width / 2, width * taper / 2
    base_l, base_r = _polar(c, c, half, degrees - 90), _polar(c, c, half, degrees + 90)
    tip_x, tip_y = _polar(c, c, length, degrees)
    dx, dy = _polar(0, 0, tip_half, degrees + 90)
    draw.polygon([base_l, base_r, (tip_x + dx, tip_y + dy), (tip_x - dx, tip_y - dy)], fill=fill)


# -- digital --------------------------------------------------------------------------------------------------


def _draw_digital(draw, face: FaceStyle, size: int, hour, minute, second, time_format) -> None:
    text = clock_text(hour, minute, second, "Without AM/PM")
    margin = size * 0.06
    draw.rounded_rectangle(
        [margin, size * 0.22, size - margin, size * 0.78], radius=size * 0.05, fill=face.face,
        outline=face.ink if face.ghost is None else face.ghost,
    )
    # Digits are DIGIT_WIDTH as wide as tall, colons 0.25, with gaps of 0.12 of the height between them.
    units = sum(DIGIT_WIDTH if ch.isdigit() else 0.25 for ch in text) + 0.12 * (len(text) - 1)
    height = min(size * 0.32, (size - 4 * margin) / units)
    x = (size - units * height) / 2
    y = size * 0.5 - height * (0.62 if time_format == "With AM/PM" else 0.5)
    for ch in text:
        if ch == ":":
            _draw_colon(draw, x, y, height, face.ink)
            x += 0.25 * height
        else:
            draw_digit(draw, ch, x, y, height, face.ink, face.ghost)
            x += DIGIT_WIDTH * height
        x += 0.12 * height
    if time_format == "With AM/PM":
        label = "PM" if hour >= 12 else "AM"
        draw.text((size - 2.2 * margin, y + height * 1.12), label, fill=face.accent, font=_font(height * 0.3),
                  anchor="ra")


def _draw_colon(draw, x: float, y: float, height: float, fill: RGB) -> None:
    dot = height * 0.1
    for level in (0.3, 0.7):
        cx, cy = x + 0.125 * height, y + level * height
        draw.rectangle([cx - dot / 2, cy - dot / 2, cx + dot / 2, cy + dot / 2], fill=fill)


def _segment_lines(x: float, y: float, height: float) -> tuple[float, dict[str, tuple[float, float, float, float]]]:
    """The thickness and the centre line `(x0, y0, x1, y1)` of each segment of a digit whose cell starts at
    `(x, y)` and is `height` tall; neighbouring segments meet at mitred corners, a small gap apart."""
    width, t = DIGIT_WIDTH * height, 0.16 * height
    gap = t * 0.2
    left, right, top, mid, bottom = x + t / 2, x + width - t / 2, y + t / 2, y + height / 2, y + height - t / 2
    return t, {
        "a": (left + gap, top, right - gap, top),
        "b": (right, top + gap, right, mid - gap),
        "c": (right, mid + gap, right, bottom - gap),
        "d": (left + gap, bottom, right - gap, bottom),
        "e": (left, mid + gap, left, bottom - gap),
        "f": (left, top + gap, left, mid - gap),
        "g": (left + gap, mid, right - gap, mid),
    }


def draw_digit(draw, digit: str, x: float, y: float, height: float, fill: RGB, ghost: Optional[RGB] = None) -> None:
    """One seven-segment digit; unlit segments are drawn in `ghost` when given."""
    lit = DIGIT_SEGMENTS[digit]
    t, lines = _segment_lines(x, y, height)
    m = t / 2
    for name, (x0, y0, x1, y1) in lines.items():
        color = fill if name in lit else ghost
        if color is None:
            continue
        if y0 == y1:  # horizontal, pointed at both ends
            points = [(x0, y0), (x0 + m, y0 - m), (x1 - m, y0 - m), (x1, y0), (x1 - m, y0 + m), (x0 + m, y0 + m)]
        else:
            points = [(x0, y0), (x0 + m, y0 + m), (x0 + m, y1 - m), (x0, y1), (x0 - m, y1 - m), (x0 - m, y0 + m)]
        draw.polygon(points, fill=color)

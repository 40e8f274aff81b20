"""Clock faces read back from their pixels: hand angles measured along rays from the centre, digits read by a
seven-segment reader that knows only the usual segment layout."""

import math

import numpy as np
import pytest

from pixmo_clocks.render import (
    ANALOG_STYLES, DIGITAL_STYLES, STYLES, clock_text, render_clock, render_row, style_for,
)

# -- readers --------------------------------------------------------------------------------------------------


def _ink(image, reference) -> np.ndarray:
    """Pixels far from `reference` (an RGB colour), grown by one pixel so thin lines stay joined."""
    pixels = np.asarray(image, dtype=np.int32)
    mask = np.sqrt(((pixels - np.asarray(reference)) ** 2).sum(-1)) > 80
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def _ray_runs(mask: np.ndarray, start: float) -> np.ndarray:
    """For each half degree clockwise from 12 o'clock, how far ink runs unbroken from `start` pixels out."""
    size = mask.shape[0]
    c = size / 2
    angles = np.arange(0, 360, 0.5)
    radii = np.arange(start, size / 2, 0.5)
    xs = np.clip(np.rint(c + np.outer(np.sin(np.radians(angles)), radii) - 0.5).astype(int), 0, size - 1)
    ys = np.clip(np.rint(c - np.outer(np.cos(np.radians(angles)), radii) - 0.5).astype(int), 0, size - 1)
    hits = mask[ys, xs]
    broken = np.argmin(hits, axis=1)  # first gap along each ray
    broken[hits.all(axis=1)] = len(radii)
    return np.where(hits[:, 0], radii[np.maximum(broken - 1, 0)], 0.0)


def _clusters(runs: np.ndarray, minimum: float) -> list[tuple[float, float]]:
    """`(angle, length)` of each group of neighbouring rays longer than `minimum`: the direction of its longest rays."""
    angles = np.arange(0, 360, 0.5)
    on = runs > minimum
    if on.all() or not on.any():
        return []
    shift = int(np.argmin(on))  # start the sweep on a ray outside every cluster, so none wraps around
    order = np.roll(np.arange(len(runs)), -shift)
    groups, current = [], []
    for index in order:
        if on[index]:
            current.append(index)
        elif current:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    result = []
    for group in groups:
        longest = runs[group].max()
        best = [i for i in group if runs[i] >= longest - 1.0]
        theta = np.radians(angles[best])
        mean = math.degrees(math.atan2(np.sin(theta).mean(), np.cos(theta).mean())) % 360
        result.append((mean, float(longest)))
    return result


def read_hands(image, accent=None) -> dict[str, float]:
    """The hour and minute hand angles (and the second hand's, found by its accent colour when given)."""
    size = image.size[0]
    pixels = np.asarray(image)
    c = size // 2
    around = np.linspace(0, 2 * math.pi, 180, endpoint=False)
    ring = [pixels[int(c - 0.12 * size * math.cos(a)), int(c + 0.12 * size * math.sin(a))] for a in around]
    face = np.median(np.array(ring), axis=0)
    hands = _clusters(_ray_runs(_ink(image, face), 0.06 * size), 0.12 * size)
    result = {}
    if accent is not None:
        accent_mask = np.sqrt(((pixels.astype(int) - np.asarray(accent)) ** 2).sum(-1)) < 60
        second = max(_clusters(_ray_runs(accent_mask, 0.06 * size), 0.3 * size), key=lambda h: h[1])
        result["second"] = second[0]
        hands = [h for h in hands if _gap(h[0], second[0]) > 6]
    hands.sort(key=lambda h: h[1])
    assert len(hands) == 2, f"expected an hour and a minute hand, found {hands}"
    result["hour"], result["minute"] = hands[0][0], hands[1][0]
    return result


# Segments: a top, b upper right, c lower right, d bottom, e lower left, f upper left, g middle.
SEVEN_SEGMENT = {
    frozenset("abcdef"): "0", frozenset("bc"): "1", frozenset("abdeg"): "2", frozenset("abcdg"): "3",
    frozenset("bcfg"): "4", frozenset("acdfg"): "5", frozenset("acdefg"): "6", frozenset("abc"): "7",
    frozenset("abcdefg"): "8", frozenset("abcdfg"): "9",
}


def read_digits(image) -> str:
    """The digits and colons of a seven-segment display in the middle of the image."""
    size = image.size[0]
    pixels = np.asarray(image)
    crop = pixels[int(0.25 * size): int(0.75 * size), int(0.1 * size): int(0.9 * size)]
    colors, counts = np.unique(crop.reshape(-1, 3), axis=0, return_counts=True)
    screen = colors[np.argmax(counts)]
    ink = np.sqrt(((crop.astype(int) - screen) ** 2).sum(-1)) > 80
    top, bottom = _digit_rows(ink)
    band = ink[top: bottom + 1]
    height = bottom - top + 1
    text = ""
    for left, right in _bands(band.any(axis=0)):
        rows = np.flatnonzero(band[:, left: right + 1].any(axis=1))
        if rows[-1] - rows[0] < 0.6 * height:
            text += ":"
            continue
        if right - left + 1 < 0.35 * height:
            text += "1" if set(_segments(band, right - int(0.55 * height), right, height)) == {"b", "c"} else "?"
            continue
        text += SEVEN_SEGMENT.get(frozenset(_segments(band, left, right, height)), "?")
    return text


def _segments(band: np.ndarray, left: int, right: int, height: int) -> list[str]:
    """The lit segments of the digit in columns `left..right`, each probed at its middle, one pixel either way
    along the segment (never across it, where a neighbour's pointed end may be)."""
    width = right - left + 1
    probes = {
        "a": (0.5, 0.08, "x"), "g": (0.5, 0.5, "x"), "d": (0.5, 0.92, "x"),
        "f": (0.14, 0.28, "y"), "b": (0.86, 0.28, "y"), "e": (0.14, 0.72, "y"), "c": (0.86, 0.72, "y"),
    }
    lit = []
    for name, (fx, fy, along) in probes.items():
        x, y = left + int(fx * (width - 1) + 0.5), int(fy * (height - 1) + 0.5)
        if not 0 <= x < band.shape[1]:
            continue
        window = band[y, max(0, x - 1): x + 2] if along == "x" else band[max(0, y - 1): y + 2, x]
        if window.any():
            lit.append(name)
    return lit


def _bands(on: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], on, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2], edges[1::2] - 1))


def _digit_rows(ink: np.ndarray) -> tuple[int, int]:
    """The rows of the digits: every band of ink rows about as wide as the widest (a row of digits can break
    where no middle segment is lit; the AM/PM label below is a narrow band)."""
    def extent(band):
        columns = np.flatnonzero(ink[band[0]: band[1] + 1].any(axis=0))
        return columns[-1] - columns[0]

    bands = _bands(ink.any(axis=1))
    widest = max(extent(b) for b in bands)
    wide = [b for b in bands if extent(b) >= 0.5 * widest]
    return wide[0][0], wide[-1][1]


def _gap(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def _expected_angles(hour, minute, second):
    second_value = second or 0
    return {
        "hour": ((hour % 12) * 30 + minute * 0.5 + second_value / 120) % 360,
        "minute": (minute * 6 + second_value * 0.1) % 360,
        "second": None if second is None else second * 6.0,
    }


def _expected_digits(hour, minute, second):
    return f"{hour % 12 or 12}:{minute:02d}" + ("" if second is None else f":{second:02d}")


def _assert_hands(image, style, hour, minute, second):
    read = read_hands(image, STYLES[style].accent if second is not None else None)
    expected = _expected_angles(hour, minute, second)
    assert _gap(read["hour"], expected["hour"]) <= 4.0, (read, expected)
    assert _gap(read["minute"], expected["minute"]) <= 3.0, (read, expected)
    if second is not None:
        assert _gap(read["second"], expected["second"]) <= 3.0, (read, expected)


# -- tests ----------------------------------------------------------------------------------------------------

# Times whose hands are at least 25 degrees apart, so each hand is its own ray cluster.
ANALOG_TIMES = [(3, 0, None), (10, 8, 42), (7, 20, None), (0, 22, 53), (23, 55, 10), (16, 30, None), (12, 47, 35)]


@pytest.mark.parametrize("style", ANALOG_STYLES)
@pytest.mark.parametrize("size", [224, 112])
def test_analog_hands_match_the_time(style, size):
    for hour, minute, second in ANALOG_TIMES:
        image = render_clock(hour, minute, second, style=style, size=size)
        assert image.size == (size, size)
        _assert_hands(image, style, hour, minute, second)


def test_the_hand_reader_tells_different_times_apart():
    # The reader is not fooled into agreeing: a face drawn at another time reads as that other time.
    image = render_clock(4, 10, style="classic")
    with pytest.raises(AssertionError):
        _assert_hands(image, "classic", 5, 10, None)
    with pytest.raises(AssertionError):
        _assert_hands(image, "classic", 4, 20, None)


DIGITAL_TIMES = [(0, 9, None), (8, 15, 30), (23, 57, 4), (12, 0, None), (13, 46, 28), (10, 1, 11), (19, 23, 45)]


@pytest.mark.parametrize("style", DIGITAL_STYLES)
@pytest.mark.parametrize("time_format", ["With AM/PM", "Without AM/PM"])
@pytest.mark.parametrize("size", [224, 112])
def test_digital_faces_show_the_digits(style, time_format, size):
    for hour, minute, second in DIGITAL_TIMES:
        image = render_clock(hour, minute, second, style=style, size=size, time_format=time_format)
        assert read_digits(image) == _expected_digits(hour, minute, second)


def test_every_digit_reads_back():
    for digit in range(10):
        image = render_clock(digit + 1 if digit < 9 else 9, digit * 6 if digit < 10 else 0, digit * 5, style="mono")
        assert read_digits(image) == _expected_digits(digit + 1 if digit < 9 else 9, digit * 6, digit * 5)
    assert read_digits(render_clock(12, 34, 56, style="led")) == "12:34:56"
    assert read_digits(render_clock(10, 58, 7, style="lcd")) == "10:58:07"


def test_am_pm_label_is_drawn_only_when_asked():
    with_label = np.asarray(render_clock(21, 5, style="mono", time_format="With AM/PM"))
    without = np.asarray(render_clock(21, 5, style="mono", time_format="Without AM/PM"))
    assert (with_label != without).any()
    am = np.asarray(render_clock(9, 5, style="mono", time_format="With AM/PM"))
    pm = np.asarray(render_clock(21, 5, style="mono", time_format="With AM/PM"))
    assert (am != pm).any()


@pytest.mark.parametrize(
    "hour,minute,second,time_format,text",
    [
        (8, 15, 30, "Without AM/PM", "8:15:30"),
        (20, 15, 30, "Without AM/PM", "8:15:30"),
        (0, 9, None, "Without AM/PM", "12:09"),
        (23, 57, 4, "With AM/PM", "11:57:04 PM"),
        (0, 0, None, "With AM/PM", "12:00 AM"),
        (12, 5, None, "With AM/PM", "12:05 PM"),
    ],
)
def test_clock_text_reads_as_a_person_reads(hour, minute, second, time_format, text):
    assert clock_text(hour, minute, second, time_format) == text


def test_bad_times_and_styles_are_refused():
    with pytest.raises(ValueError, match="hour must be in 0..23"):
        render_clock(24, 0)
    with pytest.raises(ValueError, match="style must be one of"):
        render_clock(1, 2, style="sundial")
    with pytest.raises(ValueError, match="time_format"):
        render_clock(1, 2, time_format="24h")


# Rows in the Hub's schema, written by hand: with and without AM/PM and seconds, hour 0 and hour 23.
HUB_ROWS = [
    {"example_id": "a1b2c3d4e5_017_2023-06-14T08:15:30", "watchface_id": "a1b2c3d4e5",
     "watchface_name": "Classic Analog",
     "watch_time": "017_2023-06-14T08:15:30", "time_format": "Without AM/PM", "shows_seconds": True,
     "hour_visible": 8, "minute_visible": 15, "second_visible": 30, "text": "8:15:30"},
    {"example_id": "f0e9d8c7b6_203_2023-01-02T00:09:41", "watchface_id": "f0e9d8c7b6",
     "watchface_name": "Roman Pocket Watch Analog",
     "watch_time": "203_2023-01-02T00:09:41", "time_format": "Without AM/PM", "shows_seconds": False,
     "hour_visible": 0, "minute_visible": 9, "second_visible": -1, "text": "12:09"},
    {"example_id": "9z8y7x6w5v_055_2023-11-30T23:57:04", "watchface_id": "9z8y7x6w5v",
     "watchface_name": "Sport LCD Digital",
     "watch_time": "055_2023-11-30T23:57:04", "time_format": "With AM/PM", "shows_seconds": True,
     "hour_visible": 23, "minute_visible": 57, "second_visible": 4, "text": "11:57:04 PM"},
    {"example_id": "q1w2e3r4t5_412_2023-03-08T14:42:00", "watchface_id": "q1w2e3r4t5",
     "watchface_name": "Bedside LED Digital",
     "watch_time": "412_2023-03-08T14:42:00", "time_format": "Without AM/PM", "shows_seconds": False,
     "hour_visible": 14, "minute_visible": 42, "second_visible": -1, "text": "2:42"},
    {"example_id": "m9n8b7v6c5_088_2023-09-21T06:38:12", "watchface_id": "m9n8b7v6c5",
     "watchface_name": "Aviator",
     "watch_time": "088_2023-09-21T06:38:12", "time_format": "With AM/PM", "shows_seconds": True,
     "hour_visible": 6, "minute_visible": 38, "second_visible": 12, "text": "6:38:12 AM"},
    {"example_id": "k3j4h5g6f7_131_2023-12-31T23:05:59", "watchface_id": "k3j4h5g6f7",
     "watchface_name": "Dark Analog",
     "watch_time": "131_2023-12-31T23:05:59", "time_format": "Without AM/PM", "shows_seconds": True,
     "hour_visible": 23, "minute_visible": 5, "second_visible": 59, "text": "11:05:59"},
]


def _assert_row_reads_back(row, size=224):
    image = render_row(row, size=size)
    assert image.size == (size, size)
    style = style_for(row["watchface_name"], row["watchface_id"])
    second = row["second_visible"] if row["shows_seconds"] and row["second_visible"] >= 0 else None
    hour, minute = row["hour_visible"], row["minute_visible"]
    if STYLES[style].kind == "analog":
        _assert_hands(image, style, hour, minute, second)
    else:
        assert read_digits(image) == _expected_digits(hour, minute, second)
        assert row["text"].split(" ")[0] == read_digits(image)


@pytest.mark.parametrize("row", HUB_ROWS, ids=[r["text"] for r in HUB_ROWS])
def test_hub_rows_render_the_time_they_state(row):
    _assert_row_reads_back(row)


def test_hub_rows_cover_both_kinds_of_face():
    kinds = {STYLES[style_for(r["watchface_name"], r["watchface_id"])].kind for r in HUB_ROWS}
    assert kinds == {"analog", "digital"}


def test_style_choice_is_stable_and_varied():
    names = [f"Face {i}" for i in range(60)]
    chosen = [style_for(name, f"id{i:08d}") for i, name in enumerate(names)]
    assert chosen == [style_for(name, f"id{i:08d}") for i, name in enumerate(names)]
    assert len(set(chosen)) >= 5
    assert style_for("Roman Analog") == "roman" and STYLES[style_for("Fancy Digital", "x")].kind == "digital"


def test_a_bad_watch_time_is_refused_with_the_expected_form():
    row = dict(HUB_ROWS[0], watch_time="08:15:30")
    with pytest.raises(ValueError, match="NNN_YYYY-MM-DDTHH:MM:SS"):
        render_row(row)


def test_synthetic_clock_rows_render_the_time_they_state():
    from pixmo.synth.clocks import clock_row

    checked = 0
    for index in range(40):
        row = clock_row(index, np.random.default_rng([5, index]))
        angles = _expected_angles(row["hour_visible"], row["minute_visible"],
                                  row["second_visible"] if row["shows_seconds"] else None)
        shown = [a for a in angles.values() if a is not None]
        style = style_for(row["watchface_name"], row["watchface_id"])
        # Hands closer than 25 degrees merge into one ray cluster for this reader; those faces are skipped.
        if STYLES[style].kind == "analog" and min(_gap(a, b) for i, a in enumerate(shown) for b in shown[i + 1:]) < 25:
            continue
        _assert_row_reads_back(row, size=160)
        checked += 1
    assert checked >= 25

"""pixmo-clocks rows in the Hub schema: a watch face, a time, its visibility flags and the time as read."""

import datetime
import hashlib

import numpy as np

from pixmo_clocks.render import clock_text

# Design names name a style or say their kind, so `pixmo_clocks.render.style_for` draws analog names as dials and digital
# names as seven-segment screens.
WATCHFACE_NAMES = (
    "Classic Analog", "Roman Analog", "Minimal Analog", "Dark Analog", "Pilot Analog", "Station Analog",
    "LCD Digital", "LED Digital", "Mono Digital", "Sport Digital", "Bedside Digital",
)
START = datetime.datetime(2024, 1, 1)


def watchface_id(name: str) -> str:
    """The 10-character id of a design, as the Hub's `watchface_id` column has."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]


def clock_row(index: int, rng: np.random.Generator) -> dict:
    """One pixmo-clocks row: a design and a random moment of 2024, with what the face shows.

    Analog designs show seconds on a second hand half of the time and rarely an AM/PM label; digital designs
    show seconds and AM/PM half of the time each.
    """
    name = str(rng.choice(WATCHFACE_NAMES))
    analog = "Analog" in name
    stamp = START + datetime.timedelta(seconds=int(rng.integers(366 * 24 * 3600)))
    shows_seconds = bool(rng.random() < 0.5)
    time_format = "With AM/PM" if rng.random() < (0.1 if analog else 0.5) else "Without AM/PM"
    second = stamp.second if shows_seconds else None
    watch_time = f"{index:03d}_{stamp.isoformat()}"
    face_id = watchface_id(name)
    return {
        "example_id": f"{face_id}_{watch_time}",
        "watchface_id": face_id,
        "watchface_name": name,
        "watch_time": watch_time,
        "time_format": time_format,
        "shows_seconds": shows_seconds,
        "hour_visible": stamp.hour,
        "minute_visible": stamp.minute,
        "second_visible": -1 if second is None else second,
        "text": clock_text(stamp.hour, stamp.minute, second, time_format),
    }

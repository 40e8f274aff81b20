"""pixmo-clocks: the time shown on rendered analog and digital watch faces (metadata only on the Hub)."""

import datetime
import io
import re
from pathlib import Path
from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.builder import PixMoBuilder, PixMoConfig

_DESCRIPTION = (
    "PixMo-Clocks: 826k watch faces of 133 designs showing a time, with the time as a person reads it. The Hub "
    "ships the metadata only: the faces were rendered from watch-face designs that are not published."
)
_HOMEPAGE = "https://huggingface.co/datasets/allenai/pixmo-clocks"
_HUB_REPO = "allenai/pixmo-clocks"
_HUB_REVISION = "main"

# `watch_time` is an index and an ISO timestamp, `NNN_YYYY-MM-DDTHH:MM:SS`, not a plain time.
WATCH_TIME = re.compile(r"^(\d+)_(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})$")

FEATURES = datasets.Features(
    {
        "example_id": datasets.Value("string"),
        "watchface_id": datasets.Value("string"),
        "watchface_name": datasets.Value("string"),
        "watch_time": datasets.Value("string"),
        "time_format": datasets.Value("string"),  # "With AM/PM" or "Without AM/PM"
        "shows_seconds": datasets.Value("bool"),
        # The values the face shows (hour 0-23, minute, second), -1 where that unit is not shown.
        "hour_visible": datasets.Value("int32"),
        "minute_visible": datasets.Value("int32"),
        "second_visible": datasets.Value("int32"),
        "text": datasets.Value("string"),  # the answer as a person reads it: "8:15:30", "11:57:04 PM"
    }
)


def parse_watch_time(value: str) -> Optional[datetime.datetime]:
    """The timestamp of a `watch_time` value, or `None` when it is not `NNN_YYYY-MM-DDTHH:MM:SS`."""
    match = WATCH_TIME.match(value)
    if not match:
        return None
    try:
        return datetime.datetime.fromisoformat(match.group(2))
    except ValueError:
        return None


@dataclass
class PixMoClocksConfig(PixMoConfig):
    """pixmo-clocks options (see `PixMoConfig`).

    Args:
        clock_images (`str`, *optional*): a folder of the original faces named `{example_id}.png` (or `.jpg`). When
            unset, `with_images` renders each face from the row's metadata with `pixmo_clocks.render`.
        image_size (`int`, defaults to `224`): the side of rendered faces, in pixels.
    """

    clock_images: Optional[str] = None
    image_size: int = 224


class PixMoClocksBuilder(PixMoBuilder):
    SUBSET = "pixmo-clocks"
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = _HOMEPAGE
    BUILDER_CONFIG_CLASS = PixMoClocksConfig
    BUILDER_CONFIGS = [
        PixMoClocksConfig(
            name="default", hub_repo=_HUB_REPO, hub_revision=_HUB_REVISION,
            hub_splits=("train", "validation"), features=FEATURES,
        )
    ]
    DEFAULT_CONFIG_NAME = "default"

    def _split_generators(self, dl_manager):
        if self.config.with_images:
            self.report.notes.append(
                f"images: the original faces from `{self.config.clock_images}`." if self.config.clock_images else
                "images: the faces are rendered by `pixmo_clocks.render` from each row's metadata; they are not the "
                "original watch-face designs, which are not published."
            )
        return super()._split_generators(dl_manager)

    def image_of(self, row: dict) -> tuple[Optional[dict], str]:
        """The original face from `clock_images`, or a face rendered from the row's metadata."""
        if self.config.clock_images:
            for suffix in (".png", ".jpg", ".jpeg"):
                path = Path(self.config.clock_images, row["example_id"] + suffix)
                if path.exists():
                    return {"bytes": path.read_bytes(), "path": None}, ""
            return None, "no file for the example_id in clock_images"
        from .render import render_row

        buffer = io.BytesIO()
        render_row(row, size=self.config.image_size).save(buffer, format="PNG")
        return {"bytes": buffer.getvalue(), "path": None}, ""

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        if parse_watch_time(row["watch_time"]) is None:
            return "watch_time", "unparseable clock time (expected NNN_YYYY-MM-DDTHH:MM:SS)"
        for column, top in (("hour_visible", 23), ("minute_visible", 59), ("second_visible", 59)):
            if not -1 <= row[column] <= top:
                return column, f"outside -1..{top}"
        return None

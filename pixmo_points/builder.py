"""pixmo-points: points on the objects a label names, one row per image and label; pixmo-points-eval as config `eval`."""

import math
from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.builder import PixMoBuilder, PixMoConfig
from pixmo.source import resolve_data_files
from pixmo.splits import iter_column

_DESCRIPTION = (
    "PixMo-Points: 2.4M rows of human-annotated points on the objects that a free-text label names, plus the "
    "436-image PixMo-Points-Eval set with object masks. Points are percentages (0-100) of the image width and height."
)
_HOMEPAGE = "https://huggingface.co/datasets/allenai/pixmo-points"
_HUB_REPO = "allenai/pixmo-points"
_HUB_EVAL_REPO = "allenai/pixmo-points-eval"
_HUB_REVISION = "main"

# x and y are percentages (0-100) of the image width and height, although the Hub card says pixels.
POINT = {"x": datasets.Value("float64"), "y": datasets.Value("float64")}

FEATURES = datasets.Features(
    {
        "image_url": datasets.Value("string"),
        "image_sha256": datasets.Value("string"),
        "points": datasets.List(POINT),
        "count": datasets.Value("int64"),
        "label": datasets.Value("string"),
        "collection_method": datasets.Value("string"),  # "pointing" or "counting"
    }
)

EVAL_FEATURES = datasets.Features(
    {
        "image_url": datasets.Value("string"),
        "image_sha256": datasets.Value("string"),
        "label": datasets.Value("string"),
        "points": datasets.List(POINT),
        "masks": datasets.List(datasets.List(datasets.List(datasets.Value("bool")))),  # one HxW mask per object
    }
)


@dataclass
class PixMoPointsConfig(PixMoConfig):
    """pixmo-points options.

    Args:
        eval_source (`str`, *optional*, defaults to `"allenai/pixmo-points-eval"`): where the pixmo-points-eval
            image URLs come from, so that those images never enter train or validation. `"none"` turns the
            hold-out off (the build report says so).
    """

    eval_source: Optional[str] = _HUB_EVAL_REPO


class PixMoPointsBuilder(PixMoBuilder):
    SUBSET = "pixmo-points"
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = _HOMEPAGE
    BUILDER_CONFIG_CLASS = PixMoPointsConfig
    BUILDER_CONFIGS = [
        PixMoPointsConfig(
            name="default", hub_repo=_HUB_REPO, hub_revision=_HUB_REVISION, hub_splits=("train",), features=FEATURES
        ),
        PixMoPointsConfig(
            name="eval", hub_repo=_HUB_EVAL_REPO, hub_revision=_HUB_REVISION, hub_splits=("test",),
            features=EVAL_FEATURES, eval_source=None,
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"
    held_out_name = "pixmo-points-eval"

    def held_out_urls(self) -> set[str]:
        eval_source = self.config.eval_source
        if not eval_source or eval_source == "none":
            if self.config.name == "default":
                self.report.notes.append("pixmo-points-eval images were not held out (eval_source none).")
            return set()
        files = resolve_data_files(eval_source, "data", ["test"])
        return set(iter_column(files["test"], "image_url"))

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        for point in row["points"]:
            if not all(isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 100.0 for v in point.values()):
                return "points", "point outside 0-100 (percent of the image size)"
        if "count" in row:
            if row["count"] < 0:
                return "count", "negative count"
            if row["count"] != len(row["points"]):
                return "count", "count differs from the number of points"
        if not row["label"].strip():
            return "label", "empty label"
        return None

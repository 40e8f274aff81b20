"""pixmo-count: how many objects of a kind an image holds, with a point on each; human-verified val and test."""

import math
from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.builder import PixMoBuilder, PixMoConfig

_DESCRIPTION = (
    "PixMo-Count: 37k web images with the count of one kind of object and a point on each counted object; "
    "the validation and test splits (540 images each, counts 2-10) are human verified. Points are pixels."
)
_HOMEPAGE = "https://huggingface.co/datasets/allenai/pixmo-count"
_HUB_REPO = "allenai/pixmo-count"
_HUB_REVISION = "main"

FEATURES = datasets.Features(
    {
        "image_url": datasets.Value("string"),
        "image_sha256": datasets.Value("string"),
        "count": datasets.Value("int32"),
        # A dict of lists (the Hub's `sequence:` of a struct), in pixels of the original image.
        "points": {"x": datasets.List(datasets.Value("float32")), "y": datasets.List(datasets.Value("float32"))},
        "label": datasets.Value("string"),
    }
)


@dataclass
class PixMoCountConfig(PixMoConfig):
    """pixmo-count options (see `PixMoConfig`)."""


class PixMoCountBuilder(PixMoBuilder):
    SUBSET = "pixmo-count"
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = _HOMEPAGE
    BUILDER_CONFIG_CLASS = PixMoCountConfig
    BUILDER_CONFIGS = [
        PixMoCountConfig(
            name="default", hub_repo=_HUB_REPO, hub_revision=_HUB_REVISION,
            hub_splits=("train", "validation", "test"), features=FEATURES,
        )
    ]
    DEFAULT_CONFIG_NAME = "default"

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        xs, ys = row["points"]["x"], row["points"]["y"]
        if len(xs) != len(ys):
            return "points", "x and y have different lengths"
        if not all(math.isfinite(v) and v >= 0.0 for v in xs + ys):
            return "points", "point with a negative or non-finite pixel coordinate"
        if row["count"] < 0:
            return "count", "negative count"
        if row["count"] != len(xs):
            return "count", "count differs from the number of points"
        if not row["label"].strip():
            return "label", "empty label"
        return None

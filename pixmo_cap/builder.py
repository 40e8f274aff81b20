"""pixmo-cap: dense captions of web images, written from spoken descriptions (the transcripts)."""

from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.builder import PixMoBuilder, PixMoConfig

_DESCRIPTION = (
    "PixMo-Cap: 717k web images with long, dense captions, each written from one or more spoken descriptions "
    "whose transcripts are kept beside it."
)
_HOMEPAGE = "https://huggingface.co/datasets/allenai/pixmo-cap"
_HUB_REPO = "allenai/pixmo-cap"
_HUB_REVISION = "main"

FEATURES = datasets.Features(
    {
        "image_url": datasets.Value("string"),
        "caption": datasets.Value("string"),
        "transcripts": datasets.List(datasets.Value("string")),
    }
)


@dataclass
class PixMoCapConfig(PixMoConfig):
    """pixmo-cap options (see `PixMoConfig`)."""


class PixMoCapBuilder(PixMoBuilder):
    SUBSET = "pixmo-cap"
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = _HOMEPAGE
    BUILDER_CONFIG_CLASS = PixMoCapConfig
    BUILDER_CONFIGS = [PixMoCapConfig(name="default", hub_repo=_HUB_REPO, hub_revision=_HUB_REVISION, features=FEATURES)]
    DEFAULT_CONFIG_NAME = "default"

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        if not row["caption"].strip():
            return "caption", "empty caption"
        return None

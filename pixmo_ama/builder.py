"""pixmo-ask-model-anything: free-form questions about web images with human-written answers."""

from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.builder import PixMoBuilder, PixMoConfig

_DESCRIPTION = (
    "PixMo-AskModelAnything: 162k free-form questions about web images, with answers written by annotators "
    "working with a language model."
)
_HOMEPAGE = "https://huggingface.co/datasets/allenai/pixmo-ask-model-anything"
_HUB_REPO = "allenai/pixmo-ask-model-anything"
_HUB_REVISION = "main"

FEATURES = datasets.Features(
    {
        "image_url": datasets.Value("string"),
        "image_sha256": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answer": datasets.Value("string"),
    }
)


@dataclass
class PixMoAMAConfig(PixMoConfig):
    """pixmo-ask-model-anything options (see `PixMoConfig`)."""


class PixMoAMABuilder(PixMoBuilder):
    SUBSET = "pixmo-ask-model-anything"
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = _HOMEPAGE
    BUILDER_CONFIG_CLASS = PixMoAMAConfig
    BUILDER_CONFIGS = [PixMoAMAConfig(name="default", hub_repo=_HUB_REPO, hub_revision=_HUB_REVISION, features=FEATURES)]
    DEFAULT_CONFIG_NAME = "default"

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        if not row["question"].strip():
            return "question", "empty question"
        if not row["answer"].strip():
            return "answer", "empty answer"
        return None

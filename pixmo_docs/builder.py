"""pixmo-docs: synthetic charts, diagrams, tables and other documents with question-answer pairs; images embedded."""

from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.builder import PixMoBuilder, PixMoConfig

_DESCRIPTION = (
    "PixMo-Docs: rendered charts, diagrams, tables and other documents, generated from code, each with "
    "questions and answers about it. The images are embedded in the Hub repo."
)
_HOMEPAGE = "https://huggingface.co/datasets/allenai/pixmo-docs"
_HUB_REPO = "allenai/pixmo-docs"
_HUB_REVISION = "main"
DOCUMENT_TYPES = ("charts", "diagrams", "tables", "other")

FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "image_id": datasets.Value("string"),
        # A dict of lists (the Hub's `sequence:` of a struct): questions[i] is answered by answers[i].
        "questions": {
            "question": datasets.List(datasets.Value("string")),
            "answer": datasets.List(datasets.Value("string")),
        },
    }
)


@dataclass
class PixMoDocsConfig(PixMoConfig):
    """pixmo-docs options (see `PixMoConfig`); the config name is the document type."""


class PixMoDocsBuilder(PixMoBuilder):
    SUBSET = "pixmo-docs"
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = _HOMEPAGE
    BUILDER_CONFIG_CLASS = PixMoDocsConfig
    # No default config, as on the Hub: each document type is its own folder (`charts/train-*.parquet`).
    BUILDER_CONFIGS = [
        PixMoDocsConfig(
            name=kind, hub_repo=_HUB_REPO, hub_revision=_HUB_REVISION, hub_data_dir=kind,
            hub_splits=("train", "validation"), features=FEATURES,
        )
        for kind in DOCUMENT_TYPES
    ]

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        if not row["image"].get("bytes") and not row["image"].get("path"):
            return "image", "image without bytes"
        questions, answers = row["questions"]["question"], row["questions"]["answer"]
        if len(questions) != len(answers):
            return "questions", "questions and answers have different lengths"
        if not questions:
            return "questions", "no questions"
        if any(not q.strip() for q in questions):
            return "questions", "empty question"
        return None

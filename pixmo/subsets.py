"""The seven PixMo subsets: their packages, Hub names and builders, looked up by any of their names."""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Subset:
    package: str  # import name, `pixmo_points`
    hub_name: str  # `pixmo-points`
    builder_class: str  # name of the builder in `<package>.builder`
    pretty_name: str
    task_categories: tuple
    has_image_urls: bool = True

    @property
    def builder(self):
        return getattr(importlib.import_module(f"{self.package}.builder"), self.builder_class)

    @property
    def module(self):
        return importlib.import_module(self.package)


SUBSETS = {
    s.package: s
    for s in (
        Subset("pixmo_cap", "pixmo-cap", "PixMoCapBuilder", "PixMo-Cap", ("image-to-text",)),
        Subset("pixmo_points", "pixmo-points", "PixMoPointsBuilder", "PixMo-Points", ("image-text-to-text",)),
        Subset("pixmo_count", "pixmo-count", "PixMoCountBuilder", "PixMo-Count", ("image-text-to-text",)),
        Subset(
            "pixmo_docs", "pixmo-docs", "PixMoDocsBuilder", "PixMo-Docs", ("visual-question-answering",),
            has_image_urls=False,
        ),
        Subset("pixmo_capqa", "pixmo-cap-qa", "PixMoCapQABuilder", "PixMo-CapQA", ("visual-question-answering",)),
        Subset(
            "pixmo_ama", "pixmo-ask-model-anything", "PixMoAMABuilder", "PixMo-AskModelAnything",
            ("visual-question-answering",),
        ),
        Subset(
            "pixmo_clocks", "pixmo-clocks", "PixMoClocksBuilder", "PixMo-Clocks", ("image-text-to-text",),
            has_image_urls=False,
        ),
    )
}

_ALIASES = {alias: s for s in SUBSETS.values() for alias in (s.package, s.hub_name, s.hub_name.replace("-", "_"))}
_ALIASES["pixmo_ama"] = _ALIASES["pixmo-ama"] = SUBSETS["pixmo_ama"]
_ALIASES["pixmo_cap_qa"] = SUBSETS["pixmo_capqa"]


def get_subset(name: str) -> Subset:
    """A subset by package name (`pixmo_points`), Hub name (`pixmo-points`) or `allenai/pixmo-points`."""
    key = name.split("/")[-1].lower()
    if key not in _ALIASES:
        raise ValueError(f"Unknown PixMo subset {name!r}: expected one of {sorted(SUBSETS)}")
    return _ALIASES[key]

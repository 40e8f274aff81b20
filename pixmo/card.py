"""Dataset cards: a YAML header generated from the builder's real info over a body kept in the subset package."""

import logging
from pathlib import Path
from typing import Optional

from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from .builder import LICENSE, MOLMO_CITATION
from .report import BuildReport
from .subsets import Subset

logger = logging.getLogger(__name__)

BUILD_MARKER = "<!-- build -->"
CITATION_MARKER = "<!-- citation -->"
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]


CITATION_SECTION = f"""## License and citation

The data is licensed under ODC-BY-1.0 (`{LICENSE}`); images come from the web under their own terms. If you use
it, cite the Molmo and PixMo paper (arXiv 2409.17146):

```bibtex
{MOLMO_CITATION.strip()}
```"""


class CardError(ValueError):
    """A card whose YAML does not parse back to the features and splits it was written from."""


def size_category(num_rows: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if num_rows < bound:
            return name
    return "1M<n<10M" if num_rows < 10_000_000 else "10M<n<100M"


def data_dir_for(config_name: str) -> str:
    """Where a config's files live in a built folder: `data/` for the default config, else the config's name."""
    return "data" if config_name == "default" else config_name


def card_body_template(subset: Subset) -> str:
    return (Path(subset.module.__file__).parent / "card.md").read_text()


def add_configs(card_data: DatasetCardData, infos: dict[str, DatasetInfo], data_dirs: dict[str, str]) -> None:
    """Write (or merge) each config's `dataset_info` and `configs` entry, its splits at `{data_dir}/{split}-*`, as
    `push_to_hub` does."""
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    MetadataConfigs(
        {
            name: {"data_files": [{"split": s, "path": f"{data_dirs[name]}/{s}-*"} for s in (info.splits or {})]}
            for name, info in infos.items()
        }
    ).to_dataset_card_data(card_data)


def render_card(
    subset: Subset,
    infos: dict[str, DatasetInfo],
    reports: dict[str, BuildReport],
    previous: Optional[DatasetCardData] = None,
) -> DatasetCard:
    """The card of a built folder: the header from `infos` (one per config) merged over `previous`, the body from the
    subset's `card.md` with the build reports where it says `<!-- build -->`.
    """
    kept = {k: v for k, v in (previous.to_dict() if previous else {}).items() if k not in ("dataset_info", "configs")}
    card_data = DatasetCardData(**kept)
    total_rows = sum(s.num_examples for info in infos.values() for s in (info.splits or {}).values())
    card_data.license = LICENSE
    card_data.language = ["en"]
    card_data.pretty_name = subset.pretty_name
    card_data.task_categories = list(subset.task_categories)
    card_data.size_categories = [size_category(total_rows)]
    add_configs(card_data, infos, {name: data_dir_for(name) for name in infos})
    body = card_body_template(subset)
    build = render_build_section(subset, reports)
    body = body.replace(BUILD_MARKER, build) if BUILD_MARKER in body else f"{body.rstrip()}\n\n{build}\n"
    body = body.replace(CITATION_MARKER, CITATION_SECTION)
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n\n{body.strip()}\n")


def render_build_section(subset: Subset, reports: dict[str, BuildReport]) -> str:
    lines = [
        "## How this copy was built",
        "",
        f"Built with `pixmo build {subset.package}` (the builder is `{subset.package}.builder`, from the `pixmo` "
        "package). Every source row is either written or counted under the reason it was dropped.",
    ]
    for name, report in sorted(reports.items()):
        revision = f" at revision `{report.revision}`" if report.revision else ""
        lines += ["", f"### Config `{name}`", "", f"Source: `{report.source}`{revision}.", "", report.to_markdown()]
    return "\n".join(lines)


def verify_card(text: str, expected: Optional[dict[str, DatasetInfo]] = None) -> dict[str, DatasetInfo]:
    """Parse a card's YAML the way `datasets` does and check it gives back `expected` features and split sizes.

    Raises:
        `CardError`: the YAML does not parse, or parses to other features or split sizes.
    """
    try:
        card_data = DatasetCard(text).data
        parsed = DatasetInfosDict.from_dataset_card_data(card_data)
        MetadataConfigs.from_dataset_card_data(card_data)
    except Exception as err:  # the card is user-facing text: any parse failure is a refusal
        raise CardError(f"The card's YAML does not parse with datasets: {err}") from err
    for name, info in (expected or {}).items():
        if name not in parsed:
            raise CardError(f"The card has no dataset_info for config {name!r} (it has {sorted(parsed)}).")
        if parsed[name].features != info.features:
            raise CardError(
                f"Config {name!r}: the card's features {parsed[name].features} differ from {info.features}."
            )
        got = {k: v.num_examples for k, v in (parsed[name].splits or {}).items()}
        want = {k: v.num_examples for k, v in (info.splits or {}).items()}
        if got != want:
            raise CardError(f"Config {name!r}: the card's split sizes {got} differ from {want}.")
    return dict(parsed)

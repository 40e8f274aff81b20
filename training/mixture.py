"""The training mixture: built PixMo subsets, one example per image, interleaved by weight.

A recipe's `data` section names the subsets and how much of each to draw:

```yaml
data:
  style: molmo2            # answer style: molmo2, molmo or plain
  seed: 0                  # the same seed gives the same order, and the same prompts
  stopping_strategy: all_exhausted
  max_examples: null       # cap the mixture's length
  subsets:
    pixmo_cap:    {weight: 0.4}                      # path defaults to $PIXMO_HOME/built/pixmo-cap
    pixmo_points: {weight: 0.2, path: built/pixmo-points}
    pixmo_docs:   {weight: 0.15, configs: [charts, diagrams, tables, other]}
```

or, Molmo's grouped form, where each group has a rate and each subset inside it a weight proportional to the
square root of its size:

```yaml
  groups:
    pointing_and_counting: {rate: 0.35, subsets: [pixmo_points, pixmo_count]}
    docs: {rate: 0.5, subsets: [pixmo_docs]}
```

Each subset is read with `datasets.load_dataset(path, config, split)`; its rows are gathered by image, so that all
the annotations of one image are trained over one encoding of it, and each image group is one example. What is
interleaved (`datasets.interleave_datasets`) is a small index, `(subset, group)`, so the order is fixed by the seed
before any image is decoded; examples are formatted when read. Because the order is a pure function of the
seed, a run resumed from a checkpoint (Trainer skips the batches it has seen) continues the mixture rather than
repeating it. `streaming: true` gives an `IterableDataset` split between nodes with `split_dataset_by_node`.
"""

import importlib
import logging
import math
import os
from dataclasses import dataclass
from typing import Optional

import datasets

from pixmo.conversation import FormattedExample
from pixmo.seed import default_built_dir
from pixmo.subsets import get_subset

logger = logging.getLogger(__name__)

IMAGE_KEY_COLUMNS = ("image_sha256", "image_url", "image_id", "example_id")
INDEX_FEATURES = datasets.Features({"subset": datasets.Value("string"), "group": datasets.Value("int64")})


@dataclass
class SubsetSource:
    """One entry of the mixture: a built subset's split (every listed config), as image groups."""

    name: str  # `pixmo_points`, or `pixmo_docs/charts` for one config
    rows: datasets.Dataset
    groups: list[list[int]]
    package: str

    def __len__(self) -> int:
        return len(self.groups)

    def example(self, index: int, style: str, seed: int) -> FormattedExample:
        formatter = importlib.import_module(f"{self.package}.format")
        rows = [self.rows[i] for i in self.groups[index]]
        return formatter.format_group(rows, style=style, seed=seed, source=f"{self.name}:{index}")


def image_groups(rows: datasets.Dataset) -> list[list[int]]:
    """Row indices gathered by image (the first column of IMAGE_KEY_COLUMNS the rows have), in first-seen order."""
    column = next((c for c in IMAGE_KEY_COLUMNS if c in rows.column_names), None)
    if column is None:
        return [[i] for i in range(len(rows))]
    groups: dict[str, list[int]] = {}
    index = 0
    for chunk in rows.data.column(column).chunks:
        for key in chunk.to_pylist():
            groups.setdefault(key, []).append(index)
            index += 1
    return list(groups.values())


def load_source(package: str, split: str, path: Optional[str] = None, config: Optional[str] = None) -> SubsetSource:
    """A built subset's split as image groups. `path` defaults to `$PIXMO_HOME/built/<hub-name>`."""
    subset = get_subset(package)
    folder = os.path.expanduser(os.path.expandvars(path)) if path else str(default_built_dir(subset.package))
    try:
        rows = datasets.load_dataset(folder, config, split=split)
    except (FileNotFoundError, ValueError) as err:
        raise FileNotFoundError(
            f"The mixture needs {subset.hub_name}{f' ({config})' if config else ''} split {split!r} from {folder}: "
            f"{err}. Build it with `pixmo build {subset.package}{f' --config {config}' if config else ''} --out {folder}`."
        ) from err
    name = f"{subset.package}/{config}" if config else subset.package
    return SubsetSource(name, rows, image_groups(rows), subset.package)


def mixture_probabilities(sizes: dict[str, int], weights: dict[str, float]) -> dict[str, float]:
    """Weights normalised to probabilities over the subsets that have examples."""
    present = {name: weights[name] for name, size in sizes.items() if size > 0 and weights[name] > 0}
    if not present:
        raise ValueError(f"The mixture is empty: no subset with examples has a positive weight ({weights}).")
    total = sum(present.values())
    return {name: present.get(name, 0.0) / total for name in sizes}


def grouped_weights(sizes: dict[str, int], groups: dict[str, dict]) -> dict[str, float]:
    """Molmo's grouped mixture: each group's `rate`, split among its subsets in proportion to the square root of
    their sizes. `sizes` are keyed by source name (`pixmo_docs/charts`); groups list packages or source names."""
    weights = {name: 0.0 for name in sizes}
    for group_name, group in groups.items():
        members = [n for n in sizes if n in group["subsets"] or n.split("/")[0] in group["subsets"]]
        roots = {n: math.sqrt(sizes[n]) for n in members}
        total = sum(roots.values())
        if not total:
            logger.warning("mixture group %r has no examples; its rate %s is spread over the others", group_name, group["rate"])
            continue
        for name, root in roots.items():
            weights[name] = group["rate"] * root / total
    return weights


class MixtureDataset:
    """The interleaved mixture as a map-style dataset of `FormattedExample`s, formatted when read."""

    def __init__(self, index: datasets.Dataset, sources: dict[str, SubsetSource], style: str, seed: int):
        self.index = index
        self.sources = sources
        self.style = style
        self.seed = seed

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> FormattedExample:
        entry = self.index[i]
        return self.sources[entry["subset"]].example(entry["group"], self.style, self.seed)

    def counts(self) -> dict[str, int]:
        """Examples drawn from each source."""
        from collections import Counter

        return dict(Counter(self.index["subset"]))


def _sources(recipe: dict, split: str) -> dict[str, SubsetSource]:
    sources = {}
    for package, spec in (recipe.get("subsets") or {}).items():
        spec = spec or {}
        for config in spec.get("configs") or [spec.get("config")]:
            source = load_source(package, split, spec.get("path"), config)
            sources[source.name] = source
    if not sources:
        raise ValueError("The recipe's data section lists no subsets: add `subsets: {pixmo_cap: {weight: 1.0}}`.")
    return sources


def _weights(recipe: dict, sources: dict[str, SubsetSource]) -> dict[str, float]:
    sizes = {name: len(source) for name, source in sources.items()}
    if recipe.get("groups"):
        weights = grouped_weights(sizes, recipe["groups"])
    else:
        specs = recipe["subsets"]
        weights = {}
        for name in sizes:
            package = name.split("/")[0]
            configs = (specs[package] or {}).get("configs") or [None]
            # A subset's weight is shared by its configs in proportion to their sizes.
            siblings = [n for n in sizes if n.split("/")[0] == package]
            share = sizes[name] / max(1, sum(sizes[n] for n in siblings)) if len(configs) > 1 else 1.0
            weights[name] = float((specs[package] or {}).get("weight", 1.0)) * share
    return mixture_probabilities(sizes, weights)


def _interleave(recipe: dict, sources: dict[str, SubsetSource], streaming: bool = False):
    """Each source's `(subset, group)` rows, shuffled by the seed, interleaved with the mixture's probabilities."""
    probabilities = _weights(recipe, sources)
    names = [n for n in sources if probabilities[n] > 0]
    seed = int(recipe.get("seed", 0))
    parts = []
    for i, name in enumerate(names):
        part = datasets.Dataset.from_dict(
            {"subset": [name] * len(sources[name]), "group": list(range(len(sources[name])))}, features=INDEX_FEATURES
        )
        # Each source's own order is shuffled too, so that a capped mixture is a sample of every subset.
        parts.append((part.to_iterable_dataset(num_shards=1) if streaming else part).shuffle(seed=seed + i))
    index = datasets.interleave_datasets(
        parts, probabilities=[probabilities[n] for n in names], seed=seed,
        stopping_strategy=recipe.get("stopping_strategy", "all_exhausted"),
    )
    return index, probabilities, names


def build_index(recipe: dict, sources: dict[str, SubsetSource]) -> datasets.Dataset:
    """The interleaved `(subset, group)` index: fixed by the seed before any image is read."""
    index, probabilities, names = _interleave(recipe, sources)
    if recipe.get("max_examples"):
        index = index.select(range(min(len(index), int(recipe["max_examples"]))))
    logger.info(
        "mixture of %d examples: %s", len(index),
        ", ".join(f"{n} p={probabilities[n]:.3f} ({len(sources[n])} images)" for n in names),
    )
    return index


def build_mixture(data_args, split: str = "train") -> MixtureDataset:
    """`DataArguments` (its `recipe`, the data section) and a split to the mixture, for `training/train.py`."""
    recipe = data_args.recipe if hasattr(data_args, "recipe") else data_args
    sources = _sources(recipe, split)
    index = build_index(recipe, sources)
    return MixtureDataset(index, sources, recipe.get("style", "molmo2"), int(recipe.get("seed", 0)))


def build_streaming_mixture(recipe: dict, split: str = "train", rank: Optional[int] = None,
                            world_size: Optional[int] = None) -> datasets.IterableDataset:
    """The mixture's `(subset, group)` index as an `IterableDataset` for this node (`split_dataset_by_node`); format
    a record with `SubsetSource.example`. `rank` and `world_size` default to `RANK` and `WORLD_SIZE`."""
    from datasets.distributed import split_dataset_by_node

    index, _, _ = _interleave(recipe, _sources(recipe, split), streaming=True)
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else world_size
    return split_dataset_by_node(index, rank=rank, world_size=world_size)

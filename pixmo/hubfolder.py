"""Write a build as the Hub would serve it: parquet shards (about 500 MB, row groups near 100 MB) and a card."""

import itertools
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import config
from datasets.arrow_writer import get_parquet_column_options
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from .builder import BadRowError
from .card import add_configs, data_dir_for, render_card
from .report import BuildReport, load_reports, save_reports
from .source import SourceError
from .subsets import get_subset

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 500 * 1000**2
MAX_ROW_GROUP_BYTES = 100 * 1000**2


def build_folder(subset_name: str, out_dir, config_name: Optional[str] = None, **config_kwargs) -> BuildReport:
    """Build one config of a subset into `out_dir`, laid out as a Hub dataset repo.

    Args:
        subset_name (`str`): `pixmo_points`, `pixmo-points`, ...
        out_dir (`str` or `Path`): the folder to write; other configs already built there are kept.
        config_name (`str`, *optional*): the builder config; defaults to the builder's default config.
        **config_kwargs: options of the subset's config (`source`, `revision`, `on_bad_rows`, ...).

    Returns:
        `BuildReport`: rows read, written and dropped by reason, per split.
    """
    subset = get_subset(subset_name)
    builder_class = subset.builder
    config_name = config_name or builder_class.DEFAULT_CONFIG_NAME
    if config_name is None:
        names = [c.name for c in builder_class.BUILDER_CONFIGS]
        raise ValueError(f"{subset.hub_name} has no default config: pass one of {names} with --config.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".cache-") as cache_dir:
        builder = builder_class(config_name=config_name, cache_dir=cache_dir, **config_kwargs)
        try:
            builder.download_and_prepare(download_mode="force_redownload")
        except datasets.exceptions.DatasetGenerationError as err:
            # datasets wraps what the generator raised; a bad row's own message is the one the user needs.
            if isinstance(err.__cause__, (BadRowError, SourceError)):
                raise err.__cause__ from None
            raise
        report = builder.report
        report.check()
        data_dir = out_dir / data_dir_for(config_name)
        _clear(data_dir)
        split_infos = SplitDict()
        download_size = 0
        for split, generated in builder.info.splits.items():
            if not generated.num_examples:
                # `datasets` cannot load a split without rows, so the folder leaves it out; the report counts why.
                report.notes.append(f"The {split} split lost every row and is left out of this folder.")
                logger.warning("%s %s: the %s split has no rows left; it is not written.", subset.hub_name, config_name, split)
                continue
            dataset = builder.as_dataset(split=split)
            download_size += _write_split(dataset, data_dir, split)
            split_infos.add(SplitInfo(name=split, num_bytes=dataset.data.nbytes, num_examples=len(dataset)))
            del dataset
    info = datasets.DatasetInfo(
        features=builder.info.features,
        splits=split_infos,
        download_size=download_size,
        dataset_size=sum(s.num_bytes for s in split_infos.values()),
    )
    _write_card(out_dir, subset, config_name, info, report)
    return report


def _clear(data_dir: Path) -> None:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)


def _write_split(dataset: datasets.Dataset, folder: Path, split: str) -> int:
    """Write one split as `{split}-NNNNN-of-NNNNN.parquet` shards of about 500 MB with row groups of at most 100 MB.

    The builder's arrow files are streamed batch by batch rather than memory-mapped, so memory stays flat however
    many rows the split has. Returns the bytes written.
    """
    nbytes = dataset.data.nbytes
    num_shards = max(1, min(len(dataset), nbytes // MAX_SHARD_BYTES + 1))
    rows_per_shard = -(-len(dataset) // num_shards) if len(dataset) else 0
    features = dataset.features
    schema = features.arrow_schema
    batches = _stream_batches(dataset)
    written = 0
    for index in range(num_shards):
        path = folder / f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
        with pq.ParquetWriter(
            path, schema, use_content_defined_chunking=config.DEFAULT_CDC_OPTIONS, write_page_index=True,
            **get_parquet_column_options(features, schema),
        ) as writer:
            leftover = _write_row_groups(writer, schema, batches, rows_per_shard if index < num_shards - 1 else None)
        if leftover is not None:
            batches = itertools.chain([leftover], batches)
        written += path.stat().st_size
    return written


def _stream_batches(dataset: datasets.Dataset):
    """The record batches of a dataset's arrow cache files, read through the file rather than a memory map."""
    for cache_file in dataset.cache_files:
        with pa.OSFile(cache_file["filename"]) as source:
            yield from pa.ipc.open_stream(source)


def _write_row_groups(writer: pq.ParquetWriter, schema: pa.Schema, batches, num_rows=None):
    """Take `num_rows` rows (all when None) from `batches` into row groups of at most MAX_ROW_GROUP_BYTES.

    Returns the rest of a batch that went past `num_rows`, for the next shard.
    """
    pending, pending_bytes, leftover = [], 0, None
    while num_rows is None or num_rows > 0:
        batch = next(batches, None)
        if batch is None:
            break
        if num_rows is not None and batch.num_rows > num_rows:
            leftover, batch = batch.slice(num_rows), batch.slice(0, num_rows)
        if num_rows is not None:
            num_rows -= batch.num_rows
        if pending and pending_bytes + batch.nbytes > MAX_ROW_GROUP_BYTES:
            _flush(writer, schema, pending)
            pending, pending_bytes = [], 0
        pending.append(batch)
        pending_bytes += batch.nbytes
    if pending:
        _flush(writer, schema, pending)
    return leftover


def _flush(writer: pq.ParquetWriter, schema: pa.Schema, batches: list) -> None:
    table = pa.Table.from_batches(batches).cast(schema)
    writer.write_table(table, row_group_size=table.num_rows)


def _write_card(out_dir: Path, subset, config_name: str, info: datasets.DatasetInfo, report: BuildReport) -> None:
    readme = out_dir / "README.md"
    previous = DatasetCard.load(readme).data if readme.exists() else None
    infos = DatasetInfosDict.from_dataset_card_data(previous) if previous else DatasetInfosDict()
    infos = {name: i for name, i in infos.items() if (out_dir / data_dir_for(name)).is_dir()}
    infos[config_name] = info
    reports = {name: r for name, r in load_reports(out_dir).items() if name in infos}
    reports[config_name] = report
    card = render_card(subset, infos, reports, previous)
    card.save(readme)
    save_reports(out_dir, reports)
    logger.info("Wrote %s (%s, config %s) to %s", subset.hub_name, ", ".join(info.splits), config_name, out_dir)


def write_source_repo(folder, features: datasets.Features, splits: dict[str, list[dict]], data_dir: str = "data",
                      config_name: str = "default") -> Path:
    """Write rows as `push_to_hub` lays out a Hub repo: `{data_dir}/{split}-00000-of-00001.parquet` and a card.

    Used for the synthetic mini-PixMo and for the tests' sources, so they have the real repos' layout and schema.
    """
    folder = Path(folder)
    (folder / data_dir).mkdir(parents=True, exist_ok=True)
    split_infos = SplitDict()
    for split, rows in splits.items():
        dataset = datasets.Dataset.from_list(rows, features=features)
        dataset.to_parquet(folder / data_dir / f"{split}-00000-of-00001.parquet")
        split_infos.add(SplitInfo(name=split, num_bytes=dataset.data.nbytes, num_examples=len(dataset)))
    readme = folder / "README.md"
    card_data = DatasetCard.load(readme).data if readme.exists() else DatasetCardData(license="odc-by")
    add_configs(card_data, {config_name: datasets.DatasetInfo(features=features, splits=split_infos)},
                {config_name: data_dir})
    DatasetCard(f"---\n{card_data.to_yaml()}\n---\n").save(readme)
    return folder

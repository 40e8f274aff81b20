"""The base of every PixMo builder: read the Hub's parquet as it is, check each row, carve splits, count drops.

A subset's `builder.py` declares its FEATURES, its config dataclass and a `check_row` for the subset's
invariants; everything the subsets share (finding the source files, the schema check, the bad-row
policy, the hash-chosen validation split, the report) lives here once.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Optional, get_args

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from .report import BuildReport
from .source import resolve_data_files
from .splits import count_rows, iter_column, url_key, validation_size, validation_threshold

logger = logging.getLogger(__name__)

OnBadRows = Literal["error", "warn", "skip"]
READ_BATCH_ROWS = 4096

MOLMO_CITATION = """\
@article{deitke2024molmo,
  title={Molmo and PixMo: Open Weights and Open Data for State-of-the-Art Multimodal Models},
  author={Deitke, Matt and Clark, Christopher and Lee, Sangho and others},
  journal={arXiv preprint arXiv:2409.17146},
  year={2024}
}
"""
LICENSE = "odc-by"


class BadRowError(ValueError):
    """A source row or file that breaks the subset's schema or invariants, under `on_bad_rows="error"`."""


@dataclass
class PixMoConfig(datasets.BuilderConfig):
    """Configuration shared by every PixMo builder.

    Args:
        hub_repo (`str`): the Hub dataset repo this config reads by default (`allenai/pixmo-points`).
        hub_revision (`str`): the pinned revision of `hub_repo`.
        hub_data_dir (`str`, defaults to `"data"`): the folder of the repo that holds the parquet files.
        hub_splits (`tuple[str, ...]`, defaults to `("train",)`): the splits the Hub repo has. Where it is
            only `train`, a validation split of `validation_images` images is carved out.
        source (`str`, *optional*): a Hub repo id or a local folder with the repo's layout; defaults to
            `hub_repo`.
        revision (`str`, *optional*): the revision of `source` when it is a Hub repo; defaults to `hub_revision`.
        on_bad_rows (`"error"`, `"warn"` or `"skip"`, defaults to `"error"`): what a row that breaks the
            schema or the subset's invariants does: stop the build naming the file, row, column and value;
            be dropped with a warning; or be dropped quietly. Dropped rows are counted in the report either way.
        validation_images (`int`, defaults to `2048`): how many images the carved validation split holds.
        with_images (`bool`, defaults to `False`): add an `image` column (`datasets.Image()`) with each row's
            image, EXIF orientation applied; rows whose image is unavailable are dropped and counted by reason.
        store (`str`, *optional*): the image store the images come from; defaults to `$PIXMO_HOME` or
            `~/.cache/pixmo`.
    """

    hub_repo: str = ""
    hub_revision: str = "main"
    hub_data_dir: str = "data"
    hub_splits: tuple = ("train",)
    source: Optional[str] = None
    revision: Optional[str] = None
    on_bad_rows: OnBadRows = "error"
    validation_images: int = 2048
    with_images: bool = False
    store: Optional[str] = None
    features: Optional[datasets.Features] = field(default=None, repr=False)

    def __post_init__(self):
        super().__post_init__()
        allowed = get_args(OnBadRows)
        if self.on_bad_rows not in allowed:
            raise ValueError(f"on_bad_rows must be one of {allowed}, got {self.on_bad_rows!r}")
        if self.validation_images < 1:
            raise ValueError(f"validation_images must be at least 1, got {self.validation_images!r}")

    @property
    def carves_validation(self) -> bool:
        return tuple(self.hub_splits) == ("train",)

    @property
    def source_or_default(self) -> str:
        return self.source or self.hub_repo

    @property
    def revision_or_default(self) -> Optional[str]:
        return self.revision or (None if self.source else self.hub_revision)


class PixMoBuilder(datasets.GeneratorBasedBuilder):
    """Reads one PixMo Hub repo (or a local copy) and yields its rows unchanged, checked and split.

    Subclasses set `BUILDER_CONFIGS`, `SUBSET` (the Hub name, `pixmo-points`), `DESCRIPTION`, `HOMEPAGE`
    and implement `check_row`.
    """

    BUILDER_CONFIG_CLASS = PixMoConfig
    SUBSET: str = ""
    DESCRIPTION: str = ""
    HOMEPAGE: str = "https://allenai.org/blog/molmo"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = BuildReport(
            subset=self.SUBSET,
            config=self.config.name,
            source=self.config.source_or_default,
            revision=self.config.revision_or_default,
        )

    # -- what a subset declares ------------------------------------------------------------------------

    def check_row(self, row: dict) -> Optional[tuple[str, str]]:
        """The subset's invariants: `None` for a good row, else `(column, what is wrong)`.

        The reason is a fixed phrase (it is a key of the report's counts); the value is added by the caller.
        """
        return None

    def image_of(self, row: dict) -> tuple[Optional[dict], str]:
        """The row's image as `{"bytes": ..., "path": None}` and a caveat (`""` for none), or `None` and the reason
        it is unavailable. Subsets with image URLs take it from the image store."""
        from .images import oriented_bytes
        from .ledger import Reason

        entry = self.image_store.outcome(row["image_url"])
        if entry is None:
            return None, "not fetched (run `pixmo download` first)"
        if not entry.stored:
            return None, entry.reason
        path = self.image_store.path_of(entry)
        if path is None:
            return None, "file missing from the store"
        caveat = "image sha256 differs from the source's (kept)" if entry.reason == Reason.HASH_MISMATCH_KEPT else ""
        return {"bytes": oriented_bytes(path.read_bytes()), "path": None}, caveat

    @property
    def image_store(self):
        if getattr(self, "_image_store", None) is None:
            from .store import ImageStore

            self._image_store = ImageStore(self.config.store)
        return self._image_store

    def held_out_urls(self) -> set[str]:
        """Image URLs that must never enter this build (pixmo-points holds out pixmo-points-eval)."""
        return set()

    # -- datasets.GeneratorBasedBuilder ----------------------------------------------------------------

    def _info(self) -> datasets.DatasetInfo:
        features = self.config.features
        if self.config.with_images and "image" not in features:
            features = datasets.Features({"image": datasets.Image(), **features})
        return datasets.DatasetInfo(
            description=self.DESCRIPTION,
            features=features,
            homepage=self.HOMEPAGE,
            license=LICENSE,
            citation=MOLMO_CITATION,
        )

    def _split_generators(self, dl_manager):
        cfg = self.config
        files = resolve_data_files(
            cfg.source_or_default, cfg.hub_data_dir, list(cfg.hub_splits), cfg.revision_or_default
        )
        held_out = self.held_out_urls()
        if not cfg.carves_validation:
            return [
                datasets.SplitGenerator(name=split, gen_kwargs={"files": paths, "split": split, "held_out": held_out})
                for split, paths in files.items()
            ]
        train_files = files["train"]
        size = validation_size(count_rows(train_files), cfg.validation_images)
        candidates = (url for url in iter_column(train_files, "image_url") if url not in held_out)
        threshold = validation_threshold(candidates, size)
        self.report.notes.append(
            f"validation: the {size:,} distinct image URLs with the smallest sha256 (first 8 bytes, "
            f"big-endian, at most {threshold}) and all their rows; train: every other image."
        )
        return [
            datasets.SplitGenerator(
                name=split,
                gen_kwargs={
                    "files": train_files,
                    "split": split,
                    "held_out": held_out,
                    "keep_url": (lambda url, want=(split == "validation"): (url_key(url) <= threshold) == want),
                },
            )
            for split in ("train", "validation")
        ]

    def _generate_examples(
        self,
        files: list[str],
        split: str,
        held_out: set[str],
        keep_url: Optional[Callable[[str], bool]] = None,
    ) -> Iterator[tuple[str, dict]]:
        counts = self.report.split(split)
        for file_index, path in enumerate(files):
            # In a carved split both sides read the same files: a bad file is reported by the train side only.
            report_bad_files = keep_url is None or split == "train"
            for row_index, row in self._read_rows(path, split, report_bad_files):
                url = row.get("image_url")
                if keep_url is not None and not keep_url(url):
                    continue  # the other side of the carved split
                counts.rows_read += 1
                if url in held_out:
                    counts.dropped[f"held out: image in {self.held_out_name}"] += 1
                    continue
                problem = self._row_problem(row)
                if problem:
                    self._bad(split, path, row_index, *problem, value=row.get(problem[0]))
                    continue
                if self.config.with_images and "image" not in row:
                    image, note = self.image_of(row)
                    if image is None:
                        counts.dropped[f"image unavailable: {note}"] += 1
                        continue
                    if note:
                        counts.marked[note] += 1
                    row = {"image": image, **row}
                counts.rows_written += 1
                yield f"{file_index}-{row_index}", row

    held_out_name = "a held-out set"

    # -- reading and checking --------------------------------------------------------------------------

    def _read_rows(self, path: str, split: str, report_bad_files: bool = True) -> Iterator[tuple[int, dict]]:
        """Rows of one parquet file in the Hub's schema; a file that cannot be read as that schema is bad as a whole."""
        expected = self.config.features.arrow_schema
        parquet = pq.ParquetFile(path)
        problem = _schema_problem(parquet.schema_arrow, expected)
        if problem:
            if report_bad_files:
                self._bad_file(split, path, parquet.metadata.num_rows, *problem)
            return
        row_index = 0
        for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=expected.names):
            try:
                table = pa.Table.from_batches([batch]).select(expected.names).cast(expected)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
                if report_bad_files:
                    column = _failing_column(batch, expected)
                    self._bad_file(split, path, parquet.metadata.num_rows - row_index, column, f"cannot be cast: {err}")
                return
            for row in table.to_pylist():
                yield row_index, row
                row_index += 1

    def _row_problem(self, row: dict) -> Optional[tuple[str, str]]:
        for name, value in row.items():
            if value is None:
                return name, "missing value"
        return self.check_row(row)

    def _bad(self, split: str, path: str, row_index: int, column: str, reason: str, value=None) -> None:
        self.report.split(split).dropped[f"bad row: {column}: {reason}"] += 1
        message = (
            f"{self.SUBSET}: bad row in {path}, row {row_index}, column {column!r}: {reason} "
            f"(value: {_short(value)})."
        )
        self._apply_policy(message)

    def _bad_file(self, split: str, path: str, num_rows: int, column: str, reason: str) -> None:
        self.report.split(split).rows_read += num_rows
        self.report.split(split).dropped[f"bad file: {column}: {reason.split(':')[0]}"] += num_rows
        message = f"{self.SUBSET}: {path}: column {column!r} {reason}; all {num_rows} rows of the file are unusable."
        self._apply_policy(message)

    def _apply_policy(self, message: str) -> None:
        policy = self.config.on_bad_rows
        if policy == "error":
            raise BadRowError(
                message + " Fix the source, or pass --on-bad-rows skip (or warn) to drop such rows; "
                "dropped rows are counted in the build report."
            )
        if policy == "warn":
            logger.warning("%s Dropped.", message)


def _schema_problem(actual: pa.Schema, expected: pa.Schema) -> Optional[tuple[str, str]]:
    for expected_field in expected:
        if expected_field.name not in actual.names:
            return expected_field.name, f"is missing (the file has columns {actual.names})"
        got = actual.field(expected_field.name).type
        if got != expected_field.type and not _castable(got, expected_field.type):
            return expected_field.name, f"has type {got}, expected {expected_field.type}"
    return None


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether arrow casts an empty column of `source` to `target` (values are checked when the rows are read)."""
    try:
        pa.array([], type=source).cast(target)
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False


def _failing_column(batch: pa.RecordBatch, expected: pa.Schema) -> str:
    for expected_field in expected:
        try:
            batch.column(batch.schema.get_field_index(expected_field.name)).cast(expected_field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return expected_field.name
    return "?"


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

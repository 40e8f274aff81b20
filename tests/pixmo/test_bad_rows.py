"""Each kind of bad input under each `on_bad_rows` policy: error names file, row, column and value; warn and skip
drop the rows, count them in the report and the card, and only warn logs."""

import logging

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixmo.builder import BadRowError
from pixmo.hubfolder import build_folder
from pixmo.testing.sources import config_of, make_rows, write_source

BAD_INDEX = 3  # the row of the source that is broken


def _set(column, value):
    def mutate(row):
        row[column] = value

    return mutate


def _point_outside(row):
    row["points"] = [{"x": 150.0, "y": 20.0}]
    row["count"] = 1


def _count_disagrees(row):
    row["points"] = [{"x": 10.0, "y": 20.0}]
    row["count"] = 3


ROW_CASES = {
    "point outside the unit's range": ("pixmo_points", _point_outside, "points", "outside 0-100", "150.0"),
    "negative count": (
        "pixmo_count", lambda r: r.update(count=-1, points={"x": [], "y": []}), "count", "negative count", "-1"
    ),
    "count disagrees with points": ("pixmo_points", _count_disagrees, "count", "differs from the number", "3"),
    "unparseable clock time": ("pixmo_clocks", _set("watch_time", "noon"), "watch_time", "unparseable", "'noon'"),
    "empty caption": ("pixmo_cap", _set("caption", "  "), "caption", "empty caption", "'  '"),
}


def _build(tmp_path, package, policy, **options):
    extra = {"eval_source": "none"} if package == "pixmo_points" else {}
    return build_folder(
        package, tmp_path / "out", source=str(tmp_path / "src"), on_bad_rows=policy, validation_images=2,
        **extra, **options,
    )


@pytest.mark.parametrize("case", sorted(ROW_CASES))
@pytest.mark.parametrize("policy", ["error", "warn", "skip"])
def test_bad_row(tmp_path, caplog, case, policy):
    package, mutate, column, reason, value = ROW_CASES[case]
    splits = {split: make_rows(package, "default", 20, seed=i) for i, split in enumerate(config_of(package, "default").hub_splits)}
    mutate(splits["train"][BAD_INDEX])
    write_source(tmp_path / "src", package, "default", splits)
    caplog.set_level(logging.WARNING)

    if policy == "error":
        with pytest.raises(BadRowError) as raised:
            _build(tmp_path, package, policy)
        message = str(raised.value)
        assert "train-00000-of-00001.parquet" in message and f"row {BAD_INDEX}" in message
        assert repr(column) in message and reason in message and value in message
        return

    report = _build(tmp_path, package, policy)
    dropped = {k: v for k, v in report.dropped.items() if k.startswith("bad row")}
    assert len(dropped) == 1 and sum(dropped.values()) == 1
    assert column in next(iter(dropped)) and reason in next(iter(dropped))
    assert report.rows_written == report.rows_read - 1
    loaded = datasets.load_dataset(str(tmp_path / "out"))
    assert sum(len(d) for d in loaded.values()) == report.rows_written
    assert reason in (tmp_path / "out" / "README.md").read_text()
    assert (reason in caplog.text) == (policy == "warn")


def _write_table(tmp_path, package, table):
    folder = tmp_path / "src" / "data"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "train-00000-of-00001.parquet")


FILE_CASES = {
    "missing column": ("pixmo_ama", lambda t: t.drop_columns(["answer"]), "answer", "is missing"),
    "wrong type": (
        "pixmo_ama", lambda t: t.set_column(3, "answer", pa.array([{"a": 1}] * len(t))), "answer", "has type",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
@pytest.mark.parametrize("policy", ["error", "warn", "skip"])
def test_bad_file(tmp_path, caplog, case, policy):
    package, change, column, reason = FILE_CASES[case]
    rows = make_rows(package, "default", 12)
    table = pa.Table.from_pylist(rows, schema=config_of(package, "default").features.arrow_schema)
    _write_table(tmp_path, package, change(table))
    caplog.set_level(logging.WARNING)
    if policy == "error":
        with pytest.raises(BadRowError, match=f"train-00000-of-00001.parquet: column '{column}' {reason}"):
            _build(tmp_path, package, policy)
        return
    report = _build(tmp_path, package, policy)
    assert report.rows_written == 0
    assert report.rows_read == 12
    (key, count), = report.dropped.items()
    assert count == 12 and column in key and reason in key
    assert (reason in caplog.text) == (policy == "warn")


def test_castable_types_pass(tmp_path):
    """A column stored with a wider but compatible type (pixmo-count's count as int64) is read, not refused."""
    rows = make_rows("pixmo_count", "default", 10)
    schema = config_of("pixmo_count", "default").features.arrow_schema
    table = pa.Table.from_pylist(rows, schema=schema)
    table = table.set_column(2, "count", table.column("count").cast(pa.int64()))
    _write_table(tmp_path, "pixmo_count", table)
    for split in ("validation", "test"):
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp_path / "src" / "data" / f"{split}-00000-of-00001.parquet")
    report = _build(tmp_path, "pixmo_count", "error")
    assert report.rows_written == 30


def test_policy_is_checked():
    from pixmo_cap import PixMoCapConfig

    with pytest.raises(ValueError, match="on_bad_rows must be one of"):
        PixMoCapConfig(name="default", on_bad_rows="ignore")


def test_a_split_that_loses_every_row_is_left_out_and_said(tmp_path):
    splits = {"train": make_rows("pixmo_clocks", "default", 6), "validation": make_rows("pixmo_clocks", "default", 3)}
    for row in splits["validation"]:
        row["watch_time"] = "noon"
    write_source(tmp_path / "src", "pixmo_clocks", "default", splits)
    report = _build(tmp_path, "pixmo_clocks", "skip")
    loaded = datasets.load_dataset(str(tmp_path / "out"))
    assert set(loaded) == {"train"} and len(loaded["train"]) == 6
    assert report.split("validation").dropped == {"bad row: watch_time: unparseable clock time (expected NNN_YYYY-MM-DDTHH:MM:SS)": 3}
    assert "validation split lost every row" in (tmp_path / "out" / "README.md").read_text()

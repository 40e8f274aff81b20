"""Every subset and config: built from a source in the Hub's exact schema, read back by `load_dataset` unchanged."""

import json

import datasets
import pytest
from huggingface_hub import DatasetCard

from pixmo.card import verify_card
from pixmo.cli import main as cli_main
from pixmo.hubfolder import build_folder
from pixmo.report import load_reports
from pixmo.splits import url_key
from pixmo.testing.sources import ROW_MAKERS, config_of, make_source, write_source

CONFIGS = sorted(ROW_MAKERS)


def _canonical(rows):
    """Rows as sorted JSON strings, so two collections compare equal whatever their order."""
    return sorted(json.dumps(row, sort_keys=True, default=repr) for row in rows)


def _rows(dataset):
    """Rows as stored: images as their bytes, not decoded."""
    for name, feature in dataset.features.items():
        if isinstance(feature, datasets.Image):
            dataset = dataset.cast_column(name, datasets.Image(decode=False))
    return list(dataset)


@pytest.mark.parametrize("package,config", CONFIGS)
def test_build_round_trips_the_hub_schema(tmp_path, package, config):
    source = tmp_path / "source"
    make_source(source, package, config, rows_per_split=40)
    # The source as the Hub's parquet holds it (pixmo-count's float32 points, for one, are rounded there).
    written = {s: _rows(d) for s, d in datasets.load_dataset(str(source), config).items()}
    options = {"source": str(source), "validation_images": 4}
    if package == "pixmo_points" and config == "default":
        options["eval_source"] = "none"
    report = build_folder(package, tmp_path / "out", config, **options)

    cfg = config_of(package, config)
    loaded = datasets.load_dataset(str(tmp_path / "out"), config if config != "default" else None)
    assert all(loaded[split].features == cfg.features for split in loaded)
    if cfg.carves_validation:
        assert set(loaded) == {"train", "validation"}
        source_rows = written["train"]
        assert _canonical(_rows(loaded["train"]) + _rows(loaded["validation"])) == _canonical(source_rows)
        # The split rule: the 4 URLs with the smallest hash, all their rows, and nothing else.
        smallest = sorted({url_key(r["image_url"]) for r in source_rows})[:4]
        assert {url_key(u) for u in loaded["validation"]["image_url"]} == set(smallest)
        assert not set(loaded["train"]["image_url"]) & set(loaded["validation"]["image_url"])
    else:
        assert set(loaded) == set(cfg.hub_splits)
        for split in cfg.hub_splits:
            assert _canonical(_rows(loaded[split])) == _canonical(written[split])
    assert report.rows_read == report.rows_written == sum(len(r) for r in written.values())
    assert sum(report.dropped.values()) == 0

    card = (tmp_path / "out" / "README.md").read_text()
    parsed = verify_card(card)
    name = config
    assert parsed[name].features == cfg.features
    assert {s: v.num_examples for s, v in parsed[name].splits.items()} == {s: len(loaded[s]) for s in loaded}
    assert "2409.17146" in card and "odc-by" in card


def test_split_does_not_depend_on_row_order(tmp_path):
    rows = make_source(tmp_path / "a", "pixmo_cap", "default", rows_per_split=60)["train"]
    write_source(tmp_path / "b", "pixmo_cap", "default", {"train": list(reversed(rows))})
    for name in "ab":
        build_folder("pixmo_cap", tmp_path / f"out-{name}", source=str(tmp_path / name), validation_images=5)
    a, b = (datasets.load_dataset(str(tmp_path / f"out-{n}"), split="validation") for n in "ab")
    assert sorted(a["image_url"]) == sorted(b["image_url"])
    assert len(set(a["image_url"])) == 5


def test_points_eval_images_never_enter_train(tmp_path):
    train = make_source(tmp_path / "points", "pixmo_points", "default", rows_per_split=80)["train"]
    eval_rows = make_source(tmp_path / "eval", "pixmo_points", "eval", rows_per_split=5)["test"]
    # Reuse two training images in the eval set, as the real eval set shares the web's images.
    for row, source_row in zip(eval_rows[:2], train[:2]):
        row["image_url"] = source_row["image_url"]
    write_source(tmp_path / "eval", "pixmo_points", "eval", {"test": eval_rows})
    report = build_folder(
        "pixmo_points", tmp_path / "out", source=str(tmp_path / "points"), eval_source=str(tmp_path / "eval"),
        validation_images=4,
    )
    built = datasets.load_dataset(str(tmp_path / "out"))
    held = {row["image_url"] for row in eval_rows}
    assert {train[0]["image_url"], train[1]["image_url"]} <= held
    assert not held & (set(built["train"]["image_url"]) | set(built["validation"]["image_url"]))
    expected_held = sum(r["image_url"] in held for r in train)
    assert report.dropped["held out: image in pixmo-points-eval"] == expected_held
    assert report.rows_read == len(train)


def test_configs_share_one_folder_and_card(tmp_path):
    make_source(tmp_path / "docs", "pixmo_docs", "charts", rows_per_split=6)
    make_source(tmp_path / "docs", "pixmo_docs", "tables", rows_per_split=7)
    for config in ("charts", "tables"):
        build_folder("pixmo_docs", tmp_path / "out", config, source=str(tmp_path / "docs"))
    card = DatasetCard.load(tmp_path / "out" / "README.md")
    assert sorted(c["config_name"] for c in card.data.configs) == ["charts", "tables"]
    assert len(datasets.load_dataset(str(tmp_path / "out"), "tables", split="train")) == 7
    assert len(datasets.load_dataset(str(tmp_path / "out"), "charts", split="validation")) == 6
    assert sorted(load_reports(tmp_path / "out")) == ["charts", "tables"]


def test_docs_needs_a_config(tmp_path):
    with pytest.raises(ValueError, match="no default config"):
        build_folder("pixmo_docs", tmp_path / "out", source=str(tmp_path))


def test_cli_build_prints_the_report(tmp_path, capsys):
    make_source(tmp_path / "src", "pixmo_ama", "default", rows_per_split=30)
    code = cli_main(["build", "pixmo-ask-model-anything", "--source", str(tmp_path / "src"), "--out",
                     str(tmp_path / "out"), "--metadata-only", "--validation-images", "3"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| train |" in out and "| validation |" in out


def test_missing_source_says_what_to_do(tmp_path, caplog):
    code = cli_main(["build", "pixmo_cap", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "does not exist" in caplog.text


def test_large_splits_are_sharded_with_bounded_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import pixmo.hubfolder

    monkeypatch.setattr(pixmo.hubfolder, "MAX_SHARD_BYTES", 20_000)
    monkeypatch.setattr(pixmo.hubfolder, "MAX_ROW_GROUP_BYTES", 3_000)
    make_source(tmp_path / "src", "pixmo_clocks", "default", rows_per_split=3_000)
    build_folder("pixmo_clocks", tmp_path / "out", source=str(tmp_path / "src"))
    shards = sorted((tmp_path / "out" / "data").glob("train-*.parquet"))
    assert len(shards) > 1 and all(p.name.endswith(f"-of-{len(shards):05d}.parquet") for p in shards)
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in shards) == 3_000
    source = datasets.load_dataset(str(tmp_path / "src"), split="train")
    built = datasets.load_dataset(str(tmp_path / "out"), split="train")
    assert built["example_id"] == source["example_id"]  # order kept across shard boundaries

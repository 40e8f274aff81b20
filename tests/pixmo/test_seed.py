"""The seed document's API: `PixMoPoints(split="train")[0]` and its six siblings, over folders built with images."""

import hashlib

import numpy as np
import pyarrow.parquet as pq
import pytest

import pixmo
from pixmo.fetch import FetchOptions, urls_of_subset
from pixmo.hubfolder import build_folder
from pixmo.store import ImageStore
from pixmo.testing.http_server import make_images, serve_images
from pixmo.testing.sources import config_of, make_rows, make_source, write_source

EXPECTED_KEYS = {
    "PixMoCap": {"image", "caption", "metadata"},
    "PixMoPoints": {"image", "points", "object_names", "query"},
    "PixMoCount": {"image", "count", "object_name", "query"},
    "PixMoDocs": {"image", "questions", "answers", "document_type"},
    "PixMoCapQA": {"image", "question", "answer", "caption"},
    "PixMoAskModelAnything": {"image", "question", "answer"},
    "PixMoClocks": {"image", "time", "query"},
}
URL_PACKAGES = {"PixMoCap": "pixmo_cap", "PixMoPoints": "pixmo_points", "PixMoCount": "pixmo_count",
                "PixMoCapQA": "pixmo_capqa", "PixMoAskModelAnything": "pixmo_ama"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Every subset built with images into `$PIXMO_HOME/built`, where the classes look by default."""
    root = tmp_path_factory.mktemp("home")
    images = make_images(6, seed=3)
    names = sorted(images)
    sources = {}
    with serve_images(images) as server:
        for package in URL_PACKAGES.values():
            rows = {}
            for i, split in enumerate(config_of(package, "default").hub_splits):
                rows[split] = make_rows(package, "default", 12, seed=i, num_images=6)
                for j, row in enumerate(rows[split]):
                    name = names[int(row["image_url"][-10:-4]) % len(names)]
                    # pixmo-cap has one caption per image URL: give its rows distinct URLs of the same few files.
                    row["image_url"] = server.url(name) + (f"?copy={split}-{j}" if package == "pixmo_cap" else "")
                    if "image_sha256" in row:
                        row["image_sha256"] = hashlib.sha256(images[name]).hexdigest()
            write_source(root / "src" / package, package, "default", rows)
            sources[package] = rows
            ImageStore(root).fetch(urls_of_subset(package, source=str(root / "src" / package)), progress=False,
                                   options=FetchOptions(retries=0))
    for package in URL_PACKAGES.values():
        _build(root, package)
    # pixmo-cap-qa's captions come from pixmo-cap: give one pixmo-cap row the URL of a pixmo-cap-qa train image.
    shared = pq.read_table(next((root / "built" / "pixmo-cap-qa" / "data").glob("train-*.parquet")))["image_url"][0].as_py()
    sources["pixmo_cap"]["train"][0]["image_url"] = shared
    write_source(root / "src" / "pixmo_cap", "pixmo_cap", "default", sources["pixmo_cap"])
    _build(root, "pixmo_cap")
    make_source(root / "src" / "pixmo_docs", "pixmo_docs", "tables", rows_per_split=3)
    build_folder("pixmo_docs", root / "built" / "pixmo-docs", "tables", source=str(root / "src" / "pixmo_docs"))
    make_source(root / "src" / "pixmo_clocks", "pixmo_clocks", "default", rows_per_split=3)
    build_folder("pixmo_clocks", root / "built" / "pixmo-clocks", source=str(root / "src" / "pixmo_clocks"),
                 with_images=True, image_size=64)
    return root, sources


def _build(root, package):
    extra = {"eval_source": "none"} if package == "pixmo_points" else {}
    build_folder(package, root / "built" / pixmo.subsets.get_subset(package).hub_name,
                 source=str(root / "src" / package), with_images=True, store=str(root), validation_images=1, **extra)


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYS))
def test_seed_classes_give_the_promised_dicts(home, monkeypatch, name):
    root, _ = home
    monkeypatch.setenv("PIXMO_HOME", str(root))
    kwargs = {"document_type": "tables"} if name == "PixMoDocs" else {}
    dataset = getattr(pixmo, name)(split="train", **kwargs)
    assert len(dataset) > 0
    example = dataset[0]
    assert set(example) == EXPECTED_KEYS[name]
    image = example["image"]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_points_are_pixels(home, monkeypatch):
    root, _ = home
    monkeypatch.setenv("PIXMO_HOME", str(root))
    dataset = pixmo.PixMoPoints(split="train")
    row = dataset.data[0]
    example = dataset[0]
    height, width = example["image"].shape[:2]
    assert example["points"] == [(round(p["x"] * width / 100), round(p["y"] * height / 100)) for p in row["points"]]
    assert all(isinstance(v, int) for point in example["points"] for v in point)
    assert example["query"] == f"Point to the {row['label']}"


def test_capqa_joins_the_caption_by_url(home, monkeypatch):
    root, sources = home
    monkeypatch.setenv("PIXMO_HOME", str(root))
    dataset = pixmo.PixMoCapQA(split="train")
    captions = {r["image_url"]: r["caption"] for r in sources["pixmo_cap"]["train"]}
    joined = [dataset[i]["caption"] == captions.get(dataset.data[i]["image_url"]) for i in range(len(dataset))]
    assert all(joined)
    assert any(dataset[i]["caption"] is not None for i in range(len(dataset)))


def test_a_clear_error_names_the_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXMO_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="pixmo download pixmo_count && pixmo build pixmo_count"):
        pixmo.PixMoCount(split="train")
    make_source(tmp_path / "src", "pixmo_count", "default", rows_per_split=4)
    build_folder("pixmo_count", tmp_path / "built" / "pixmo-count", source=str(tmp_path / "src"))
    with pytest.raises(FileNotFoundError, match="built without images"):
        pixmo.PixMoCount(split="train")

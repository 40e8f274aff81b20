"""Builds with images: every URL subset fetched from a real server on 127.0.0.1, embedded, read back decoded; every
row that lost its image is counted by reason, and the counts add up to the source rows."""

import hashlib
import io

import datasets
import pytest
from PIL import Image

from pixmo.fetch import FetchOptions, urls_of_subset
from pixmo.hubfolder import build_folder
from pixmo.store import ImageStore
from pixmo.testing.http_server import make_images, serve_images
from pixmo.testing.sources import config_of, make_rows, write_source

URL_SUBSETS = ["pixmo_cap", "pixmo_points", "pixmo_count", "pixmo_capqa", "pixmo_ama"]
OPTIONS = FetchOptions(retries=0, connect_timeout=2, read_timeout=2, total_timeout=5)


def _source_pointing_at(server, images, package, folder, num_rows=30):
    """A source whose rows use the served images, plus two URLs the server does not have (404)."""
    names = sorted(images)
    cfg = config_of(package, "default")
    splits = {}
    for i, split in enumerate(cfg.hub_splits):
        rows = make_rows(package, "default", num_rows, seed=i)
        for j, row in enumerate(rows):
            name = names[j % len(names)] if j % 10 else f"missing-{j}.jpg"
            row["image_url"] = server.url(name)
            if "image_sha256" in row:
                row["image_sha256"] = hashlib.sha256(images.get(name, b"")).hexdigest()
        splits[split] = rows
    write_source(folder, package, "default", splits)
    return splits


@pytest.fixture(scope="module")
def images():
    return make_images(8, seed=1)


@pytest.mark.parametrize("package", URL_SUBSETS)
def test_build_with_images(tmp_path, images, package):
    with serve_images(images) as server:
        splits = _source_pointing_at(server, images, package, tmp_path / "src")
        store = ImageStore(tmp_path / "store")
        store.fetch(urls_of_subset(package, source=str(tmp_path / "src")), n_proc=1, options=OPTIONS, progress=False)
    extra = {"eval_source": "none"} if package == "pixmo_points" else {}
    report = build_folder(
        package, tmp_path / "out", source=str(tmp_path / "src"), with_images=True, store=str(store.root),
        validation_images=2, **extra,
    )
    built = datasets.load_dataset(str(tmp_path / "out"))
    source_rows = sum(len(rows) for rows in splits.values())
    missing = sum(row["image_url"].rsplit("/", 1)[-1].startswith("missing") for rows in splits.values() for row in rows)
    assert report.rows_read == source_rows
    assert report.dropped == {"image unavailable: gone": missing}
    assert sum(len(d) for d in built.values()) == report.rows_written == source_rows - missing
    first = next(iter(built.values()))[0]
    assert isinstance(first["image"], Image.Image)
    name = first["image_url"].rsplit("/", 1)[-1]
    assert first["image"].size == Image.open(io.BytesIO(images[name])).size
    assert "image unavailable: gone" in (tmp_path / "out" / "README.md").read_text()


def test_rows_without_a_fetch_are_counted(tmp_path):
    write_source(tmp_path / "src", "pixmo_ama", "default", {"train": make_rows("pixmo_ama", "default", 12)})
    report = build_folder("pixmo_ama", tmp_path / "out", source=str(tmp_path / "src"), with_images=True,
                          store=str(tmp_path / "empty-store"), validation_images=1)
    assert report.rows_written == 0
    assert report.dropped == {"image unavailable: not fetched (run `pixmo download` first)": 12}


def _jpeg(orientation=None, size=(40, 20)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_exif_orientation_is_applied_and_plain_bytes_kept(tmp_path):
    images = {"rotated.jpg": _jpeg(orientation=6), "upright.jpg": _jpeg()}
    with serve_images(images) as server:
        rows = make_rows("pixmo_ama", "default", 2)
        for row, name in zip(rows, sorted(images)):
            row["image_url"] = server.url(name)
            row["image_sha256"] = hashlib.sha256(images[name]).hexdigest()
        write_source(tmp_path / "src", "pixmo_ama", "default", {"train": rows})
        store = ImageStore(tmp_path / "store")
        store.fetch(urls_of_subset("pixmo_ama", source=str(tmp_path / "src")), options=OPTIONS, progress=False)
    build_folder("pixmo_ama", tmp_path / "out", source=str(tmp_path / "src"), with_images=True,
                 store=str(store.root), validation_images=1)
    built = datasets.load_dataset(str(tmp_path / "out")).cast_column("image", datasets.Image(decode=False))
    by_name = {r["image_url"].rsplit("/", 1)[-1]: r["image"]["bytes"] for d in built.values() for r in d}
    assert by_name["upright.jpg"] == images["upright.jpg"]
    assert Image.open(io.BytesIO(by_name["rotated.jpg"])).size == (20, 40)  # orientation 6: turned a quarter


def test_clock_faces_are_rendered_from_metadata(tmp_path):
    rows = {s: make_rows("pixmo_clocks", "default", 4, seed=i) for i, s in enumerate(("train", "validation"))}
    write_source(tmp_path / "src", "pixmo_clocks", "default", rows)
    report = build_folder("pixmo_clocks", tmp_path / "out", source=str(tmp_path / "src"), with_images=True,
                          image_size=96)
    built = datasets.load_dataset(str(tmp_path / "out"), split="train")
    assert built[0]["image"].size == (96, 96)
    assert report.rows_written == 8
    assert "rendered by `pixmo_clocks.render`" in (tmp_path / "out" / "README.md").read_text()

"""Pictures of examples: markers land on the objects they point at, text stays in its panel, sheets tile."""

from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from pixmo.cli import main as cli_main
from pixmo.show import MARKER, MAX_PANEL_LINES, PANEL_WIDTH, TEXT_SIZE, contact_sheet, draw_example
from pixmo.synth import synthesize
from pixmo.synth.shapes import COLORS
from pixmo_clocks.render import render_row

ROWS = 10


def _with_images(source: Path, images: Path, built: Path, features: datasets.Features) -> Path:
    """A built folder as a build with images writes it: the Hub's columns plus `image` (datasets.Image)."""
    for path in sorted(source.glob("data/*.parquet")):
        rows = datasets.Dataset.from_parquet(str(path), cache_dir=str(built / ".cache")).to_list()
        for row in rows:
            row["image"] = str(images / row["image_url"].rsplit("/", 1)[1])
        with_image = datasets.Features({**features, "image": datasets.Image()})
        dataset = datasets.Dataset.from_list(rows, features=with_image)
        (built / "data").mkdir(parents=True, exist_ok=True)
        dataset.to_parquet(str(built / "data" / path.name))
    return built


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from pixmo_count.builder import FEATURES as COUNT
    from pixmo_points.builder import EVAL_FEATURES, FEATURES as POINTS

    out = tmp_path_factory.mktemp("mini")
    repos = synthesize(out, rows=ROWS, seed=2, base_url="http://127.0.0.1:8000/")
    folders = {}
    for name, features in (("pixmo-points", POINTS), ("pixmo-points-eval", EVAL_FEATURES), ("pixmo-count", COUNT)):
        folders[name] = _with_images(repos[name], out / "images", out / "built" / name, features)
    folders["pixmo-docs"] = repos["pixmo-docs"]
    folders["pixmo-clocks"] = repos["pixmo-clocks"]
    return folders


def _load(folder: Path, config=None, split="train"):
    return datasets.load_dataset(str(folder), config, split=split, cache_dir=str(folder.parent / ".cache" / folder.name))


def _scale(picture: Image.Image, image: Image.Image) -> float:
    return (picture.width - PANEL_WIDTH) / image.width


def _assert_markers_on_objects(picture, image, label, points_px):
    pixels = np.asarray(picture)
    scale = _scale(picture, image)
    assert scale == int(scale) and scale >= 1
    for x, y in points_px:
        px, py = int(x * scale), int(y * scale)
        assert tuple(pixels[py, px]) == MARKER  # the dot at the point
        # Just inside the ring the object still shows: the marker sits on an object of the label's colour.
        assert tuple(pixels[py, px + 3]) == COLORS[label.split(" ")[0]], (label, x, y)


def test_points_markers_land_on_their_objects(built):
    checked = 0
    for example in _load(built["pixmo-points"]):
        picture = draw_example("pixmo_points", example)
        image = example["image"]
        points = [(p["x"] / 100 * image.width, p["y"] / 100 * image.height) for p in example["points"]]  # percent
        _assert_markers_on_objects(picture, image, example["label"], points)
        checked += len(points)
    assert checked > 0


def test_count_markers_land_on_their_objects(built):
    for split in ("train", "test"):
        for example in _load(built["pixmo-count"], split=split):
            picture = draw_example("pixmo-count", example)
            points = list(zip(example["points"]["x"], example["points"]["y"]))  # pixels
            _assert_markers_on_objects(picture, example["image"], example["label"], points)


def test_eval_masks_are_tinted(built):
    example = _load(built["pixmo-points-eval"], split="test")[0]
    picture = np.asarray(draw_example("pixmo-points-eval", example)).astype(int)
    image = example["image"]
    scale = int(_scale(Image.fromarray(picture.astype(np.uint8)), image))
    mask = np.asarray(example["masks"][0], dtype=bool)
    ys, xs = np.nonzero(mask)
    # A masked pixel away from the marker changes colour; one outside every mask does not.
    far = np.argmax(np.hypot(xs - xs.mean(), ys - ys.mean()))
    y, x = ys[far], xs[far]
    original = np.asarray(image)
    assert (picture[y * scale, x * scale] != original[y, x]).any()
    outside = np.argwhere(~np.asarray(example["masks"], dtype=bool).any(0))[0]
    assert (picture[outside[0] * scale, outside[1] * scale] == original[outside[0], outside[1]]).all()


def test_text_wraps_inside_the_panel_and_long_text_is_cut(built):
    example = dict(_load(built["pixmo-points"])[0])
    caption = " ".join(f"word{i}" for i in range(40)) + " " + "x" * 120
    picture = draw_example("pixmo_cap", {"image": example["image"], "caption": caption, "transcripts": ["a"]})
    pixels = np.asarray(picture).astype(int)
    panel = pixels[:, picture.width - PANEL_WIDTH + 2:]
    assert (panel.sum(-1) < 300).any()  # text was drawn
    assert (panel[:, -8:] == 255).all()  # and never runs off the right edge
    long_text = draw_example("pixmo_cap", {"image": example["image"], "caption": "many words " * 2000})
    assert long_text.height <= (MAX_PANEL_LINES + 4) * (TEXT_SIZE + 5)


def test_documents_are_drawn_unscaled_and_clocks_without_an_image_are_rendered(built):
    doc = _load(built["pixmo-docs"], "charts", "validation")[0]
    picture = draw_example("pixmo_docs", doc)
    image = np.asarray(doc["image"].convert("RGB"))
    assert (np.asarray(picture)[: image.shape[0], : image.shape[1]] == image).all()
    row = dict(_load(built["pixmo-clocks"], split="validation")[0])
    face = render_row(row)
    picture = draw_example("pixmo-clocks", row)
    scale = int(_scale(picture, face))
    drawn = np.asarray(picture)[: face.height * scale: scale, : face.width * scale: scale]
    assert (drawn == np.asarray(face)).all()
    with pytest.raises(ValueError, match="has no `image`"):
        draw_example("pixmo_count", {"count": 1, "label": "x", "points": {"x": [1.0], "y": [1.0]}})


def test_contact_sheet_tiles_pictures_in_cells():
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)]
    images = [Image.new("RGB", (30 + 10 * i, 20 + 5 * i), c) for i, c in enumerate(colors)]
    sheet = contact_sheet(images, columns=2, gap=4)
    cell_w, cell_h = 70, 40
    assert sheet.size == (2 * (cell_w + 4) + 4, 3 * (cell_h + 4) + 4)
    pixels = np.asarray(sheet)
    for index, color in enumerate(colors):
        row, column = divmod(index, 2)
        assert tuple(pixels[4 + row * (cell_h + 4), 4 + column * (cell_w + 4)]) == color
    with pytest.raises(ValueError):
        contact_sheet([], 2)


def test_show_command_writes_a_picture_and_a_grid(built, tmp_path, capsys):
    single, grid = tmp_path / "one.png", tmp_path / "grid.png"
    data = str(built["pixmo-count"])
    assert cli_main(["show", "pixmo_count", "--data", data, "--split", "train", "--index", "2", "--out", str(single)]) == 0
    assert cli_main(["show", "pixmo_count", "--data", data, "--split", "train", "--index", "0", "--grid", "4",
                     "--out", str(grid)]) == 0
    one, sheet = Image.open(single), Image.open(grid)
    assert one.width > PANEL_WIDTH and sheet.width > 2 * PANEL_WIDTH and sheet.height > one.height
    assert "4 example(s)" in capsys.readouterr().out
    assert cli_main(["show", "pixmo_count", "--data", data, "--split", "train", "--index", "999",
                     "--out", str(tmp_path / "none.png")]) == 1
    assert not (tmp_path / "none.png").exists()

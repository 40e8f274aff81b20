"""The synthetic mini-PixMo: every subset builds with no bad rows, and its annotations are true of its pixels."""

import contextlib
import functools
import hashlib
import re
import threading
import urllib.request
from collections import defaultdict
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from pixmo.cli import main as cli_main
from pixmo.hubfolder import build_folder
from pixmo.synth import HUB_NAMES, small_split_rows, synthesize
from pixmo.synth.shapes import COLORS

ROWS = 30
SEED = 11
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
NUMBERS = {word: number for number, word in enumerate(NUMBER_WORDS)}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_folder(folder: Path):
    """A real HTTP server on 127.0.0.1 (a free port) serving `folder`; stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """A synthetic mini-PixMo whose images are served while the module's tests run."""
    out = tmp_path_factory.mktemp("mini")
    with serve_folder(out / "images") as base_url:
        repos = synthesize(out, rows=ROWS, seed=SEED, base_url=base_url)
        yield out, repos, base_url


def _load(repo: Path, config=None, split=None):
    """`load_dataset` with a cache beside the repo, so no cache of an earlier run can answer."""
    return datasets.load_dataset(str(repo), config, split=split, cache_dir=str(repo.parent / ".cache" / repo.name))


def _rows(repo: Path, config=None, split="train") -> list[dict]:
    return list(_load(repo, config, split))


def _image(out: Path, url: str) -> np.ndarray:
    return np.asarray(Image.open(out / "images" / url.rsplit("/", 1)[1]).convert("RGB"))


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


# -- layout and builds ----------------------------------------------------------------------------------------

BUILDS = [
    ("pixmo_cap", "pixmo-cap", None),
    ("pixmo_points", "pixmo-points", None),
    ("pixmo_points", "pixmo-points-eval", "eval"),
    ("pixmo_count", "pixmo-count", None),
    ("pixmo_capqa", "pixmo-cap-qa", None),
    ("pixmo_ama", "pixmo-ask-model-anything", None),
    ("pixmo_clocks", "pixmo-clocks", None),
] + [("pixmo_docs", "pixmo-docs", kind) for kind in ("charts", "diagrams", "tables", "other")]


@pytest.mark.parametrize("package,hub_name,config", BUILDS, ids=[f"{h}-{c}" for _, h, c in BUILDS])
def test_every_subset_builds_with_no_bad_rows(mini, tmp_path, package, hub_name, config):
    out, repos, _ = mini
    options = {"source": str(repos[hub_name]), "on_bad_rows": "error", "validation_images": 3}
    if package == "pixmo_points" and config is None:
        options["eval_source"] = str(repos["pixmo-points-eval"])
    report = build_folder(package, tmp_path / hub_name, config, **options)
    expected = {
        "pixmo-points-eval": small_split_rows(ROWS),
        "pixmo-count": ROWS + 2 * small_split_rows(ROWS),
        "pixmo-docs": ROWS + small_split_rows(ROWS),
        "pixmo-clocks": ROWS + small_split_rows(ROWS),
    }.get(hub_name, ROWS)
    assert report.rows_read == report.rows_written == expected
    assert sum(report.dropped.values()) == 0


def test_repos_are_laid_out_as_on_the_hub(mini):
    out, repos, _ = mini
    assert sorted(repos) == sorted(HUB_NAMES)
    splits = {
        "pixmo-cap": {"train"}, "pixmo-points": {"train"}, "pixmo-cap-qa": {"train"},
        "pixmo-ask-model-anything": {"train"}, "pixmo-count": {"train", "validation", "test"},
        "pixmo-clocks": {"train", "validation"}, "pixmo-points-eval": {"test"},
    }
    for hub_name, expected in splits.items():
        assert repos[hub_name] == out / hub_name
        files = {p.name.split("-")[0] for p in (out / hub_name / "data").glob("*.parquet")}
        assert files == expected, hub_name
        assert set(_load(out / hub_name)) == expected
    for kind in ("charts", "diagrams", "tables", "other"):
        assert sorted(p.name for p in (out / "pixmo-docs" / kind).iterdir()) == [
            "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    assert sorted(datasets.get_dataset_config_names(str(out / "pixmo-docs"))) == ["charts", "diagrams", "other", "tables"]


def test_served_images_match_their_sha256_and_are_shared(mini):
    out, repos, base_url = mini
    by_subset = {name: _rows(repos[name]) for name in ("pixmo-cap", "pixmo-points", "pixmo-count", "pixmo-cap-qa",
                                                       "pixmo-ask-model-anything")}
    for row in by_subset["pixmo-count"][:8] + by_subset["pixmo-ask-model-anything"][:4]:
        assert row["image_url"].startswith(base_url)
        assert hashlib.sha256(_fetch(row["image_url"])).hexdigest() == row["image_sha256"]
    # The same images back every URL subset, as on the Hub.
    urls = {name: {r["image_url"] for r in rows} for name, rows in by_subset.items()}
    shared = set.intersection(*urls.values())
    assert len(shared) >= ROWS // 4
    assert len({p.name for p in (out / "images").iterdir()}) < sum(len(u) for u in urls.values())


# -- truth of the annotations ---------------------------------------------------------------------------------


def _components(image: np.ndarray, color: str) -> np.ndarray:
    labels, _ = ndimage.label((image == np.array(COLORS[color])).all(-1))
    return labels


def _points_by_image(rows: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["image_url"]].append(row)
    return grouped


def test_points_fall_on_objects_of_their_label_and_count_every_object(mini):
    out, repos, _ = mini
    rows = _rows(repos["pixmo-points"])
    assert all(0 <= p[axis] <= 100 for r in rows for p in r["points"] for axis in ("x", "y"))
    grouped = _points_by_image(rows)
    complete = list(grouped)[:-1]  # the last image's rows may be cut off at ROWS
    for url in complete:
        image = _image(out, url)
        height, width = image.shape[:2]
        hit = defaultdict(list)  # colour -> the component under each point of that colour
        for row in grouped[url]:
            color = row["label"].split(" ")[0]
            components = _components(image, color)
            assert row["count"] == len(row["points"])
            for point in row["points"]:  # percent of the image size
                x, y = int(point["x"] / 100 * width), int(point["y"] / 100 * height)
                assert tuple(image[y, x]) == COLORS[color], (url, row["label"], point)
                hit[color].append(components[y, x])
        for color, under_points in hit.items():
            # Every object of the colour is pointed at exactly once, across the image's labels.
            assert sorted(under_points) == list(range(1, _components(image, color).max() + 1)), (url, color)


def test_zero_counts_and_crowded_images_are_present(mini):
    _, repos, _ = mini
    counts = [r["count"] for r in _rows(repos["pixmo-count"])]
    assert 0 in counts and max(counts) >= 8 and len(set(counts)) >= 6
    for split in ("validation", "test"):
        assert all(2 <= r["count"] <= 10 for r in _rows(repos["pixmo-count"], split=split))
    assert any(r["count"] == 0 for r in _rows(repos["pixmo-points"]))


def test_count_points_are_pixels_on_distinct_objects(mini):
    out, repos, _ = mini
    for split in ("train", "validation", "test"):
        for row in _rows(repos["pixmo-count"], split=split):
            image = _image(out, row["image_url"])
            color = row["label"].split(" ")[0]
            components = _components(image, color)
            under = [components[int(y), int(x)] for x, y in zip(row["points"]["x"], row["points"]["y"])]
            assert row["count"] == len(under) == len(set(under))
            assert all(under), (row["image_url"], row["label"])  # every point on an object of the label's colour


def test_eval_masks_cover_their_objects(mini):
    out, repos, _ = mini
    for row in _rows(repos["pixmo-points-eval"], split="test"):
        image = _image(out, row["image_url"])
        height, width = image.shape[:2]
        masks = np.asarray(row["masks"], dtype=bool)
        assert masks.shape == (len(row["points"]), height, width)
        assert not (masks.sum(0) > 1).any()  # objects never overlap
        color = np.array(COLORS[row["label"].split(" ")[0]])
        for mask, point in zip(masks, row["points"]):
            assert mask[int(point["y"] / 100 * height), int(point["x"] / 100 * width)]
            assert (image[mask] == color).all()


def _inventory(text: str) -> dict[str, int]:
    words = "|".join(NUMBERS)
    found = re.findall(rf"\b({words}) (\w+ (?:circle|square|triangle|star|diamond))s?\b", text)
    return {label: NUMBERS[n] for n, label in found}


def test_captions_and_answers_state_the_true_counts(mini):
    _, repos, _ = mini
    grouped = _points_by_image(_rows(repos["pixmo-points"]))
    truth = {url: {r["label"]: r["count"] for r in rows} for url, rows in grouped.items()}
    checked = 0
    for row in _rows(repos["pixmo-cap"]):
        stated = _inventory(row["caption"])
        if row["image_url"] in truth and stated:
            present = {k: v for k, v in truth[row["image_url"]].items() if v}
            assert stated == present, row["caption"]
            checked += 1
    assert checked >= ROWS // 4
    ama = [dict(r, messages=[r["question"], r["answer"]]) for r in _rows(repos["pixmo-ask-model-anything"])]
    for row in _rows(repos["pixmo-cap-qa"]) + ama:
        messages = row["messages"]
        for question, answer in zip(messages[::2], messages[1::2]):
            match = re.match(r"How many (\w+ \w+?)s are there in the image\?", question)
            if match and row["image_url"] in truth:
                label = match.group(1)
                assert _inventory(answer).get(label, 0) == truth[row["image_url"]].get(label, 0), (question, answer)


def test_cap_qa_transcripts_have_the_hub_form(mini):
    _, repos, _ = mini
    for row in _rows(repos["pixmo-cap-qa"]):
        messages = row["messages"]
        assert messages and len(messages) % 2 == 0
        assert row["answer"] == messages[-1]
        lines = row["question"].split("\n")
        assert len(lines) == len(messages) // 2
        assert all(line.startswith("[USER] ") for line in lines)
        assert lines[-1] == f"[USER] {messages[-2]} [ASSISTANT]"
        for line, (q, a) in zip(lines[:-1], zip(messages[::2], messages[1::2])):
            assert line == f"[USER] {q} [ASSISTANT] {a}"


def _runs(line: np.ndarray) -> int:
    padded = np.concatenate([[False], line, [False]])
    return int((padded[1:] != padded[:-1]).sum() // 2)


def test_documents_show_what_their_answers_count(mini):
    _, repos, _ = mini
    for kind, question, counter in (
        ("charts", "How many bars does the chart have?", "bars"),
        ("diagrams", "How many steps does the flowchart show?", "boxes"),
        ("tables", "How many people are listed in the table?", "rows"),
    ):
        for row in _rows(repos["pixmo-docs"], kind, "validation"):
            answer = dict(zip(row["questions"]["question"], row["questions"]["answer"]))[question]
            pixels = np.asarray(row["image"].convert("RGB")).astype(int)
            dark = (pixels < 60).all(-1).mean(axis=1) > 0.8
            if counter == "bars":  # coloured runs along a row just above the x axis (the one long dark rule)
                line = pixels[int(np.flatnonzero(dark)[-1]) - 3]
                found = _runs((line.sum(-1) < 600) & ~(line < 60).all(-1))  # neither paper nor ink
            elif counter == "boxes":  # large regions of the boxes' tint (not the insides of letters)
                regions, n = ndimage.label((pixels == (236, 244, 252)).all(-1))
                found = int((np.bincount(regions.ravel())[1:] > 500).sum())
            else:  # full-width rules: one above each row, the header's and one below the last row
                found = _runs(dark) - 2
            assert found == int(answer), (kind, row["image_id"], answer)


def test_clock_rows_state_their_time_as_a_person_reads_it(mini):
    _, repos, _ = mini
    for split in ("train", "validation"):
        for row in _rows(repos["pixmo-clocks"], split=split):
            match = re.fullmatch(r"(\d+)_\d{4}-\d{2}-\d{2}T(\d{2}):(\d{2}):(\d{2})", row["watch_time"])
            hour, minute, second = (int(v) for v in match.groups()[1:])
            assert (row["hour_visible"], row["minute_visible"]) == (hour, minute)
            assert row["second_visible"] == (second if row["shows_seconds"] else -1)
            text = f"{hour % 12 or 12}:{minute:02d}" + (f":{second:02d}" if row["shows_seconds"] else "")
            if row["time_format"] == "With AM/PM":
                text += " PM" if hour >= 12 else " AM"
            assert row["text"] == text
            assert len(row["watchface_id"]) == 10 and row["example_id"].startswith(row["watchface_id"])


# -- determinism ----------------------------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path, capsys):
    base_url = "http://127.0.0.1:8765/"
    synthesize(tmp_path / "a", rows=6, seed=4, base_url=base_url)
    assert cli_main(["synth", "--out", str(tmp_path / "b"), "--rows", "6", "--seed", "4", "--base-url", base_url]) == 0
    assert "pixmo-clocks" in capsys.readouterr().out
    synthesize(tmp_path / "c", rows=6, seed=5, base_url=base_url)
    a, b, c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert a == b
    assert any(name.startswith("images/") for name in a)
    assert sum(a[name] != c.get(name) for name in a if name.startswith("images/")) >= len(a) // 3


def test_a_chosen_few_repos_hold_the_same_rows_as_in_the_full_set(tmp_path):
    base_url = "http://127.0.0.1:8765/"
    synthesize(tmp_path / "all", rows=6, seed=4, base_url=base_url)
    few = synthesize(tmp_path / "few", rows=6, seed=4, base_url=base_url, hub_names=["pixmo-count", "pixmo-points"])
    assert sorted(few) == ["pixmo-count", "pixmo-points"]
    everything, chosen = _tree(tmp_path / "all"), _tree(tmp_path / "few")
    assert not any(name.startswith(("pixmo-cap/", "pixmo-docs/", "pixmo-clocks/")) for name in chosen)
    assert {name: everything[name] for name in chosen} == chosen  # every written file is byte-identical
    with pytest.raises(ValueError, match="hub_names must be"):
        synthesize(tmp_path / "bad", rows=6, hub_names=["pixmo-pointz"])


@pytest.mark.slow
def test_two_hundred_rows_of_every_subset_take_well_under_a_minute(tmp_path):
    import time

    start = time.process_time()
    repos = synthesize(tmp_path, rows=200, seed=0)
    elapsed = time.process_time() - start
    assert elapsed < 30, f"synthesize(rows=200) used {elapsed:.1f} s of CPU"
    assert len(_rows(repos["pixmo-points"])) == 200


def test_bad_sizes_and_seeds_are_refused(tmp_path):
    assert cli_main(["synth", "--out", str(tmp_path / "a"), "--rows", "0"]) == 1
    assert cli_main(["synth", "--out", str(tmp_path / "b"), "--seed", "-1"]) == 1
    with pytest.raises(ValueError, match="rows must be at least 1"):
        synthesize(tmp_path / "c", rows=0)


def test_simpler_scenes_keep_to_their_settings():
    from pixmo.synth.shapes import BACKGROUNDS, make_scene, object_mask

    rng = np.random.default_rng(3)
    for _ in range(40):
        scene = make_scene(rng, min_count=1, max_count=3, sizes=(112,), max_distractor_kinds=1, max_distractors=2,
                           plain_background=True)
        assert (scene.width, scene.height) == (112, 112) and scene.background == "white"
        assert 1 <= scene.count(scene.target) <= 3
        others = [label for label in scene.labels if label != scene.target]
        assert len(others) <= 1 and all(scene.count(label) <= 2 for label in others)
        pixels = np.array(scene.image)
        covered = np.zeros(pixels.shape[:2], dtype=bool)
        for obj in scene.objects:
            covered |= object_mask(obj, scene.width, scene.height)
        assert (pixels[~covered] == BACKGROUNDS["white"]).all()
    alone = make_scene(np.random.default_rng(0), min_count=1, max_distractor_kinds=0)
    assert alone.labels == [alone.target]

"""The mixture: one example per image, interleaved by weight, the same order for the same seed, split by node."""

from collections import Counter

import pytest

from pixmo.hubfolder import build_folder
from pixmo.testing.sources import make_source
from training.mixture import build_mixture, build_streaming_mixture, grouped_weights, mixture_probabilities


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    make_source(root / "src-points", "pixmo_points", "default", rows_per_split=300)  # about 2 rows per image
    build_folder("pixmo_points", root / "pixmo-points", source=str(root / "src-points"), eval_source="none",
                 validation_images=10)
    make_source(root / "src-clocks", "pixmo_clocks", "default", rows_per_split=120)
    build_folder("pixmo_clocks", root / "pixmo-clocks", source=str(root / "src-clocks"), with_images=True,
                 image_size=32)
    make_source(root / "src-docs", "pixmo_docs", "charts", rows_per_split=40)
    make_source(root / "src-docs", "pixmo_docs", "tables", rows_per_split=20)
    for config in ("charts", "tables"):
        build_folder("pixmo_docs", root / "pixmo-docs", config, source=str(root / "src-docs"))
    return root


def _recipe(root, seed=0, **extra):
    return {
        "style": "molmo2",
        "seed": seed,
        "subsets": {
            "pixmo_points": {"weight": 0.5, "path": str(root / "pixmo-points")},
            "pixmo_clocks": {"weight": 0.3, "path": str(root / "pixmo-clocks")},
            "pixmo_docs": {"weight": 0.2, "path": str(root / "pixmo-docs"), "configs": ["charts", "tables"]},
        },
        **extra,
    }


def _order(mixture):
    return list(zip(mixture.index["subset"], mixture.index["group"]))


def test_same_seed_same_order_and_another_seed_another(built):
    first, again, other = (build_mixture(_recipe(built, seed)) for seed in (0, 0, 1))
    assert _order(first) == _order(again)
    assert _order(first) != _order(other)


def test_one_example_per_image_with_all_its_annotations(built):
    mixture = build_mixture(_recipe(built))
    points = mixture.sources["pixmo_points"]
    assert len(points) < len(points.rows)  # several labels per image were gathered
    group = max(range(len(points)), key=lambda g: len(points.groups[g]))
    example = points.example(group, "molmo2", 0)
    assert len(example.conversations) == len(points.groups[group]) > 1
    urls = {points.rows[i]["image_url"] for i in points.groups[group]}
    assert len(urls) == 1


def test_weights_are_honoured(built):
    mixture = build_mixture(_recipe(built, stopping_strategy="first_exhausted"))
    counts = Counter(name.split("/")[0] for name in mixture.index["subset"])
    total = sum(counts.values())
    assert abs(counts["pixmo_points"] / total - 0.5) < 0.1
    assert abs(counts["pixmo_clocks"] / total - 0.3) < 0.1
    # Reading an example formats it: clocks carry their rendered face and a time answer.
    clock = next(mixture[i] for i in range(len(mixture)) if mixture.index[i]["subset"] == "pixmo_clocks")
    assert clock.image is not None and ":" in clock.conversations[0].turns[0][1]


def test_max_examples_caps_the_mixture(built):
    assert len(build_mixture(_recipe(built, max_examples=17))) == 17


def test_grouped_weights_use_square_roots():
    sizes = {"a": 100, "b": 400, "c": 9}
    weights = grouped_weights(sizes, {"g1": {"rate": 0.6, "subsets": ["a", "b"]}, "g2": {"rate": 0.4, "subsets": ["c"]}})
    assert weights == pytest.approx({"a": 0.6 * 10 / 30, "b": 0.6 * 20 / 30, "c": 0.4})
    assert sum(mixture_probabilities(sizes, weights).values()) == pytest.approx(1.0)


def test_a_missing_subset_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="pixmo build pixmo_count"):
        build_mixture({"subsets": {"pixmo_count": {"path": str(tmp_path / "nothing")}}})


def test_streaming_nodes_see_disjoint_parts_of_one_order(built):
    recipe = _recipe(built, stopping_strategy="first_exhausted")
    nodes = [list(build_streaming_mixture(recipe, rank=r, world_size=2)) for r in (0, 1)]
    keys = [{(r["subset"], r["group"]) for r in node} for node in nodes]
    assert keys[0] and keys[1] and not keys[0] & keys[1]
    assert nodes[0] == list(build_streaming_mixture(recipe, rank=0, world_size=2))

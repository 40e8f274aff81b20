"""The pointing metric, scored by hand on tiny cases, and loaded through `evaluate.load`."""

from pathlib import Path

import evaluate
import numpy as np
import pytest

import pixmo_points
from pixmo_points.metrics import EPSILON, score_points

METRIC_PATH = str(Path(pixmo_points.__file__).parent / "metrics.py")
SQUARE = (100, 100)  # pixels equal percent


def f1(precision, recall):
    return 2 * precision * recall / (precision + recall + EPSILON)


def test_no_ground_truth_scores_one_only_without_predictions():
    assert score_points([], [], SQUARE) == (1.0, 1.0, 1.0)
    assert score_points([(10.0, 10.0)], [], SQUARE) == (0.0, 0.0, 0.0)


def test_no_prediction_on_an_object_scores_zero():
    assert score_points([], [(50.0, 50.0)], SQUARE) == (0.0, 0.0, 0.0)


def test_duplicate_predictions_on_one_object_hit_once():
    precision, recall, score = score_points([(50.0, 50.0), (50.5, 50.0), (49.5, 50.0)], [(50.0, 50.0)], SQUARE)
    assert precision == pytest.approx(1 / 3) and recall == 1.0
    assert score == pytest.approx(f1(1 / 3, 1.0))


def test_points_outside_the_image_count_but_never_hit():
    precision, recall, _ = score_points([(10.0, 10.0), (150.0, 10.0)], [(10.0, 10.0)], SQUARE)
    assert (precision, recall) == (0.5, 1.0)
    # 1 pixel outside, 1 pixel from the object: still no hit.
    assert score_points([(101.0, 50.0)], [(100.0, 50.0)], SQUARE, distance_threshold=5) == (0.0, 0.0, 0.0)


def test_distance_threshold_in_pixels_and_relative_default():
    truth = [(50.0, 50.0)]
    assert score_points([(54.0, 50.0)], truth, SQUARE, distance_threshold=5)[0] == 1.0
    assert score_points([(56.0, 50.0)], truth, SQUARE, distance_threshold=5)[0] == 0.0
    # Default: 5% of the diagonal, 7.07 px on 100 x 100.
    assert score_points([(57.0, 50.0)], truth, SQUARE)[0] == 1.0
    assert score_points([(57.2, 50.0)], truth, SQUARE)[0] == 0.0
    # On a 200 x 100 image 3 percent of the width is 6 pixels.
    assert score_points([(53.0, 50.0)], truth, (200, 100), distance_threshold=5)[0] == 0.0


def test_a_matched_prediction_hits_inside_its_mask_whatever_the_distance():
    first, second = np.zeros((100, 100), bool), np.zeros((100, 100), bool)
    first[:50, :50] = True  # rows are y, columns are x
    second[70:80, 70:80] = True
    truth = [(25.0, 25.0), (75.0, 75.0)]
    precision, recall, score = score_points([(45.0, 45.0), (62.0, 62.0)], truth, SQUARE, masks=[first, second])
    assert (precision, recall) == (0.5, 0.5) and score == pytest.approx(f1(0.5, 0.5))
    # Masks at another resolution than the image are read at their own scale.
    small = [m[::10, ::10] for m in (first, second)]
    assert score_points([(45.0, 45.0)], truth, (1000, 1000), masks=small)[:2] == (1.0, 0.5)
    with pytest.raises(ValueError, match="one mask per ground-truth point"):
        score_points([(1.0, 1.0)], truth, SQUARE, masks=[first])


def test_matching_is_one_to_one():
    # Both predictions are nearest to the first object; one-to-one matching gives the second one too.
    truth = [(40.0, 50.0), (47.0, 50.0)]
    precision, recall, _ = score_points([(42.0, 50.0), (43.0, 50.0)], truth, SQUARE, distance_threshold=5)
    assert (precision, recall) == (1.0, 1.0)


def test_evaluate_load_scores_answers_of_every_style_and_counts_invalid_ones(tmp_path):
    metric = evaluate.load(METRIC_PATH, cache_dir=str(tmp_path))
    mask = np.zeros((50, 100), bool)
    mask[20:30, 40:60] = True
    result = metric.compute(
        predictions=[
            '<points coords="1 1 500 500">cat</points>',  # on the object: P = R = 1
            '<point x="10.0" y="10.0" alt="dog">dog</point>',  # far from it: 0
            "Points: x=100 y=25; x=10 y=10",  # plain pixels, one inside the mask: P 0.5, R 1
            "There are none.",  # nothing, nothing there: 1
            "no idea",  # invalid, an object there: 0
        ],
        references=[
            [{"x": 50.0, "y": 50.0}],
            [{"x": 90.0, "y": 90.0}],
            [{"x": 50.0, "y": 50.0}],
            [],
            [{"x": 50.0, "y": 50.0}],
        ],
        image_sizes=[(640, 480), (640, 480), (200, 50), (640, 480), (640, 480)],
        masks=[None, None, [mask], None, None],
    )
    assert result["precision"] == pytest.approx((1 + 0 + 0.5 + 1 + 0) / 5)
    assert result["recall"] == pytest.approx((1 + 0 + 1 + 1 + 0) / 5)
    assert result["f1"] == pytest.approx((f1(1, 1) + 0 + f1(0.5, 1) + 1 + 0) / 5)
    assert result["valid_fraction"] == pytest.approx(4 / 5)


def test_evaluate_load_needs_image_sizes(tmp_path):
    metric = evaluate.load(METRIC_PATH, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="image_sizes"):
        metric.compute(predictions=["There are none."], references=[[]])


@pytest.mark.parametrize("style", ["molmo2", "molmo", "plain"])
def test_the_training_answers_score_perfectly_in_every_style(tmp_path, style):
    from PIL import Image

    from pixmo_points.format import to_conversations

    rng = np.random.default_rng(0)
    rows = [
        {
            "image_url": f"http://img/{i}.jpg",
            "label": "thing",
            "points": [{"x": float(x), "y": float(y)} for x, y in rng.uniform(0, 100, size=(n, 2))],
            "collection_method": "counting" if i % 2 else "pointing",
            "image": Image.new("RGB", (300 + 10 * i, 200)),
        }
        for i, n in enumerate([0, 1, 3, 8, 2])
    ]
    answers = [to_conversations(row, style=style)[0].turns[0][1] for row in rows]
    metric = evaluate.load(METRIC_PATH, cache_dir=str(tmp_path))
    result = metric.compute(
        predictions=answers, references=[r["points"] for r in rows], image_sizes=[r["image"].size for r in rows],
        distance_threshold=1.0,
    )
    assert result["f1"] == pytest.approx(1.0, abs=1e-5) and result["valid_fraction"] == 1.0

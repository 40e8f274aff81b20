"""The counting metric, scored by hand, loaded through `evaluate.load`."""

from pathlib import Path

import evaluate
import pytest

import pixmo_count

METRIC_PATH = str(Path(pixmo_count.__file__).parent / "metrics.py")


@pytest.fixture(scope="module")
def metric(tmp_path_factory):
    return evaluate.load(METRIC_PATH, cache_dir=str(tmp_path_factory.mktemp("evaluate")))


def test_exact_within_one_valid_and_per_count(metric):
    result = metric.compute(
        predictions=[
            "There are none.",  # 0, right
            "Counting the <points coords=\"1 1 100 100 2 200 200\">cars</points> shows a total of 2.",  # 2, right
            "three",  # 3 for 2: within one
            "I see 7 cars.",  # 7 for 5: wrong
            "no idea at all",  # invalid
            "<point x=\"10.0\" y=\"10.0\" alt=\"car\">car</point>",  # points only: 1, right
        ],
        references=[0, 2, 2, 5, 5, 1],
    )
    assert result["accuracy"] == pytest.approx(3 / 6)
    assert result["within_one"] == pytest.approx(4 / 6)
    assert result["valid_fraction"] == pytest.approx(5 / 6)
    assert result["per_count_accuracy"] == {0: 1.0, 1: 1.0, 2: 0.5, 5: 0.0}
    assert result["macro_accuracy"] == pytest.approx((1 + 1 + 0.5 + 0) / 4)


def test_none_and_number_words(metric):
    result = metric.compute(predictions=["none", "Twenty-one", "zero", "a total of 12"], references=[0, 21, 1, 12])
    assert result["accuracy"] == pytest.approx(3 / 4)
    assert result["within_one"] == 1.0
    assert result["per_count_accuracy"][1] == 0.0


def test_garbage_is_invalid_never_an_error(metric):
    result = metric.compute(predictions=["", "<points coords=\"x\">", "¿?"], references=[0, 1, 2])
    assert result["valid_fraction"] == 0.0 and result["accuracy"] == 0.0


def test_the_training_answers_score_perfectly_in_every_style(metric):
    from PIL import Image

    from pixmo_count.format import to_conversations

    rows = [
        {
            "image_url": f"http://img/{n}.jpg", "count": n, "label": "coin", "image": Image.new("RGB", (120, 90)),
            "points": {"x": [float(5 * i) for i in range(n)], "y": [float(3 * i) for i in range(n)]},
        }
        for n in range(0, 12)
    ]
    for style in ("molmo2", "molmo", "plain"):
        answers = [to_conversations(row, style=style)[0].turns[0][1] for row in rows]
        result = metric.compute(predictions=answers, references=[row["count"] for row in rows])
        assert result["accuracy"] == 1.0 and result["macro_accuracy"] == 1.0

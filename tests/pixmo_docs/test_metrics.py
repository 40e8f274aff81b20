"""The document metric: ANLS (at and around its threshold) and exact match, by hand and through evaluate.load."""

from pathlib import Path

import evaluate
import pytest

import pixmo_docs
from pixmo_docs.metrics import anls_score

METRIC_PATH = str(Path(pixmo_docs.__file__).parent / "metrics.py")


def test_anls_at_and_around_the_threshold():
    assert anls_score("12", ["13"]) == 0.0  # distance 1 of 2: exactly the threshold scores 0
    assert anls_score("123", ["124"]) == pytest.approx(1 - 1 / 3)  # below it: 1 - NL
    assert anls_score("ab", ["cd"]) == 0.0
    assert anls_score("12", ["13"], threshold=0.51) == pytest.approx(0.5)


def test_anls_is_lower_cased_and_best_over_references():
    assert anls_score("  PARIS  ", ["Paris"]) == 1.0
    assert anls_score("paris", ["London", "Pariss"]) == pytest.approx(1 - 1 / 6)
    assert anls_score("", [""]) == 1.0
    assert anls_score("", ["yes"]) == 0.0


def test_evaluate_load_anls_and_exact_match(tmp_path):
    metric = evaluate.load(METRIC_PATH, cache_dir=str(tmp_path))
    result = metric.compute(
        predictions=["Answer: Paris", "12", "blue  sky", "nothing"],
        references=[["paris", "Paris, France"], ["13"], ["Blue sky"], ["42"]],
    )
    assert result["anls"] == pytest.approx((1 + 0 + 1 + 0) / 4)
    assert result["exact_match"] == pytest.approx(2 / 4)
    single = metric.compute(predictions=["Paris", "12"], references=["paris", "13"])
    assert single == {"anls": 0.5, "exact_match": 0.5}

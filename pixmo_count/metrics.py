"""Counting accuracy as Molmo scores it: exact, within one, valid answers, and per-count accuracy with its macro average.

Load it with `evaluate.load("/abs/path/to/pixmo_count/metrics.py")`. evaluate copies this file to its cache
before importing it, so every import here is absolute.
"""

from collections import defaultdict

import datasets
import evaluate

from pixmo.builder import MOLMO_CITATION
from pixmo.points import parse_count

_DESCRIPTION = """\
Counting scores of PixMo-Count (and the counting rows of PixMo-Points). Each answer's count is read in any
output style: "a total of N" first, then the first number outside the points in digits or words
("seven", "twenty-one"), then a statement of none ("There are none.", "none") as 0, then the number of
points in an answer that holds points only. An answer without a count is invalid and never correct.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): the model's answers.
    references (`list[int]`): the true counts (the `count` column).
Returns:
    accuracy (`float`): the share of answers whose count equals the true count.
    within_one (`float`): the share whose count is at most one away from it.
    valid_fraction (`float`): the share of answers from which a count could be read.
    per_count_accuracy (`dict[int, float]`): the accuracy among the answers of each true count.
    macro_accuracy (`float`): the mean of `per_count_accuracy` over the true counts present.
Examples:
    >>> metric = evaluate.load("/abs/path/pixmo_count/metrics.py")
    >>> metric.compute(predictions=["There are none.", "Counting the ... shows a total of 3."], references=[0, 2])
    {'accuracy': 0.5, 'within_one': 1.0, 'valid_fraction': 1.0, 'per_count_accuracy': {0: 1.0, 2: 0.0}, 'macro_accuracy': 0.5}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PixMoCounting(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=MOLMO_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        if not predictions:
            raise ValueError("Expected at least one prediction to score, got none.")
        counts = [parse_count(text) for text in predictions]
        correct = [count == truth for count, truth in zip(counts, references)]
        by_count = defaultdict(list)
        for truth, hit in zip(references, correct):
            by_count[int(truth)].append(hit)
        per_count = {truth: sum(hits) / len(hits) for truth, hits in sorted(by_count.items())}
        return {
            "accuracy": sum(correct) / len(correct),
            "within_one": sum(c is not None and abs(c - t) <= 1 for c, t in zip(counts, references)) / len(counts),
            "valid_fraction": sum(c is not None for c in counts) / len(counts),
            "per_count_accuracy": per_count,
            "macro_accuracy": sum(per_count.values()) / len(per_count),
        }

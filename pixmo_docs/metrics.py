"""Document question answering scores: ANLS (threshold 0.5, lower-cased, best over references) and exact match.

Load it with `evaluate.load("/abs/path/to/pixmo_docs/metrics.py")`. evaluate copies this file to its cache
before importing it, so every import here is absolute.
"""

import re
from typing import Sequence

import datasets
import evaluate
from rapidfuzz.distance import Levenshtein

from pixmo.builder import MOLMO_CITATION
from pixmo_docs.format import parse_answer

ANLS_THRESHOLD = 0.5

_CITATION = MOLMO_CITATION + """\
@inproceedings{biten2019scene,
  title={Scene Text Visual Question Answering},
  author={Biten, Ali Furkan and Tito, Ruben and Mafla, Andres and others},
  booktitle={ICCV},
  year={2019}
}
"""

_DESCRIPTION = """\
Scores of PixMo-Docs answers. Answers and references are lower-cased, stripped and their whitespace collapsed.
ANLS: per question, the best over its references of 1 - NL, where NL is the Levenshtein distance divided by
the longer string's length, and 0 where NL is at or above the threshold (0.5); averaged over questions.
Exact match: the share of answers equal to one of their references.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): the model's answers (a leading "Answer:" is dropped).
    references (`list[list[str]]` or `list[str]`): the reference answer(s) of each question.
    threshold (`float`, *optional*, defaults to `0.5`): the normalized distance from which a match scores 0.
Returns:
    anls (`float`): the average normalized Levenshtein similarity.
    exact_match (`float`): the share of exact matches.
Examples:
    >>> metric = evaluate.load("/abs/path/pixmo_docs/metrics.py")
    >>> metric.compute(predictions=["Paris", "12"], references=[["paris"], ["13"]])  # "12" is at the threshold: 0
    {'anls': 0.5, 'exact_match': 0.5}
"""


def normalize_answer(text: str) -> str:
    """Lower-cased, stripped, whitespace collapsed."""
    return re.sub(r"\s+", " ", text).strip().lower()


def anls_score(prediction: str, references: Sequence[str], threshold: float = ANLS_THRESHOLD) -> float:
    """The ANLS of one answer: the best over `references` of `1 - NL` where `NL < threshold`, else 0."""
    prediction = normalize_answer(prediction)
    best = 0.0
    for reference in references:
        distance = Levenshtein.normalized_distance(prediction, normalize_answer(reference))
        best = max(best, 1.0 - distance if distance < threshold else 0.0)
    return best


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PixMoDocsQA(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.List(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, threshold=ANLS_THRESHOLD):
        if not predictions:
            raise ValueError("Expected at least one prediction to score, got none.")
        references = [[r] if isinstance(r, str) else list(r) for r in references]
        answers = [parse_answer(text) for text in predictions]
        anls = [anls_score(answer, refs, threshold) for answer, refs in zip(answers, references)]
        exact = [normalize_answer(a) in {normalize_answer(r) for r in refs} for a, refs in zip(answers, references)]
        return {"anls": sum(anls) / len(anls), "exact_match": sum(exact) / len(exact)}

"""Pointing precision, recall and F1 as Molmo scores them: Hungarian matching, a hit inside the object's mask.

Load it with `evaluate.load("/abs/path/to/pixmo_points/metrics.py")`, or import `score_points` to score one
image. evaluate copies this file to its cache before importing it, so every import here is absolute.
"""

import math
from typing import Any, Optional, Sequence

import datasets
import evaluate
import numpy as np
from scipy.optimize import linear_sum_assignment

from pixmo.builder import MOLMO_CITATION
from pixmo.points import Point, as_xy, get_image_size, to_pixels
from pixmo_points.format import parse_answer

EPSILON = 1e-6  # keeps F1 defined when precision and recall are both 0
DEFAULT_RELATIVE_THRESHOLD = 0.05  # a hit within 5% of the image diagonal, where no mask exists

_DESCRIPTION = """\
Pointing scores of PixMo-Points and PixMo-Points-Eval. Each answer's points are read (any output style),
scaled to pixels and matched one-to-one to the ground-truth points with the Hungarian algorithm on
Euclidean distance. A matched prediction is a hit when it lies inside the matched object's mask
(pixmo-points-eval ships masks), or, where no mask is given, within a distance threshold. Per image:
precision = hits / predicted points, recall = hits / ground-truth points, F1 = 2PR / (P + R + 1e-6); an image
without ground truth scores 1 only if nothing is predicted. The scores are averaged over images.
Predicted points outside the image count as predictions but never hit.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): the model's answers, one per image and label, in any output style
        (molmo2, molmo or plain). An answer that neither gives points nor says there are none is invalid and
        is scored as predicting nothing.
    references (`list[list[dict]]`): the ground-truth points of each answer, `[{"x": .., "y": ..}, ...]` in
        **percent (0-100)** of the image width and height (the `points` column of pixmo-points).
    image_sizes (`list[tuple[int, int]]`): the `(width, height)` in pixels of each image (or the images
        themselves); pixels are where distances are measured and where plain answers are read.
    masks (`list[list[array]]`, *optional*): per answer, one HxW boolean mask per ground-truth point, in the
        order of the points (the `masks` column of pixmo-points-eval), or `None` for an answer without masks.
    distance_threshold (`float`, *optional*): where there is no mask, a hit is a matched prediction within
        this many pixels of its ground-truth point.
    relative_threshold (`float`, *optional*, defaults to `0.05`): used when `distance_threshold` is not
        given: the threshold as a fraction of the image diagonal.
    style (`str`, *optional*): read only this output style; by default each answer's style is detected.
Returns:
    precision (`float`), recall (`float`), f1 (`float`): averages over images.
    valid_fraction (`float`): the share of answers that were valid.
Examples:
    >>> metric = evaluate.load("/abs/path/pixmo_points/metrics.py")
    >>> result = metric.compute(
    ...     predictions=['<points coords="1 1 500 500">cat</points>'],
    ...     references=[[{"x": 50.0, "y": 50.0}]],
    ...     image_sizes=[(640, 480)],
    ... )
    >>> round(result["f1"], 4)
    1.0
"""


def score_points(
    predicted: Sequence[Point],
    truth: Sequence[Point],
    image_size: tuple[int, int],
    masks: Optional[Sequence[Any]] = None,
    distance_threshold: Optional[float] = None,
    relative_threshold: float = DEFAULT_RELATIVE_THRESHOLD,
) -> tuple[float, float, float]:
    """`(precision, recall, f1)` of the points predicted on one image.

    Args:
        predicted (`Sequence[tuple[float, float]]`): predicted points in percent of the image size.
        truth (`Sequence[tuple[float, float]]`): ground-truth points in percent of the image size.
        image_size (`tuple[int, int]`): `(width, height)` in pixels.
        masks (`Sequence[array]`, *optional*): one HxW boolean mask per ground-truth point.
        distance_threshold (`float`, *optional*): the hit distance in pixels where there are no masks.
        relative_threshold (`float`, *optional*, defaults to `0.05`): the hit distance as a fraction of the
            image diagonal, when `distance_threshold` is not given.
    """
    if not truth:
        return (1.0, 1.0, 1.0) if not predicted else (0.0, 0.0, 0.0)
    if masks is not None and len(masks) != len(truth):
        raise ValueError(
            f"Expected one mask per ground-truth point, got {len(masks)} masks for {len(truth)} points: pass the "
            "masks of the same row as the points, or masks=None."
        )
    inside = [(x, y) for x, y in predicted if 0.0 <= x <= 100.0 and 0.0 <= y <= 100.0]
    hits = _count_hits(inside, truth, image_size, masks, distance_threshold, relative_threshold) if inside else 0
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth)
    return precision, recall, 2 * precision * recall / (precision + recall + EPSILON)


def _count_hits(inside, truth, image_size, masks, distance_threshold, relative_threshold) -> int:
    predicted_px = np.asarray(to_pixels(inside, image_size))
    truth_px = np.asarray(to_pixels(truth, image_size))
    distances = np.linalg.norm(predicted_px[:, None, :] - truth_px[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(distances)
    if masks is not None:
        return sum(_in_mask(inside[r], masks[c]) for r, c in zip(rows, cols))
    if distance_threshold is None:
        distance_threshold = relative_threshold * math.hypot(*image_size)
    return int(np.sum(distances[rows, cols] <= distance_threshold))


def _in_mask(point: Point, mask: Any) -> bool:
    # The mask has the original image's resolution: read the percent point at the mask's own scale.
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    column = min(width - 1, int(point[0] / 100.0 * width))
    row = min(height - 1, int(point[1] / 100.0 * height))
    return bool(mask[row, column])


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PixMoPointing(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=MOLMO_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.List({"x": datasets.Value("float64"), "y": datasets.Value("float64")}),
                }
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        image_sizes=None,
        masks=None,
        distance_threshold=None,
        relative_threshold=DEFAULT_RELATIVE_THRESHOLD,
        style=None,
    ):
        if image_sizes is None or len(image_sizes) != len(predictions):
            got = None if image_sizes is None else len(image_sizes)
            raise ValueError(f"Expected image_sizes with one (width, height) per prediction ({len(predictions)}), got {got}.")
        masks = masks if masks is not None else [None] * len(predictions)
        scores, valid = [], 0
        for text, truth, size, image_masks in zip(predictions, references, image_sizes, masks):
            size = get_image_size(size)
            predicted = parse_answer(text, style=style, image_size=size)
            valid += predicted is not None
            scores.append(
                score_points(predicted or [], as_xy(truth), size, image_masks, distance_threshold, relative_threshold)
            )
        precision, recall, f1 = np.mean(scores, axis=0) if scores else (0.0, 0.0, 0.0)
        return {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "valid_fraction": valid / len(predictions) if predictions else 0.0,
        }

"""Clock reading accuracy as Molmo scores it: the hour exact, the minutes within a tolerance, seconds optional.

Load it with `evaluate.load("/abs/path/to/pixmo_clocks/metrics.py")`. evaluate copies this file to its cache
before importing it, so every import here is absolute.
"""

from typing import Optional

import datasets
import evaluate

from pixmo.builder import MOLMO_CITATION
from pixmo_clocks.format import ClockTime, read_time

DEFAULT_MINUTE_TOLERANCE = 3  # Molmo's training validation; its clock benchmark uses 1

_DESCRIPTION = """\
Clock reading scores of PixMo-Clocks. A time is read from each answer (H:MM, H:MM:SS or "H o'clock", with
an optional AM/PM). An answer is correct when its hour equals the reference hour (on a 12-hour dial unless
`match_meridiem`) and its minute lies within `minute_tolerance` of the reference minute, and, when
`second_tolerance` is given and the reference shows seconds, its second lies within that. A clock that
cannot be read (empty reference) is answered correctly by giving no time.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): the model's answers.
    references (`list[str]`): the time as a person reads it (the `text` column, "8:15:30", "11:57:04 PM"),
        or "" for a face that cannot be read (`pixmo_clocks.format.reference_time(row)` gives both).
    minute_tolerance (`int`, *optional*, defaults to `3`): the largest minute difference still correct.
    second_tolerance (`int`, *optional*): score seconds too, with this tolerance, where the reference shows
        them (an answer without seconds is then wrong); by default seconds are not scored.
    match_meridiem (`bool`, *optional*, defaults to `False`): where the reference gives AM/PM, require the
        24-hour hour to match ("2:05 PM" or "14:05" for 14:05); by default hours match on a 12-hour dial.
Returns:
    accuracy (`float`): the share of correct answers.
    hour_accuracy (`float`), minute_accuracy (`float`): the share of readable clocks whose hour (minute,
        within the tolerance) is right.
    valid_fraction (`float`): the share of answers to readable clocks that give a time.
    unanswerable_accuracy (`float` or `None`): the accuracy on clocks that cannot be read, `None` if none.
Examples:
    >>> metric = evaluate.load("/abs/path/pixmo_clocks/metrics.py")
    >>> metric.compute(predictions=["It is 3:47 PM.", "10:10"], references=["3:45 PM", "10:20"])["accuracy"]
    0.5
"""


def hours_match(predicted: ClockTime, reference: ClockTime, match_meridiem: bool = False) -> bool:
    """Whether two hours agree: on a 12-hour dial, or as 0-23 hours when `match_meridiem` and the reference has AM/PM."""
    if match_meridiem and reference.meridiem:
        return predicted.hour == reference.hour
    return predicted.hour % 12 == reference.hour % 12


def time_correct(
    predicted: Optional[ClockTime],
    reference: Optional[ClockTime],
    minute_tolerance: int = DEFAULT_MINUTE_TOLERANCE,
    second_tolerance: Optional[int] = None,
    match_meridiem: bool = False,
) -> bool:
    """Whether a read time answers a reference time (`None` reference: a clock that cannot be read)."""
    if reference is None:
        return predicted is None
    if predicted is None or not hours_match(predicted, reference, match_meridiem):
        return False
    if abs(predicted.minute - reference.minute) > minute_tolerance:
        return False
    if second_tolerance is None or reference.second is None:
        return True
    return predicted.second is not None and abs(predicted.second - reference.second) <= second_tolerance


def _read_reference(text: str) -> Optional[ClockTime]:
    if not text or not text.strip():
        return None
    reference = read_time(text)
    if reference is None:
        raise ValueError(
            f"Expected a reference time such as '8:15:30' or '11:57:04 PM' (or '' for a clock that cannot be "
            f"read), got {text!r}: pass the `text` column, or pixmo_clocks.format.reference_time(row)."
        )
    return reference


def _share(flags: list) -> Optional[float]:
    return sum(flags) / len(flags) if flags else None


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PixMoClocks(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=MOLMO_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
        )

    def _compute(
        self, predictions, references, minute_tolerance=DEFAULT_MINUTE_TOLERANCE, second_tolerance=None, match_meridiem=False
    ):
        if not predictions:
            raise ValueError("Expected at least one prediction to score, got none.")
        pairs = [(read_time(p), _read_reference(r)) for p, r in zip(predictions, references)]
        correct = [time_correct(p, r, minute_tolerance, second_tolerance, match_meridiem) for p, r in pairs]
        readable = [(p, r) for p, r in pairs if r is not None]
        unreadable = [c for c, (_, r) in zip(correct, pairs) if r is None]
        hours = [p is not None and hours_match(p, r, match_meridiem) for p, r in readable]
        minutes = [p is not None and abs(p.minute - r.minute) <= minute_tolerance for p, r in readable]
        return {
            "accuracy": _share(correct),
            "hour_accuracy": _share(hours),
            "minute_accuracy": _share(minutes),
            "valid_fraction": _share([p is not None for p, _ in readable]),
            "unanswerable_accuracy": _share(unreadable),
        }

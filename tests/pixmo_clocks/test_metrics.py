"""The clock metric, scored by hand: 12-hour and 24-hour times, tolerances, seconds, unreadable clocks."""

from pathlib import Path

import evaluate
import pytest

import pixmo_clocks

METRIC_PATH = str(Path(pixmo_clocks.__file__).parent / "metrics.py")


@pytest.fixture(scope="module")
def metric(tmp_path_factory):
    return evaluate.load(METRIC_PATH, cache_dir=str(tmp_path_factory.mktemp("evaluate")))


def test_hour_exact_and_minutes_within_three(metric):
    result = metric.compute(
        predictions=["3:47", "3:49", "4:45", "It is 3:42."],
        references=["3:45", "3:45", "3:45", "3:45"],
    )
    assert result["accuracy"] == pytest.approx(2 / 4)
    assert result["hour_accuracy"] == pytest.approx(3 / 4)
    assert result["minute_accuracy"] == pytest.approx(3 / 4)
    assert metric.compute(predictions=["3:47"], references=["3:45"], minute_tolerance=1)["accuracy"] == 0.0


def test_twelve_and_twenty_four_hour_times(metric):
    predictions = ["14:05", "2:05", "2:05 AM", "12:09", "0:09"]
    references = ["2:05 PM", "2:05 PM", "2:05 PM", "12:09", "12:09 AM"]
    assert metric.compute(predictions=predictions, references=references)["accuracy"] == 1.0  # on a 12-hour dial
    strict = metric.compute(predictions=predictions, references=references, match_meridiem=True)
    # 14:05 and 0:09 agree as 24-hour times; 2:05 and 2:05 AM do not; 12:09 has no AM/PM to hold against.
    assert strict["accuracy"] == pytest.approx(3 / 5)


def test_seconds_are_optional(metric):
    predictions, references = ["8:15:31", "8:15", "8:15:50"], ["8:15:30", "8:15:30", "8:15:30"]
    assert metric.compute(predictions=predictions, references=references)["accuracy"] == 1.0
    scored = metric.compute(predictions=predictions, references=references, second_tolerance=2)
    assert scored["accuracy"] == pytest.approx(1 / 3)


def test_an_unreadable_clock_is_right_when_no_time_is_given(metric):
    result = metric.compute(
        predictions=["The time cannot be read from this image.", "It is 10:10.", "gibberish", "5:00"],
        references=["", "", "10:10", "5:01"],
    )
    assert result["unanswerable_accuracy"] == 0.5
    assert result["valid_fraction"] == 0.5  # of the two readable clocks, one answer gives a time
    assert result["accuracy"] == pytest.approx(2 / 4)


def test_a_reference_that_is_not_a_time_is_refused(metric):
    with pytest.raises(ValueError, match="reference time"):
        metric.compute(predictions=["3:00"], references=["three o'clock-ish"])


def test_the_training_answers_score_perfectly(metric):
    from pixmo_clocks.format import reference_time, to_conversations

    rows = [
        {"example_id": f"e{i}", "text": text, "hour_visible": hour, "minute_visible": minute, "second_visible": -1}
        for i, (text, hour, minute) in enumerate(
            [("11:57:04 PM", 23, 57), ("12:09", 0, 9), ("8:15:30", 8, 15), ("", -1, -1), ("6:00 AM", 6, 0)]
        )
    ]
    answers = [to_conversations(row)[0].turns[0][1] for row in rows]
    result = metric.compute(
        predictions=answers, references=[reference_time(r) for r in rows], second_tolerance=0, match_meridiem=True
    )
    assert result["accuracy"] == 1.0 and result["unanswerable_accuracy"] == 1.0

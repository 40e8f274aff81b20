"""pixmo-clocks rows become time questions answered as a person reads the time, and times read back."""

import pytest

from pixmo.points import STYLES
from pixmo_clocks.format import UNANSWERABLE_ANSWER, format_group, group_by_image, parse_answer, reference_time, to_conversations


def make_row(text="11:57:04 PM", hour=23, minute=57, second=4, example_id="face01_2024-01-01T23:57:04"):
    return {
        "example_id": example_id,
        "watchface_id": "face01abcd",
        "watchface_name": "Classic",
        "watch_time": "001_2024-01-01T23:57:04",
        "time_format": "With AM/PM",
        "shows_seconds": second >= 0,
        "hour_visible": hour,
        "minute_visible": minute,
        "second_visible": second,
        "text": text,
    }


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "text, hour, minute, second, expected",
    [
        ("11:57:04 PM", 23, 57, 4, (23, 57, 4)),
        ("8:15:30", 8, 15, 30, (8, 15, 30)),
        ("12:09", 0, 9, -1, (12, 9, None)),  # hour 0 read on a 12-hour face
        ("12:30 AM", 0, 30, -1, (0, 30, None)),
        ("14:05", 14, 5, -1, (14, 5, None)),
    ],
)
def test_answers_read_back_to_the_time(style, text, hour, minute, second, expected):
    (conversation,) = to_conversations(make_row(text, hour, minute, second), style=style)
    prompt, answer = conversation.turns[0]
    assert "time" in prompt.lower()
    assert answer == text
    assert parse_answer(answer) == expected


def test_a_face_that_cannot_be_read_answers_so_and_reads_as_no_time():
    row = make_row("", -1, -1, -1)
    (conversation,) = to_conversations(row)
    assert conversation.turns[0][1] == UNANSWERABLE_ANSWER
    assert conversation.metadata["answerable"] is False
    assert parse_answer(UNANSWERABLE_ANSWER) is None
    assert reference_time(row) == ""
    assert reference_time(make_row()) == "11:57:04 PM"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The clock shows 3:45 PM.", (15, 45, None)),
        ("It is 12:00 p.m.", (12, 0, None)),
        ("It's 7 o'clock", (7, 0, None)),
        ("10:30am", (10, 30, None)),
        ("25:10 or maybe 4:10", (4, 10, None)),
        ("13:05 PM", None),
        ("9:75", None),
        ("", None),
        (None, None),
        ("about a quarter past", None),
    ],
)
def test_times_in_free_text_and_garbage(text, expected):
    assert parse_answer(text) == expected


def test_prompts_are_chosen_by_the_face_and_the_seed():
    rows = [make_row(example_id=f"face{i}") for i in range(20)]
    assert {to_conversations(r, seed=1)[0].turns[0][0] for r in rows} != {to_conversations(rows[0], seed=1)[0].turns[0][0]}
    assert to_conversations(rows[3], seed=2)[0].turns == to_conversations(rows[3], seed=2)[0].turns
    example = format_group(group_by_image(rows[:2])[0])
    assert len(example.conversations) == 1

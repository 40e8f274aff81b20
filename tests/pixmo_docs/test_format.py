"""pixmo-docs rows become one conversation per question over the document image."""

import io

import pytest
from PIL import Image

from pixmo.points import STYLES
from pixmo_docs.format import format_group, group_by_image, parse_answer, to_conversations


def make_row(image_id="chart_001", questions=("What is the title?", "Which bar is tallest?"), answers=("Sales", "B")):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format="PNG")
    return {
        "image": {"bytes": buffer.getvalue(), "path": None},
        "image_id": image_id,
        "questions": {"question": list(questions), "answer": list(answers)},
    }


@pytest.mark.parametrize("style", STYLES)
def test_one_conversation_per_question(style):
    conversations = to_conversations(make_row(), style=style)
    assert [c.turns for c in conversations] == [[("What is the title?", "Sales")], [("Which bar is tallest?", "B")]]
    assert [c.metadata["question_index"] for c in conversations] == [0, 1]
    assert all(c.task == "pixmo_docs/qa" for c in conversations)
    assert [parse_answer(c.turns[0][1], style=style) for c in conversations] == ["Sales", "B"]


def test_mismatched_questions_and_answers_are_refused():
    with pytest.raises(ValueError, match="as many answers as questions"):
        to_conversations(make_row(answers=("Sales",)))


@pytest.mark.parametrize(
    "text, answer",
    [("  42 ", "42"), ("Answer: Blue", "Blue"), ("The answer is 7.", "7."), ("Answers vary", "Answers vary"), (None, "")],
)
def test_parse_answer(text, answer):
    assert parse_answer(text) == answer


def test_rows_of_one_document_make_one_example():
    rows = [make_row(), make_row("table_9", ("How many rows?",), ("4",))]
    groups = group_by_image(rows)
    assert len(groups) == 2
    example = format_group(groups[0])
    assert example.image is rows[0]["image"] and len(example.conversations) == 2

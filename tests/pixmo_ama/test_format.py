"""pixmo-ask-model-anything rows become one question-answer conversation each."""

import pytest

from pixmo.points import STYLES
from pixmo_ama.format import format_group, group_by_image, parse_answer, to_conversations


def make_row(question="What breed is the dog?", answer="A beagle.", url="http://img/dog.jpg"):
    return {"image_url": url, "image_sha256": url[-7:] * 9, "question": question, "answer": answer}


@pytest.mark.parametrize("style", STYLES)
def test_question_and_answer(style):
    (conversation,) = to_conversations(make_row(question="  What breed is the dog? "), style=style)
    assert conversation.turns == [("What breed is the dog?", "A beagle.")]
    assert conversation.task == "pixmo_ama/qa"
    assert parse_answer(" A beagle.\n", style=style) == "A beagle."


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style must be one of"):
        to_conversations(make_row(), style="html")


def test_questions_about_one_image_make_one_example():
    rows = [make_row(), make_row("Is it sleeping?", "No."), make_row(url="http://img/cat.jpg")]
    groups = group_by_image(rows)
    assert [len(g) for g in groups] == [2, 1]
    assert [c.turns[0][0] for c in format_group(groups[0]).conversations] == ["What breed is the dog?", "Is it sleeping?"]

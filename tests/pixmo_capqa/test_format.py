"""pixmo-cap-qa rows become multi-turn conversations from `messages`, or from `question` where it is empty."""

import pytest

from pixmo.points import STYLES
from pixmo_capqa.format import conversation_turns, format_group, group_by_image, parse_answer, to_conversations


def make_row(messages=("What is this?", "A boat.", "What colour?", "Red."), question=None, answer="Red."):
    return {
        "image_url": "http://img/boat.jpg",
        "question": question or "[USER] What is this?\n[ASSISTANT] A boat.\n[USER] What colour?\n[ASSISTANT]",
        "answer": answer,
        "messages": list(messages),
    }


@pytest.mark.parametrize("style", STYLES)
def test_turns_come_from_messages(style):
    (conversation,) = to_conversations(make_row(), style=style)
    assert conversation.turns == [("What is this?", "A boat."), ("What colour?", "Red.")]
    assert conversation.task == "pixmo_capqa/qa"
    assert parse_answer(conversation.turns[-1][1], style=style) == "Red."


def test_turns_come_from_the_question_when_messages_are_empty():
    assert conversation_turns(make_row(messages=())) == [("What is this?", "A boat."), ("What colour?", "Red.")]
    assert conversation_turns(make_row(messages=(), question="Is it sunny?", answer="Yes.")) == [("Is it sunny?", "Yes.")]


def test_an_odd_number_of_messages_is_refused():
    with pytest.raises(ValueError, match="even number"):
        to_conversations(make_row(messages=("a", "b", "c")))


def test_rows_of_one_image_make_one_example():
    rows = [make_row(), make_row(messages=("Is it big?", "No."))]
    (group,) = group_by_image(rows)
    example = format_group(group)
    assert [len(c.turns) for c in example.conversations] == [2, 1]

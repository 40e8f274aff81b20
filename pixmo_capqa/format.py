"""pixmo-cap-qa rows as multi-turn conversations, the turns taken from `messages`.

`messages` alternates user and assistant strings (user first). Where it is empty the turns are read from
`question`, which holds them as `[USER] ...` and `[ASSISTANT] ...` parts, the last user turn answered by `answer`.
"""

import re
from typing import Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import DEFAULT_STYLE, check_style
from pixmo.prompts import format_image_group, group_by_image

TASK_QA = "pixmo_capqa/qa"
_ROLE = re.compile(r"\[(USER|ASSISTANT)\]")

__all__ = ["conversation_turns", "format_group", "group_by_image", "parse_answer", "to_conversations"]


def conversation_turns(example: dict) -> list[tuple[str, str]]:
    """The `(user, assistant)` turns of a row, from `messages`, else from `question` and `answer`."""
    messages = [m.strip() for m in example.get("messages") or []]
    if messages:
        if len(messages) % 2:
            raise ValueError(
                f"Expected messages alternating user and assistant (an even number), got {len(messages)}: "
                "build the subset with its row checks on."
            )
        return list(zip(messages[0::2], messages[1::2]))
    return _turns_from_question(example["question"], example["answer"].strip())


def _turns_from_question(question: str, answer: str) -> list[tuple[str, str]]:
    parts = _ROLE.split(question)
    if len(parts) == 1:
        return [(question.strip(), answer)]
    turns, user = [], None
    for role, text in zip(parts[1::2], parts[2::2]):
        if role == "USER":
            user = text.strip()
        elif user is not None and text.strip():
            turns.append((user, text.strip()))
            user = None
    if user is not None:
        turns.append((user, answer))
    return turns


def to_conversations(example: dict, style: str = DEFAULT_STYLE, seed: int = 0) -> list[Conversation]:
    """One multi-turn conversation for one row.

    Args:
        example (`dict`): a built pixmo-cap-qa row (`messages`, `question`, `answer`).
        style (`str`, *optional*, defaults to `"molmo2"`): accepted for a uniform call; the answers hold no points.
        seed (`int`, *optional*, defaults to `0`): accepted for a uniform call; the questions are the prompts.
    """
    check_style(style)
    return [Conversation(turns=conversation_turns(example), task=TASK_QA)]


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """All the conversations about one image (one group of `group_by_image`) as one example."""
    return format_image_group(rows, to_conversations, style, seed, source)


def parse_answer(text: str, style: Optional[str] = None, **context) -> str:
    """The answer text without surrounding space (`""` for no text)."""
    return text.strip() if isinstance(text, str) else ""

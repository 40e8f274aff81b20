"""pixmo-docs rows as conversations: one per question about the document, answered with its answer."""

import re
from typing import Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import DEFAULT_STYLE, check_style
from pixmo.prompts import format_image_group, group_by_image

TASK_QA = "pixmo_docs/qa"
_ANSWER_PREFIX = re.compile(r"^\s*(?:the\s+)?answer(?:\s*:|\s+is\b:?)\s*", re.I)

__all__ = ["format_group", "group_by_image", "parse_answer", "to_conversations"]


def to_conversations(example: dict, style: str = DEFAULT_STYLE, seed: int = 0) -> list[Conversation]:
    """One single-turn conversation per question of the row, all over the row's document image.

    Args:
        example (`dict`): a built pixmo-docs row (`image`, `image_id`, `questions` as a dict of lists).
        style (`str`, *optional*, defaults to `"molmo2"`): accepted for a uniform call; the answers hold no points.
        seed (`int`, *optional*, defaults to `0`): accepted for a uniform call; the questions are the prompts.
    """
    check_style(style)
    questions, answers = example["questions"]["question"], example["questions"]["answer"]
    if len(questions) != len(answers):
        raise ValueError(
            f"Expected as many answers as questions, got {len(questions)} questions and {len(answers)} answers "
            f"in {example.get('image_id')!r}: build the subset with its row checks on."
        )
    return [
        Conversation(turns=[(q.strip(), a.strip())], task=TASK_QA, metadata={"question_index": i})
        for i, (q, a) in enumerate(zip(questions, answers))
    ]


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """The rows of one document (one group of `group_by_image`) as one example."""
    return format_image_group(rows, to_conversations, style, seed, source)


def parse_answer(text: str, style: Optional[str] = None, **context) -> str:
    """The answer string: the text without surrounding space or a leading `"Answer:"` (`""` for no text)."""
    if not isinstance(text, str):
        return ""
    return _ANSWER_PREFIX.sub("", text.strip(), count=1).strip()

"""pixmo-ask-model-anything rows as conversations: the question, answered with the answer."""

from typing import Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import DEFAULT_STYLE, check_style
from pixmo.prompts import format_image_group, group_by_image

TASK_QA = "pixmo_ama/qa"

__all__ = ["format_group", "group_by_image", "parse_answer", "to_conversations"]


def to_conversations(example: dict, style: str = DEFAULT_STYLE, seed: int = 0) -> list[Conversation]:
    """One conversation `(question, answer)` for one row.

    Args:
        example (`dict`): a built pixmo-ask-model-anything row (`question`, `answer`).
        style (`str`, *optional*, defaults to `"molmo2"`): accepted for a uniform call; the answers hold no points.
        seed (`int`, *optional*, defaults to `0`): accepted for a uniform call; the question is the prompt.
    """
    check_style(style)
    return [Conversation(turns=[(example["question"].strip(), example["answer"].strip())], task=TASK_QA)]


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """All the questions about one image (one group of `group_by_image`) as one example."""
    return format_image_group(rows, to_conversations, style, seed, source)


def parse_answer(text: str, style: Optional[str] = None, **context) -> str:
    """The answer text without surrounding space (`""` for no text)."""
    return text.strip() if isinstance(text, str) else ""

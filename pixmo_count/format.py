"""pixmo-count rows as counting conversations ("Counting the <points ...> shows a total of N.") and counts read back.

Rows are built rows: `count`, `label`, `points` (`{"x": [...], "y": [...]}` in **pixels** of the image) and a
decoded `image`, whose size turns the pixels into the percent that `pixmo.points` writes.
"""

from typing import Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import DEFAULT_STYLE, as_xy, check_style, format_count_answer, get_image_size, parse_count, to_percent
from pixmo.prompts import COUNTING_PROMPTS, choose_prompt, format_image_group, group_by_image, image_key

TASK_COUNTING = "pixmo_count/counting"

__all__ = ["format_group", "group_by_image", "parse_answer", "to_conversations"]


def to_conversations(example: dict, style: str = DEFAULT_STYLE, seed: int = 0) -> list[Conversation]:
    """One counting conversation: a prompt about the label, answered with the points and their total.

    Args:
        example (`dict`): a built pixmo-count row with its decoded `image` (or its `(width, height)`).
        style (`str`, *optional*, defaults to `"molmo2"`): `"molmo2"`, `"molmo"` or `"plain"`.
        seed (`int`, *optional*, defaults to `0`): the prompt seed; the same row and seed give the same prompt.
    """
    check_style(style)
    label = example["label"].strip()
    size = get_image_size(example["image"])
    points = to_percent(as_xy(example["points"]), size)
    if len(points) != example["count"]:
        raise ValueError(
            f"Expected {example['count']} points (the row's count), got {len(points)} for label {label!r}: "
            "build the subset with its row checks on."
        )
    prompt = choose_prompt(COUNTING_PROMPTS, seed, image_key(example), label, label=label)
    answer = format_count_answer(points, label, style, size)
    return [Conversation(turns=[(prompt, answer)], task=TASK_COUNTING, metadata={"label": label, "count": len(points)})]


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """All the labels of one image (one group of `group_by_image`) as one example with a conversation each."""
    return format_image_group(rows, to_conversations, style, seed, source)


def parse_answer(text: str, style: Optional[str] = None, **context) -> Optional[int]:
    """The count an answer gives (digits, number words, "a total of N", "none" as 0), or `None` if invalid.

    Args:
        text (`str`): the answer in any style; `style` and other context are accepted for a uniform call
            and not needed: the count is read the same way from every style.
    """
    if style is not None:
        check_style(style)
    return parse_count(text)

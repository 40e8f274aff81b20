"""pixmo-points rows as conversations (pointing, or counting for rows collected by counting) and answers read back.

Rows are built rows: `points` (`[{"x", "y"}, ...]` in percent of the image size), `label`, `count`,
`collection_method` and a decoded `image`; pixmo-points-eval rows (`masks`, no `collection_method`) are
formatted as pointing. Point styles and units are those of `pixmo.points`.
"""

from typing import Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import (
    DEFAULT_STYLE,
    Point,
    as_xy,
    check_style,
    format_count_answer,
    format_points,
    get_image_size,
    parse_points,
    says_none,
)
from pixmo.prompts import COUNTING_PROMPTS, POINTING_PROMPTS, choose_prompt, format_image_group, group_by_image, image_key

TASK_POINTING = "pixmo_points/pointing"
TASK_COUNTING = "pixmo_points/counting"

__all__ = ["format_group", "group_by_image", "parse_answer", "to_conversations"]


def to_conversations(example: dict, style: str = DEFAULT_STYLE, seed: int = 0) -> list[Conversation]:
    """One conversation for one row: a pointing (or counting) prompt about its label, answered with its points.

    Args:
        example (`dict`): a built pixmo-points row with its `image` (the image is read for its size in the
            `"plain"` style only).
        style (`str`, *optional*, defaults to `"molmo2"`): `"molmo2"`, `"molmo"` or `"plain"`.
        seed (`int`, *optional*, defaults to `0`): the prompt seed; the same row and seed give the same prompt.
    """
    check_style(style)
    label = example["label"].strip()
    points = as_xy(example["points"])
    size = get_image_size(example["image"]) if style == "plain" else None
    counting = example.get("collection_method") == "counting"
    templates, task = (COUNTING_PROMPTS, TASK_COUNTING) if counting else (POINTING_PROMPTS, TASK_POINTING)
    prompt = choose_prompt(templates, seed, image_key(example), label, label=label)
    answer = (format_count_answer if counting else format_points)(points, label, style, size)
    return [Conversation(turns=[(prompt, answer)], task=task, metadata={"label": label, "count": len(points)})]


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """All the labels of one image (one group of `group_by_image`) as one example with a conversation each."""
    return format_image_group(rows, to_conversations, style, seed, source)


def parse_answer(
    text: str, style: Optional[str] = None, image_size: Optional[tuple[int, int]] = None
) -> Optional[list[Point]]:
    """The points of a pointing answer, in percent (0-100) of the image width and height.

    Args:
        text (`str`): the answer, in any style (detected unless `style` is given).
        style (`str`, *optional*): read only this style.
        image_size (`tuple[int, int]`, *optional*): `(width, height)`; needed to read `"plain"` answers.

    Returns:
        `list[tuple[float, float]]` or `None`: the points; `[]` when the answer says there are none; `None`
        when it neither gives points nor says none (an invalid answer).
    """
    points = parse_points(text, style, image_size)
    if points:
        return points
    return [] if isinstance(text, str) and says_none(text) else None

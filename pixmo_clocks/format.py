"""pixmo-clocks rows as conversations (a question about the time, the time as a person reads it) and times read back.

A face that shows neither hour nor minute (`hour_visible` and `minute_visible` both -1) cannot be read: its
answer says so, and a reader of such an answer finds no time (`parse_answer` gives `None`).
"""

import re
from typing import NamedTuple, Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import DEFAULT_STYLE, check_style
from pixmo.prompts import CLOCK_PROMPTS, choose_prompt, format_image_group, group_by_image, image_key

TASK_CLOCK = "pixmo_clocks/time"
UNANSWERABLE_ANSWER = "The time cannot be read from this image."

_MERIDIEM = r"(?:\s*([AaPp])\.?\s*[Mm]\.?(?![A-Za-z]))?"
_CLOCK_TIME = re.compile(rf"(?<![\d:])(\d{{1,2}})\s*:\s*(\d{{2}})(?:\s*:\s*(\d{{2}}))?(?![\d:]){_MERIDIEM}")
_OCLOCK = re.compile(rf"(?<!\d)(\d{{1,2}})\s*o['’]?\s*clock\b{_MERIDIEM}", re.I)

__all__ = ["ClockTime", "format_group", "group_by_image", "is_answerable", "parse_answer", "read_time", "reference_time", "to_conversations"]


class ClockTime(NamedTuple):
    """A time read from text: `hour` 0-23 when `meridiem` (AM/PM was given), else as written (0-23)."""

    hour: int
    minute: int
    second: Optional[int]
    meridiem: bool


def is_answerable(example: dict) -> bool:
    """Whether the face shows a time to read: its hour or its minute is visible."""
    return example["hour_visible"] >= 0 or example["minute_visible"] >= 0


def reference_time(example: dict) -> str:
    """The reference of a row for the clock metric: its `text`, or `""` for a face that cannot be read."""
    return example["text"].strip() if is_answerable(example) else ""


def to_conversations(example: dict, style: str = DEFAULT_STYLE, seed: int = 0) -> list[Conversation]:
    """One conversation: a question about the time, answered with the time as a person reads it (`text`).

    Args:
        example (`dict`): a built pixmo-clocks row (`example_id`, `text`, `hour_visible`, `minute_visible`, ...).
        style (`str`, *optional*, defaults to `"molmo2"`): accepted for a uniform call; the answers hold no points.
        seed (`int`, *optional*, defaults to `0`): the prompt seed; the same row and seed give the same prompt.
    """
    check_style(style)
    prompt = choose_prompt(CLOCK_PROMPTS, seed, image_key(example))
    answer = reference_time(example) or UNANSWERABLE_ANSWER
    return [Conversation(turns=[(prompt, answer)], task=TASK_CLOCK, metadata={"answerable": is_answerable(example)})]


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """The rows of one face image (one group of `group_by_image`) as one example."""
    return format_image_group(rows, to_conversations, style, seed, source)


def read_time(text: str) -> Optional[ClockTime]:
    """The first valid time in `text` (`H:MM`, `H:MM:SS`, `H o'clock`, each with an optional AM/PM), or `None`.

    With AM/PM the hour becomes 0-23 (12 AM is 0, 12 PM is 12); without, it stays as written, so `"12:09"`
    reads as hour 12 and `"14:05"` as hour 14.
    """
    if not isinstance(text, str):
        return None
    candidates = [(m.start(), m.groups()) for m in _CLOCK_TIME.finditer(text)]
    candidates += [(m.start(), (m.group(1), "00", None, m.group(2))) for m in _OCLOCK.finditer(text)]
    for _, (hour, minute, second, meridiem) in sorted(candidates, key=lambda c: c[0]):
        time = _valid_time(int(hour), int(minute), int(second) if second else None, meridiem)
        if time is not None:
            return time
    return None


def _valid_time(hour: int, minute: int, second: Optional[int], meridiem: Optional[str]) -> Optional[ClockTime]:
    if minute > 59 or (second is not None and second > 59):
        return None
    if meridiem:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.lower() == "p" else 0)
    elif hour > 23:
        return None
    return ClockTime(hour, minute, second, bool(meridiem))


def parse_answer(text: str, style: Optional[str] = None, **context) -> Optional[tuple[int, int, Optional[int]]]:
    """The time an answer gives as `(hour, minute, second or None)`, or `None` when it gives no valid time.

    Args:
        text (`str`): the answer; see `read_time` for what is read and how hours are given.
    """
    time = read_time(text)
    return None if time is None else (time.hour, time.minute, time.second)

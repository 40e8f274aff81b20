"""Prompt templates, their deterministic choice, caption length hints, and one image's rows made one example.

A template is chosen from the seed and the example (its image and, where an image has several annotations,
the label or question), so that the same example and seed always give the same prompt, and a new seed
gives a new draw. Python's `hash` is salted per process, so the choice hashes with sha256 instead.
"""

import hashlib
import random
from collections.abc import Callable, Iterable
from typing import Any, Optional

from .conversation import Conversation, FormattedExample

# Labels come singular ("red car") and plural ("cars"): the wording works with either.
POINTING_PROMPTS = (
    "Point to the {label}.",
    "Point to the {label} in the image.",
    "Point out the {label}.",
    "Mark the {label} with points.",
    "Locate the {label} and point to it.",
    "Place points on the {label}.",
    "Point at: {label}.",
    "Show with points where the {label} can be found.",
)

COUNTING_PROMPTS = (
    "How many {label} are there?",
    "How many {label} are in the image?",
    "Count the {label}.",
    "Count the {label} in this picture.",
    "How many {label} can you see? Point to each one.",
    "What is the number of {label} in the image?",
    "Count: {label}.",
    "Tell me how many {label} this image shows.",
)

CAPTION_PROMPTS = (
    "Describe this image.",
    "Describe the image in detail.",
    "Write a detailed description of this picture.",
    "What does this image show? Describe it.",
    "Give a thorough caption for the image.",
    "Caption this image.",
    "Tell me everything you see in this picture.",
)

TRANSCRIPT_PROMPTS = (
    "Describe this image as if you were speaking.",
    "Talk through what you see in this image.",
    "Give a spoken description of the picture.",
    "Say out loud what this image shows.",
)

CLOCK_PROMPTS = (
    "What time is shown on the clock?",
    "What time does this watch show?",
    "Read the time on the clock face.",
    "What time is it according to this clock?",
    "Tell me the time displayed here.",
    "What is the time on the watch?",
)

# The caption length hint: the answer length in characters divided by 15, with noise, after a style word.
LENGTH_HINT_DIVISOR = 15
LENGTH_HINT_FORMAT = "{style} {hint}: {instruction}"
CAPTION_STYLE = "long_caption"
TRANSCRIPT_STYLE = "transcript"
_IMAGE_KEYS = ("image_sha256", "image_url", "image_id", "example_id")


def rng_for(seed: int, *keys: Any) -> random.Random:
    """A random generator that depends only on `seed` and `keys` (stable across processes and platforms)."""
    digest = hashlib.sha256(repr((int(seed),) + tuple(str(k) for k in keys)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def choose_prompt(templates: tuple, seed: int, *keys: Any, **fields: str) -> str:
    """One of `templates`, chosen from `seed` and `keys`, with `fields` filled in (`label="red car"`)."""
    return rng_for(seed, "prompt", *keys).choice(templates).format(**fields)


def image_key(row: dict) -> str:
    """What identifies a row's image: its sha256, else its URL, else `image_id` (pixmo-docs) or `example_id`."""
    for key in _IMAGE_KEYS:
        if row.get(key):
            return str(row[key])
    raise ValueError(
        f"Expected a row with one of the columns {_IMAGE_KEYS} to identify its image, got columns "
        f"{sorted(row)}: pass rows of a built PixMo subset."
    )


def length_hint(text: str, rng: random.Random, noise: float = 0.1) -> int:
    """The length hint of an answer: `len(text) / 15` with Gaussian noise of `noise` times that, never below 0.

    Args:
        text (`str`): the answer whose length is hinted.
        rng (`random.Random`): the source of the noise (from `rng_for`, so that a seed repeats it).
        noise (`float`, *optional*, defaults to `0.1`): the noise's standard deviation relative to the hint.
    """
    hint = len(text) / LENGTH_HINT_DIVISOR
    return max(0, round(hint + rng.gauss(0.0, max(1.0, noise * hint))))


def length_prompt(instruction: str, style: str, hint: Optional[int]) -> str:
    """`"long_caption 42: Describe this image."`; without a hint, the instruction alone.

    To ask a model trained on these prompts for a caption of about `n` characters, pass `hint=n // 15`.
    """
    if hint is None:
        return instruction
    return LENGTH_HINT_FORMAT.format(style=style, hint=hint, instruction=instruction)


def group_by_image(rows: Iterable[dict], key: Callable[[dict], str] = image_key) -> list[list[dict]]:
    """Rows gathered by image, in the order each image first appears (all pixmo-points labels of one image).

    Args:
        rows (`Iterable[dict]`): built rows of one subset.
        key (`Callable[[dict], str]`, *optional*, defaults to `image_key`): what identifies a row's image.
    """
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return list(groups.values())


def format_image_group(
    rows: list[dict],
    to_conversations: Callable[..., list[Conversation]],
    style: str,
    seed: int,
    source: Optional[str] = None,
) -> FormattedExample:
    """The rows of one image as one example: their conversations, all over the first row's image.

    Args:
        rows (`list[dict]`): rows of one image (one group of `group_by_image`).
        to_conversations (`Callable`): the subset's `to_conversations(example, style=..., seed=...)`.
        style (`str`): the output style.
        seed (`int`): the prompt seed.
        source (`str`, *optional*): where the rows came from, `pixmo_points:train:123`.
    """
    if not rows:
        raise ValueError("Expected at least one row of an image, got an empty group.")
    keys = {image_key(row) for row in rows}
    if len(keys) > 1:
        raise ValueError(f"Expected rows of one image, got rows of {len(keys)} images: group them with group_by_image.")
    conversations = [c for row in rows for c in to_conversations(row, style=style, seed=seed)]
    return FormattedExample(image=rows[0].get("image"), conversations=conversations, source=source)

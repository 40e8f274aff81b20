"""pixmo-cap rows as captioning conversations, with Molmo's length hint in the prompt.

Molmo pretrains its captioner with a style word and a length hint in the prompt (the answer length in
characters divided by 15, with noise), so that at inference a user can ask for shorter or longer captions:
`long_caption 42: Describe this image.` (see `pixmo.prompts.length_prompt`). A few prompts carry no hint,
so that a plain request also works. The caption is one conversation, each spoken transcript another.
"""

from typing import Optional

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import DEFAULT_STYLE, check_style
from pixmo.prompts import (
    CAPTION_PROMPTS,
    CAPTION_STYLE,
    TRANSCRIPT_PROMPTS,
    TRANSCRIPT_STYLE,
    choose_prompt,
    format_image_group,
    group_by_image,
    image_key,
    length_hint,
    length_prompt,
    rng_for,
)

TASK_CAPTION = "pixmo_cap/caption"
TASK_TRANSCRIPT = "pixmo_cap/transcript"
NO_HINT_RATE = 0.1  # the share of prompts without a length hint

__all__ = ["format_group", "group_by_image", "parse_answer", "to_conversations"]


def to_conversations(
    example: dict, style: str = DEFAULT_STYLE, seed: int = 0, include_transcripts: bool = True
) -> list[Conversation]:
    """The caption as one conversation and each transcript as another, each prompt with a length hint.

    Args:
        example (`dict`): a built pixmo-cap row (`caption`, `transcripts`, `image_url`).
        style (`str`, *optional*, defaults to `"molmo2"`): accepted for a uniform call; captions have no points.
        seed (`int`, *optional*, defaults to `0`): the seed of the prompt and of the hint's noise.
        include_transcripts (`bool`, *optional*, defaults to `True`): also make the transcript conversations.
    """
    check_style(style)
    key = image_key(example)
    conversations = [_length_conversation(example["caption"], CAPTION_PROMPTS, CAPTION_STYLE, TASK_CAPTION, seed, key)]
    transcripts = (example.get("transcripts") or []) if include_transcripts else []
    for index, transcript in enumerate(transcripts):
        if transcript.strip():
            conversations.append(
                _length_conversation(transcript, TRANSCRIPT_PROMPTS, TRANSCRIPT_STYLE, TASK_TRANSCRIPT, seed, key, index)
            )
    return conversations


def _length_conversation(answer: str, templates: tuple, style_word: str, task: str, seed: int, *keys) -> Conversation:
    answer = answer.strip()
    rng = rng_for(seed, "length", style_word, *keys)
    hint = None if rng.random() < NO_HINT_RATE else length_hint(answer, rng)
    prompt = length_prompt(choose_prompt(templates, seed, style_word, *keys), style_word, hint)
    return Conversation(turns=[(prompt, answer)], task=task, metadata={"length_hint": hint})


def format_group(rows: list[dict], style: str = DEFAULT_STYLE, seed: int = 0, source: Optional[str] = None) -> FormattedExample:
    """The rows of one image (one group of `group_by_image`) as one example."""
    return format_image_group(rows, to_conversations, style, seed, source)


def parse_answer(text: str, style: Optional[str] = None, **context) -> str:
    """The caption of an answer: the text without surrounding space (`""` for no text)."""
    return text.strip() if isinstance(text, str) else ""

"""pixmo-cap rows become caption and transcript conversations whose prompts carry a noisy length hint."""

import re

import pytest

from pixmo.points import STYLES
from pixmo.prompts import length_prompt
from pixmo_cap.format import NO_HINT_RATE, format_group, group_by_image, parse_answer, to_conversations

HINT = re.compile(r"^(long_caption|transcript) (\d+): ")


def make_row(index=0, caption_chars=600):
    words = "a small red boat rests on calm water near a wooden pier ".split()
    caption = " ".join(words[i % len(words)] for i in range(caption_chars // 4))[:caption_chars]
    return {
        "image_url": f"http://img/{index}.jpg",
        "caption": caption,
        "transcripts": ["um there is a boat", "  ", "a red boat on the water I think"],
    }


@pytest.mark.parametrize("style", STYLES)
def test_caption_and_each_transcript_make_a_conversation(style):
    row = make_row()
    conversations = to_conversations(row, style=style)
    assert [c.task for c in conversations] == ["pixmo_cap/caption", "pixmo_cap/transcript", "pixmo_cap/transcript"]
    assert conversations[0].turns[0][1] == row["caption"]
    assert parse_answer(conversations[0].turns[0][1], style=style) == row["caption"]
    assert [c.turns[0][1] for c in conversations[1:]] == [row["transcripts"][0], row["transcripts"][2]]
    assert len(to_conversations(row, include_transcripts=False)) == 1


def test_length_hints_follow_the_caption_length_with_noise():
    hints = {}
    for chars in (150, 600, 1500):
        values = []
        for seed in range(200):
            conversation = to_conversations(make_row(chars, chars), seed=seed)[0]
            match = HINT.match(conversation.turns[0][0])
            assert (match is None) == (conversation.metadata["length_hint"] is None)
            if match:
                assert match.group(1) == "long_caption"
                values.append(int(match.group(2)))
        hints[chars] = values
        assert abs(len(values) / 200 - (1 - NO_HINT_RATE)) < 0.08  # a few prompts carry no hint
        mean = sum(values) / len(values)
        assert abs(mean - chars / 15) < 0.1 * chars / 15 + 0.5  # centred on length / 15
        assert len(set(values)) > 1  # with noise
    assert max(hints[150]) < min(hints[1500])  # shorter captions, smaller hints


def test_the_same_row_and_seed_give_the_same_prompt():
    row = make_row()
    assert to_conversations(row, seed=4)[0].turns == to_conversations(dict(row), seed=4)[0].turns
    assert len({to_conversations(row, seed=s)[0].turns[0][0] for s in range(20)}) > 3


def test_a_user_asks_for_a_length():
    assert length_prompt("Describe this image.", "long_caption", 20) == "long_caption 20: Describe this image."
    assert length_prompt("Describe this image.", "long_caption", None) == "Describe this image."


def test_group_and_parse():
    rows = [make_row(0), make_row(1), make_row(0)]
    groups = group_by_image(rows)
    assert [len(g) for g in groups] == [2, 1]
    assert len(format_group(groups[0]).conversations) == 6
    assert parse_answer("  A boat. ") == "A boat." and parse_answer(None) == ""

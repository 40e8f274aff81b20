"""pixmo-points rows become pointing and counting conversations whose answers read back to the row's points."""

import pytest
from PIL import Image

from pixmo.conversation import Conversation, FormattedExample
from pixmo.points import STYLES
from pixmo_points.format import format_group, group_by_image, parse_answer, to_conversations

SIZE = (320, 200)
TOLERANCE = {"molmo2": 0.05 + 1e-9, "molmo": 0.05 + 1e-9, "plain": 0.5 * 100 / 200 + 1e-9}


def make_row(url="http://img/1.jpg", label="red car", points=((12.34, 56.78), (80.0, 20.5)), method="pointing", image=None):
    return {
        "image_url": url,
        "image_sha256": url[-5:] * 4,
        "points": [{"x": x, "y": y} for x, y in points],
        "count": len(points),
        "label": label,
        "collection_method": method,
        "image": image if image is not None else Image.new("RGB", SIZE),
    }


@pytest.mark.parametrize("style", STYLES)
def test_pointing_answers_read_back_to_the_row_points(style):
    row = make_row()
    (conversation,) = to_conversations(row, style=style)
    prompt, answer = conversation.turns[0]
    assert "red car" in prompt
    assert conversation.task == "pixmo_points/pointing"
    parsed = parse_answer(answer, image_size=SIZE)
    assert len(parsed) == 2
    for (x, y), (px, py) in zip(sorted((p["x"], p["y"]) for p in row["points"]), parsed):
        assert abs(x - px) <= TOLERANCE[style] and abs(y - py) <= TOLERANCE[style]


@pytest.mark.parametrize("style", STYLES)
def test_counting_rows_answer_with_the_total(style):
    (conversation,) = to_conversations(make_row(method="counting"), style=style)
    answer = conversation.turns[0][1]
    assert conversation.task == "pixmo_points/counting"
    assert answer.endswith("shows a total of 2.")
    assert len(parse_answer(answer, image_size=SIZE)) == 2


def test_no_points_answer_there_are_none_and_garbage_is_invalid():
    (conversation,) = to_conversations(make_row(points=()))
    assert conversation.turns[0][1] == "There are none."
    assert parse_answer("There are none.") == []
    assert parse_answer("banana") is None
    assert parse_answer(None) is None


def test_eval_rows_with_masks_are_pointing():
    row = make_row()
    del row["collection_method"], row["count"]
    row["masks"] = [[[True]], [[True]]]
    (conversation,) = to_conversations(row, style="molmo")
    assert conversation.task == "pixmo_points/pointing"
    assert conversation.turns[0][1].startswith("<points x1=")


def test_the_prompt_depends_only_on_the_example_and_the_seed():
    row = make_row()
    prompts = {to_conversations(row, seed=seed)[0].turns[0][0] for seed in range(30)}
    assert to_conversations(row, seed=3)[0].turns[0][0] == to_conversations(dict(row), seed=3)[0].turns[0][0]
    assert len(prompts) >= 4  # several templates are drawn across seeds
    labels = {to_conversations(make_row(label=f"thing {i}"), seed=0)[0].turns[0][0].replace(f"thing {i}", "X") for i in range(30)}
    assert len(labels) >= 4  # and across labels of one seed


def test_one_image_with_several_labels_is_one_example_with_a_conversation_each():
    image_a, image_b = Image.new("RGB", SIZE), Image.new("RGB", (10, 10))
    rows = [
        make_row("http://img/a.jpg", "car", image=image_a),
        make_row("http://img/b.jpg", "dog", points=((5.0, 5.0),), image=image_b),
        make_row("http://img/a.jpg", "tree", points=(), method="counting", image=image_a),
    ]
    groups = group_by_image(rows)
    assert [[r["label"] for r in g] for g in groups] == [["car", "tree"], ["dog"]]
    example = format_group(groups[0], style="molmo2", seed=1, source="pixmo_points:train:0")
    assert isinstance(example, FormattedExample) and example.image is image_a
    assert all(isinstance(c, Conversation) for c in example.conversations)
    assert [c.metadata["label"] for c in example.conversations] == ["car", "tree"]
    assert example.conversations[1].turns[0][1] == "There are none."
    with pytest.raises(ValueError, match="one image"):
        format_group(rows)


def test_the_prompt_choice_is_the_same_in_every_process():
    import os
    import subprocess
    import sys

    code = (
        "from pixmo.prompts import POINTING_PROMPTS, choose_prompt\n"
        "print([choose_prompt(POINTING_PROMPTS, s, 'http://img/1.jpg', 'car', label='car') for s in range(8)])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            capture_output=True, text=True, check=True,
        ).stdout
        for hash_seed in (1, 2)
    }
    assert len(outputs) == 1 and "car" in outputs.pop()

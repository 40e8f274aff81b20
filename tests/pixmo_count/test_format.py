"""pixmo-count rows (points in pixels) become counting conversations whose answers read back to the count."""

import pytest
from PIL import Image

from pixmo.points import STYLES, parse_points
from pixmo_count.format import format_group, group_by_image, parse_answer, to_conversations

SIZE = (400, 250)


def make_row(count=3, label="apple", url="http://img/apples.jpg"):
    xs = [10.0 + 100 * i for i in range(count)]
    ys = [20.0 + 50 * i for i in range(count)]
    return {
        "image_url": url,
        "image_sha256": "ab" * 32,
        "count": count,
        "points": {"x": xs, "y": ys},
        "label": label,
        "image": Image.new("RGB", SIZE),
    }


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("count", [0, 1, 3])
def test_counting_answers_read_back_to_the_count_and_the_pixel_points(style, count):
    row = make_row(count)
    (conversation,) = to_conversations(row, style=style, seed=5)
    prompt, answer = conversation.turns[0]
    assert "apple" in prompt and conversation.task == "pixmo_count/counting"
    assert parse_answer(answer) == count
    assert parse_answer(answer, style=style) == count
    width, height = SIZE
    read = [(x * width / 100, y * height / 100) for x, y in parse_points(answer, image_size=SIZE)]
    expected = list(zip(row["points"]["x"], row["points"]["y"]))
    assert len(read) == count
    for (x, y), (rx, ry) in zip(expected, read):
        assert abs(x - rx) <= 0.5 + 1e-6 and abs(y - ry) <= 0.5 + 1e-6  # within a pixel's rounding in every style


def test_counting_answer_form():
    answer = to_conversations(make_row(2), style="molmo2")[0].turns[0][1]
    assert answer == 'Counting the <points coords="1 1 025 080 2 275 280">apple</points> shows a total of 2.'
    assert to_conversations(make_row(0))[0].turns[0][1] == "There are none."


def test_a_count_that_differs_from_the_points_is_refused():
    row = make_row(2)
    row["count"] = 5
    with pytest.raises(ValueError, match="Expected 5 points"):
        to_conversations(row)


def test_parse_answer_reads_words_and_rejects_garbage():
    assert parse_answer("There are none.") == 0
    assert parse_answer("I see eleven apples") == 11
    assert parse_answer("lots of them") is None
    with pytest.raises(ValueError, match="style must be one of"):
        parse_answer("3", style="xml")


def test_labels_of_one_image_are_one_example():
    rows = [make_row(2, "apple"), make_row(1, "pear"), make_row(1, "fig", url="http://img/figs.jpg")]
    rows[2]["image_sha256"] = "cd" * 32
    groups = group_by_image(rows)
    assert [len(g) for g in groups] == [2, 1]
    example = format_group(groups[0], style="molmo")
    assert [parse_answer(c.turns[0][1]) for c in example.conversations] == [2, 1]

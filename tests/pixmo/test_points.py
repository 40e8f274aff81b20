"""Point and count answers: every style round-trips within its rounding, and garbage reads as nothing."""

import random

import pytest

from pixmo.points import (
    NONE_ANSWER,
    STYLES,
    as_xy,
    detect_style,
    format_count_answer,
    format_points,
    get_image_size,
    parse_count,
    parse_points,
    to_percent,
    to_pixels,
)

SIZE = (640, 480)
# The rounding of each style, in percent of the image: 0-1000 integers, one decimal, whole pixels.
TOLERANCE = {"molmo2": 0.05 + 1e-9, "molmo": 0.05 + 1e-9, "plain": 0.5 * 100 / 480 + 1e-9}


def random_points(rng, n):
    return [(rng.uniform(0, 100), rng.uniform(0, 100)) for _ in range(n)]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", [1, 2, 7])
def test_points_round_trip_within_the_rounding_of_each_style(style, n):
    rng = random.Random(n)
    for _ in range(20):
        points = random_points(rng, n)
        text = format_points(points, "red car", style, SIZE)
        assert detect_style(text) == style
        parsed = parse_points(text, image_size=SIZE)
        assert len(parsed) == n
        for (x, y), (px, py) in zip(sorted(points), parsed):
            assert abs(x - px) <= TOLERANCE[style] and abs(y - py) <= TOLERANCE[style]
        assert parse_points(text, style=style, image_size=SIZE) == parsed


def test_the_written_forms_of_each_style():
    points = [(91.1, 80.0), (12.3, 45.6)]
    assert format_points(points, "red car", "molmo2") == '<points coords="1 1 123 456 2 911 800">red car</points>'
    assert format_points(points, "red car", "molmo") == (
        '<points x1="12.3" y1="45.6" x2="91.1" y2="80.0" alt="red car">red car</points>'
    )
    assert format_points(points[:1], "red car", "molmo") == '<point x="91.1" y="80.0" alt="red car">red car</point>'
    assert format_points(points, "red car", "plain", (1000, 500)) == "Points: x=123 y=228; x=911 y=400"
    assert format_points(points[:1], "car", "plain", (1000, 500)) == "Point: x=911 y=400"
    assert format_points([], "red car", "molmo2") == NONE_ANSWER


def test_points_sort_by_x_then_y():
    text = format_points([(50.0, 60.0), (10.0, 90.0), (50.0, 20.0)], "dot", "molmo2")
    assert text == '<points coords="1 1 100 900 2 500 200 3 500 600">dot</points>'


def test_labels_with_quotes_and_brackets_keep_the_tags_readable():
    for style in STYLES:
        text = format_points([(10.0, 20.0), (30.0, 40.0)], 'the "big" <red> car', style, SIZE)
        assert len(parse_points(text, image_size=SIZE)) == 2


def test_plain_style_needs_the_image_size():
    with pytest.raises(ValueError, match="image_size"):
        format_points([(1.0, 2.0)], "x", "plain")
    with pytest.raises(ValueError, match="image_size"):
        parse_points("Point: x=10 y=20")


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style must be one of"):
        format_points([(1.0, 2.0)], "x", "json")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I cannot see any.",
        '<points coords="">car</points>',
        '<points coords="1 1 abc 200">car</points>',
        '<points coords="1 1">car</points>',
        '<point x="abc" y="3">car</point>',
        "<points x1=12 y1=13",
        "x= y=",
        None,
        12,
    ],
)
def test_garbage_reads_as_no_points(text):
    assert parse_points(text, image_size=SIZE) == []


def test_molmo_points_written_by_hand_and_a_truncated_molmo2_triple():
    assert parse_points('Here: <point x="12.5" y="40" alt="a">a</point> done') == [(12.5, 40.0)]
    # A generation cut mid-point keeps its complete points.
    assert parse_points('<points coords="1 1 100 200 2 300">cut</points>') == [(10.0, 20.0)]


def test_pixels_and_percent_convert_both_ways():
    points = [(10.0, 20.0), (100.0, 0.0)]
    assert to_pixels(points, (200, 50)) == [(20.0, 10.0), (200.0, 0.0)]
    assert to_percent(to_pixels(points, (200, 50)), (200, 50)) == points
    assert as_xy({"x": [1.0, 2.0], "y": [3.0, 4.0]}) == [(1.0, 3.0), (2.0, 4.0)]
    assert as_xy([{"x": 1.0, "y": 3.0}]) == [(1.0, 3.0)]


def test_image_size_of_images_arrays_and_encoded_bytes():
    import io

    import numpy as np
    from PIL import Image

    image = Image.new("RGB", (30, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert get_image_size(image) == (30, 20)
    assert get_image_size(np.zeros((20, 30, 3), dtype=np.uint8)) == (30, 20)
    assert get_image_size({"bytes": buffer.getvalue(), "path": None}) == (30, 20)
    with pytest.raises(ValueError, match="width, height"):
        get_image_size("not an image")


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", [0, 1, 5, 12])
def test_count_answers_round_trip(style, n):
    points = random_points(random.Random(n), n)
    text = format_count_answer(points, "cars", style, SIZE)
    assert parse_count(text) == n
    assert len(parse_points(text, image_size=SIZE)) == n
    if n:
        assert text.startswith("Counting the ") and text.endswith(f"shows a total of {n}.")
    else:
        assert text == "There are none."


@pytest.mark.parametrize(
    "text, count",
    [
        ("There are none.", 0),
        ("none", 0),
        ("There are no cars in this image.", 0),
        ("zero", 0),
        ("seven", 7),
        ("I count Twenty-one birds.", 21),
        ("thirty two", 32),
        ("There are 4 cars.", 4),
        ("Counting the <points coords=\"1 1 100 200 2 300 400\">cars</points> shows a total of 5.", 5),
        ('<points coords="1 1 100 200 2 300 400">cars</points>', 2),
        ("Points: x=1 y=2; x=3 y=4; x=5 y=6", 3),
        ("I don't know.", None),
        ("", None),
        (None, None),
    ],
)
def test_counts_read_from_digits_words_totals_and_none(text, count):
    assert parse_count(text) == count


def test_degenerate_repetitive_generations_are_read_quickly():
    import time

    from pixmo_clocks.format import read_time

    texts = ["<point " * 5000, "<points>" * 5000, '<points x1="1" y1="2">a</points>' * 3000, "1:" * 10000]
    start = time.perf_counter()
    results = [(parse_points(t, image_size=SIZE), parse_count(t), read_time(t)) for t in texts]
    assert time.perf_counter() - start < 5.0  # quadratic scanning took minutes here
    assert [len(points) for points, _, _ in results] == [0, 0, 3000, 0]
    assert results[2][1] == 3000

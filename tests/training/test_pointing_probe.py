"""The pointing probe's scenes: the answers point at pixels of the asked objects, and `--mini-pixmo` switches on
varied sizes, prompt templates and counts."""

import importlib.util
from pathlib import Path

import numpy as np

from pixmo.points import parse_points
from pixmo.prompts import POINTING_PROMPTS
from pixmo.synth.shapes import COLORS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pointing_probe.py"


def _probe():
    spec = importlib.util.spec_from_file_location("pointing_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_answers_point_at_the_asked_objects_and_switches_change_their_property():
    probe = _probe()
    plain = probe.make_examples(30, seed=1, args=probe.parse_args([]))
    assert {image.size for image, *_ in plain} == {(112, 112)}
    assert {prompt.split(" the ")[0] for _, prompt, _, _ in plain} == {"Point to"}
    for image, prompt, answer, points in plain:
        assert 1 <= len(points) <= 3 and len(parse_points(answer)) == len(points)
        colour = prompt.removeprefix("Point to the ").split(" ")[0]
        pixels = np.array(image)
        for x, y in parse_points(answer):
            column = min(image.width - 1, int(x / 100 * image.width))
            row = min(image.height - 1, int(y / 100 * image.height))
            assert tuple(pixels[row, column]) == COLORS[colour], (prompt, answer)

    mini = probe.make_examples(60, seed=1, args=probe.parse_args(["--mini-pixmo"]))
    assert len({image.size for image, *_ in mini}) > 3
    assert len({template for template in POINTING_PROMPTS for _, prompt, _, _ in mini
                if prompt.startswith(template.split("{label}")[0])}) > 3
    assert max(len(points) for *_, points in mini) > 3

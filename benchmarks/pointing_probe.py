"""How fast the tiny Molmo2 learns to point, as drawn scenes gain, one at a time, the properties of the synthetic
mini-PixMo scenes.

The learning check (`benchmarks/learning.py`) trains on the full scenes and asks for pointing F1 at least 0.2
above always pointing at the image centre. This probe trains the same tiny model (`pixmo make-tiny-model`) through
the same `training/train.py`, formatter, parser and metric, on fresh in-memory scenes drawn by
`pixmo.synth.shapes.make_scene`, and lets each property be switched on alone:

- `--max-count N`: up to N objects of the asked kind (mini-PixMo: 10; default 3);
- `--distractor-kinds N`, `--distractors N`: up to N other kinds, up to N objects each (mini-PixMo: 2 and 4;
  default 2 and 2), differing from the asked kind in colour or shape or both;
- `--varied-sizes`: images of 112-224 px, square or 4:3 (default: 112 px squares, the model's own size);
- `--backgrounds`: pale plain, gradient and grainy backgrounds (default: white);
- `--varied-prompts`: the project's eight pointing templates (default: "Point to the {label}.");
- `--mini-pixmo`: all of the above as in mini-PixMo.

    python benchmarks/pointing_probe.py [--steps 2400] [--batch-size 16] [--varied-prompts] ...

Printed: pointing F1 (5% of the diagonal) on fresh validation scenes, by number of asked objects, beside the
centre baseline on the same scenes, the median distance from the first predicted point to the nearest asked
object, and the training loss.
"""

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixmo.conversation import Conversation, FormattedExample  # noqa: E402
from pixmo.points import format_points, parse_points  # noqa: E402
from pixmo.prompts import POINTING_PROMPTS  # noqa: E402
from pixmo.synth.shapes import IMAGE_SIZES, make_scene, plural  # noqa: E402
from pixmo_points.metrics import score_points  # noqa: E402
from training.tiny_model import IMAGE_SIZE  # noqa: E402


def make_examples(count: int, seed: int, args) -> list[tuple]:
    """`(image, prompt, answer, points)` for `count` scenes; points in percent of the image size."""
    rng, prompt_rng = np.random.default_rng(seed), random.Random(seed)
    examples = []
    for _ in range(count):
        scene = make_scene(
            rng, min_count=1, max_count=args.max_count, sizes=IMAGE_SIZES if args.varied_sizes else (IMAGE_SIZE,),
            max_distractor_kinds=args.distractor_kinds, max_distractors=args.distractors,
            plain_background=not args.backgrounds,
        )
        objects = scene.objects_of(scene.target)
        points = [(o.x / scene.width * 100, o.y / scene.height * 100) for o in objects]
        label = plural(scene.target, len(objects))
        template = prompt_rng.choice(POINTING_PROMPTS) if args.varied_prompts else POINTING_PROMPTS[0]
        examples.append((scene.image, template.format(label=label), format_points(points, label), points))
    return examples


def run(args, work: Path) -> dict:
    from training.collator import FormattedDataset
    from training.evaluate import generate_answers
    from training.synthetic import tiny_train_argv
    from training.tiny_model import make_tiny_model
    from training.train import main

    start = time.perf_counter()
    model_dir = make_tiny_model(work / "tiny-model", seed=args.seed)
    train = make_examples(args.train_examples, args.seed + 1, args)

    def build_dataset(data_args, collator):
        examples = [
            FormattedExample(image, [Conversation([(prompt, answer)], task="probe/point")], source=f"probe:{i}")
            for i, (image, prompt, answer, _) in enumerate(train)
        ]
        return FormattedDataset(examples, collator)

    argv = tiny_train_argv(model_dir, work / "run", args.steps, args.batch_size, args.learning_rate, args.seed,
                           max_length=384, logging_steps=max(1, args.steps // 12),
                           use_cpu=not torch.cuda.is_available())
    trainer = main(argv, build_dataset=build_dataset)
    model = trainer.model.eval()

    validation = make_examples(args.eval_examples, args.seed + 2, args)
    answers = []
    for i in range(0, len(validation), 16):
        batch = validation[i : i + 16]
        answers += generate_answers(model, trainer.data_collator, [e[0] for e in batch], [e[1] for e in batch],
                                    max_new_tokens=12 * args.max_count + 24)
    by_count, centre, first = {}, [], []
    for answer, (image, _, _, truth) in zip(answers, validation):
        predicted = parse_points(answer)
        by_count.setdefault(len(truth), []).append(score_points(predicted, truth, image.size)[2])
        centre.append(score_points([(50.0, 50.0)], truth, image.size)[2])
        if predicted:
            first.append(min(((predicted[0][0] - x) ** 2 + (predicted[0][1] - y) ** 2) ** 0.5 for x, y in truth))
    f1 = statistics.mean(f for scores in by_count.values() for f in scores)
    return {
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "pointing_f1": f1,
        "centre_f1": statistics.mean(centre),
        "f1_by_count": {k: statistics.mean(v) for k, v in sorted(by_count.items())},
        "first_point_median_distance": statistics.median(first) if first else None,
        "answered_with_points": len(first) / len(validation),
        "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
        "examples": answers[:3],
        "minutes": (time.perf_counter() - start) / 60,
    }


def report(result: dict) -> str:
    lines = [f"{'asked objects':<14} {'F1':>6}"]
    lines += [f"{k:<14} {v:>6.3f}" for k, v in result["f1_by_count"].items()]
    distance = result["first_point_median_distance"]
    lines += [
        f"pointing F1 {result['pointing_f1']:.3f} against {result['centre_f1']:.3f} for the centre point "
        f"({result['pointing_f1'] - result['centre_f1']:+.3f})",
        "first point to the nearest asked object, median: "
        + (f"{distance:.1f}% of the image" if distance is not None else "no answer had points"),
        f"loss: {result['losses'][0]:.3f} -> {result['losses'][-1]:.3f}; {result['minutes']:.1f} minutes",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2400, help="training steps (default: 2400)")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per step (default: 16)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="peak AdamW learning rate (default: 1e-3)")
    parser.add_argument("--train-examples", type=int, default=6000, help="training scenes (default: 6000)")
    parser.add_argument("--eval-examples", type=int, default=150, help="validation scenes (default: 150)")
    parser.add_argument("--max-count", type=int, default=3, help="most objects of the asked kind (default: 3)")
    parser.add_argument("--distractor-kinds", type=int, default=2, help="most distractor kinds (default: 2)")
    parser.add_argument("--distractors", type=int, default=2, help="most objects of one distractor kind (default: 2)")
    parser.add_argument("--varied-sizes", action="store_true", help="images of 112-224 px, square or 4:3")
    parser.add_argument("--backgrounds", action="store_true", help="pale plain, gradient and grainy backgrounds")
    parser.add_argument("--varied-prompts", action="store_true", help="the eight pointing prompt templates")
    parser.add_argument("--mini-pixmo", action="store_true", help="every property as in the synthetic mini-PixMo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.mini_pixmo:
        args.max_count, args.distractors = 10, 4
        args.varied_sizes = args.backgrounds = args.varied_prompts = True
    for name in ("steps", "batch_size", "train_examples", "eval_examples", "max_count"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.distractor_kinds < 0 or args.distractors < 1:
        parser.error("--distractor-kinds must be at least 0 and --distractors at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args, Path(tmp))
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

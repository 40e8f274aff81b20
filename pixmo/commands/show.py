"""`pixmo show`: a picture of an example (or a contact sheet of several) with its annotation drawn on it."""

import argparse
import logging
import math

from ..subsets import SUBSETS

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "show",
        help="draw an example's annotation (points, count, time, text) on its image",
        description=(
            "Read a built folder (one that `datasets.load_dataset(DATA, CONFIG)` reads, with an `image` column) and "
            "draw an example: points as numbered markers (pixmo-points percent and pixmo-count pixels both land on "
            "the image), pixmo-points-eval masks tinted, and the label, count, clock time, caption or questions and "
            "answers in a text panel beside the image. --grid N draws N examples from --index on as a contact sheet."
        ),
        epilog="example: pixmo show pixmo_count --data ./built/pixmo-count --split test --index 0 --grid 9 --out count.png",
    )
    parser.add_argument("subset", help=f"one of {', '.join(SUBSETS)} (or its Hub name; pixmo-points-eval too)")
    parser.add_argument("--data", required=True, help="the built folder")
    parser.add_argument("--config", help="config of the built folder (pixmo_docs: charts, ...; pixmo_points: eval)")
    parser.add_argument("--split", default="train", help="split to read (default: train)")
    parser.add_argument("--index", type=int, default=0, help="row to draw, or the first of the grid (default: 0)")
    parser.add_argument("--grid", type=int, help="draw this many rows from --index on as a contact sheet")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..show import contact_sheet, draw_example, load_examples

    count = args.grid or 1
    if count < 1:
        logger.error("--grid must be at least 1, got %d", count)
        return 1
    try:
        examples = load_examples(args.data, args.split, args.index, count, args.config)
    except (IndexError, ValueError, FileNotFoundError) as err:
        logger.error("%s", err)
        return 1
    subset = "pixmo-points-eval" if args.config == "eval" else args.subset
    pictures = [
        draw_example(subset, example, title=f"{args.subset} {args.split}[{args.index + offset}]")
        for offset, example in enumerate(examples)
    ]
    picture = pictures[0] if args.grid is None else contact_sheet(pictures, columns=math.ceil(math.sqrt(len(pictures))))
    picture.save(args.out)
    print(f"wrote {args.out} ({len(pictures)} example(s), {picture.width}x{picture.height})")
    return 0

"""`pixmo make-tiny-model DIR`: a tiny random Molmo2 and its processor, built offline, for demos and tests."""

import argparse
import logging

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "make-tiny-model",
        help="build a tiny random Molmo2 and its processor offline",
        description=(
            "Write a tiny random Molmo2 (under a million parameters, 112 px images with one crop) and its processor "
            "(a byte-level BPE tokenizer trained locally, digits one per token, with Molmo2's image tokens and a chat "
            "template) to DIR. Load it with AutoModelForImageTextToText and AutoProcessor, or train it with "
            "`training/train.py --model DIR`."
        ),
        epilog="example: pixmo make-tiny-model ./runs/tiny && python training/train.py --model ./runs/tiny ...",
    )
    parser.add_argument("out_dir", metavar="DIR", help="the folder to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from training.tiny_model import make_tiny_model

    out_dir = make_tiny_model(args.out_dir, seed=args.seed)
    print(f"tiny Molmo2 written to {out_dir}")
    return 0

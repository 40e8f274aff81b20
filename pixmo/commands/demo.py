"""`pixmo demo`: the README's main command, the whole pipeline on a synthetic mini-PixMo with no network."""

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on a synthetic mini-PixMo, offline",
        description=(
            "Serve a synthetic mini-PixMo (drawn scenes, documents and clock faces whose annotations are true by "
            "construction) from a local image server and a local Hub endpoint, fetch and verify every image, build "
            "every subset with images from allenai/pixmo-* through that endpoint, print the report, load "
            "allenai/pixmo-points with datasets.load_dataset, draw the annotations, train a tiny Molmo2 a few steps "
            "on the interleaved subsets and print its evaluation table. Every server is stopped at the end."
        ),
    )
    parser.add_argument("--out", default="pixmo-demo", help="working folder, emptied first (default: ./pixmo-demo)")
    parser.add_argument("--rows", type=int, default=200, help="rows of each synthetic subset (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: 0)")
    parser.add_argument("--n_proc", type=int, default=2, help="fetch processes (default: 2)")
    parser.add_argument(
        "--train-steps", type=int, default=40,
        help="steps of the tiny Molmo2's training run on the interleaved subsets, evaluated after; 0 skips both "
        "(default: 40)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(args.out, rows=args.rows, seed=args.seed, n_proc=args.n_proc, train_steps=args.train_steps)
    return 0

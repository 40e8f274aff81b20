"""`pixmo synth`: write a synthetic mini-PixMo, every subset in the Hub's layout and schema, true by construction."""

import argparse
import logging

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic mini-PixMo (all subsets, Hub layout) with served images",
        description=(
            "Write OUT/<hub-name>/ for every PixMo subset (pixmo-cap, pixmo-points, pixmo-points-eval, pixmo-count, "
            "pixmo-docs, pixmo-cap-qa, pixmo-ask-model-anything, pixmo-clocks) in the Hub's exact schema and "
            "layout, and OUT/images/ with the images the URL subsets point at. Serve OUT/images/ at --base-url "
            "(for example `python -m http.server PORT --directory OUT/images`). Scenes of drawn shapes carry "
            "true points, counts, captions and answers; documents and clocks are rendered from their answers. "
            "The same seed writes the same bytes."
        ),
        epilog="example: pixmo synth --out ./mini --rows 200 --seed 0 --base-url http://127.0.0.1:8000/",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--rows", type=int, default=200, help="rows of each subset's largest split (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--base-url", default="http://127.0.0.1:8000/",
        help="URL at which OUT/images/ will be served (default: http://127.0.0.1:8000/)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..synth import synthesize

    try:
        repos = synthesize(args.out, rows=args.rows, seed=args.seed, base_url=args.base_url)
    except ValueError as err:
        logger.error("%s", err)
        return 1
    for hub_name, folder in repos.items():
        print(f"{hub_name}\t{folder}")
    return 0

"""`pixmo build`: turn a PixMo Hub repo (or a local copy) into a Hub-native folder of parquet shards and a card."""

import argparse
import logging

from ..subsets import SUBSETS, get_subset

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build a subset into a Hub-native folder (parquet + card)",
        description=(
            "Read a PixMo subset from the Hub (through HF_ENDPOINT) or from a local folder laid out like the Hub "
            "repo, check every row, carve the validation split where the Hub has only train, and write parquet "
            "shards plus a README.md card that `datasets.load_dataset(OUT)` reads. A report of rows read, "
            "written and dropped (by reason) is printed and kept in OUT/build_report.json."
        ),
        epilog="example: pixmo build pixmo_points --source ./pixmo-points --out ./built/pixmo-points --metadata-only",
    )
    parser.add_argument("subset", help=f"one of {', '.join(SUBSETS)} (or its Hub name, pixmo-points)")
    parser.add_argument("--config", help="builder config (pixmo_docs: charts, diagrams, tables, other; pixmo_points: default, eval)")
    parser.add_argument("--source", help="Hub dataset repo id or local folder (default: the allenai/pixmo-* repo)")
    parser.add_argument("--revision", help="Hub revision of --source (default: the pinned revision)")
    parser.add_argument(
        "--out", help="output folder; other configs already built there are kept (default: $PIXMO_HOME/built/<hub-name>, "
        "where the PixMoPoints-style dataset classes look)",
    )
    parser.add_argument(
        "--on-bad-rows", choices=["error", "warn", "skip"], default="error",
        help="a row breaking the schema or the subset's invariants: stop (error), drop with a warning (warn) or "
        "drop quietly (skip); dropped rows are counted in the report (default: error)",
    )
    parser.add_argument(
        "--validation-images", type=int, default=2048,
        help="images in the validation split carved where the Hub has only train (default: 2048)",
    )
    parser.add_argument("--eval-source", help="pixmo_points: where pixmo-points-eval comes from, or 'none'")
    parser.add_argument(
        "--metadata-only", action="store_true",
        help="write the Hub's columns only; by default an `image` column is added from the image store (pixmo_clocks: "
        "faces rendered from the metadata, or --clock-images) and rows without an image are dropped and counted",
    )
    parser.add_argument("--store", help="image store folder (default: $PIXMO_HOME or ~/.cache/pixmo)")
    parser.add_argument("--clock-images", help="pixmo_clocks: a folder of original faces named {example_id}.png")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..builder import BadRowError
    from ..hubfolder import build_folder
    from ..source import SourceError
    from ..seed import default_built_dir

    subset = get_subset(args.subset)
    options = {"source": args.source, "revision": args.revision, "on_bad_rows": args.on_bad_rows,
               "validation_images": args.validation_images, "with_images": not args.metadata_only,
               "store": args.store}
    if args.clock_images:
        options["clock_images"] = args.clock_images
    if args.eval_source is not None:
        if subset.package != "pixmo_points":
            raise SystemExit("--eval-source applies to pixmo_points only")
        options["eval_source"] = args.eval_source
    out = args.out or default_built_dir(subset.package)
    try:
        report = build_folder(subset.package, out, args.config, **options)
    except (SourceError, BadRowError, ValueError) as err:
        logger.error("%s", err)
        return 1
    print(f"{subset.hub_name} ({report.config}) -> {out}\n{report.to_markdown()}")
    return 0

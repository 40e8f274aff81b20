"""The `pixmo` command line: one subcommand per job, each defined beside the code it runs."""

import argparse
import importlib
import logging
import sys

# Each entry is a module exposing `add_parser(subparsers)`; the parser it adds sets `func(args) -> int`.
# Modules are imported lazily so `pixmo --help` stays fast and a missing optional extra (torch for
# training) only matters to the commands that need it.
COMMAND_MODULES = [
    "pixmo.commands.demo",
    "pixmo.commands.build",
    "pixmo.commands.download",
    "pixmo.commands.make_tiny_model",
    "pixmo.commands.synth",
    "pixmo.commands.show",
    "pixmo.commands.push",
    "pixmo.commands.cards",
    "pixmo.commands.eval_captions",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixmo",
        description=(
            "Fetch, verify and build the PixMo datasets as Hub-native folders (parquet shards plus a "
            "dataset card) that `datasets.load_dataset` reads, locally or from a Hub endpoint."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # one line per HTTP request drowns what the commands say
        for name in ("httpx", "httpx2", "httpcore", "urllib3", "filelock"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())

"""`pixmo cards diff|push`: compare the cards this project writes with the Hub's, and push the card alone."""

import argparse
import logging
from pathlib import Path
from typing import Optional

from ..subsets import SUBSETS, get_subset

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "cards",
        help="diff or push dataset cards (README.md only)",
        description=(
            "Regenerate each subset's card from its builder's info and the latest build's report (rows, drops by "
            "reason, units, how splits are made), then show how it differs from the Hub's card (`diff`) or push it "
            "alone (`push`). A card whose YAML does not round-trip through `datasets` is refused before anything "
            "is sent."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (("diff", "show a unified diff from the Hub's card to the regenerated one"),
                            ("push", "push the regenerated README.md alone")):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("subset", help=f"one of {', '.join(SUBSETS)}, or all")
        action.add_argument(
            "--data",
            help="a built folder, or (for `all`, or when it holds them) a folder of built folders named by Hub name "
            "(default: $PIXMO_HOME/built, where `pixmo build` writes)",
        )
        action.add_argument(
            "--repo-prefix", default="allenai/", help="the repos are PREFIX<hub name> (default: allenai/)"
        )
        action.add_argument("--revision", help="the branch to compare with or push to (default: main)")
        if name == "push":
            action.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
        action.set_defaults(func=run)


def built_folders(subset_arg: str, data: Optional[str]) -> list[tuple[str, Path]]:
    """(subset package, built folder) pairs: `data` itself for one subset, or `data/<hub name>` where it exists."""
    from ..store import default_root

    data = Path(data) if data else default_root() / "built"
    if subset_arg != "all":
        subset = get_subset(subset_arg)
        nested = data / subset.hub_name
        return [(subset.package, nested if nested.is_dir() else data)]
    found = [(s.package, data / s.hub_name) for s in SUBSETS.values() if (data / s.hub_name).is_dir()]
    if not found:
        raise SystemExit(f"No built folders in {data}: expected {data}/<hub name> (e.g. {data}/pixmo-points).")
    return found


def run(args: argparse.Namespace) -> int:
    from ..card import CardError
    from ..publish import PublishError, diff_card, push_card

    status = 0
    for package, folder in built_folders(args.subset, args.data):
        repo_id = f"{args.repo_prefix.rstrip('/')}/{get_subset(package).hub_name}"
        try:
            if args.action == "diff":
                diff = diff_card(package, folder, repo_id, revision=args.revision or "main")
                print(diff or f"{repo_id}: the Hub's card is up to date")
            else:
                info = push_card(package, folder, repo_id, create_pr=args.create_pr, revision=args.revision)
                print(f"{repo_id}: card pushed, {info.pr_url or info.commit_url}")
        except (PublishError, CardError) as err:
            logger.error("%s: %s", repo_id, err)
            status = 1
    return status

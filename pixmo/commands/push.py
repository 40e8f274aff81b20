"""`pixmo push`: upload a built folder (parquet shards and card) to a Hub dataset repo, resumably."""

import argparse
import logging

from ..subsets import SUBSETS, get_subset

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="upload a built folder to a Hub dataset repo",
        description=(
            "Upload the parquet shards and the card of a folder written by `pixmo build` to a Hub dataset repo, in "
            "several commits when it is large. Files already on the Hub with the same content are skipped, so "
            "rerunning after a dropped connection resumes. Shards that the build no longer has are removed in the "
            "last commit. The token comes from HF_TOKEN or `hf auth login` and is never printed."
        ),
        epilog="example: pixmo push pixmo_points --repo my-org/pixmo-points --data ./built/pixmo-points --create",
    )
    parser.add_argument("subset", help=f"one of {', '.join(SUBSETS)} (or its Hub name, pixmo-points)")
    parser.add_argument("--repo", required=True, help="the dataset repo, ORG/NAME")
    parser.add_argument(
        "--data", help="the built folder (default: $PIXMO_HOME/built/<hub name>, where `pixmo build` writes)"
    )
    parser.add_argument("--config", help="push only this config's shards (and the card)")
    parser.add_argument(
        "--revision", help="branch to push to (default: main), or refs/pr/N to resume into a pull request"
    )
    parser.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing to main")
    parser.add_argument("--create", action="store_true", help="create the repo when it does not exist")
    parser.add_argument("--private", action="store_true", help="with --create: make the new repo private")
    parser.add_argument("--max-commit-files", type=int, default=100, help="files per commit at most (default: 100)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..publish import PublishError, push_folder

    subset = get_subset(args.subset)
    from ..seed import default_built_dir

    folder = args.data or default_built_dir(subset.package)
    try:
        result = push_folder(
            folder, args.repo, config=args.config, revision=args.revision, create_pr=args.create_pr,
            private=args.private, create=args.create, max_commit_files=args.max_commit_files,
            commit_message=f"Upload {subset.hub_name} built with pixmo",
        )
    except PublishError as err:
        logger.error("%s", err)
        return 1
    where = result.pr_url or f"{args.repo}@{result.revision}"
    print(
        f"{subset.hub_name} -> {where}: {len(result.commits)} commit(s), {len(result.uploaded)} file(s) uploaded, "
        f"{len(result.skipped)} unchanged, {len(result.deleted)} removed"
    )
    return 0

"""`pixmo download`, `pixmo report` and `pixmo store merge`: fill the shared image store, say what it holds, combine stores."""

import argparse
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from ..source import SourceError
from ..subsets import SUBSETS, get_subset

logger = logging.getLogger(__name__)

URL_SUBSETS = [s.package for s in SUBSETS.values() if s.has_image_urls]
REPORT_BATCH = 20_000


def add_parser(subparsers) -> None:
    _add_download(subparsers)
    _add_report(subparsers)
    _add_store(subparsers)


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subset", help=f"one of {', '.join(URL_SUBSETS)}, or 'all'")
    parser.add_argument("--store", help="the image store folder (default: $PIXMO_HOME or ~/.cache/pixmo)")
    parser.add_argument("--source", help="a single subset: Hub repo id or local folder of its default config")
    parser.add_argument(
        "--source-root",
        help="a folder with one folder per Hub repo (DIR/pixmo-points, DIR/pixmo-points-eval, ...), for 'all'",
    )
    parser.add_argument("--revision", help="Hub revision of --source (default: the pinned revision)")


def _add_download(subparsers) -> None:
    parser = subparsers.add_parser(
        "download",
        help="fetch the images of a subset (or all) into the image store",
        description=(
            "Fetch every image URL of a subset into the content-addressed image store: each image kept once under "
            "its sha256, verified against the source's image_sha256 and by decoding, every URL's outcome in the "
            "store's ledger. A rerun resumes: stored images are skipped, transient failures retried (up to "
            "--max-runs runs), permanent ones left alone unless --retry-failed."
        ),
        epilog="example: pixmo download all --n_proc 12 --store /data/pixmo",
    )
    _add_source_options(parser)
    parser.add_argument("--n_proc", "--n-proc", dest="n_proc", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--threads", type=int, default=16, help="download threads per process (default: 16)")
    parser.add_argument("--per-host", type=int, default=8, help="concurrent requests to one host (default: 8)")
    parser.add_argument("--shard", help="K/N: fetch only part K (0-based) of N, a deterministic disjoint share")
    parser.add_argument("--retry-failed", action="store_true", help="also retry URLs that failed permanently")
    parser.add_argument(
        "--on-mismatch", choices=["skip", "keep"], default="skip",
        help="bytes whose sha256 differs from the source's: refuse (skip) or store them marked (keep) (default: skip)",
    )
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds (default: 10)")
    parser.add_argument("--read-timeout", type=float, default=20.0, help="seconds between bytes (default: 20)")
    parser.add_argument("--total-timeout", type=float, default=60.0, help="seconds per request (default: 60)")
    parser.add_argument("--max-bytes", type=int, default=64 * 1024**2, help="largest image in bytes (default: 64 MiB)")
    parser.add_argument("--max-pixels", type=int, default=178_956_970, help="largest image in pixels")
    parser.add_argument("--retries", type=int, default=3, help="retries of a transient failure in one run (default: 3)")
    parser.add_argument("--max-retry-after", type=float, default=60.0, help="longest Retry-After obeyed, seconds")
    parser.add_argument("--max-runs", type=int, default=5, help="runs that retry a transient failure (default: 5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_download)


def _add_report(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="per subset: rows, distinct images, stored, failed by reason, bytes",
        description="Read each subset's URLs from its source and count what the image store holds of them.",
    )
    _add_source_options(parser)
    parser.set_defaults(func=run_report)


def _add_store(subparsers) -> None:
    parser = subparsers.add_parser("store", help="manage image stores (merge)")
    actions = parser.add_subparsers(dest="store_command", metavar="ACTION")
    merge = actions.add_parser(
        "merge",
        help="copy other stores' images and ledger entries into this store",
        description="Combine stores filled on several machines (pixmo download --shard K/N) into one.",
        epilog="example: pixmo store merge /mnt/node1/pixmo /mnt/node2/pixmo --store /data/pixmo",
    )
    merge.add_argument("others", nargs="+", help="the roots of the stores to merge in")
    merge.add_argument("--store", help="the store to merge into (default: $PIXMO_HOME or ~/.cache/pixmo)")
    merge.set_defaults(func=run_merge)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


# -- download --------------------------------------------------------------------------------------------


def parse_shard(text: Optional[str]) -> Optional[tuple[int, int]]:
    """`"K/N"` to `(K, N)`, checked; None stays None."""
    if text is None:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N with integers, like 0/4, got {text!r}") from None
    if not 0 <= k < n:
        raise ValueError(f"--shard K/N needs 0 <= K < N, got {text!r}")
    return k, n


def selected_subsets(args: argparse.Namespace) -> list[str]:
    if args.subset == "all":
        if args.source:
            raise ValueError("--source names one subset's folder; with 'all' pass --source-root DIR instead.")
        return URL_SUBSETS
    subset = get_subset(args.subset)
    if not subset.has_image_urls:
        raise ValueError(
            f"{subset.hub_name} has no image URLs to fetch (pixmo-docs embeds its images; pixmo-clocks ships none)."
        )
    return [subset.package]


def subset_items(args: argparse.Namespace, subsets: list[str]):
    from ..fetch import urls_of_subset

    for name in subsets:
        logger.info("Reading the image URLs of %s.", name)
        yield from urls_of_subset(name, args.source, args.revision, args.source_root)


def run_download(args: argparse.Namespace) -> int:
    from ..fetch import FetchOptions
    from ..store import ImageStore

    try:
        subsets, shard = selected_subsets(args), parse_shard(args.shard)
        options = FetchOptions(
            threads=args.threads, per_host=args.per_host, connect_timeout=args.connect_timeout,
            read_timeout=args.read_timeout, total_timeout=args.total_timeout, max_bytes=args.max_bytes,
            max_pixels=args.max_pixels, retries=args.retries, max_retry_after=args.max_retry_after,
            on_mismatch=args.on_mismatch, retry_failed=args.retry_failed, max_runs=args.max_runs,
        )
        with ImageStore(args.store) as store:
            summary = store.fetch(
                subset_items(args, subsets), n_proc=args.n_proc, options=options, progress=not args.no_progress,
                shard=shard,
            )
    except (SourceError, ValueError) as err:
        logger.error("%s", err)
        return 1
    print(f"{', '.join(subsets)} -> {store.root}" + (f" (shard {args.shard})" if shard else ""))
    print(summary.to_text())
    return 0


# -- report ----------------------------------------------------------------------------------------------


@dataclass
class SubsetCounts:
    """What the store holds of one subset's images."""

    subset: str
    rows: int = 0
    images: int = 0
    stored: int = 0
    bytes: int = 0
    kept_mismatched: int = 0
    failed: Counter = field(default_factory=Counter)

    @property
    def not_fetched(self) -> int:
        return self.images - self.stored - sum(self.failed.values())


def count_subset(store, name: str, source=None, revision=None, source_root=None) -> SubsetCounts:
    """Rows, distinct images, and the store's outcomes of one subset's URLs."""
    from ..fetch import subset_url_rows

    counts = SubsetCounts(name)
    seen: set[str] = set()
    batch: list[str] = []
    for url, _ in subset_url_rows(name, source, revision, source_root):
        counts.rows += 1
        if url not in seen:
            seen.add(url)
            batch.append(url)
            if len(batch) >= REPORT_BATCH:
                _add_outcomes(store, batch, counts)
                batch = []
    _add_outcomes(store, batch, counts)
    counts.images = len(seen)
    return counts


def _add_outcomes(store, urls: list[str], counts: SubsetCounts) -> None:
    from ..ledger import Reason

    for entry in store.outcomes(urls).values():
        if entry.stored:
            counts.stored += 1
            counts.bytes += entry.bytes or 0
            counts.kept_mismatched += entry.reason == Reason.HASH_MISMATCH_KEPT
        else:
            counts.failed[entry.reason] += 1


def report_table(rows: list[SubsetCounts]) -> str:
    lines = [
        "| subset | rows | distinct images | stored | failed | not fetched | failed by reason | bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in rows:
        reasons = "; ".join(f"{reason}: {n:,}" for reason, n in sorted(c.failed.items())) or "none"
        if c.kept_mismatched:
            reasons += f" (stored with a hash mismatch, kept: {c.kept_mismatched:,})"
        lines.append(
            f"| {c.subset} | {c.rows:,} | {c.images:,} | {c.stored:,} | {sum(c.failed.values()):,} | "
            f"{c.not_fetched:,} | {reasons} | {c.bytes:,} |"
        )
    return "\n".join(lines)


def run_report(args: argparse.Namespace) -> int:
    from ..store import ImageStore

    try:
        subsets = selected_subsets(args)
        with ImageStore(args.store) as store:
            rows = [count_subset(store, name, args.source, args.revision, args.source_root) for name in subsets]
    except (SourceError, ValueError) as err:
        logger.error("%s", err)
        return 1
    print(f"image store {store.root}\n{report_table(rows)}")
    return 0


# -- store merge ------------------------------------------------------------------------------------------


def run_merge(args: argparse.Namespace) -> int:
    from ..store import ImageStore

    with ImageStore(args.store) as store:
        for other in args.others:
            try:
                summary = store.merge(other)
            except (FileNotFoundError, ValueError) as err:
                logger.error("%s", err)
                return 1
            print(f"{other} -> {store.root}: {summary.files_copied:,} files copied, "
                  f"{summary.entries_taken:,} ledger entries taken")
    return 0

"""Builds stream: memory stays flat as rows grow, and the cost of checking every row against `load_dataset`.

Writes a 10k and a 100k row pixmo-points-shaped source, then, each in a fresh process so peak memory is its own:
- `pixmo build` of the source (metadata only), and
- the baseline: a plain `datasets.load_dataset("parquet", data_files=...)` of the same files.
Prints rows/s and peak RSS of each, the RSS ratio of the 100k build to the 10k build (target: at most 1.3), and the
ratio of build time to the baseline's.

    python benchmarks/build.py [--sizes 10000 100000]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE_ROW_GROUP = 10_000


def write_source(folder: Path, num_rows: int) -> Path:
    """A pixmo-points-shaped source whose parquet row groups hold SOURCE_ROW_GROUP rows at every size.

    A reader holds one row group at a time, so the source's row-group size sets a floor on memory that is the
    same for any number of rows (the Hub's files have larger, equally bounded, row groups).
    """
    import pyarrow.parquet as pq

    from pixmo.testing.sources import make_rows, write_source as write

    rows = make_rows("pixmo_points", "default", num_rows, seed=num_rows, num_images=max(1, num_rows // 10))
    write(folder, "pixmo_points", "default", {"train": rows})
    path = folder / "data" / "train-00000-of-00001.parquet"
    pq.write_table(pq.read_table(path), path, row_group_size=SOURCE_ROW_GROUP)
    return folder


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM): unlike ru_maxrss, it starts afresh at exec, so the parent's
    memory at fork time is not counted."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def child(kind: str, source: str, work: str) -> None:
    """Runs in its own process: one build or one baseline load, then prints seconds and peak RSS as JSON."""
    start = time.perf_counter()
    if kind == "build":
        from pixmo.hubfolder import build_folder

        report = build_folder("pixmo_points", Path(work) / "out", source=source, eval_source="none")
        rows = report.rows_read
    else:
        import datasets

        files = sorted(str(p) for p in Path(source, "data").glob("train-*.parquet"))
        rows = len(datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(Path(work) / "cache")))
    seconds = time.perf_counter() - start
    peak_mib = peak_rss_kib() / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mib": peak_mib}))


def measure(kind: str, source: Path) -> dict:
    with tempfile.TemporaryDirectory() as work:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(source), work],
            check=True, capture_output=True, text=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            source = write_source(Path(tmp) / f"source-{size}", size)
            results[size] = {kind: measure(kind, source) for kind in ("build", "baseline")}

    print(f"{'rows':>8} {'build rows/s':>13} {'build peak RSS':>15} {'baseline rows/s':>16} {'baseline peak RSS':>18} {'time vs baseline':>17}")
    for size, r in results.items():
        build, base = r["build"], r["baseline"]
        print(
            f"{size:>8,} {build['rows'] / build['seconds']:>13,.0f} {build['peak_rss_mib']:>12,.0f} MiB "
            f"{base['rows'] / base['seconds']:>16,.0f} {base['peak_rss_mib']:>15,.0f} MiB "
            f"{build['seconds'] / base['seconds']:>16.2f}x"
        )
    small, large = args.sizes
    ratio = results[large]["build"]["peak_rss_mib"] / results[small]["build"]["peak_rss_mib"]
    print(f"build peak RSS ratio, {large:,} rows / {small:,} rows: {ratio:.2f} (target: at most 1.3)")
    time_ratio = results[large]["build"]["seconds"] / results[large]["baseline"]["seconds"]
    print(f"build time / load_dataset('parquet') time at {large:,} rows: {time_ratio:.2f}x")


if __name__ == "__main__":
    main()

"""Fetch speed: the PixMo image store against img2dataset on the same local URL list.

A local HTTP server (pixmo.testing.http_server, in its own process) serves at least 5,000 distinct JPEG and
PNG images (10-200 KB, made with PIL) on the loopback hosts 127.0.0.1 ... 127.0.0.8, each its own host, so
the per-host cap applies as on the web. Both fetchers get the same URLs, processes and threads, and both
hash every image with sha256; img2dataset runs with resizing off (`resize_mode="no"`). Each fetcher runs in
its own subprocess, whose CPU time (its workers included) is measured; the fetchers take turns for
`--rounds` rounds and the fastest run of each is reported. Printed: images/s of each, their ratio, CPU
seconds per 1,000 images, the store's rate when every URL is on one host, and with one process only.

    pip install -e .[bench]     # img2dataset (it pulls opencv, wandb, albumentations)
    python benchmarks/fetch.py --images 5000 --n_proc 2 --threads 16
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HOSTS = 8
BATCH = 250
MAX_BYTES = 200_000


def _make_batch(args) -> int:
    from pixmo.testing.http_server import make_images

    folder, start, count = args
    images = make_images(count, seed=start + 1, sizes=(200, 640))
    for offset, (name, data) in enumerate(sorted(images.items())):
        (Path(folder) / f"{start + offset:05d}.{name.rsplit('.', 1)[-1]}").write_bytes(data)
    return count


def make_image_folder(folder: Path, count: int, workers: int) -> list[Path]:
    """`count` distinct images in `folder`, made once and reused by later runs."""
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))
    if len(files) < count:
        print(f"making {count} images in {folder} ...", flush=True)
        jobs = [(str(folder), start, min(BATCH, count - start)) for start in range(0, count, BATCH)]
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_make_batch, jobs))
        files = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))
    for path in files[:count]:
        _shrink(path)
    return files[:count]


def _shrink(path: Path) -> None:
    """Re-encode an image above MAX_BYTES smaller (lower JPEG quality, or half the PNG's size), keeping it distinct."""
    from PIL import Image

    while path.stat().st_size > MAX_BYTES:
        with Image.open(path) as image:
            image.load()
        if path.suffix == ".jpg":
            image.save(path, format="JPEG", quality=75)
        else:
            image.resize((image.width * 3 // 4, image.height * 3 // 4)).save(path, format="PNG", compress_level=1)


def run_measured(command: list[str]) -> tuple[dict, float]:
    """Run a fetcher in a subprocess; its JSON result and the CPU seconds it (and its children) used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(done.stdout.strip().splitlines()[-1]), cpu


# -- the two fetchers, each run as `python benchmarks/fetch.py --run NAME` ---------------------------------


def run_store(urls_file: str, out: str, n_proc: int, threads: int, per_host: int) -> dict:
    from pixmo.fetch import FetchOptions
    from pixmo.store import ImageStore

    items = [tuple(line.split("\t")) for line in Path(urls_file).read_text().splitlines()]
    start = time.perf_counter()
    with ImageStore(out) as store:
        summary = store.fetch(items, n_proc=n_proc, options=FetchOptions(threads=threads, per_host=per_host),
                              progress=False)
    return {"seconds": time.perf_counter() - start, "stored": summary.stored, "failed": dict(summary.failed)}


def run_img2dataset(urls_file: str, out: str, n_proc: int, threads: int, reencoding: bool) -> dict:
    from img2dataset import download

    urls = [line.split("\t")[0] for line in Path(urls_file).read_text().splitlines()]
    plain = Path(out + ".txt")
    plain.write_text("\n".join(urls) + "\n")
    start = time.perf_counter()
    download(
        url_list=str(plain), input_format="txt", output_folder=out, output_format="files",
        processes_count=n_proc, thread_count=threads, resize_mode="no", skip_reencode=True,
        disable_all_reencoding=not reencoding, compute_hash="sha256", timeout=10, retries=0,
        enable_wandb=False, number_sample_per_shard=1000, extract_exif=False,
    )
    seconds = time.perf_counter() - start
    stored = sum(1 for p in Path(out).rglob("*") if p.suffix in (".jpg", ".png", ".webp"))
    return {"seconds": seconds, "stored": stored, "failed": len(urls) - stored}


# -- the benchmark ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--n_proc", type=int, default=2, help="processes of each fetcher")
    parser.add_argument("--threads", type=int, default=16, help="threads per process of each fetcher")
    parser.add_argument("--per-host", type=int, default=8, help="the store's concurrent requests per host")
    parser.add_argument("--image-dir", default=os.path.join(tempfile.gettempdir(), "pixmo-bench-images"))
    parser.add_argument("--rounds", type=int, default=2, help="runs of each fetcher; the fastest is reported")
    parser.add_argument("--skip-img2dataset", action="store_true")
    parser.add_argument("--run", choices=["store", "img2dataset", "img2dataset-decode"], help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        if args.run == "store":
            result = run_store(args.urls, args.out, args.n_proc, args.threads, args.per_host)
        else:
            result = run_img2dataset(args.urls, args.out, args.n_proc, args.threads, args.run == "img2dataset-decode")
        print(json.dumps(result))
        return 0
    if not args.skip_img2dataset:
        try:
            import img2dataset  # noqa: F401
        except ImportError:
            print("img2dataset is not installed: `pip install -e .[bench]` (or `pip install img2dataset`), "
                  "or pass --skip-img2dataset to measure the store alone.", file=sys.stderr)
            return 1
    return benchmark(args)


def benchmark(args) -> int:
    from pixmo.testing.http_server import serve_images

    files = make_image_folder(Path(args.image_dir), args.images, os.cpu_count() or 1)
    sizes = [p.stat().st_size for p in files]
    print(f"{len(files)} images, {sum(p.suffix == '.png' for p in files)} PNG, {min(sizes) / 1e3:.0f}-"
          f"{max(sizes) / 1e3:.0f} KB (mean {sum(sizes) / len(sizes) / 1e3:.0f} KB); {args.n_proc} processes x "
          f"{args.threads} threads; per-host cap {args.per_host}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="pixmo-bench-") as work, \
            serve_images(args.image_dir, hosts=HOSTS, process=True) as server:
        digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        spread = Path(work, "urls-spread.tsv")
        spread.write_text("".join(f"{server.url(p.name, host=i % HOSTS)}\t{digests[p.name]}\n"
                                  for i, p in enumerate(files)))
        one_host = Path(work, "urls-one-host.tsv")
        one_host.write_text("".join(f"{server.url(p.name)}\t{digests[p.name]}\n" for p in files))
        common = ["--n_proc", str(args.n_proc), "--threads", str(args.threads), "--per-host", str(args.per_host)]
        runs = [("store (sha256 + decode check)", "store", spread)]
        if not args.skip_img2dataset:
            runs += [("img2dataset (sha256, cv2 decode)", "img2dataset-decode", spread),
                     ("img2dataset (sha256, no decode)", "img2dataset", spread)]
        runs.append((f"store, all URLs on one host (cap {args.per_host})", "store", one_host))
        if args.n_proc > 1:  # the same threads in one process: what the extra processes buy
            single = ["--n_proc", "1", "--threads", str(args.n_proc * args.threads), "--per-host", str(args.per_host)]
            runs.append((f"store, 1 process x {args.n_proc * args.threads} threads", "store", spread, single))
        best = {}
        for round_index in range(args.rounds):  # rounds alternate the fetchers, so a busy spell hits all alike
            for index, (label, name, urls, *layout) in enumerate(runs):
                out = str(Path(work, f"out-{round_index}-{index}"))
                command = [sys.executable, __file__, "--run", name, "--urls", str(urls), "--out", out]
                result, cpu = run_measured(command + (layout[0] if layout else common))
                print(f"round {round_index + 1}: {label}: {result['stored'] / result['seconds']:,.0f} images/s",
                      flush=True)
                if label not in best or result["seconds"] < best[label][0]["seconds"]:
                    best[label] = (result, cpu)
                shutil.rmtree(out, ignore_errors=True)
        rows = [(label, *best[label]) for label, *_ in runs]
    print(f"best of {args.rounds} rounds:")
    print_table(rows)
    return 0


def print_table(rows) -> None:
    print("| fetcher | images stored | seconds | images/s | CPU s per 1,000 images |")
    print("|---|---|---|---|---|")
    rates = {}
    for label, result, cpu in rows:
        rate = result["stored"] / result["seconds"]
        rates[label] = rate
        per_thousand = cpu / max(1, result["stored"]) * 1000
        print(f"| {label} | {result['stored']:,} | {result['seconds']:.2f} | {rate:,.0f} | {per_thousand:.2f} |")
    store = rates[rows[0][0]]
    for label, rate in rates.items():
        if label.startswith("img2dataset"):
            print(f"ratio store / {label}: {store / rate:.2f}x (target at least 1.5x)")


if __name__ == "__main__":
    sys.exit(main())

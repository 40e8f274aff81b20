"""`pixmo demo`: the whole pipeline on a synthetic mini-PixMo, on one machine, with no network.

It serves the synthetic images over HTTP and the synthetic Hub repos through a local read-only Hub endpoint
(olah), fetches every image into a store, builds every subset with images from `allenai/pixmo-*` through that
endpoint, prints the report, loads `allenai/pixmo-points` with `datasets.load_dataset` verbatim, and draws a
contact sheet per subset. Every server it starts is stopped when it ends, also on an error or Ctrl-C.
"""

import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

ORG = "allenai"


@dataclass
class DemoResult:
    """What a demo run made: folders, build reports and pictures, for the caller (and the tests) to check."""

    out_dir: Path
    built: dict[str, Path] = field(default_factory=dict)  # hub name -> built folder
    reports: dict[str, object] = field(default_factory=dict)  # "hub-name/config" -> BuildReport
    pictures: dict[str, Path] = field(default_factory=dict)
    fetch: dict[str, object] = field(default_factory=dict)  # package -> FetchSummary
    hub_rows: dict[str, int] = field(default_factory=dict)  # split -> rows, of load_dataset("allenai/pixmo-points")
    train_log: list[dict] = field(default_factory=list)  # the Trainer's log history
    metrics: dict[str, dict] = field(default_factory=dict)  # task -> metrics of the trained tiny model
    seconds: dict[str, float] = field(default_factory=dict)


DEMO_MIXTURE = {"pixmo_cap": 0.4, "pixmo_points": 0.2, "pixmo_count": 0.15, "pixmo_docs": 0.15, "pixmo_capqa": 0.1}
DEMO_EVAL_TASKS = [
    "pixmo_points:validation", "pixmo_count:validation", "pixmo_clocks:validation", "pixmo_docs/charts:validation",
    "pixmo_cap:validation",
]


def run_demo(out_dir, rows: int = 200, seed: int = 0, n_proc: int = 2, train_steps: int = 40, log=print) -> DemoResult:
    """Run the demo into `out_dir` (emptied first) and return what it made.

    Args:
        out_dir (`str` or `Path`): the working folder: synthetic repos, local Hub, image store, builds, pictures.
        rows (`int`, *optional*, defaults to `200`): rows of each synthetic subset's largest split.
        seed (`int`, *optional*, defaults to `0`): the synthetic data's seed.
        n_proc (`int`, *optional*, defaults to `2`): fetch processes.
        train_steps (`int`, *optional*, defaults to `40`): steps of the tiny model's training run on the multitask
            mixture of the built subsets, evaluated after; 0 skips training and evaluation (and needs no torch).
        log (`Callable[[str], None]`, *optional*): where the demo's narration goes (the terminal by default).
    """
    from .localhub import LocalHub, use_endpoint
    from .testing.http_server import serve_images

    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    result = DemoResult(out_dir)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serve_images({}))
        log(f"[1/8] Image server on {server.base_url}")
        repos = _timed(result, "synthesize", _synthesize, out_dir, server, rows, seed)
        log(f"[2/8] Synthetic mini-PixMo: {len(repos)} repos in {out_dir / 'synthetic'}")
        hub = LocalHub(out_dir / "hub")
        for hub_name, folder in repos.items():
            hub.add_repo(f"{ORG}/{hub_name}", folder)
        endpoint = stack.enter_context(hub.serve())
        stack.enter_context(use_endpoint(endpoint))
        # The synthetic allenai/pixmo-* repos must never land in the user's Hub cache beside the real ones.
        stack.enter_context(_environ(HF_HUB_CACHE=str(out_dir / "hf-cache")))
        log(f"[3/8] Local Hub endpoint on {endpoint} serving {', '.join(f'{ORG}/{n}' for n in repos)}")
        _timed(result, "download", _download, result, out_dir / "store", n_proc, log)
        _timed(result, "build", _build_all, result, out_dir, log)
        _timed(result, "load_dataset", _load_from_hub, result, log)
    log("      Servers stopped.")
    _timed(result, "pictures", _draw_all, result, log)
    if train_steps:
        _timed(result, "train", _train, result, train_steps, seed, log)
    log(f"Done in {sum(result.seconds.values()):.0f} s. Everything is under {out_dir}.")
    return result


@contextlib.contextmanager
def _environ(**values):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _timed(result: DemoResult, name: str, function, *args):
    start = time.perf_counter()
    value = function(*args)
    result.seconds[name] = time.perf_counter() - start
    return value


def _synthesize(out_dir: Path, server, rows: int, seed: int) -> dict[str, Path]:
    from .synth import IMAGES_DIR, synthesize
    from .testing.http_server import load_images

    synthetic = out_dir / "synthetic"
    repos = synthesize(synthetic, rows=rows, seed=seed, base_url=f"{server.base_url}/images/")
    server.add_images(load_images(synthetic / IMAGES_DIR))
    return repos


def _download(result: DemoResult, store_dir: Path, n_proc: int, log) -> None:
    from .commands.download import count_subset, report_table
    from .fetch import FetchOptions, urls_of_subset
    from .store import ImageStore
    from .subsets import SUBSETS

    counts = []
    with ImageStore(store_dir) as store:
        for subset in SUBSETS.values():
            if not subset.has_image_urls:
                continue
            source = f"{ORG}/{subset.hub_name}"
            result.fetch[subset.package] = store.fetch(
                urls_of_subset(subset.package, source=source), n_proc=n_proc, options=FetchOptions(retries=1)
            )
            counts.append(count_subset(store, subset.package, source=source))
        stored = sum(1 for _ in store.files())
    log(f"[4/8] Fetched and verified every image into {store_dir}: {stored} distinct images, each kept once\n"
        + report_table(counts))


def _build_all(result: DemoResult, out_dir: Path, log) -> None:
    from .hubfolder import build_folder
    from .subsets import SUBSETS

    for subset in SUBSETS.values():
        configs = [c.name for c in subset.builder.BUILDER_CONFIGS]
        for config in configs:
            options = {"source": None, "with_images": True, "store": str(out_dir / "store")}
            if subset.package == "pixmo_points" and config == "default":
                options["eval_source"] = f"{ORG}/pixmo-points-eval"
            folder = out_dir / "built" / subset.hub_name
            report = build_folder(subset.package, folder, config, **options)
            result.built[subset.hub_name] = folder
            result.reports[f"{subset.hub_name}/{config}"] = report
    log(f"[5/8] Built {len(result.reports)} configs with images into {out_dir / 'built'}:")
    for name, report in result.reports.items():
        dropped = sum(report.dropped.values())
        log(f"      {name:<34} rows read {report.rows_read:>5}  written {report.rows_written:>5}  dropped {dropped:>4}"
            + (f"  ({', '.join(f'{k}: {v}' for k, v in sorted(report.dropped.items()))})" if dropped else ""))


def _load_from_hub(result: DemoResult, log) -> None:
    import datasets

    cache = result.out_dir / "hf-cache"
    points = datasets.load_dataset(f"{ORG}/pixmo-points", revision="main", cache_dir=str(cache / "datasets"))
    result.hub_rows = {split: len(d) for split, d in points.items()}
    log(f'[6/8] datasets.load_dataset("{ORG}/pixmo-points") through the local endpoint: {points}')


def _train(result: DemoResult, steps: int, seed: int, log) -> None:
    from training.evaluate import format_table
    from training.synthetic import evaluate_tiny, train_tiny
    from training.tiny_model import make_tiny_model

    model_dir = make_tiny_model(result.out_dir / "tiny-model", seed=seed)
    trainer = train_tiny(model_dir, result.out_dir / "built", result.out_dir / "run", DEMO_MIXTURE, steps=steps,
                         batch_size=8, seed=seed, logging_steps=max(1, min(10, steps // 4)))
    result.train_log = [entry for entry in trainer.state.log_history if "loss" in entry]
    losses = ", ".join(f"{entry['loss']:.2f}" for entry in result.train_log)
    log(f"[7/8] Trained the tiny Molmo2 ({model_dir}) for {steps} steps on the interleaved subsets "
        f"({', '.join(f'{k} {v}' for k, v in DEMO_MIXTURE.items())}); loss: {losses}")
    result.metrics = evaluate_tiny(trainer.model, trainer.data_collator, result.out_dir / "built", DEMO_EVAL_TASKS,
                                   max_examples=16, max_new_tokens=32)
    log("[8/8] The Molmo metrics on synthetic validation (a few CPU steps of a random tiny model: the numbers show "
        "the pipeline, not a trained model):\n" + format_table(result.metrics))


def _draw_all(result: DemoResult, log) -> None:
    import datasets

    from .show import contact_sheet, draw_example
    from .subsets import get_subset

    pictures = result.out_dir / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    for hub_name, folder in result.built.items():
        package = get_subset(hub_name).package
        config = "charts" if package == "pixmo_docs" else None
        dataset = datasets.load_dataset(str(folder), config, split="train")
        examples = [draw_example(package, dataset[i]) for i in range(min(6, len(dataset)))]
        path = pictures / f"{hub_name}.png"
        contact_sheet(examples, columns=3).save(path)
        result.pictures[hub_name] = path
    log(f"Pictures of the annotations: {pictures} ({', '.join(p.name for p in result.pictures.values())})")

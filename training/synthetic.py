"""Train and evaluate the tiny Molmo2 on built synthetic PixMo subsets: the demo's run and the learning check.

Both go through the same code a user runs: a recipe handed to `training/train.py`'s `main`, the interleaved
mixture, and `training/evaluate.py`'s generation and metrics.
"""

import logging
from collections import Counter
from pathlib import Path
from typing import Optional

import yaml

logger = logging.getLogger(__name__)


def write_recipe(path, built_root, weights: dict[str, float], style: str = "molmo2", seed: int = 0) -> Path:
    """A recipe whose mixture reads `built_root/<hub-name>` for each subset of `weights`."""
    from pixmo.subsets import get_subset

    subsets = {}
    for package, weight in weights.items():
        subset = get_subset(package)
        spec = {"weight": weight, "path": str(Path(built_root) / subset.hub_name)}
        if package == "pixmo_docs":
            spec["configs"] = ["charts", "diagrams", "tables", "other"]
        subsets[subset.package] = spec
    recipe = {"model": {}, "data": {"style": style, "seed": seed, "subsets": subsets}, "training": {}}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(recipe, sort_keys=False))
    return Path(path)


def train_tiny(model_dir, built_root, out_dir, weights: dict[str, float], steps: int, batch_size: int = 16,
               learning_rate: float = 1e-3, seed: int = 0, max_length: int = 512, logging_steps: int = 10,
               device: str = "cpu", bf16: bool = False, workers: int = 0):
    """Train the model in `model_dir` for `steps` steps on the synthetic mixture; returns the Trainer.

    The settings that let a model this small learn (pixmo-facts §6): AdamW at 1e-3 with warm-up and cosine decay.
    `device="cuda"` trains on the GPU, `bf16` in bfloat16 mixed precision, and `workers` data loader processes
    format and collate the batches.
    """
    from training.train import main

    recipe = write_recipe(Path(out_dir) / "recipe.yaml", built_root, weights, seed=seed)
    argv = ["--recipe", str(recipe)] + tiny_train_argv(
        model_dir, out_dir, steps, batch_size, learning_rate, seed, max_length, logging_steps, device == "cpu"
    )
    argv += (["--bf16"] if bf16 else []) + (["--dataloader_num_workers", str(workers)] if workers else [])
    return main(argv)


def tiny_train_argv(model_dir, out_dir, steps: int, batch_size: int = 16, learning_rate: float = 1e-3,
                    seed: int = 0, max_length: int = 512, logging_steps: int = 10, use_cpu: bool = True) -> list[str]:
    """`training/train.py` arguments that train the tiny model as `train_tiny` does, without a recipe: AdamW with
    warm-up and cosine decay, no weight decay, no checkpoints."""
    return [
        "--model", str(model_dir), "--output_dir", str(out_dir),
        "--max_steps", str(steps), "--per_device_train_batch_size", str(batch_size),
        "--learning_rate", str(learning_rate), "--lr_scheduler_type", "cosine", "--warmup_steps", "0.05",
        "--weight_decay", "0.0", "--max_length", str(max_length), "--logging_steps", str(logging_steps),
        "--save_strategy", "no", "--seed", str(seed), "--report_to", "none",
    ] + (["--use_cpu"] if use_cpu else [])


def evaluate_tiny(model, collator, built_root, tasks: list[str], max_examples: int = 64,
                  max_new_tokens: int = 48, batch_size: int = 16) -> dict[str, dict]:
    """The Molmo metrics of `model` on `tasks` (`pixmo_count:validation`, ...) of the built synthetic subsets."""
    from training.evaluate import evaluate_tasks, load_task, parse_task

    data = {name: load_task(parse_task(name, data_root=str(built_root)), max_examples=max_examples) for name in tasks}
    metrics, _ = evaluate_tasks(model, collator, data, batch_size=batch_size, max_new_tokens=max_new_tokens)
    return metrics


def trivial_baselines(built_root, max_examples: Optional[int] = None) -> dict[str, float]:
    """What answers that ignore the image score on the same validation examples:

    - `count_majority`: counting exact accuracy of always answering the most common training count;
    - `points_centre`: pointing F1 of always pointing once at the image centre.
    """
    import datasets

    from pixmo.points import format_points
    from training.evaluate import load_task, parse_task, score_records

    counts = datasets.load_dataset(str(Path(built_root) / "pixmo-count"), split="train")["count"]
    majority = Counter(counts).most_common(1)[0][0]
    count_task = load_task(parse_task("pixmo_count:validation", data_root=str(built_root)), max_examples=max_examples)
    count_records = [{**r, "prediction": str(majority)} for r in count_task.records]
    points_task = load_task(parse_task("pixmo_points:validation", data_root=str(built_root)), max_examples=max_examples)
    points_records = [
        {**r, "prediction": format_points([(50.0, 50.0)], "object", "molmo2")} for r in points_task.records
    ]
    scores = score_records(count_records + points_records)
    return {
        "count_majority": scores["pixmo_count:validation"]["accuracy"],
        "count_majority_value": majority,
        "points_centre": scores["pixmo_points:validation"]["f1"],
    }

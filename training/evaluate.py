"""Evaluate a Molmo2 model on built PixMo subsets: batched generation, answers parsed and scored per subset.

Launch (each `--task` is `<subset>[/<config>]:<split>`; the subset by package or Hub name):

    # one process
    python training/evaluate.py --model runs/multitask --task pixmo_points:validation --task pixmo_count:validation

    # several processes: each rank generates for a disjoint shard, rank 0 gathers, scores and writes
    accelerate launch --num_processes 8 training/evaluate.py --model allenai/Molmo2-4B \\
        --task pixmo_docs/charts:validation --task pixmo_clocks:validation --batch_size 16

    # CPU, two ranks over gloo. `--multi_gpu` is what starts two processes (without it accelerate runs one);
    # accelerate 1.15 refuses `--multi_gpu` with `--cpu`, and the script itself picks the CPU (`--use_cpu`, or
    # no accelerator present) so that the two processes join one gloo group.
    pixmo make-tiny-model runs/tiny
    accelerate launch --multi_gpu --num_processes 2 training/evaluate.py --model runs/tiny \\
        --task pixmo_clocks:validation --max_examples 8 --max_new_tokens 8 --output_dir runs/tiny-eval

Run on this project's CPU machine (2 cores, no GPU): the tiny model with two gloo ranks, by
tests/training/test_evaluate.py. The GPU commands have not been run here.

Data: each subset is read from a folder that `pixmo build` wrote with images, `--data-root DIR` holding
`<hub-name>/` folders (default `$PIXMO_HOME/built`), or one folder per subset with `--data pixmo_docs=PATH`.

What is scored: every row of the split (up to `--max_examples` per task), one example per conversation the
subset's formatter makes of it (one per question of a pixmo-docs document; the caption only, not the transcripts,
of pixmo-cap). The prompt is that conversation's first user turn, worded as in training (`--style`, `--seed`);
the model's answer is read with the subset's parser inside its metric module (`<package>/metrics.py`, loaded with
`evaluate.load`), so an answer that cannot be read counts as invalid (`valid_fraction`) and never fails the run.

| subset | metric | reference |
|---|---|---|
| pixmo_points | pointing precision, recall, F1 (masks where the rows have them) | `points` (percent) |
| pixmo_count | counting accuracy, within one, per count | `count` |
| pixmo_clocks | clock accuracy (3-minute tolerance) | `text` (`""` for a face that cannot be read) |
| pixmo_docs | ANLS and exact match | the question's answer |
| pixmo_cap | CIDEr and ROUGE-L | `caption` |

pixmo-cap-qa and pixmo-ask-model-anything have open answers and no metric module here.

Outputs in `--output_dir`: `predictions.jsonl`, one line per example (`task`, `id`, `prompt`, `prediction`,
`target` (the training answer), `reference` and the fields its metric needs, such as `image_size`), and
`metrics.json`, `{task: {metric: value}}`; the table is printed.
"""

import importlib
import importlib.util
import json
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import torch

if __package__ in (None, ""):  # run as a script (`accelerate launch training/evaluate.py`)
    # The script's folder would shadow the `evaluate` library with this file: put the repository root there instead.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from pixmo.points import DEFAULT_STYLE, get_image_size  # noqa: E402
from pixmo.store import default_root  # noqa: E402
from pixmo.subsets import get_subset  # noqa: E402

logger = logging.getLogger("training.evaluate")

PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"


# -- what each subset is scored with ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scoring:
    """How the examples of one subset are scored.

    Args:
        conversation_tasks (`tuple[str, ...]`): the `Conversation.task`s that are evaluated (others are skipped).
        reference (`Callable[[dict, int], Any]`): `(row, index of the conversation in the row)` to the reference
            the metric takes, JSON-serialisable.
        fields (`Callable[[dict], dict]`, *optional*): more per-example inputs of the metric, from the row.
        compute_kwargs (`Callable[[list[dict]], dict]`, *optional*): the metric's keyword arguments from the records.
    """

    conversation_tasks: tuple
    reference: Callable[[dict, int], Any]
    fields: Callable[[dict], dict] = lambda row: {}
    compute_kwargs: Callable[[list[dict]], dict] = lambda records: {}


def _clock_reference(row: dict, index: int) -> str:
    from pixmo_clocks.format import reference_time

    return reference_time(row)


def _points_fields(row: dict) -> dict:
    fields = {"image_size": list(get_image_size(row["image"]))}
    if row.get("masks") is not None:
        fields["_masks"] = row["masks"]  # kept out of predictions.jsonl: a mask per object at image resolution
    return fields


def _points_kwargs(records: list[dict]) -> dict:
    kwargs = {"image_sizes": [tuple(r["image_size"]) for r in records]}
    if any("_masks" in r for r in records):
        kwargs["masks"] = [r.get("_masks") for r in records]
    return kwargs


SCORING = {
    # Counting rows of pixmo-points answer with their points too, so every row is scored by pointing.
    "pixmo_points": Scoring(
        ("pixmo_points/pointing", "pixmo_points/counting"), lambda row, i: row["points"], _points_fields, _points_kwargs
    ),
    "pixmo_count": Scoring(("pixmo_count/counting",), lambda row, i: int(row["count"])),
    "pixmo_clocks": Scoring(("pixmo_clocks/time",), _clock_reference),
    "pixmo_docs": Scoring(("pixmo_docs/qa",), lambda row, i: [row["questions"]["answer"][i].strip()]),
    "pixmo_cap": Scoring(
        ("pixmo_cap/caption",), lambda row, i: [row["caption"].strip()],
        compute_kwargs=lambda records: {"metrics": "cider,rouge_l"},
    ),
}


def get_scoring(package: str) -> Scoring:
    """The `Scoring` of a subset package, or a `ValueError` naming the subsets that have one."""
    if package not in SCORING:
        raise ValueError(
            f"expected a subset with a metric, one of {sorted(SCORING)}, got {package!r}: its answers are open text "
            "with no metric module in this project"
        )
    return SCORING[package]


def metric_path(package: str) -> str:
    """The file of a subset's metric module, for `evaluate.load`."""
    spec = importlib.util.find_spec(f"{package}.metrics")
    if spec is None or not spec.origin:
        raise FileNotFoundError(f"expected a metric module {package}/metrics.py, found none")
    return spec.origin


# -- tasks ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalTask:
    """One split of one built subset (and config) to evaluate.

    Args:
        name (`str`): `pixmo_points:validation`, `pixmo_docs/charts:validation`.
        package (`str`): the subset package, `pixmo_points`.
        split (`str`): the split.
        config (`str`, *optional*): the builder config (pixmo-docs: `charts`, `diagrams`, `tables`, `other`).
        path (`str`, *optional*): the built folder; `$PIXMO_HOME/built/<hub-name>` if unset.
    """

    name: str
    package: str
    split: str
    config: Optional[str] = None
    path: Optional[str] = None


def parse_data_paths(specs: Optional[list[str]]) -> dict[str, str]:
    """`["pixmo_docs=/data/pixmo-docs", ...]` as `{package: path}`."""
    paths = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        if not sep or not path:
            raise ValueError(f"expected --data NAME=PATH (pixmo_docs=/data/pixmo-docs), got {spec!r}")
        paths[get_subset(name).package] = path
    return paths


def parse_task(spec: str, data_root: Optional[str] = None, data_paths: Optional[dict[str, str]] = None) -> EvalTask:
    """An `EvalTask` from `<subset>[/<config>][:<split>]` (the split defaults to `validation`).

    Args:
        spec (`str`): `pixmo_points:validation`, `pixmo-docs/charts:validation`, `pixmo_clocks`.
        data_root (`str`, *optional*): the folder holding `<hub-name>/` built folders; `$PIXMO_HOME/built` if unset.
        data_paths (`dict[str, str]`, *optional*): a built folder per subset package, over `data_root`.
    """
    subset_spec, _, split = spec.partition(":")
    name, _, config = subset_spec.partition("/")
    subset = get_subset(name)
    get_scoring(subset.package)
    config = config or None
    split = split or "validation"
    path = (data_paths or {}).get(subset.package)
    if path is None:
        path = str(Path(data_root or default_root() / "built") / subset.hub_name)
    label = f"{subset.package}/{config}" if config else subset.package
    return EvalTask(f"{label}:{split}", subset.package, split, config, path)


# -- examples -------------------------------------------------------------------------------------------------


@dataclass
class TaskData:
    """The rows of a task's split and the examples made from them (records without predictions)."""

    task: EvalTask
    rows: Any  # datasets.Dataset, images decoded when read
    records: list[dict]


def load_task(
    task: EvalTask, style: str = DEFAULT_STYLE, seed: int = 0, max_examples: Optional[int] = None
) -> TaskData:
    """The examples of `task`: one per evaluated conversation of each row, in row order, up to `max_examples`.

    Every rank calls this and gets the same list; images are not decoded here (only their sizes are read).

    Args:
        task (`EvalTask`): the subset, split and built folder.
        style (`str`, *optional*, defaults to `"molmo2"`): the prompt and answer style trained.
        seed (`int`, *optional*, defaults to `0`): the prompt seed, as in training.
        max_examples (`int`, *optional*): the most examples (conversations, not rows).
    """
    import datasets

    from training.mixture import load_source

    rows = load_source(task.package, task.split, task.path, task.config).rows
    if "image" not in rows.column_names:
        raise ValueError(
            f"expected {task.path} to be built with images (an `image` column), got the columns {rows.column_names}: "
            f"build it with `pixmo build {task.package}` without --metadata-only"
        )
    formatter = importlib.import_module(f"{task.package}.format")
    scoring = get_scoring(task.package)
    undecoded = rows.cast_column("image", datasets.Image(decode=False))
    records = []
    for row_index in range(len(undecoded)):
        if max_examples is not None and len(records) >= max_examples:
            break
        row = undecoded[row_index]
        for index, conversation in enumerate(formatter.to_conversations(row, style=style, seed=seed)):
            if conversation.task not in scoring.conversation_tasks:
                continue
            prompt, target = conversation.turns[0]
            records.append({
                "task": task.name, "id": f"{task.name}/{row_index}/{index}", "prompt": prompt, "target": target,
                "reference": scoring.reference(row, index), **scoring.fields(row), "_row": row_index,
            })
    records = records[:max_examples] if max_examples is not None else records
    logger.info("%s: %d examples from %d rows of %s", task.name, len(records), len(rows), task.path)
    return TaskData(task, rows, records)


# -- generation -----------------------------------------------------------------------------------------------


def prompt_inputs(collator, images: list, prompts: list[str]) -> dict[str, torch.Tensor]:
    """Left-padded model inputs that ask `prompts` about `images`, tokenized as `MolmoCollator` tokenizes training.

    The training sequence is `prefix + user + generation + answer`, the prefix (BOS, the template's opening and the
    image tokens) from the processor and each text piece tokenized on its own; generation continues after
    `generation`, so the model sees its prompts exactly as it was trained on them.
    """
    layout, tokenizer = collator.layout, collator.tokenizer
    outputs = collator.processor(
        images=images, text=[layout.prefix] * len(images), return_tensors="pt", padding=True, **collator.images_kwargs
    )
    keep = outputs["attention_mask"].bool()
    user_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    generation_ids = tokenizer([layout.generation], add_special_tokens=False)["input_ids"][0]
    rows = []
    for ids, types, mask, user in zip(outputs["input_ids"], outputs["mm_token_type_ids"], keep, user_ids):
        tail = user + generation_ids
        rows.append((ids[mask].tolist() + tail, types[mask].tolist() + [0] * len(tail)))
    length = max(len(ids) for ids, _ in rows)
    pad = collator.pad_token_id
    batch = {
        "input_ids": torch.tensor([[pad] * (length - len(ids)) + ids for ids, _ in rows]),
        "attention_mask": torch.tensor([[0] * (length - len(ids)) + [1] * len(ids) for ids, _ in rows]),
        "mm_token_type_ids": torch.tensor([[0] * (length - len(types)) + types for _, types in rows]),
    }
    batch.update({k: v for k, v in outputs.items() if k not in batch})
    return batch


@torch.no_grad()
def generate_answers(model, collator, images: list, prompts: list[str], max_new_tokens: int = 64) -> list[str]:
    """Greedy answers of `model` to `prompts` about `images`, one batch, special tokens removed."""
    inputs = prompt_inputs(collator, images, prompts)
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    tokenizer = collator.tokenizer
    sequences = model.generate(
        **inputs, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
        pad_token_id=collator.pad_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    new_tokens = sequences[:, inputs["input_ids"].shape[1] :]
    return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


def predict(model, collator, data: dict[str, TaskData], records: list[dict], batch_size: int = 8,
            max_new_tokens: int = 64, show_progress: bool = True) -> list[dict]:
    """`records` (of the tasks in `data`) with their `prediction`, generated in batches."""
    from tqdm.auto import tqdm

    predicted = []
    batches = range(0, len(records), batch_size)
    for start in tqdm(batches, desc="generating", disable=not show_progress or not records):
        batch = records[start : start + batch_size]
        images = [_rgb(data[r["task"]].rows[r["_row"]]["image"]) for r in batch]
        answers = generate_answers(model, collator, images, [r["prompt"] for r in batch], max_new_tokens)
        predicted += [{**record, "prediction": answer} for record, answer in zip(batch, answers)]
    return predicted


def _rgb(image):
    return image.convert("RGB") if image.mode != "RGB" else image


# -- scoring --------------------------------------------------------------------------------------------------


def _package_of(task_name: str) -> str:
    return get_subset(task_name.split(":")[0].split("/")[0]).package


def score_records(records: list[dict], metric_modules: Optional[dict] = None) -> dict[str, dict]:
    """Every task's metrics from its records (`task`, `prediction`, `reference` and the metric's fields).

    Args:
        records (`list[dict]`): predicted records, of one or several tasks (as in `predictions.jsonl`).
        metric_modules (`dict`, *optional*): loaded metrics by package, reused across calls.

    Returns:
        `dict[str, dict]`: per task, the metric's results and `examples` (how many were scored).
    """
    import evaluate

    metric_modules = {} if metric_modules is None else metric_modules
    by_task: dict[str, list[dict]] = {}
    for record in records:
        by_task.setdefault(record["task"], []).append(record)
    results = {}
    for task_name, task_records in by_task.items():
        package = _package_of(task_name)
        if package not in metric_modules:
            metric_modules[package] = evaluate.load(metric_path(package))
        scores = metric_modules[package].compute(
            predictions=[r["prediction"] for r in task_records],
            references=[r["reference"] for r in task_records],
            **get_scoring(package).compute_kwargs(task_records),
        )
        results[task_name] = {"examples": len(task_records), **scores}
    return results


def flatten_metrics(metrics: dict[str, dict], prefix: str = "") -> dict[str, float]:
    """The numbers of `{task: {metric: value}}` as `{prefix + "task/metric": value}`; nested dicts joined by `/`."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, prefix=f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def format_table(metrics: dict[str, dict]) -> str:
    """A plain-text table: one line per task and metric."""
    lines = [f"{'task':<32} {'metric':<28} {'value':>10}"]
    for task_name, values in metrics.items():
        for metric, value in flatten_metrics(values).items():
            shown = f"{value:>10.0f}" if metric == "examples" else f"{value:>10.4f}"
            lines.append(f"{task_name:<32} {metric:<28} {shown}")
    return "\n".join(lines)


# -- the whole evaluation -------------------------------------------------------------------------------------


def evaluate_tasks(
    model,
    collator,
    data: dict[str, TaskData],
    batch_size: int = 8,
    max_new_tokens: int = 64,
    samples: Optional[dict[str, list[int]]] = None,
    metric_modules: Optional[dict] = None,
) -> tuple[dict[str, dict], list[dict]]:
    """Generate on this rank's shard of every task's examples, gather them and score them on the main process.

    Call it on every rank at once (it gathers across processes); each example is generated by exactly one rank.

    Args:
        model (`Molmo2ForConditionalGeneration`): the model, on this rank's device (not wrapped for DDP).
        collator (`MolmoCollator`): the training collator, whose prompt layout and tokenization are reused.
        data (`dict[str, TaskData]`): the tasks by name, from `load_task`.
        batch_size (`int`, *optional*, defaults to `8`): examples generated at once on one rank.
        max_new_tokens (`int`, *optional*, defaults to `64`): the longest answer.
        samples (`dict[str, list[int]]`, *optional*): per task, the indices of the records to evaluate (all if unset).
        metric_modules (`dict`, *optional*): loaded metrics by package, reused across calls.

    Returns:
        `tuple[dict, list[dict]]`: on the main process the metrics per task and every predicted record in task
        and example order; on the other ranks `({}, [])`.
    """
    from accelerate import PartialState
    from accelerate.utils import gather_object

    state = PartialState()
    records = []
    for name, task_data in data.items():
        indices = samples[name] if samples and name in samples else range(len(task_data.records))
        records += [task_data.records[i] for i in indices]
    with state.split_between_processes(records) as shard:
        shard = [{**record, "rank": state.process_index} for record in shard]
    was_training = model.training
    model.eval()
    try:
        predicted = predict(model, collator, data, shard, batch_size, max_new_tokens,
                            show_progress=state.is_local_main_process)
    finally:
        model.train(was_training)
    gathered = gather_object(predicted) if state.num_processes > 1 else predicted
    if not state.is_main_process:
        return {}, []
    order = {record["id"]: i for i, record in enumerate(records)}
    gathered = sorted(gathered, key=lambda r: order[r["id"]])
    return score_records(gathered, metric_modules), gathered


def write_results(output_dir, metrics: dict[str, dict], records: list[dict]) -> Path:
    """Write `predictions.jsonl` (fields starting with `_` left out) and `metrics.json` into `output_dir`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / PREDICTIONS_FILE, "w") as handle:
        for record in records:
            public = {k: v for k, v in record.items() if not k.startswith("_")}
            handle.write(json.dumps(public, ensure_ascii=False) + "\n")
    (output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True, default=_jsonable) + "\n")
    return output_dir


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


# -- command line ---------------------------------------------------------------------------------------------


@dataclass
class EvalArguments:
    model: str = field(
        default="allenai/Molmo2-4B",
        metadata={"help": "a Molmo2 checkpoint on the Hub or a local folder (`pixmo make-tiny-model DIR`, a run)"},
    )
    task: list[str] = field(
        default_factory=list,
        metadata={"help": "`<subset>[/<config>]:<split>` to evaluate, repeatable: --task pixmo_points:validation "
                  "--task pixmo_docs/charts:validation"},
    )
    data_root: Optional[str] = field(
        default=None, metadata={"help": "folder holding built `<hub-name>/` folders (default $PIXMO_HOME/built)",
                                "aliases": ["--data-root"]},
    )
    data: list[str] = field(
        default_factory=list, metadata={"help": "a built folder per subset, NAME=PATH (pixmo_docs=/data/docs)"}
    )
    output_dir: str = field(default="eval_results", metadata={"help": "where predictions.jsonl and metrics.json go"})
    style: str = field(
        default=DEFAULT_STYLE, metadata={"help": "the prompt and answer style trained: molmo2, molmo or plain"}
    )
    seed: int = field(default=0, metadata={"help": "the prompt seed (the wording of each prompt)"})
    max_examples: Optional[int] = field(default=None, metadata={"help": "evaluate at most this many examples per task"})
    max_new_tokens: int = field(default=64, metadata={"help": "the longest answer in tokens"})
    batch_size: int = field(default=8, metadata={"help": "examples generated at once on each process"})
    dtype: str = field(default="float32", metadata={"help": "weights dtype: float32, bfloat16, float16 or auto"})
    max_crops: Optional[int] = field(default=None, metadata={"help": "the most high-resolution crops per image"})
    use_cpu: bool = field(
        default=False, metadata={"help": "run on the CPU (also chosen when no accelerator is present; several "
                                 "processes then talk over gloo)"},
    )


def parse_arguments(argv=None) -> EvalArguments:
    """`EvalArguments` from the command line; `--task` and `--data` may be repeated."""
    import argparse

    from transformers import HfArgumentParser

    repeated = argparse.ArgumentParser(add_help=False)
    for option in ("--task", "--data"):
        repeated.add_argument(option, action="extend", nargs="+", default=[])
    known, rest = repeated.parse_known_args(argv)
    parser = HfArgumentParser(EvalArguments, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    (args,) = parser.parse_args_into_dataclasses(rest)
    args.task, args.data = known.task, known.data
    if not args.task:
        parser.error("expected at least one --task, such as --task pixmo_points:validation")
    return args


def load_eval_model(args: EvalArguments):
    """The model (on this process's device, in eval mode) and the collator whose prompt layout it was trained on."""
    from accelerate import PartialState

    from training.collator import MolmoCollator
    from training.config import ModelArguments
    from training.model import load_model

    model, processor = load_model(ModelArguments(model_name_or_path=args.model, dtype=args.dtype))
    model.to(PartialState().device).eval()
    collator = MolmoCollator(processor, model.config.text_config.vocab_size, max_crops=args.max_crops)
    return model, collator


def main(argv=None) -> dict[str, dict]:
    args = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from accelerate import PartialState

    # Without `cpu=True` a CPU-only launch of several processes leaves each one alone, evaluating everything.
    state = PartialState(cpu=args.use_cpu or not torch.accelerator.is_available())

    # -- model ---------------------------------------------------------------------------------------
    model, collator = load_eval_model(args)

    # -- data ----------------------------------------------------------------------------------------
    paths = parse_data_paths(args.data)
    tasks = [parse_task(spec, args.data_root, paths) for spec in args.task]
    data = {task.name: load_task(task, args.style, args.seed, args.max_examples) for task in tasks}

    # -- evaluation ----------------------------------------------------------------------------------
    metrics, records = evaluate_tasks(model, collator, data, args.batch_size, args.max_new_tokens)

    # -- save ----------------------------------------------------------------------------------------
    if state.is_main_process:
        folder = write_results(args.output_dir, metrics, records)
        print(format_table(metrics))
        print(f"\n{len(records)} predictions and the metrics written to {folder}")
    state.wait_for_everyone()
    return metrics


if __name__ == "__main__":
    main()

"""Fine-tune a Molmo2 model on PixMo with transformers' Trainer.

Launch (the recipe gives every default; the command line overrides it):

    # one GPU
    accelerate launch --config_file training/accelerate_single_gpu.yaml training/train.py \\
        --recipe training/recipes/multitask.yaml --model allenai/Molmo2-4B --output_dir runs/multitask

    # several GPUs on one node, data parallel (DDP)
    accelerate launch --config_file training/accelerate_ddp.yaml --num_processes 8 training/train.py \\
        --recipe training/recipes/multitask.yaml --output_dir runs/multitask

    # several GPUs, sharded weights (FSDP), for checkpoints that do not fit one GPU with their optimizer
    accelerate launch --config_file training/accelerate_fsdp.yaml --num_processes 8 training/train.py \\
        --recipe training/recipes/multitask.yaml --output_dir runs/multitask --bf16

    # resume exactly where a run stopped (weights, optimizer, scheduler, data order)
    accelerate launch ... training/train.py --recipe ... --output_dir runs/multitask \\
        --resume_from_checkpoint runs/multitask/checkpoint-2000

    # CPU, two ranks over gloo (`--multi_gpu` is what starts two processes; without it accelerate runs one)
    pixmo make-tiny-model runs/tiny
    accelerate launch --multi_gpu --num_processes 2 training/train.py \\
        --recipe training/recipes/multitask.yaml --model runs/tiny --use_cpu --output_dir runs/tiny-ddp

Run on this project's CPU machine (2 cores, no GPU): the tiny model (`pixmo make-tiny-model`), in process and
with two gloo ranks, by tests/training/. The GPU commands have not been run here.

Options users reach for: `--freeze_vision_tower`, `--use_lora` (peft; `--lora_r`, `--lora_alpha`),
`--bf16`, `--gradient_checkpointing`, `--max_crops N` (high-resolution crops per image), `--max_length`.
Every checkpoint holds `recipe.yaml` and `run_config.json` (all arguments) beside the weights.
"""

import argparse
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Callable, Optional

from transformers import HfArgumentParser, TrainingArguments

if __package__ in (None, ""):  # run as a script (`accelerate launch training/train.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.collator import FormattedDataset, MolmoCollator  # noqa: E402
from training.config import DataArguments, ModelArguments, load_recipe, recipe_defaults, save_run_config  # noqa: E402
from training.eval_callback import EvalDuringTrainingArguments, GenerationEvalCallback  # noqa: E402
from training.model import load_model  # noqa: E402
from training.trainer import MolmoTrainer, SaveRunConfigCallback  # noqa: E402

logger = logging.getLogger("training.train")

# What the collator's batches need from Trainer; a recipe or the command line may still change them.
SCRIPT_DEFAULTS = {
    "remove_unused_columns": False,
    "train_sampling_strategy": "group_by_length",
    "label_names": ["labels"],
    "report_to": "none",
    "logging_steps": 10,
    "save_strategy": "steps",
    "save_steps": 500,
    "output_dir": "runs/molmo2",
}


def parse_arguments(argv=None):
    """`(ModelArguments, DataArguments, TrainingArguments, EvalDuringTrainingArguments, recipe)` from `--recipe FILE`
    and the command line (the evaluation options may stand in the recipe's training section)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--recipe", help="YAML recipe with model, data and training sections")
    known, rest = pre.parse_known_args(argv)
    recipe = load_recipe(known.recipe) if known.recipe else {"model": {}, "data": {}, "training": {}}
    types = (ModelArguments, DataArguments, TrainingArguments, EvalDuringTrainingArguments)
    parser = HfArgumentParser(types, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", help="YAML recipe with model, data and training sections")
    sections = (ModelArguments, DataArguments, (TrainingArguments, EvalDuringTrainingArguments))
    parser.set_defaults(**{**SCRIPT_DEFAULTS, **recipe_defaults(recipe, sections)})
    model_args, data_args, training_args, eval_args, _ = parser.parse_args_into_dataclasses(argv)
    data_args.recipe = recipe["data"]
    return model_args, data_args, training_args, eval_args, recipe


def resolve_function(spec: str) -> Callable:
    """The function named by `module:function` or `path/to/file.py:function`."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"expected 'module:function' or 'file.py:function', got {spec!r}")
    if target.endswith(".py"):
        module_spec = importlib.util.spec_from_file_location(Path(target).stem, target)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name)


def build_train_dataset(data_args: DataArguments, collator: MolmoCollator) -> FormattedDataset:
    """The training examples: `data_args.data_builder(data_args, "train")`, measured and filtered by the collator."""
    examples = resolve_function(data_args.data_builder)(data_args, "train")
    if data_args.max_train_examples is not None:
        examples = [example for _, example in zip(range(data_args.max_train_examples), examples)]
    dataset = FormattedDataset(examples, collator, measure=data_args.measure_lengths)
    logger.info("training on %d examples (%d left out as too long)", len(dataset), dataset.skipped)
    return dataset


def main(argv=None, build_dataset: Optional[Callable] = None) -> MolmoTrainer:
    """Train as the command line and the recipe say; `build_dataset(data_args, collator)` replaces the data."""
    model_args, data_args, training_args, eval_args, recipe = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    # -- model ---------------------------------------------------------------------------------------
    model, processor = load_model(model_args)

    # -- data ----------------------------------------------------------------------------------------
    collator = MolmoCollator(
        processor, model.config.text_config.vocab_size, max_length=data_args.max_length,
        max_crops=model_args.max_crops,
    )
    train_dataset = (build_dataset or build_train_dataset)(data_args, collator)

    # -- training ------------------------------------------------------------------------------------
    trainer = MolmoTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        data_collator=collator,
        processing_class=processor,
        callbacks=[SaveRunConfigCallback(recipe, model_args, data_args, training_args, eval_args)],
    )
    if eval_args.eval_tasks:  # generation metrics on a fixed sample at each evaluation step
        trainer.add_callback(GenerationEvalCallback.from_arguments(
            trainer, eval_args, style=data_args.recipe.get("style", "molmo2"), seed=int(data_args.recipe.get("seed", 0))
        ))
    resume = training_args.resume_from_checkpoint
    trainer.train(resume_from_checkpoint=True if resume in ("last", "true", "True") else resume)

    # -- save ----------------------------------------------------------------------------------------
    trainer.save_model()
    if trainer.is_world_process_zero():
        save_run_config(training_args.output_dir, recipe, model_args, data_args, training_args, eval_args)
        logger.info("collated: %s", dict(collator.stats))
    return trainer


if __name__ == "__main__":
    main()

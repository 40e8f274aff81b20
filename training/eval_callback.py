"""Generation metrics during training: the metrics of `training/evaluate.py` on a fixed sample of each task.

At every evaluation step the model answers a sample of each task's examples (the same sample every time, so the
numbers are comparable along the run), the answers are scored by the subset's metric, and the results are logged
through the Trainer as `eval/<task>/<metric>` (`eval/pixmo_points:validation/f1`), beside the loss.

    accelerate launch training/train.py --recipe training/recipes/multitask.yaml --output_dir runs/multitask \\
        --eval_tasks pixmo_points:validation,pixmo_count:validation --eval_samples 64 --eval_steps 500

The evaluation steps are `--eval_steps` (every `--logging_steps` if unset) and the last step. The Trainer's own
`--eval_strategy` is left at `no`: it needs an `eval_dataset` of losses, which this does not use. With several
processes each rank generates a disjoint part of the sample and every rank logs the same numbers. The model is
used unwrapped (DDP is fine; FSDP, whose ranks each hold a part of the weights, is not supported).
"""

import logging
import random
from dataclasses import dataclass, field
from typing import Optional

from transformers import TrainerCallback

from pixmo.points import DEFAULT_STYLE

from .evaluate import TaskData, evaluate_tasks, flatten_metrics, load_task, parse_data_paths, parse_task

logger = logging.getLogger(__name__)


@dataclass
class EvalDuringTrainingArguments:
    eval_tasks: Optional[str] = field(
        default=None,
        metadata={"help": "comma-separated `<subset>[/<config>]:<split>` tasks scored at each evaluation step, "
                  "such as pixmo_points:validation,pixmo_count:validation"},
    )
    eval_samples: int = field(default=64, metadata={"help": "examples of each task scored at each evaluation step"})
    eval_max_new_tokens: int = field(default=64, metadata={"help": "the longest answer generated in evaluation"})
    eval_data_root: Optional[str] = field(
        default=None, metadata={"help": "folder holding built `<hub-name>/` folders (default $PIXMO_HOME/built)"}
    )
    eval_data: Optional[str] = field(
        default=None, metadata={"help": "comma-separated built folders per subset, NAME=PATH (pixmo_docs=/data/docs)"}
    )


def _split_list(text: Optional[str]) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class GenerationEvalCallback(TrainerCallback):
    """Scores generated answers on a fixed sample of each task at each evaluation step.

    Args:
        tasks (`list[str]`): `<subset>[/<config>]:<split>` specs (see `training.evaluate.parse_task`).
        collator (`MolmoCollator`): the training collator; its prompt layout and tokenization are reused.
        samples (`int`, *optional*, defaults to `64`): examples per task; a sample drawn once with `seed`.
        batch_size (`int`, *optional*, defaults to `8`): examples generated at once on one process.
        max_new_tokens (`int`, *optional*, defaults to `64`): the longest answer.
        style (`str`, *optional*, defaults to `"molmo2"`): the prompt and answer style trained.
        seed (`int`, *optional*, defaults to `0`): the seed of the prompts and of the sample.
        data_root (`str`, *optional*): the folder holding built `<hub-name>/` folders.
        data_paths (`dict[str, str]`, *optional*): a built folder per subset package.
        trainer (`Trainer`, *optional*): where the metrics are logged (`trainer.log`); only the module logger if unset.
    """

    def __init__(self, tasks: list[str], collator, samples: int = 64, batch_size: int = 8, max_new_tokens: int = 64,
                 style: str = DEFAULT_STYLE, seed: int = 0, data_root: Optional[str] = None,
                 data_paths: Optional[dict[str, str]] = None, trainer=None):
        if not tasks:
            raise ValueError("expected at least one evaluation task, such as pixmo_points:validation; got none")
        if samples < 1:
            raise ValueError(f"expected eval samples of at least 1, got {samples}")
        self.tasks = [parse_task(spec, data_root, data_paths) for spec in tasks]
        self.collator = collator
        self.samples = samples
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.style = style
        self.seed = seed
        self.trainer = trainer
        self.history: list[tuple[int, dict[str, float]]] = []
        self._data: Optional[dict[str, TaskData]] = None
        self._sample: dict[str, list[int]] = {}
        self._metric_modules: dict = {}

    @classmethod
    def from_arguments(cls, trainer, args: EvalDuringTrainingArguments, style: str = DEFAULT_STYLE,
                       seed: int = 0) -> "GenerationEvalCallback":
        """The callback for `trainer` (its collator, its eval batch size), logging through it."""
        return cls(
            _split_list(args.eval_tasks), trainer.data_collator, samples=args.eval_samples,
            batch_size=trainer.args.per_device_eval_batch_size, max_new_tokens=args.eval_max_new_tokens,
            style=style, seed=seed, data_root=args.eval_data_root,
            data_paths=parse_data_paths(_split_list(args.eval_data)), trainer=trainer,
        )

    def load(self) -> dict[str, TaskData]:
        """Every task's examples and the fixed sample of each (read once, on first use)."""
        if self._data is None:
            self._data = {task.name: load_task(task, self.style, self.seed) for task in self.tasks}
            for name, data in self._data.items():
                count = len(data.records)
                if count == 0:
                    raise ValueError(f"expected examples to evaluate in {name} ({data.task.path}), found none")
                picked = random.Random(f"{self.seed}/{name}").sample(range(count), min(self.samples, count))
                self._sample[name] = sorted(picked)
        return self._data

    def evaluate(self, model) -> dict[str, float]:
        """Generate, score and return `{"eval/<task>/<metric>": value}`, the same on every process."""
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list

        data = self.load()
        metrics, _ = evaluate_tasks(model, self.collator, data, self.batch_size, self.max_new_tokens,
                                    samples=self._sample, metric_modules=self._metric_modules)
        state = PartialState()
        if state.num_processes > 1:
            metrics = broadcast_object_list([metrics], from_process=0)[0]
        return flatten_metrics(metrics, prefix="eval/")

    @staticmethod
    def is_evaluation_step(args, state) -> bool:
        """Every `eval_steps` (else every `logging_steps`) and at the last step."""
        interval = state.eval_steps if args.eval_steps is not None else state.logging_steps
        step = state.global_step
        return step > 0 and ((interval and step % interval == 0) or step >= state.max_steps)

    def on_train_begin(self, args, state, control, **kwargs):
        self.load()

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if not self.is_evaluation_step(args, state) or model is None:
            return
        scores = self.evaluate(model)
        self.history.append((state.global_step, scores))
        if self.trainer is not None:
            self.trainer.log(scores)
        else:
            logger.info("step %d: %s", state.global_step, scores)

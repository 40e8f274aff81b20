"""`MolmoTrainer`: Trainer with the collator's weighted loss, length-grouped batches and an exact resume.

Why resuming needs its own loader (transformers 5.24): `save_pretrained`, which writes every Trainer checkpoint,
reverts the weight conversion of `conversion_mapping.py` and stores Molmo2 in its original key layout
(`transformer.blocks.0.att_proj.weight`, the fused `att_proj` and `ff_proj`, `wte.embedding` and
`wte.new_embedding` split apart, ...). `Trainer._load_from_checkpoint` then reads that file with
`model.load_state_dict(state_dict, False)`: not one key matches, nothing is loaded, and the only sign is a
warning about missing and unexpected keys, so the run continues from the freshly initialised weights with the
checkpoint's optimizer state. Here the checkpoint is converted forward with the same conversion mapping that
`from_pretrained` applies (on a meta-device copy of the model, so no second set of weights is allocated) and
loaded with `strict=True`; a key that still does not match is an error.
"""

import json
import logging
import os
from typing import Optional

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_utils import _is_peft_model
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, WEIGHTS_NAME

from .collator import loss_weighted, to_model_inputs
from .config import save_run_config

logger = logging.getLogger(__name__)


class LengthGroupedSampler(torch.utils.data.Sampler):
    """Batches of similar lengths in random order, the same on every rank and after a resume.

    Indices are shuffled, cut into groups of `mega_batch` batches, sorted by length inside each group and cut
    into batches; the full batches are then shuffled, the longest first (a batch too large for memory fails at
    once), and a last partial batch stays last so every batch the data loader cuts is one of these. The order
    depends only on `seed` and the epoch (set by the Trainer through `set_epoch`), not on the global random
    state, so a resumed run sees the batches the uninterrupted run saw.

    Args:
        lengths (`list[int]`): the token count of every example.
        batch_size (`int`): examples per batch of one rank.
        seed (`int`, *optional*, defaults to `0`): the seed of the shuffling.
        mega_batch (`int`, *optional*, defaults to `50`): batches sorted together; more wastes less padding
            and mixes lengths less across steps.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, mega_batch: int = 50):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.mega_batch = mega_batch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        group = self.batch_size * self.mega_batch
        batches = []
        for start in range(0, len(order), group):
            ranked = sorted(order[start : start + group], key=lambda i: self.lengths[i], reverse=True)
            batches += [ranked[i : i + self.batch_size] for i in range(0, len(ranked), self.batch_size)]
        full = [batch for batch in batches if len(batch) == self.batch_size]
        partial = [batch for batch in batches if len(batch) < self.batch_size]
        full = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
        if full:
            longest = max(range(len(full)), key=lambda b: self.lengths[full[b][0]])
            full[0], full[longest] = full[longest], full[0]
        return iter([index for batch in full + partial for index in batch])


class SaveRunConfigCallback(TrainerCallback):
    """Writes the recipe and the full configuration beside every checkpoint."""

    def __init__(self, recipe: dict, *arguments):
        self.recipe = recipe
        self.arguments = arguments

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            save_run_config(folder, self.recipe, *self.arguments)


class MolmoTrainer(Trainer):
    """Trainer for batches of `training.collator.MolmoCollator`."""

    loss_is_scaled_for_ga = False  # `compute_loss` returns the weighted mean of one micro-batch

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or not hasattr(dataset, "lengths"):
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        if dataset.lengths is None:
            logger.warning("the examples were not measured (--measure_lengths false): random batches")
            return torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
        return LengthGroupedSampler(dataset.lengths, self.args.per_device_train_batch_size, seed=seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**to_model_inputs(inputs))
        loss = loss_weighted(outputs.logits, inputs["labels"], inputs["loss_weights"])
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: Optional[float] = None) -> None:
        stats = getattr(self.data_collator, "stats", None)
        if stats and "loss" in logs:
            for key in ("skipped_examples", "dropped_conversations"):
                logs[key] = stats.get(key, 0)
        super().log(logs, start_time)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        model = self.model if model is None else model
        if self.is_fsdp_enabled or self.is_deepspeed_enabled or _is_peft_model(model):
            # FSDP and DeepSpeed keep their own state; peft saves its adapters in its own (unconverted) layout.
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        logger.info("loading the weights of %s (converting the saved key layout)", resume_from_checkpoint)
        load_checkpoint_weights(model, resume_from_checkpoint)


def read_state_dict(folder: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint folder as saved (one safetensors file, a sharded index, or `pytorch_model.bin`)."""
    import safetensors.torch

    single, index = os.path.join(folder, SAFE_WEIGHTS_NAME), os.path.join(folder, SAFE_WEIGHTS_INDEX_NAME)
    if os.path.isfile(single):
        return safetensors.torch.load_file(single, device="cpu")
    if os.path.isfile(index):
        with open(index) as handle:
            shards = sorted(set(json.load(handle)["weight_map"].values()))
        state_dict = {}
        for shard in shards:
            state_dict.update(safetensors.torch.load_file(os.path.join(folder, shard), device="cpu"))
        return state_dict
    if os.path.isfile(os.path.join(folder, WEIGHTS_NAME)):
        return torch.load(os.path.join(folder, WEIGHTS_NAME), map_location="cpu", weights_only=True)
    raise FileNotFoundError(
        f"expected {SAFE_WEIGHTS_NAME}, {SAFE_WEIGHTS_INDEX_NAME} or {WEIGHTS_NAME} in {folder}; is it a Trainer "
        "checkpoint (checkpoint-N)?"
    )


def convert_state_dict(model, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state_dict` in the key layout of `model`, converted as `from_pretrained` converts it.

    Raises:
        `ValueError`: a parameter of the model missing from the checkpoint, a checkpoint tensor that matches no
            parameter, or a shape that differs.
    """
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import convert_and_load_state_dict_in_model
    from transformers.modeling_utils import LoadStateDictConfig

    with torch.device("meta"):
        shadow = type(model)(model.config)
    config = LoadStateDictConfig(weight_mapping=get_model_conversion_mapping(shadow), device_map={"": "cpu"})
    info, _ = convert_and_load_state_dict_in_model(shadow, dict(state_dict), config)
    problems = {
        "missing from the checkpoint": sorted(info.missing_keys),
        "in the checkpoint but not in the model": sorted(info.unexpected_keys),
        "of another shape": sorted(str(key) for key in info.mismatched_keys),
        "failed to convert": sorted(info.conversion_errors),
    }
    problems = {what: keys for what, keys in problems.items() if keys}
    if problems:
        details = "; ".join(f"{len(keys)} {what} (first: {keys[:3]})" for what, keys in problems.items())
        raise ValueError(f"the checkpoint does not match the model: {details}. Resume with the same model.")
    return shadow.state_dict()


def load_checkpoint_weights(model, folder: str) -> None:
    """Load the weights of a Trainer checkpoint into `model` in place, strictly (optimizer references stay valid)."""
    converted = convert_state_dict(model, read_state_dict(folder))
    model.load_state_dict(converted, strict=True)

"""Load any Molmo2 checkpoint through the Auto classes and apply the training options (freezing, LoRA, dtype)."""

import logging

import torch

from .config import ModelArguments

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


def load_model(args: ModelArguments):
    """The model and processor of `args.model_name_or_path`, ready to train.

    The attention is `sdpa`: the collator's 4D boolean masks (conversations isolated over one image prefix) are
    what transformers' `sdpa` attention takes as they are.

    Args:
        args (`ModelArguments`): the checkpoint and the options.

    Returns:
        `tuple[PreTrainedModel, ProcessorMixin]`: the model (a `peft.PeftModel` with `use_lora`) and its processor.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(args.model_name_or_path)
    model = AutoModelForImageTextToText.from_pretrained(
        args.model_name_or_path, dtype=_DTYPES[args.dtype], attn_implementation="sdpa"
    )
    if getattr(model.config, "model_type", None) != "molmo2":
        raise ValueError(
            f"expected a Molmo2 checkpoint (model_type 'molmo2'), got {model.config.model_type!r} from "
            f"{args.model_name_or_path}; pass --model_name_or_path allenai/Molmo2-4B or a folder from "
            "`pixmo make-tiny-model`"
        )
    model = apply_options(model, args)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("loaded %s: %s parameters, %s trainable", args.model_name_or_path,
                f"{sum(p.numel() for p in model.parameters()):,}", f"{trainable:,}")
    return model, processor


def apply_options(model, args: ModelArguments):
    """Freeze what `args` asks and wrap the language model with LoRA adapters when `args.use_lora`."""
    base = model.model
    if args.freeze_vision_tower:
        base.vision_tower.requires_grad_(False)
    if args.freeze_adapter:
        base.multi_modal_projector.requires_grad_(False)
    if args.use_lora:
        model = _wrap_lora(model, args)
    return model


def _wrap_lora(model, args: ModelArguments):
    from peft import LoraConfig, get_peft_model

    names = "|".join(name.strip() for name in args.lora_target_modules.split(",") if name.strip())
    trained_whole = [
        name for name, frozen in (("vision_tower", args.freeze_vision_tower),
                                  ("multi_modal_projector", args.freeze_adapter)) if not frozen
    ]
    config = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        # Only the language model's layers: the vision tower has projections of the same names.
        target_modules=rf".*language_model\.layers\.\d+\..*\.({names})",
        modules_to_save=trained_whole or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)

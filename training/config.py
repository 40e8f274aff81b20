"""The configuration of a training run: dataclasses parsed by `HfArgumentParser`, with defaults from a YAML recipe.

A recipe is a YAML file with up to three sections, `model`, `data` and `training`, whose keys are the fields
of `ModelArguments`, `DataArguments` and `transformers.TrainingArguments`. The command line overrides the
recipe. Keys of `data` that are not `DataArguments` fields (the mixture: datasets, rates, styles) are kept in
`DataArguments.recipe` for the data builder.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, get_args

import yaml

Dtype = Literal["float32", "bfloat16", "float16", "auto"]
RECIPE_SECTIONS = ("model", "data", "training")


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        default="allenai/Molmo2-4B",
        metadata={
            "help": "a Molmo2 checkpoint on the Hub or a local folder (`pixmo make-tiny-model DIR` makes one)",
            "aliases": ["--model"],
        },
    )
    dtype: Dtype = field(
        default="float32",
        metadata={"help": "weights dtype: float32, bfloat16, float16 or auto (the checkpoint's); for mixed "
                  "precision keep float32 here and pass --bf16"},
    )
    freeze_vision_tower: bool = field(default=False, metadata={"help": "do not train the vision tower"})
    freeze_adapter: bool = field(default=False, metadata={"help": "do not train the vision-language adapter"})
    use_lora: bool = field(default=False, metadata={"help": "train LoRA adapters on the language model (peft)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(
        default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
        metadata={"help": "comma-separated names of the language model's linear layers that get LoRA adapters"},
    )
    max_crops: Optional[int] = field(
        default=None, metadata={"help": "the most high-resolution crops per image (the processor's default if unset)"}
    )

    def __post_init__(self):
        allowed = get_args(Dtype)
        if self.dtype not in allowed:
            raise ValueError(f"dtype must be one of {allowed}, got {self.dtype!r}")


@dataclass
class DataArguments:
    data_builder: str = field(
        default="training.mixture:build_mixture",
        metadata={"help": "`module:function` that takes (DataArguments, split) and returns FormattedExamples"},
    )
    max_length: int = field(
        default=2048,
        metadata={"help": "the most tokens of one sequence; never cut through an image: over-long examples drop "
                  "trailing conversations or are skipped, and both are counted"},
    )
    measure_lengths: bool = field(
        default=True,
        metadata={"help": "measure every example once before training (it reads every image) for length-grouped "
                  "batches with little padding; --measure_lengths false gives random batches instead"},
    )
    max_train_examples: Optional[int] = field(default=None, metadata={"help": "use at most this many examples"})
    recipe: dict = field(default_factory=dict, init=False, metadata={"help": "the recipe's data section"})


def load_recipe(path) -> dict[str, dict[str, Any]]:
    """A recipe's sections (`model`, `data`, `training`) as dictionaries.

    Args:
        path (`str` or `os.PathLike`): the YAML file.
    """
    raw = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(raw) - set(RECIPE_SECTIONS)
    if unknown:
        raise ValueError(f"a recipe has the sections {RECIPE_SECTIONS}, got also {sorted(unknown)} in {path}")
    return {section: dict(raw.get(section) or {}) for section in RECIPE_SECTIONS}


def recipe_defaults(recipe: dict[str, dict], dataclass_types) -> dict[str, Any]:
    """Parser defaults from a recipe: the keys of each section that its dataclass declares.

    Args:
        recipe (`dict`): the sections of `load_recipe`.
        dataclass_types (`tuple`): the dataclasses of the `model`, `data` and `training` sections, in that order;
            a section read by several dataclasses gives a tuple of them.
    """
    defaults = {}
    for section, classes in zip(RECIPE_SECTIONS, dataclass_types):
        classes = classes if isinstance(classes, tuple) else (classes,)
        known = {f.name for cls in classes for f in dataclasses.fields(cls) if f.init}
        for key, value in recipe[section].items():
            if key in known:
                defaults[key] = value
            elif section != "data":  # the data section also holds the mixture, read by the data builder
                raise ValueError(f"unknown key {key!r} in the recipe's {section} section; known: {sorted(known)}")
    return defaults


def save_run_config(folder, recipe: dict, *arguments) -> None:
    """Write the recipe (`recipe.yaml`) and every parsed argument (`run_config.json`) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    config = {type(args).__name__: _jsonable(args) for args in arguments}
    (folder / "run_config.json").write_text(json.dumps(config, indent=2, sort_keys=True, default=str) + "\n")


def _jsonable(args) -> dict:
    if hasattr(args, "to_dict"):
        return args.to_dict()
    return dataclasses.asdict(args)

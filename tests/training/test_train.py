import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from training.collator import FormattedDataset
from training.tiny_model import make_square_examples
from training.train import main

pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return tiny_model_dir


def squares(data_args, collator):
    return FormattedDataset(make_square_examples(48, seed=2), collator)


def train(tiny, out, *extra, build_dataset=squares):
    argv = ["--model", str(tiny), "--output_dir", str(out), "--use_cpu", "--per_device_train_batch_size", "8",
            "--learning_rate", "2e-3", "--logging_steps", "1", "--save_steps", "4", "--max_length", "256", *extra]
    return main(argv, build_dataset=build_dataset)


def losses(trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_training_changes_the_weights_and_lowers_the_loss(tiny, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "model": {"freeze_vision_tower": False},
        "data": {"max_length": 256, "mixture": [{"dataset": "squares", "rate": 1.0}]},
        "training": {"max_steps": 8, "warmup_steps": 1, "seed": 7},
    }))
    before = load_file(tiny / "model.safetensors")
    trainer = train(tiny, tmp_path / "run", "--recipe", str(recipe))
    history = losses(trainer)
    assert len(history) == 8
    assert sum(history[-3:]) / 3 < history[0] - 0.5, history
    after = load_file(tmp_path / "run" / "model.safetensors")
    assert before.keys() == after.keys()
    changed = [key for key in before if not torch.equal(before[key], after[key])]
    assert len(changed) == len(before), set(before) - set(changed)
    # the recipe and the full configuration sit beside every checkpoint
    checkpoint = tmp_path / "run" / "checkpoint-4"
    assert yaml.safe_load((checkpoint / "recipe.yaml").read_text())["training"]["seed"] == 7
    config = json.loads((checkpoint / "run_config.json").read_text())
    assert config["TrainingArguments"]["max_steps"] == 8 and config["TrainingArguments"]["seed"] == 7
    assert config["ModelArguments"]["model_name_or_path"] == str(tiny)
    assert config["DataArguments"]["recipe"]["mixture"][0]["dataset"] == "squares"


def test_the_command_line_overrides_the_recipe(tiny, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"training": {"max_steps": 50, "learning_rate": 1.0}}))
    trainer = train(tiny, tmp_path / "run", "--recipe", str(recipe), "--max_steps", "2")
    assert trainer.state.global_step == 2
    assert trainer.args.learning_rate == 2e-3


def test_a_frozen_vision_tower_does_not_move(tiny, tmp_path):
    before = load_file(tiny / "model.safetensors")
    train(tiny, tmp_path / "run", "--max_steps", "2", "--freeze_vision_tower")
    after = load_file(tmp_path / "run" / "model.safetensors")
    vision = [key for key in before if "image_vit" in key]
    others = [key for key in before if "image_vit" not in key]
    assert vision and all(torch.equal(before[key], after[key]) for key in vision)
    assert any(not torch.equal(before[key], after[key]) for key in others)


def test_lora_trains_adapters_and_leaves_the_language_model(tiny, tmp_path):
    pytest.importorskip("peft")
    trainer = train(tiny, tmp_path / "run", "--max_steps", "3", "--use_lora", "--lora_r", "4",
                    "--freeze_vision_tower")
    model = trainer.model
    lora = {n: p for n, p in model.named_parameters() if "lora_B" in n}
    assert lora and any(p.abs().sum() > 0 for p in lora.values())  # lora_B starts at zero
    frozen = [n for n, p in model.named_parameters() if "language_model" in n and not p.requires_grad]
    assert frozen and not any("lora_" in n for n in frozen)
    saved = load_file(tmp_path / "run" / "adapter_model.safetensors")
    assert any("lora_B" in key for key in saved)
    assert losses(trainer)[-1] < losses(trainer)[0]


def test_the_default_data_builder_is_named_by_module_or_file(tiny, tmp_path):
    builder = tmp_path / "toy_data.py"
    builder.write_text(
        "from training.tiny_model import make_square_examples\n"
        "def build(data_args, split):\n"
        "    return make_square_examples(data_args.recipe['count'], seed=1)\n"
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"data_builder": f"{builder}:build", "count": 16}}))
    trainer = train(tiny, tmp_path / "run", "--recipe", str(recipe), "--max_steps", "1", build_dataset=None)
    assert len(trainer.train_dataset) == 16


def test_gradient_checkpointing_and_unmeasured_random_batches(tiny, tmp_path):
    def unmeasured(data_args, collator):
        return FormattedDataset(make_square_examples(16, seed=2), collator, measure=data_args.measure_lengths)

    trainer = train(tiny, tmp_path / "run", "--max_steps", "2", "--gradient_checkpointing", "--measure_lengths",
                    "false", build_dataset=unmeasured)
    assert trainer.train_dataset.lengths is None
    assert type(trainer._get_train_sampler()).__name__ == "RandomSampler"
    assert trainer.model.is_gradient_checkpointing
    assert trainer.state.global_step == 2 and all(loss == loss for loss in losses(trainer))


@pytest.mark.slow
def test_the_tiny_model_learns_what_the_image_shows(tiny, tmp_path):
    """500 steps (about 5 minutes on one core): the square's colour and side come only from the image."""
    from pixmo.conversation import Conversation, FormattedExample
    from training.collator import to_model_inputs

    def data(data_args, collator):
        return FormattedDataset(make_square_examples(2000, seed=11), collator)

    trainer = train(tiny, tmp_path / "run", "--max_steps", "500", "--per_device_train_batch_size", "16",
                    "--learning_rate", "1e-3", "--warmup_steps", "0.05", "--lr_scheduler_type", "cosine",
                    "--save_strategy", "no", "--logging_steps", "50", build_dataset=data)
    model, tokenizer, collator = trainer.model.eval(), trainer.processing_class.tokenizer, trainer.data_collator
    choices = {"squares/colour": ["blue", "green", "red", "yellow"], "squares/side": ["left", "right"]}
    right, asked = {task: 0 for task in choices}, {task: 0 for task in choices}
    for example in make_square_examples(150, seed=99):
        for conversation in example.conversations:
            if conversation.task not in choices:
                continue
            answers = choices[conversation.task]
            first_ids = [tokenizer(a, add_special_tokens=False)["input_ids"][0] for a in answers]
            prompt = conversation.turns[0][0]
            batch = collator([FormattedExample(example.image, [Conversation([(prompt, answers[0])])])])
            position = int((batch["labels"][0] != -100).nonzero()[0]) - 1
            with torch.no_grad():
                logits = model(**to_model_inputs(batch)).logits[0, position]
            right[conversation.task] += answers[int(logits[first_ids].argmax())] == conversation.turns[0][1]
            asked[conversation.task] += 1
    assert right["squares/colour"] / asked["squares/colour"] > 0.9, (right, asked)  # chance: 0.25
    assert right["squares/side"] / asked["squares/side"] > 0.7, (right, asked)  # chance: 0.5

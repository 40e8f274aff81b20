import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, Trainer, TrainingArguments

from training.collator import FormattedDataset
from training.tiny_model import make_square_examples, make_tiny_model
from training.train import main
from training.trainer import MolmoTrainer, load_checkpoint_weights

pytest.importorskip("torchvision")

TOTAL_STEPS, FIRST_LEG = 8, 4  # 40 examples in batches of 8: the resumed leg crosses an epoch boundary


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return tiny_model_dir


def squares(data_args, collator):
    return FormattedDataset(make_square_examples(40, seed=5), collator)


def train(tiny, out, max_steps, *extra):
    argv = ["--model", str(tiny), "--output_dir", str(out), "--use_cpu", "--per_device_train_batch_size", "8",
            "--learning_rate", "2e-3", "--lr_scheduler_type", "constant", "--logging_steps", "1",
            "--save_steps", str(FIRST_LEG), "--max_steps", str(max_steps), "--max_length", "256", *extra]
    return main(argv, build_dataset=squares)


def step_losses(trainer) -> dict[int, float]:
    return {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}


def test_a_resumed_run_ends_where_the_uninterrupted_run_ends(tiny, tmp_path):
    straight = train(tiny, tmp_path / "straight", TOTAL_STEPS)
    train(tiny, tmp_path / "legs", FIRST_LEG)
    resumed = train(tiny, tmp_path / "legs", TOTAL_STEPS,
                    "--resume_from_checkpoint", str(tmp_path / "legs" / f"checkpoint-{FIRST_LEG}"))
    expected, got = step_losses(straight), step_losses(resumed)
    assert sorted(got) == sorted(expected) == list(range(1, TOTAL_STEPS + 1))  # the first leg's come from its state
    for step in got:
        assert got[step] == pytest.approx(expected[step], abs=1e-5), (step, got[step], expected[step])
    final_straight = load_file(tmp_path / "straight" / "model.safetensors")
    final_resumed = load_file(tmp_path / "legs" / "model.safetensors")
    assert final_straight.keys() == final_resumed.keys()
    for key in final_straight:
        torch.testing.assert_close(final_resumed[key], final_straight[key], atol=1e-6, rtol=0)


def test_the_stock_loader_loses_the_weights_and_ours_does_not(tiny, tmp_path):
    trained = AutoModelForImageTextToText.from_pretrained(tiny)
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(0.01)
    checkpoint = tmp_path / "checkpoint-1"
    trained.save_pretrained(checkpoint)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to="none")
    expected = trained.state_dict()

    stock = AutoModelForImageTextToText.from_pretrained(tiny)
    Trainer(model=stock, args=args)._load_from_checkpoint(str(checkpoint))
    lost = [k for k in expected if not torch.equal(stock.state_dict()[k], expected[k])]
    assert lost == [k for k in expected if k != "lm_head.weight"]  # only the one key whose name did not change

    ours = AutoModelForImageTextToText.from_pretrained(tiny)
    parameter = next(ours.parameters())
    MolmoTrainer(model=ours, args=args)._load_from_checkpoint(str(checkpoint))
    assert all(torch.equal(ours.state_dict()[k], expected[k]) for k in expected)
    assert next(ours.parameters()) is parameter  # loaded in place: an optimizer built on the model stays valid


def test_a_checkpoint_of_another_model_is_an_error(tiny, tmp_path):
    model = AutoModelForImageTextToText.from_pretrained(tiny)
    other = make_tiny_model(tmp_path / "other")
    state = load_file(other / "model.safetensors")
    state.pop(next(iter(state)))
    from safetensors.torch import save_file

    (tmp_path / "broken").mkdir()
    save_file(state, tmp_path / "broken" / "model.safetensors")
    with pytest.raises(ValueError, match="missing from the checkpoint"):
        load_checkpoint_weights(model, str(tmp_path / "broken"))

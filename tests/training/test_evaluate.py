"""training/evaluate.py: two processes predict every example once; scoring of hand-written answers; the callback."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pixmo.hubfolder import build_folder
from pixmo.testing.sources import make_source
from training.collator import MolmoCollator
from training.eval_callback import GenerationEvalCallback
from training.evaluate import (
    EvalTask,
    flatten_metrics,
    format_table,
    generate_answers,
    load_task,
    parse_arguments,
    parse_data_paths,
    parse_task,
    score_records,
    write_results,
)
from training.tiny_model import make_square_examples

pytest.importorskip("torchvision")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    make_source(root / "src-clocks", "pixmo_clocks", "default", rows_per_split=5)
    build_folder("pixmo_clocks", root / "pixmo-clocks", source=str(root / "src-clocks"), with_images=True,
                 image_size=32)
    make_source(root / "src-docs", "pixmo_docs", "charts", rows_per_split=3)
    build_folder("pixmo_docs", root / "pixmo-docs", "charts", source=str(root / "src-docs"))
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _expected_ids(built, specs) -> list[str]:
    return [r["id"] for spec in specs for r in load_task(parse_task(spec, str(built))).records]


def test_two_processes_predict_every_example_exactly_once(tiny, built, tmp_path):
    specs = ["pixmo_clocks:validation", "pixmo-docs/charts:validation"]
    out = tmp_path / "eval"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), str(REPO / "training" / "evaluate.py"),
        "--model", str(tiny), "--data-root", str(built), "--output_dir", str(out),
        "--task", specs[0], "--task", specs[1], "--max_new_tokens", "4", "--batch_size", "2",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]

    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    ids = [line["id"] for line in lines]
    expected = _expected_ids(built, specs)
    assert len(expected) > 8
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids)
    assert {line["rank"] for line in lines} == {0, 1}  # the work was split, not done twice
    for line in lines:
        assert {"task", "id", "prompt", "prediction", "target", "reference"} <= set(line)
        assert isinstance(line["prediction"], str)
    docs = next(line for line in lines if line["task"] == "pixmo_docs/charts:validation")
    assert docs["prompt"].startswith("What is value") and docs["reference"] == [docs["target"]]

    metrics = json.loads((out / "metrics.json").read_text())
    clocks, charts = metrics["pixmo_clocks:validation"], metrics["pixmo_docs/charts:validation"]
    assert {"accuracy", "hour_accuracy", "minute_accuracy", "valid_fraction"} <= set(clocks)
    assert {"anls", "exact_match"} <= set(charts)
    assert clocks["examples"] + charts["examples"] == len(expected)
    assert 0.0 <= clocks["valid_fraction"] <= 1.0 and 0.0 <= charts["anls"] <= 1.0
    assert "pixmo_clocks:validation" in done.stdout and "exact_match" in done.stdout


def _records(task: str, predictions: list[str], references: list, **fields) -> list[dict]:
    return [
        {"task": task, "id": f"{task}/{i}/0", "prediction": p, "reference": r,
         **{key: values[i] for key, values in fields.items()}}
        for i, (p, r) in enumerate(zip(predictions, references))
    ]


def test_hand_written_predictions_score_exactly(tmp_path):
    records = (
        _records("pixmo_points:validation",
                 ['<points coords="1 1 500 500">cat</points>', "a cat, maybe", "There are none."],
                 [[{"x": 50.0, "y": 50.0}], [{"x": 10.0, "y": 10.0}], []],
                 image_size=[[100, 100], [100, 100], [640, 480]])
        + _records("pixmo_count:validation", ["Counting the cats shows a total of 3.", "two", "no idea"], [3, 3, 0])
        + _records("pixmo_clocks:validation", ["It is 3:47 PM.", "10:10", "no idea", "nothing to read"],
                   ["3:45 PM", "10:20", "8:15:30", ""])
        + _records("pixmo_docs/charts:validation", ["Answer: Paris", "12"], [["paris"], ["13"]])
        + _records("pixmo_cap:validation", ["a red car on a street", "blue sky"], [["a red car on a street"], ["a dog"]])
    )
    metrics = score_records(records)

    points = metrics["pixmo_points:validation"]
    assert points["examples"] == 3
    assert points["precision"] == pytest.approx(2 / 3) and points["recall"] == pytest.approx(2 / 3)
    assert points["f1"] == pytest.approx((2 / (2 + 1e-6) + 0 + 1) / 3)
    assert points["valid_fraction"] == pytest.approx(2 / 3)  # the garbage answer is invalid, not an error
    count = metrics["pixmo_count:validation"]
    assert (count["accuracy"], count["within_one"], count["valid_fraction"]) == pytest.approx((1 / 3, 2 / 3, 2 / 3))
    assert count["per_count_accuracy"] == {0: 0.0, 3: 0.5} and count["macro_accuracy"] == pytest.approx(0.25)
    clocks = metrics["pixmo_clocks:validation"]
    assert clocks["accuracy"] == pytest.approx(0.5)
    assert clocks["hour_accuracy"] == pytest.approx(2 / 3) and clocks["minute_accuracy"] == pytest.approx(1 / 3)
    assert clocks["valid_fraction"] == pytest.approx(2 / 3) and clocks["unanswerable_accuracy"] == 1.0
    assert metrics["pixmo_docs/charts:validation"] == {"examples": 2, "anls": 0.5, "exact_match": 0.5}

    captions = metrics["pixmo_cap:validation"]
    assert captions["examples"] == 2 and captions["rouge_l"] == pytest.approx(0.5) and "cider" in captions

    flat = flatten_metrics(metrics, prefix="eval/")
    assert flat["eval/pixmo_count:validation/per_count_accuracy/3"] == 0.5
    assert "eval/pixmo_clocks:validation/unanswerable_accuracy" in flat
    assert "pixmo_docs/charts:validation" in format_table(metrics)

    folder = write_results(tmp_path, metrics, [{**r, "_masks": [[[True]]]} for r in records])
    written = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    assert len(written) == len(records) and all("_masks" not in line for line in written)
    assert json.loads((folder / "metrics.json").read_text())["pixmo_count:validation"]["per_count_accuracy"]["3"] == 0.5


def test_answering_with_the_training_targets_scores_perfectly(built):
    records = []
    for spec in ("pixmo_clocks:validation", "pixmo_docs/charts:validation"):
        records += [{**r, "prediction": r["target"]} for r in load_task(parse_task(spec, str(built))).records]
    metrics = score_records(records)
    assert metrics["pixmo_clocks:validation"]["accuracy"] == 1.0
    assert metrics["pixmo_docs/charts:validation"]["anls"] == metrics["pixmo_docs/charts:validation"]["exact_match"] == 1.0


def test_masks_decide_pointing_hits():
    inside = [[False] * 4, [False, False, True, False], [False] * 4]  # 3 x 4 pixels, the centre one set
    outside = [[True] * 4, [True, True, False, True], [True] * 4]
    records = _records("pixmo_points:validation", ['<points coords="1 1 500 500">x</points>'] * 2,
                       [[{"x": 50.0, "y": 50.0}]] * 2, image_size=[[4, 3]] * 2, _masks=[[inside], [outside]])
    assert score_records(records)["pixmo_points:validation"]["recall"] == pytest.approx(0.5)


def test_task_names_and_data_paths(tmp_path):
    task = parse_task("pixmo-docs/charts:validation", data_root=str(tmp_path))
    assert task == EvalTask("pixmo_docs/charts:validation", "pixmo_docs", "validation", "charts",
                            str(tmp_path / "pixmo-docs"))
    assert parse_task("pixmo_count", data_paths={"pixmo_count": "/x"}) == EvalTask(
        "pixmo_count:validation", "pixmo_count", "validation", None, "/x")
    assert parse_data_paths(["pixmo-clocks=/c"]) == {"pixmo_clocks": "/c"}
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_data_paths(["pixmo_clocks"])
    with pytest.raises(ValueError, match="one of"):
        parse_task("pixmo_ama:validation")
    args = parse_arguments(["--model", "m", "--task", "pixmo_count:test", "--task", "pixmo_clocks", "--data-root", "/d"])
    assert args.task == ["pixmo_count:test", "pixmo_clocks"] and args.data_root == "/d"


def test_a_build_without_images_says_how_to_build_it(tmp_path):
    make_source(tmp_path / "src", "pixmo_count", "default", rows_per_split=4)
    build_folder("pixmo_count", tmp_path / "pixmo-count", source=str(tmp_path / "src"))
    with pytest.raises(ValueError, match="without --metadata-only"):
        load_task(parse_task("pixmo_count:validation", str(tmp_path)))


@pytest.fixture(scope="module")
def model_and_collator(tiny):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny)
    model = AutoModelForImageTextToText.from_pretrained(tiny, attn_implementation="sdpa").eval()
    return model, MolmoCollator(processor, model.config.text_config.vocab_size)


def test_left_padded_batch_answers_as_each_prompt_alone(model_and_collator):
    model, collator = model_and_collator
    images = [example.image for example in make_square_examples(2, seed=3)]
    prompts = ["What color is the square?", "Is the square on the left or on the right of the picture here?"]
    together = generate_answers(model, collator, images, prompts, max_new_tokens=5)
    alone = [generate_answers(model, collator, [image], [prompt], max_new_tokens=5)[0]
             for image, prompt in zip(images, prompts)]
    assert together == alone and all(together)


def test_callback_logs_task_metrics_at_evaluation_steps(tiny, model_and_collator, built, tmp_path):
    from transformers import TrainingArguments

    from training.collator import FormattedDataset
    from training.trainer import MolmoTrainer

    from transformers import AutoModelForImageTextToText

    _, collator = model_and_collator
    model = AutoModelForImageTextToText.from_pretrained(tiny, attn_implementation="sdpa")  # trained here: its own copy
    args = TrainingArguments(
        output_dir=str(tmp_path / "run"), max_steps=3, eval_steps=2, logging_steps=1, per_device_train_batch_size=4,
        per_device_eval_batch_size=3, learning_rate=1e-3, use_cpu=True, report_to="none", save_strategy="no",
        remove_unused_columns=False, label_names=["labels"],
    )
    trainer = MolmoTrainer(model=model, args=args, train_dataset=FormattedDataset(make_square_examples(12), collator),
                           data_collator=collator)
    callback = GenerationEvalCallback(["pixmo_clocks:validation"], collator, samples=3, max_new_tokens=3,
                                      batch_size=3, data_root=str(built), trainer=trainer)
    trainer.add_callback(callback)
    trainer.train()
    assert [step for step, _ in callback.history] == [2, 3]  # every eval_steps and the last step
    logged = [entry for entry in trainer.state.log_history if "eval/pixmo_clocks:validation/accuracy" in entry]
    assert [entry["step"] for entry in logged] == [2, 3]
    assert logged[0]["eval/pixmo_clocks:validation/examples"] == 3.0
    assert 0.0 <= logged[0]["eval/pixmo_clocks:validation/valid_fraction"] <= 1.0


def test_train_script_runs_the_eval_tasks(tiny, built, tmp_path):
    """`train.py --eval_tasks ...` wires the callback: the metrics appear in the run's log history."""
    from training.collator import FormattedDataset
    from training.train import main

    trainer = main(
        ["--model", str(tiny), "--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--eval_steps", "2",
         "--logging_steps", "1", "--per_device_train_batch_size", "4", "--use_cpu", "--save_strategy", "no",
         "--eval_tasks", "pixmo_clocks:validation", "--eval_samples", "2", "--eval_max_new_tokens", "3",
         "--eval_data_root", str(built)],
        build_dataset=lambda data_args, collator: FormattedDataset(make_square_examples(8), collator),
    )
    logged = [entry for entry in trainer.state.log_history if "eval/pixmo_clocks:validation/examples" in entry]
    assert [entry["step"] for entry in logged] == [2]
    assert logged[0]["eval/pixmo_clocks:validation/examples"] == 2.0
    assert (tmp_path / "run" / "run_config.json").read_text().count("eval_tasks") == 1

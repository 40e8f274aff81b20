"""Two ranks on a CPU: `accelerate launch --multi_gpu --num_processes 2` with `--use_cpu` (gloo) runs two processes
that train on disjoint shares of the data. Without `--multi_gpu`, accelerate would start one process only."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torchvision")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES, PER_RANK_BATCH, STEPS = 24, 4, 3  # 3 steps of 2 x 4 examples: every example exactly once

# Each rank records which examples its data loader read. FormattedDataset first reads every example once to
# measure it (in order, on both ranks); the reads after those are the ones training consumed.
BUILDER = '''
import os
from training.tiny_model import make_square_examples


class RecordingExamples:
    def __init__(self, examples, path):
        self.examples, self.path, self.reads = examples, path, 0

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads > len(self.examples):
            with open(self.path, "a") as handle:
                handle.write(self.examples[index].source + "\\n")
        return self.examples[index]


def build(data_args, split):
    rank, world = os.environ["RANK"], os.environ["WORLD_SIZE"]
    path = os.path.join(data_args.recipe["record_dir"], f"rank{rank}-of-{world}.txt")
    return RecordingExamples(make_square_examples(data_args.recipe["count"], seed=3), path)
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_ranks_train_on_disjoint_data(tmp_path, tiny_model_dir):
    tiny = tiny_model_dir
    (tmp_path / "builder.py").write_text(BUILDER)
    records = tmp_path / "records"
    records.mkdir()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"data": {"data_builder": f"{tmp_path / 'builder.py'}:build", "count": EXAMPLES,
                                           "record_dir": str(records), "max_length": 256}}))
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()),
        str(REPO / "training" / "train.py"), "--recipe", str(recipe), "--model", str(tiny), "--use_cpu",
        "--output_dir", str(tmp_path / "run"), "--per_device_train_batch_size", str(PER_RANK_BATCH),
        "--max_steps", str(STEPS), "--logging_steps", "1", "--save_steps", "100",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stderr[-4000:]

    files = sorted(path.name for path in records.iterdir())
    assert files == ["rank0-of-2.txt", "rank1-of-2.txt"]
    seen = [(records / name).read_text().split() for name in files]
    assert len(seen[0]) == len(seen[1]) == STEPS * PER_RANK_BATCH
    assert not set(seen[0]) & set(seen[1])
    assert set(seen[0]) | set(seen[1]) == {f"squares:3:{i}" for i in range(EXAMPLES)}
    state = json.loads((tmp_path / "run" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS
    assert (tmp_path / "run" / "model.safetensors").exists()

"""The proof that formats, coordinates and labels are right end to end: trained on the synthetic mini-PixMo
(`benchmarks/learning.py`), the tiny Molmo2 counts at least twice as well as the majority count and points at
least 0.2 F1 better than the image centre. About 5 minutes on a GPU (bf16), about 66 minutes on two CPU cores:
`python -m pytest -m slow tests/training/test_learning.py`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "learning.py"


@pytest.mark.slow
def test_tiny_model_beats_the_trivial_baselines(tmp_path):
    figures = tmp_path / "learning.json"
    command = [sys.executable, str(SCRIPT), "--json", str(figures), "--work", str(tmp_path / "work")]
    if torch.cuda.is_available():
        command += ["--device", "cuda", "--bf16", "--workers", str(min(8, os.cpu_count() or 1))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=4 * 3600)
    result = json.loads(figures.read_text())
    assert result["counting_accuracy"] >= 2 * result["counting_majority_baseline"], done.stdout
    assert result["pointing_f1"] >= result["pointing_centre_baseline"] + 0.2, done.stdout
    assert done.returncode == 0

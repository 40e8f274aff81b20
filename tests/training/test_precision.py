"""`benchmarks/precision.py` compares bf16 with float32 training on a GPU; without one it says so instead of
silently training on the CPU."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "precision.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a CUDA GPU")
def test_cuda_without_a_gpu_is_refused_with_the_way_out():
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "--device cuda needs a CUDA GPU; pass --device cpu" in done.stderr

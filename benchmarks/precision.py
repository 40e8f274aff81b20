"""Training the tiny Molmo2 in bf16 mixed precision follows float32: same weights, same data, same order.

Builds the learning check's synthetic pixmo-points and pixmo-count (`benchmarks/learning.py`), makes one tiny
random Molmo2, and trains it twice for the same steps through `training/train.py`: in float32 (the baseline) and
with `--bf16` (bfloat16 autocast over float32 weights, what the recipes' `bf16: true` asks for). Prints the two
loss curves side by side, the gap between their final losses, and bf16's training speed against float32's (over
whole runs: for a model this small, data loading and start-up weigh more than the arithmetic).
Meant for a GPU (`--device cuda`); on a CPU the same autocast runs on the CPU, slowly.

    python benchmarks/precision.py --device cuda [--steps 300] [--rows 1500] [--batch-size 32]

Exits 0 when both runs' losses stay finite and fall to at most half their start, and bf16's final loss (the mean
over the last tenth of the steps) is within 5% of float32's.
"""

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learning import WEIGHTS, add_device_arguments, check_device, prepare  # noqa: E402

TOLERANCE = 0.05  # bf16's final loss against float32's, relative


def train(model_dir, built, out_dir, steps, batch_size, seed, device, bf16, workers) -> dict:
    from training.synthetic import train_tiny

    start = time.perf_counter()
    trainer = train_tiny(model_dir, built, out_dir, WEIGHTS, steps=steps, batch_size=batch_size, seed=seed,
                         logging_steps=1, device=device, bf16=bf16, workers=workers)
    seconds = time.perf_counter() - start
    history = trainer.state.log_history
    summary = next(e for e in reversed(history) if "train_runtime" in e)
    return {
        "losses": [e["loss"] for e in history if "loss" in e],
        "train_seconds": summary["train_runtime"],
        "examples_per_second": summary["train_samples_per_second"],
        "wall_seconds": seconds,
        "device": str(trainer.args.device),
    }


def tail_mean(losses: list[float], fraction: float = 0.1) -> float:
    tail = losses[-max(1, int(len(losses) * fraction)):]
    return sum(tail) / len(tail)


def run(work: Path, steps: int = 300, rows: int = 1500, batch_size: int = 32, seed: int = 0, device: str = "cuda",
        workers: int = 0) -> dict:
    from training.tiny_model import make_tiny_model

    built = prepare(work, rows, seed)
    model_dir = make_tiny_model(work / "tiny-model", seed=seed)
    runs = {
        name: train(model_dir, built, work / name, steps, batch_size, seed, device, name == "bf16", workers)
        for name in ("float32", "bf16")
    }
    fp32, bf16 = runs["float32"], runs["bf16"]
    final = {name: tail_mean(r["losses"]) for name, r in runs.items()}
    gap = abs(final["bf16"] - final["float32"]) / final["float32"]
    healthy = {
        name: all(math.isfinite(x) for x in r["losses"]) and final[name] <= 0.5 * r["losses"][0]
        for name, r in runs.items()
    }
    return {
        "runs": runs,
        "final_loss": final,
        "relative_gap": gap,
        "speed_ratio": bf16["examples_per_second"] / fp32["examples_per_second"],
        "learns": healthy,
        "passed": all(healthy.values()) and gap <= TOLERANCE,
    }


def report(result: dict) -> str:
    fp32, bf16 = result["runs"]["float32"]["losses"], result["runs"]["bf16"]["losses"]
    steps, every = len(fp32), max(1, len(fp32) // 10)
    rows = [f"{'step':>6} {'float32':>9} {'bf16':>9}"]
    for i in sorted({0, *range(every - 1, steps, every), steps - 1}):
        rows.append(f"{i + 1:>6} {fp32[i]:>9.4f} {bf16[i]:>9.4f}")
    final = result["final_loss"]
    rows += [
        f"final loss (mean of the last tenth): float32 {final['float32']:.4f}, bf16 {final['bf16']:.4f}, "
        f"gap {result['relative_gap']:.2%} (at most {TOLERANCE:.0%})",
        f"losses finite and halved: float32 {result['learns']['float32']}, bf16 {result['learns']['bf16']}",
        f"whole-run speed on {result['runs']['bf16']['device']} (data loader start-up included): float32 "
        f"{result['runs']['float32']['examples_per_second']:.1f} examples/s, bf16 "
        f"{result['runs']['bf16']['examples_per_second']:.1f} examples/s, bf16 / float32 = "
        f"{result['speed_ratio']:.2f}x",
        "passed" if result["passed"] else "FAILED",
    ]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="training steps of each run (default: 300)")
    parser.add_argument("--rows", type=int, default=1500, help="rows of each synthetic subset (default: 1500)")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step (default: 32)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_arguments(parser, default="cuda")
    args = parser.parse_args()
    check_device(parser, args)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(args.work or tmp), args.steps, args.rows, args.batch_size, args.seed, args.device,
                     args.workers)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

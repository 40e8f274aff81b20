"""`pixmo demo` end to end on a small synthetic corpus: every subset built with nothing lost, the Hub path real,
pictures written, and no process left behind."""

import os

import datasets

from pixmo.demo import run_demo
from pixmo.subsets import SUBSETS


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def test_demo_runs_end_to_end_and_stops_everything(tmp_path):
    before = set(_children(os.getpid()))
    lines = []
    result = run_demo(tmp_path / "demo", rows=24, seed=1, n_proc=1, train_steps=3, log=lines.append)

    assert set(result.built) == {s.hub_name for s in SUBSETS.values()}
    assert len(result.reports) == 11  # 7 subsets, pixmo-points' eval config, 4 pixmo-docs configs
    for name, report in result.reports.items():
        report.check()
        assert report.rows_read > 0 and sum(report.dropped.values()) == 0, (name, report.dropped)
    # The Hub path was real: what the endpoint served equals the synthetic repo on disk.
    local = datasets.load_dataset(str(tmp_path / "demo" / "synthetic" / "pixmo-points"))
    assert result.hub_rows == {split: len(d) for split, d in local.items()}
    points = datasets.load_dataset(str(result.built["pixmo-points"]), split="train")
    assert points[0]["image"].size[0] > 0
    assert all(path.stat().st_size > 0 for path in result.pictures.values())
    assert len(result.pictures) == 7
    assert any("load_dataset" in line for line in lines)
    # The short training run and the evaluation table of the tiny model.
    assert len(result.train_log) >= 1 and all(entry["loss"] > 0 for entry in result.train_log)
    assert set(result.metrics) == {"pixmo_points:validation", "pixmo_count:validation", "pixmo_clocks:validation",
                                   "pixmo_docs/charts:validation", "pixmo_cap:validation"}
    assert all(metrics["examples"] > 0 for metrics in result.metrics.values())
    assert any("metric" in line and "value" in line for line in lines)
    assert set(_children(os.getpid())) <= before  # the image server, olah and fetch workers are gone

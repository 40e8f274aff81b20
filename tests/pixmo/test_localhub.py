"""The local Hub endpoint: folders committed as git repos and read back through olah by `datasets` and builders."""

import json
import os
import socket
import subprocess
import sys

import datasets
import pytest
import requests
from huggingface_hub import snapshot_download

from pixmo.hubfolder import build_folder
from pixmo.localhub import LocalHub, LocalHubError, run_git, use_endpoint
from pixmo.testing.hub_server import hub_client_sandbox
from pixmo.testing.sources import make_source


def _canonical(dataset):
    return sorted(json.dumps(row, sort_keys=True) for row in dataset)


@pytest.fixture()
def points_source(tmp_path):
    make_source(tmp_path / "pixmo-points", "pixmo_points", "default", rows_per_split=30, seed=1)
    make_source(tmp_path / "pixmo-points-eval", "pixmo_points", "eval", rows_per_split=6, seed=2)
    return tmp_path


@pytest.fixture()
def hub(tmp_path, points_source):
    hub = LocalHub(tmp_path / "hub")
    hub.add_repo("allenai/pixmo-points", points_source / "pixmo-points")
    hub.add_repo("allenai/pixmo-points-eval", points_source / "pixmo-points-eval")
    with hub_client_sandbox(tmp_path / "client"):
        yield hub


def test_add_repo_commits_the_folder_on_main(tmp_path, points_source):
    hub = LocalHub(tmp_path / "hub")
    sha = hub.add_repo("allenai/pixmo-points", points_source / "pixmo-points")
    repo_dir = hub.repo_dir("allenai/pixmo-points")
    assert repo_dir == tmp_path / "hub" / "datasets" / "allenai" / "pixmo-points"
    assert run_git(repo_dir, "rev-parse", "refs/heads/main") == sha
    assert sorted(run_git(repo_dir, "ls-tree", "-r", "--name-only", sha).splitlines()) == [
        "README.md", "data/train-00000-of-00001.parquet"
    ]
    # A second folder replaces the files in a new commit on top of the first.
    make_source(tmp_path / "other", "pixmo_points", "default", rows_per_split=5, seed=9)
    second = hub.add_repo("allenai/pixmo-points", tmp_path / "other")
    assert second != sha and run_git(repo_dir, "rev-parse", f"{second}^") == sha
    assert hub.add_repo("allenai/pixmo-points", tmp_path / "other") == second  # nothing changed, no commit
    with pytest.raises(ValueError, match="org/name"):
        hub.add_repo("pixmo-points", tmp_path / "other")
    with pytest.raises(LocalHubError, match="not a folder"):
        hub.add_repo("allenai/x", tmp_path / "missing")


def test_load_dataset_through_the_endpoint_matches_the_folder(tmp_path, hub, points_source):
    local = datasets.load_dataset(str(points_source / "pixmo-points"), cache_dir=str(tmp_path / "c1"))
    with hub.serve() as endpoint, use_endpoint(endpoint):
        assert endpoint.startswith("http://127.0.0.1:")
        served = datasets.load_dataset("allenai/pixmo-points", cache_dir=str(tmp_path / "c2"))
        path = snapshot_download("allenai/pixmo-points", repo_type="dataset", revision="main", endpoint=endpoint)
    assert list(served) == list(local) == ["train"]
    assert served["train"].features == local["train"].features
    assert _canonical(served["train"]) == _canonical(local["train"])
    shard = "data/train-00000-of-00001.parquet"
    assert open(os.path.join(path, shard), "rb").read() == (points_source / "pixmo-points" / shard).read_bytes()


def test_build_reads_the_hub_source_through_hf_endpoint(tmp_path, hub, points_source, monkeypatch):
    options = {"validation_images": 3}
    expected = build_folder(
        "pixmo_points", tmp_path / "from-folder", source=str(points_source / "pixmo-points"),
        eval_source=str(points_source / "pixmo-points-eval"), **options,
    )
    with hub.serve() as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)  # pixmo.source reads it at call time
        report = build_folder(
            "pixmo_points", tmp_path / "from-hub", source="allenai/pixmo-points",
            eval_source="allenai/pixmo-points-eval", **options,
        )
    assert report.source == "allenai/pixmo-points"
    assert report.rows_read == expected.rows_read == 30
    assert {k: v.to_dict() for k, v in report.splits.items()} == {k: v.to_dict() for k, v in expected.splits.items()}
    built = datasets.load_dataset(str(tmp_path / "from-hub"), cache_dir=str(tmp_path / "c3"))
    reference = datasets.load_dataset(str(tmp_path / "from-folder"), cache_dir=str(tmp_path / "c4"))
    for split in reference:
        assert _canonical(built[split]) == _canonical(reference[split])


def test_load_dataset_verbatim_in_a_fresh_process(tmp_path, hub, points_source):
    """`HF_ENDPOINT=... python -c 'load_dataset("allenai/pixmo-points")'`: no revision, nothing patched."""
    out = tmp_path / "rows.jsonl"
    code = (
        "import datasets, sys; "
        "ds = datasets.load_dataset('allenai/pixmo-points', split='train', cache_dir=sys.argv[2]); "
        "ds.to_json(sys.argv[1])"
    )
    with hub.serve() as endpoint:
        env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf-home")}
        subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "c5")], env=env, check=True, timeout=120)
    local = datasets.load_dataset(str(points_source / "pixmo-points"), split="train", cache_dir=str(tmp_path / "c6"))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(json.dumps(r, sort_keys=True) for r in rows) == _canonical(local)


def test_serve_stops_the_server_even_when_the_body_raises(hub):
    with pytest.raises(RuntimeError, match="boom"):
        with hub.serve() as endpoint:
            assert requests.get(f"{endpoint}/api/datasets/allenai/pixmo-points/revision/main", timeout=5).ok
            raise RuntimeError("boom")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{endpoint}/api/datasets/allenai/pixmo-points/revision/main", timeout=5)


def test_serves_a_hub_whose_root_is_a_relative_path(points_source, tmp_path, monkeypatch):
    # `pixmo demo` keeps its hub under the relative ./pixmo-demo by default.
    monkeypatch.chdir(tmp_path)
    hub = LocalHub("relative/hub")
    hub.add_repo("allenai/pixmo-points", points_source / "pixmo-points")
    with hub_client_sandbox(tmp_path / "client"), hub.serve() as endpoint:
        assert requests.get(f"{endpoint}/api/datasets/allenai/pixmo-points/revision/main", timeout=5).ok


def test_a_port_in_use_is_reported_with_the_server_log(hub):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LocalHubError, match=r"exited with code .*Its log"):
            with hub.serve(port=port):
                pass

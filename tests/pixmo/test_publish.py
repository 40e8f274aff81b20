"""`pixmo push` against a writable Hub test server, read back through the independent read-only olah endpoint."""

import json
import shutil

import datasets
import pytest
from huggingface_hub import HfApi

from pixmo.cli import main as cli_main
from pixmo.hubfolder import build_folder
from pixmo.localhub import LocalHub, run_git, use_endpoint
from pixmo.publish import PublishError, push_folder
from pixmo.testing.hub_server import HubWriteServer, hub_client_sandbox
from pixmo.testing.sources import make_source

WRITE_TOKEN = "hf_WriteTokenForTests0123456789"
READ_TOKEN = "hf_ReadOnlyTokenForTests987654"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A metadata-only build of pixmo-points: train and a carved validation split, one shard each."""
    root = tmp_path_factory.mktemp("built")
    make_source(root / "source", "pixmo_points", "default", rows_per_split=40, seed=3)
    build_folder("pixmo_points", root / "pixmo-points", source=str(root / "source"), eval_source="none",
                 validation_images=4)
    return root / "pixmo-points"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The write server and olah over the same repos; a client sandbox with the write token in HF_TOKEN."""
    root = tmp_path_factory.mktemp("hub")
    with hub_client_sandbox(root / "client", token=WRITE_TOKEN):
        with HubWriteServer(root / "repos", WRITE_TOKEN, READ_TOKEN) as server:
            with LocalHub(root / "repos").serve() as olah:
                yield server, olah, root


def _canonical(dataset):
    return sorted(json.dumps(row, sort_keys=True) for row in dataset)


def read_through_olah(olah: str, repo_id: str, cache_dir, revision=None):
    with use_endpoint(olah):
        return datasets.load_dataset(repo_id, revision=revision, cache_dir=str(cache_dir))


def assert_same_as_local(served, folder, cache_dir):
    local = datasets.load_dataset(str(folder), cache_dir=str(cache_dir))
    assert sorted(served) == sorted(local)
    for split in local:
        assert served[split].features == local[split].features
        assert _canonical(served[split]) == _canonical(local[split])


def test_push_in_several_commits_reads_back_identical(hub, built, tmp_path, captured):
    server, olah, root = hub
    result = push_folder(built, "org/points", create=True, endpoint=server.url, max_commit_files=1)
    # One commit per shard, the card last.
    assert len(result.commits) == 3
    assert result.uploaded == ["data/train-00000-of-00001.parquet", "data/validation-00000-of-00001.parquet",
                               "README.md"]
    repo_dir = server.repo_dir("datasets", "org/points")
    assert run_git(repo_dir, "rev-parse", "main") == result.commits[-1]
    assert run_git(repo_dir, "log", "--format=%s", "-1", "main") == "Upload pixmo-points (part 3 of 3)"
    assert_same_as_local(read_through_olah(olah, "org/points", tmp_path / "c1"), built, tmp_path / "c2")
    # Pushing the same build again changes nothing and sends no file.
    uploads = server.calls["lfs_upload"]
    again = push_folder(built, "org/points", endpoint=server.url)
    assert again.commits == [] and again.uploaded == [] and len(again.skipped) == 3
    assert server.calls["lfs_upload"] == uploads


def test_push_removes_shards_the_build_no_longer_has(hub, built, tmp_path, captured):
    server, olah, _ = hub
    stale = tmp_path / "with-extra-shard"
    shutil.copytree(built, stale)
    shutil.copy(stale / "data/train-00000-of-00001.parquet", stale / "data/train-00001-of-00002.parquet")
    push_folder(stale, "org/stale", create=True, endpoint=server.url)
    result = push_folder(built, "org/stale", endpoint=server.url)
    assert result.deleted == ["data/train-00001-of-00002.parquet"]
    assert_same_as_local(read_through_olah(olah, "org/stale", tmp_path / "c1"), built, tmp_path / "c2")


def test_a_dropped_connection_is_resumed_by_rerunning(hub, built, tmp_path, captured):
    server, olah, _ = hub
    HfApi(endpoint=server.url).create_repo("org/resume", repo_type="dataset")
    server.drop_requests["commit"] = {server.calls["commit"] + 2}  # the second commit of the next push
    with pytest.raises(PublishError) as failure:
        push_folder(built, "org/resume", endpoint=server.url, max_commit_files=1)
    message = str(failure.value)
    assert "stopped after 1 commit(s)" in message and "rerun the same command to resume" in message
    repo_dir = server.repo_dir("datasets", "org/resume")
    assert run_git(repo_dir, "ls-tree", "-r", "--name-only", "main").splitlines() == [
        "data/train-00000-of-00001.parquet"
    ]
    uploads = server.calls["lfs_upload"]
    result = push_folder(built, "org/resume", endpoint=server.url, max_commit_files=1)
    assert result.skipped == ["data/train-00000-of-00001.parquet"]
    assert result.uploaded == ["data/validation-00000-of-00001.parquet", "README.md"]
    # The validation shard reached the server before the commit was dropped: it is not sent again.
    assert server.calls["lfs_upload"] == uploads
    assert_same_as_local(read_through_olah(olah, "org/resume", tmp_path / "c1"), built, tmp_path / "c2")


def test_push_as_a_pull_request_leaves_main_alone(hub, built, tmp_path, captured):
    server, olah, _ = hub
    HfApi(endpoint=server.url).create_repo("org/pr", repo_type="dataset")
    repo_dir = server.repo_dir("datasets", "org/pr")
    main_before = run_git(repo_dir, "rev-parse", "main")
    result = push_folder(built, "org/pr", create_pr=True, endpoint=server.url, max_commit_files=1)
    assert result.revision == "refs/pr/1" and result.pr_url.endswith("/discussions/1")
    assert len(result.commits) == 3  # the first opens the pull request, the others go to its ref
    assert run_git(repo_dir, "rev-parse", "main") == main_before
    assert run_git(repo_dir, "rev-parse", "refs/pr/1") == result.commits[-1]
    # olah routes on the decoded path, so `refs/pr/1` reaches it as three segments: read the PR head by its sha.
    served = read_through_olah(olah, "org/pr", tmp_path / "c1", revision=result.commits[-1])
    assert_same_as_local(served, built, tmp_path / "c2")


def test_the_push_command(hub, built, captured):
    server, _, _ = hub
    with use_endpoint(server.url):
        code = cli_main(["push", "pixmo_points", "--repo", "org/cli", "--data", str(built), "--create"])
    assert code == 0
    out = captured()
    assert "pixmo-points -> org/cli@main: 2 commit(s), 3 file(s) uploaded, 0 unchanged, 0 removed" in out


@pytest.mark.parametrize(
    "case,expected",
    [
        ("no token", "No Hugging Face token found: set HF_TOKEN"),
        ("read-only token", "has no write access to dataset repo 'org/errors' on"),
        ("unknown token", "rejected the token (401 Unauthorized)"),
        ("missing repo", "Dataset repo 'org/missing' does not exist on"),
        ("missing revision", "Revision 'no-such-branch' does not exist in dataset repo 'org/errors'"),
        ("create-pr with a branch", "--create-pr opens a pull request against main"),
    ],
)
def test_push_errors_say_what_to_do(hub, built, monkeypatch, captured, case, expected):
    server, _, _ = hub
    if not (server.repo_dir("datasets", "org/errors") / ".git").exists():
        HfApi(endpoint=server.url).create_repo("org/errors", repo_type="dataset")
    args = ["push", "pixmo_points", "--repo", "org/errors", "--data", str(built)]
    if case == "no token":
        monkeypatch.delenv("HF_TOKEN")
    if case == "read-only token":
        monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    if case == "unknown token":
        monkeypatch.setenv("HF_TOKEN", "hf_NotAKnownToken")
    if case == "missing repo":
        args[3] = "org/missing"
    if case == "missing revision":
        args += ["--revision", "no-such-branch"]
    if case == "create-pr with a branch":
        args += ["--revision", "dev", "--create-pr"]
    commits = server.calls["commit"]
    with use_endpoint(server.url):
        assert cli_main(args) == 1
    assert expected in captured()
    assert server.calls["commit"] == commits
    assert not (server.repo_dir("datasets", "org/missing") / ".git").exists()


def test_push_one_config_of_a_folder_with_two(hub, tmp_path, captured):
    server, olah, _ = hub
    folder = tmp_path / "pixmo-points"
    make_source(tmp_path / "source", "pixmo_points", "default", rows_per_split=20, seed=4)
    make_source(tmp_path / "source-eval", "pixmo_points", "eval", rows_per_split=5, seed=5)
    build_folder("pixmo_points", folder, source=str(tmp_path / "source"), eval_source="none", validation_images=2)
    build_folder("pixmo_points", folder, "eval", source=str(tmp_path / "source-eval"))
    # The card describes both configs: it waits until the second one is pushed.
    first = push_folder(folder, "org/configs", config="default", create=True, endpoint=server.url)
    assert first.uploaded == ["data/train-00000-of-00001.parquet", "data/validation-00000-of-00001.parquet"]
    assert "pushing config 'default' without the card" in captured()
    second = push_folder(folder, "org/configs", config="eval", endpoint=server.url)
    assert second.uploaded == ["eval/test-00000-of-00001.parquet", "README.md"]
    with use_endpoint(olah):
        served = datasets.load_dataset("org/configs", "eval", cache_dir=str(tmp_path / "c1"))
    local = datasets.load_dataset(str(folder), "eval", cache_dir=str(tmp_path / "c2"))
    assert served["test"].features == local["test"].features
    assert _canonical(served["test"]) == _canonical(local["test"])


def test_batches_hold_by_files_and_bytes_with_the_card_and_deletions_last():
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    from pixmo.publish import plan_batches

    shards = [CommitOperationAdd(f"data/train-{i:05d}-of-00005.parquet", bytes(size)) for i, size in
              enumerate([60, 50, 10, 200, 5])]
    card = CommitOperationAdd("README.md", b"---\n---\n")
    stale = CommitOperationDelete("data/train-00009-of-00010.parquet")
    batches = plan_batches([card, *shards], [stale], max_files=2, max_bytes=100)
    names = [[op.path_in_repo.split("-")[1] if "train" in op.path_in_repo else op.path_in_repo for op in batch]
             for batch in batches]
    # 60 | 50+10 | 200 (alone: larger than the budget) | 5 | card and deletion
    assert names == [["00000"], ["00001", "00002"], ["00003"], ["00004"], ["README.md", "00009"]]


def test_push_a_build_with_images_reads_back_identical(hub, tmp_path, captured):
    """A build with embedded images (pixmo-clocks faces) pushed, then read back by olah byte for byte."""
    server, olah, _ = hub
    make_source(tmp_path / "source", "pixmo_clocks", "default", rows_per_split=12, seed=4)
    folder = tmp_path / "pixmo-clocks"
    build_folder("pixmo_clocks", folder, source=str(tmp_path / "source"), with_images=True, image_size=48)
    push_folder(folder, "org/clocks-with-images", create=True, private=True, endpoint=server.url)
    served = read_through_olah(olah, "org/clocks-with-images", tmp_path / "c1")
    local = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "c2"))
    assert sorted(served) == sorted(local) == ["train", "validation"]
    for split in local:
        assert served[split].features == local[split].features
        assert isinstance(served[split].features["image"], datasets.Image)
        raw = [d.cast_column("image", datasets.Image(decode=False)) for d in (served[split], local[split])]
        assert [r["image"]["bytes"] for r in raw[0]] == [r["image"]["bytes"] for r in raw[1]]
        assert raw[0]["example_id"] == raw[1]["example_id"]
    assert served["train"][0]["image"].size == (48, 48)

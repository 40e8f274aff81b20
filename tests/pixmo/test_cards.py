"""`pixmo cards diff|push` against a writable Hub test server; the pushed card read back through olah."""

import shutil
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard, HfApi, hf_hub_download

from pixmo.card import CardError
from pixmo.cli import main as cli_main
from pixmo.hubfolder import build_folder
from pixmo.localhub import LocalHub, run_git, use_endpoint
from pixmo.publish import PublishError, push_card_text, push_folder, regenerate_card
from pixmo.subsets import get_subset
from pixmo.testing.hub_server import HubWriteServer, hub_client_sandbox
from pixmo.testing.sources import make_source

WRITE_TOKEN = "hf_CardsWriteToken0123456789abc"
READ_TOKEN = "hf_CardsReadToken0123456789abcd"
OLD_BODY = "# PixMo-Points\n\nPoints are pixel coordinates.\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`built/pixmo-points`, as `pixmo build pixmo_points --out built/pixmo-points` writes it."""
    root = tmp_path_factory.mktemp("cards")
    make_source(root / "source", "pixmo_points", "default", rows_per_split=30, seed=5)
    build_folder("pixmo_points", root / "built" / "pixmo-points", source=str(root / "source"), eval_source="none",
                 validation_images=3)
    return root / "built"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, built):
    """Servers over one set of repos; `org/pixmo-points` holds the build's data under an older card."""
    root = tmp_path_factory.mktemp("hub")
    with hub_client_sandbox(root / "client", token=WRITE_TOKEN):
        with HubWriteServer(root / "repos", WRITE_TOKEN, READ_TOKEN) as server:
            push_folder(built / "pixmo-points", "org/pixmo-points", create=True, endpoint=server.url)
            card = DatasetCard.load(built / "pixmo-points" / "README.md")
            old = f"---\n{card.data.to_yaml()}\n---\n\n{OLD_BODY}"
            HfApi(endpoint=server.url).upload_file(path_or_fileobj=old.encode(), path_in_repo="README.md",
                                                   repo_id="org/pixmo-points", repo_type="dataset")
            with LocalHub(root / "repos").serve() as olah:
                yield server, olah, root


def test_diff_then_push_as_pull_request_and_read_back(hub, built, tmp_path, captured):
    server, olah, _ = hub
    args = ["--data", str(built), "--repo-prefix", "org/"]
    with use_endpoint(server.url):
        assert cli_main(["cards", "diff", "pixmo_points", *args]) == 0
        diff = captured()
        assert "--- org/pixmo-points@main/README.md" in diff
        assert "-Points are pixel coordinates." in diff
        assert "+## How this copy was built" in diff
        assert "+| train |" in diff  # the build report's table
        assert cli_main(["cards", "push", "all", *args, "--create-pr"]) == 0
    assert "org/pixmo-points: card pushed, " in captured() and "/discussions/1" in captured()
    repo_dir = server.repo_dir("datasets", "org/pixmo-points")
    pr_head = run_git(repo_dir, "rev-parse", "refs/pr/1")
    # Only README.md changed in the pull request; main keeps the old card.
    assert run_git(repo_dir, "diff", "--name-only", "main", pr_head).splitlines() == ["README.md"]
    expected, _ = regenerate_card(get_subset("pixmo_points"), built / "pixmo-points")
    path = hf_hub_download("org/pixmo-points", "README.md", repo_type="dataset", revision=pr_head, endpoint=olah,
                           cache_dir=tmp_path / "read-back")
    pushed = Path(path).read_text()
    assert pushed == str(expected)
    assert "percent (0-100)" in pushed and OLD_BODY not in pushed
    with use_endpoint(server.url):
        assert cli_main(["cards", "diff", "pixmo_points", *args, "--revision", pr_head]) == 0
    assert "org/pixmo-points: the Hub's card is up to date" in captured()


def test_a_card_that_does_not_round_trip_is_refused_before_sending(hub, built, captured):
    server, _, _ = hub
    card, infos = regenerate_card(get_subset("pixmo_points"), built / "pixmo-points")
    text = str(card)
    assert "dtype: int64" in text
    broken = [text.replace("dtype: int64", "dtype: int32", 1), text.replace("dataset_info:", "dataset_info: [", 1)]
    before = sum(server.calls.values())
    for bad in broken:
        with pytest.raises(CardError):
            push_card_text(bad, "org/pixmo-points", infos, endpoint=server.url)
    assert sum(server.calls.values()) == before  # nothing reached the server


def test_a_card_whose_data_the_repo_lacks_is_refused(hub, built, captured):
    server, _, _ = hub
    HfApi(endpoint=server.url).create_repo("empty/pixmo-points", repo_type="dataset")
    commits = server.calls["commit"]
    with use_endpoint(server.url):
        assert cli_main(["cards", "push", "pixmo_points", "--data", str(built), "--repo-prefix", "empty/"]) == 1
    assert "has no files matching 'data/train-*'" in captured() and "pixmo push" in captured()
    assert server.calls["commit"] == commits


@pytest.mark.parametrize(
    "case,expected",
    [
        ("no token", "No Hugging Face token found"),
        ("read-only token", "has no write access to dataset repo 'org/pixmo-points'"),
        ("missing repo", "Dataset repo 'nobody/pixmo-points' does not exist"),
    ],
)
def test_card_push_errors_say_what_to_do(hub, built, monkeypatch, captured, case, expected):
    server, _, _ = hub
    prefix = "nobody/" if case == "missing repo" else "org/"
    if case == "no token":
        monkeypatch.delenv("HF_TOKEN")
    if case == "read-only token":
        monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    with use_endpoint(server.url):
        assert cli_main(["cards", "push", "pixmo_points", "--data", str(built), "--repo-prefix", prefix]) == 1
    assert expected in captured()


def test_regenerate_refuses_a_stale_build(built, tmp_path):
    stale = tmp_path / "pixmo-points"
    shutil.copytree(built / "pixmo-points", stale)
    readme = stale / "README.md"
    readme.write_text(readme.read_text().replace("dtype: int64", "dtype: int32", 1))
    with pytest.raises(PublishError, match="differ from the builder's; the build is stale"):
        regenerate_card(get_subset("pixmo_points"), stale)

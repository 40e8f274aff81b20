"""Publish a built folder to a Hub dataset repo: parquet shards in several resumable commits, and the card alone.

A push sends the data files in batches (one commit each), the card and the removal of stale shards last, so a
rerun after a dropped connection skips every file already committed (its sha256 matches the remote one) and
every object already uploaded (the LFS batch endpoint reports it present). The token comes from `HF_TOKEN` or
the `huggingface_hub` login and never appears in a message this module writes.
"""

import difflib
import fnmatch
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import httpx2
from datasets.info import DatasetInfo
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard, HfApi, get_token
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import sha
from tqdm.auto import tqdm

from .card import CardError, data_dir_for, render_card, verify_card
from .report import load_reports
from .source import hub_endpoint
from .subsets import Subset, get_subset

logger = logging.getLogger(__name__)

MAX_COMMIT_FILES = 100
MAX_COMMIT_BYTES = 2 * 1024**3
CARD_FILENAME = "README.md"


class PublishError(RuntimeError):
    """A push that cannot go on; the message says what to do."""


@dataclass
class PushResult:
    """What a push did.

    Args:
        repo_id (`str`): the repo pushed to.
        revision (`str`): the branch, or the pull request's ref (`refs/pr/N`), that holds the commits.
        commits (`list[str]`): the shas of the commits made, in order (empty when nothing changed).
        uploaded (`list[str]`): paths committed; skipped (`list[str]`): paths already identical on the Hub;
            deleted (`list[str]`): stale paths removed.
        pr_url (`str`, *optional*): the pull request opened with `create_pr`.
    """

    repo_id: str
    revision: str
    commits: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    pr_url: Optional[str] = None


# ---------------------------------------------------------------------------- tokens and errors


def resolve_token(token: Optional[str] = None) -> str:
    """The token to write with: `token`, else `HF_TOKEN`, else the one saved by `hf auth login`.

    Raises:
        `PublishError`: none is set.
    """
    token = token or get_token()
    if not token:
        raise PublishError(
            "No Hugging Face token found: set HF_TOKEN to a token with write access, or run `hf auth login` "
            "(create a write token at https://huggingface.co/settings/tokens)."
        )
    return token


def redact(text: str, token: Optional[str]) -> str:
    return text.replace(token, "***") if token else text


def explain(err: Exception, repo_id: str, endpoint: str, token: Optional[str], revision: Optional[str] = None) -> str:
    """A message for a failed Hub call that says what to do; never contains `token`."""
    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(err, RevisionNotFoundError):
        message = (
            f"Revision {revision!r} does not exist in dataset repo {repo_id!r} on {endpoint}. Create the branch "
            f"first (`hf repos branch create {repo_id} {revision} --repo-type dataset`) or leave --revision out "
            "to push to main."
        )
    elif isinstance(err, RepositoryNotFoundError) and status != 401:
        message = (
            f"Dataset repo {repo_id!r} does not exist on {endpoint} (or the token cannot see it). Pass --create to "
            "create it (with --private for a private repo), or check the name."
        )
    elif status == 401:
        message = (
            f"{endpoint} rejected the token (401 Unauthorized). Set HF_TOKEN to a valid token or run "
            "`hf auth login` again."
        )
    elif status == 403:
        message = (
            f"The token has no write access to dataset repo {repo_id!r} on {endpoint} (403 Forbidden). Use a "
            "token with the write role (or a fine-grained token allowed to write to this namespace), set as "
            "HF_TOKEN or with `hf auth login`."
        )
    else:
        message = f"{type(err).__name__}: {err}"
    return redact(message, token)


def _is_network_error(err: Exception) -> bool:
    status = getattr(getattr(err, "response", None), "status_code", None)
    return isinstance(err, (httpx2.TransportError, ConnectionError, TimeoutError)) or (
        isinstance(err, HfHubHTTPError) and status is not None and status >= 500
    )


# ---------------------------------------------------------------------------- the built folder


def local_files(folder: Path, config: Optional[str] = None) -> list[str]:
    """The files of a built folder that belong on the Hub: the parquet shards (of `config` only when given)."""
    data_dirs = [data_dir_for(config)] if config else None
    files = []
    for path in sorted(folder.rglob("*.parquet")):
        relative = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts):
            continue  # build caches
        if data_dirs is None or relative.split("/", 1)[0] in data_dirs:
            files.append(relative)
    return files


def check_folder(folder: Path, config: Optional[str] = None) -> dict[str, DatasetInfo]:
    """Check that `folder` is a built folder (a card that parses, parquet for every split); returns its infos.

    Raises:
        `PublishError`: no card, a card that does not parse, a missing config or split files.
    """
    readme = folder / CARD_FILENAME
    if not readme.is_file():
        raise PublishError(
            f"{folder} has no {CARD_FILENAME}: expected a folder written by `pixmo build SUBSET --out {folder}`. "
            "Build it first, or pass --data with the built folder."
        )
    try:
        infos = verify_card(readme.read_text())
    except CardError as err:
        raise PublishError(f"The card in {folder} does not parse: {err}. Rebuild the folder with `pixmo build`.")
    if config is not None and config not in infos:
        raise PublishError(f"The card in {folder} has no config {config!r} (it has {sorted(infos)}).")
    for name, info in infos.items():
        for split in info.splits or {}:
            if not list((folder / data_dir_for(name)).glob(f"{split}-*.parquet")):
                raise PublishError(
                    f"{folder}: the card lists split {split!r} of config {name!r} but "
                    f"{data_dir_for(name)}/{split}-*.parquet is missing. Rebuild the folder with `pixmo build`."
                )
    return infos


# ---------------------------------------------------------------------------- push


def push_folder(
    folder,
    repo_id: str,
    *,
    config: Optional[str] = None,
    revision: Optional[str] = None,
    create_pr: bool = False,
    private: bool = False,
    create: bool = False,
    token: Optional[str] = None,
    endpoint: Optional[str] = None,
    max_commit_files: int = MAX_COMMIT_FILES,
    max_commit_bytes: int = MAX_COMMIT_BYTES,
    commit_message: Optional[str] = None,
) -> PushResult:
    """Upload a built folder (parquet shards and card) to the dataset repo `repo_id`, in several commits.

    Files already on the Hub with the same content are skipped, so rerunning after a failure resumes. Shards
    on the Hub under the pushed data folders that the build no longer has are deleted in the last commit.

    Args:
        folder (`str` or `Path`): the built folder (`pixmo build ... --out DIR`).
        repo_id (`str`): `org/name` of the dataset repo.
        config (`str`, *optional*): push only this config's shards, and the card once every config it
            describes is on the Hub (so configs can be pushed one at a time).
        revision (`str`, *optional*): the branch to push to (defaults to `main`), or `refs/pr/N` to resume
            into an open pull request.
        create_pr (`bool`, *optional*, defaults to `False`): open a pull request against `main` instead of
            committing to it.
        private (`bool`, *optional*, defaults to `False`): make the repo private when `create` creates it.
        create (`bool`, *optional*, defaults to `False`): create the repo when it does not exist.
        token (`str`, *optional*): defaults to `HF_TOKEN` or the saved login.
        endpoint (`str`, *optional*): the Hub endpoint; defaults to `HF_ENDPOINT` read now.
        max_commit_files (`int`, *optional*, defaults to `100`): files per commit at most.
        max_commit_bytes (`int`, *optional*, defaults to 2 GiB): bytes per commit at most (a larger file gets a
            commit of its own).
        commit_message (`str`, *optional*): the first line of each commit; defaults to `Upload <folder name>`.

    Returns:
        `PushResult`: the commits made and the files uploaded, skipped and deleted.

    Raises:
        `PublishError`: with a message that says what to do (no token, no write access, no such repo or
            revision, a network failure: rerun to resume).
    """
    folder = Path(folder)
    check_folder(folder, config)
    if create_pr and revision and not revision.startswith("refs/pr/"):
        raise PublishError(
            f"--create-pr opens a pull request against main and cannot target revision {revision!r}. Leave "
            "--revision out, or pass --revision refs/pr/N (without --create-pr) to add to an open pull request."
        )
    token = resolve_token(token)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    result = PushResult(repo_id, revision or "main")
    try:
        _ensure_repo(api, repo_id, revision, private, create)
        base = "main" if create_pr else (revision or "main")
        additions, result.skipped, deletions = _plan(api, folder, repo_id, base, config)
        batches = plan_batches(additions, deletions, max_commit_files, max_commit_bytes)
        message = commit_message or f"Upload {folder.name}"
        _send_batches(api, repo_id, batches, message, result, create_pr)
    except PublishError:
        raise
    except Exception as err:
        if not _is_network_error(err) and not isinstance(err, HfHubHTTPError):
            raise
        raise PublishError(_push_failure(err, result, repo_id, endpoint, token, revision, create_pr)) from None
    return result


def _push_failure(err, result: PushResult, repo_id, endpoint, token, revision, create_pr) -> str:
    if not _is_network_error(err):
        return explain(err, repo_id, endpoint, token, revision)
    rerun = "rerun the same command to resume"
    if create_pr and result.revision.startswith("refs/pr/"):
        rerun = f"rerun with --revision {result.revision} instead of --create-pr to resume into the same pull request"
    message = (
        f"The upload to {repo_id!r} on {endpoint} stopped after {len(result.commits)} commit(s) "
        f"({len(result.uploaded)} files committed): {type(err).__name__}: {err}. The committed files stay; "
        f"{rerun} (files already on the Hub are skipped and uploaded objects are not sent again)."
    )
    return redact(message, token)


def _ensure_repo(api: HfApi, repo_id: str, revision: Optional[str], private: bool, create: bool) -> None:
    try:
        api.repo_info(repo_id, repo_type="dataset", revision="main")
    except RepositoryNotFoundError as err:
        if not create or getattr(err.response, "status_code", None) == 401:
            raise
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        logger.info("Created dataset repo %s (%s)", url, "private" if private else "public")
    else:
        if private:
            logger.warning("%s exists: --private only applies when --create creates the repo.", repo_id)
    if revision and revision != "main":
        api.repo_info(repo_id, repo_type="dataset", revision=revision)


def _plan(api: HfApi, folder: Path, repo_id: str, base: str, config: Optional[str]):
    """Split the folder's files into additions (changed or new) and unchanged ones; find stale remote shards."""
    remote = {
        f.path: f for f in api.list_repo_tree(repo_id, repo_type="dataset", revision=base, recursive=True)
        if hasattr(f, "blob_id")
    }
    paths = local_files(folder, config)
    held_back = configs_missing_on_hub(folder, config, set(remote)) if config else []
    if held_back:
        logger.warning(
            "The card describes config(s) %s, whose shards are not in %s@%s yet: pushing config %r without the card. "
            "Push the others with --config to send the card with the last of them.", held_back, repo_id, base, config,
        )
    additions, skipped = [], []
    for path in tqdm(paths + ([] if held_back else [CARD_FILENAME]), desc="Hashing", unit="file",
                     disable=len(paths) < 10):
        operation = CommitOperationAdd(path_in_repo=path, path_or_fileobj=folder / path)
        if _same_content(operation, folder / path, remote.get(path)):
            skipped.append(path)
        else:
            additions.append(operation)
    data_dirs = {p.split("/", 1)[0] for p in paths}
    stale = sorted(
        p for p in remote if p.endswith(".parquet") and p.split("/", 1)[0] in data_dirs and p not in set(paths)
    )
    return additions, skipped, [CommitOperationDelete(path_in_repo=p) for p in stale]


def configs_missing_on_hub(folder: Path, config: str, remote: set) -> list[str]:
    """The configs, other than `config`, that the folder's card describes but whose shards the Hub lacks."""
    missing = []
    for name, info in check_folder(folder).items():
        patterns = [f"{data_dir_for(name)}/{split}-*" for split in info.splits or {}]
        if name != config and any(not fnmatch.filter(remote, pattern) for pattern in patterns):
            missing.append(name)
    return missing


def _same_content(operation: CommitOperationAdd, path: Path, remote) -> bool:
    if remote is None or remote.size != operation.upload_info.size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == operation.upload_info.sha256.hex()
    return remote.blob_id == sha.git_hash(path.read_bytes())


def plan_batches(additions: list, deletions: list, max_files: int, max_bytes: int) -> list[list]:
    """Group operations into commits: data files by count and bytes, then the card and the deletions last."""
    data = [op for op in additions if op.path_in_repo != CARD_FILENAME]
    last = [op for op in additions if op.path_in_repo == CARD_FILENAME] + list(deletions)
    batches, current, size = [], [], 0
    for op in data:
        if current and (len(current) >= max_files or size + op.upload_info.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(op)
        size += op.upload_info.size
    if current:
        batches.append(current)
    if last:
        batches.append(last)
    return batches


def _send_batches(api: HfApi, repo_id: str, batches, message: str, result: PushResult, create_pr: bool) -> None:
    """One commit per batch; with `create_pr` the first opens the pull request and the others go to its ref."""
    for index, operations in enumerate(tqdm(batches, desc=f"Committing to {repo_id}", unit="commit"), start=1):
        title = message if len(batches) == 1 else f"{message} (part {index} of {len(batches)})"
        open_pr = create_pr and result.pr_url is None
        info = api.create_commit(
            repo_id, operations, commit_message=title, repo_type="dataset",
            revision=None if open_pr else result.revision, create_pr=open_pr,
        )
        if open_pr:
            result.pr_url, result.revision = info.pr_url, info.pr_revision
        result.commits.append(info.oid)
        for op in operations:
            (result.deleted if isinstance(op, CommitOperationDelete) else result.uploaded).append(op.path_in_repo)
        logger.info("Committed %d file(s) to %s@%s: %s", len(operations), repo_id, result.revision, info.oid[:10])


# ---------------------------------------------------------------------------- cards


def regenerate_card(subset: Subset, folder, previous=None) -> tuple[DatasetCard, dict[str, DatasetInfo]]:
    """The card this project writes for a built folder: the builder's features, the build's splits and report.

    Args:
        subset (`Subset`): the subset the folder was built from.
        folder (`str` or `Path`): the built folder (its `README.md` and `build_report.json`).
        previous (`DatasetCardData`, *optional*): metadata to keep (the Hub card's, so fields set there stay);
            defaults to the built card's.

    Raises:
        `PublishError`: the folder is not a build of `subset`, or the build's features differ from the builder's.
    """
    folder = Path(folder)
    infos = check_folder(folder)
    configs = {c.name: c for c in subset.builder.BUILDER_CONFIGS}
    for name, info in infos.items():
        if name not in configs:
            raise PublishError(
                f"{folder} has config {name!r}, which {subset.package} does not define ({sorted(configs)})."
            )
        if configs[name].features is not None and info.features != configs[name].features:
            raise PublishError(
                f"{folder}: the features of config {name!r} differ from the builder's; the build is stale. Rebuild "
                f"it with `pixmo build {subset.package} --out {folder}`."
            )
    reports = {name: report for name, report in load_reports(folder).items() if name in infos}
    local = DatasetCard.load(folder / CARD_FILENAME).data
    card = render_card(subset, infos, reports, previous if previous is not None else local)
    return card, infos


def fetch_card(api: HfApi, repo_id: str, revision: str = "main") -> Optional[str]:
    """The text of the repo's `README.md` at `revision`, or `None` when it has none."""
    try:
        path = api.hf_hub_download(repo_id, CARD_FILENAME, repo_type="dataset", revision=revision)
    except EntryNotFoundError:
        return None
    return Path(path).read_text()


def diff_card(subset_name: str, folder, repo_id: str, *, revision: str = "main", token: Optional[str] = None,
              endpoint: Optional[str] = None) -> str:
    """A unified diff from the Hub's card of `repo_id` to the one this project writes for `folder`; empty when equal.

    Reading needs no token for a public repo: `token` defaults to `HF_TOKEN` or the saved login, if any.
    """
    subset = get_subset(subset_name)
    token = token or get_token()
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        remote = fetch_card(api, repo_id, revision)
    except (HfHubHTTPError, httpx2.TransportError) as err:
        if not isinstance(err, RepositoryNotFoundError):
            raise PublishError(explain(err, repo_id, endpoint, token, revision)) from None
        logger.warning("%s does not exist on %s: showing the whole card as new.", repo_id, endpoint)
        remote = None
    previous = DatasetCard(remote).data if remote else None
    card, _ = regenerate_card(subset, folder, previous)
    lines = difflib.unified_diff(
        (remote or "").splitlines(keepends=True), str(card).splitlines(keepends=True),
        fromfile=f"{repo_id}@{revision}/{CARD_FILENAME}", tofile=f"{Path(folder)}/{CARD_FILENAME} (regenerated)",
    )
    return "".join(lines)


def push_card(subset_name: str, folder, repo_id: str, *, create_pr: bool = False, revision: Optional[str] = None,
              token: Optional[str] = None, endpoint: Optional[str] = None):
    """Regenerate the card of a built folder and push it, alone, to `repo_id` (a commit or a pull request).

    The card is refused before anything is sent when its YAML does not round-trip through `datasets`; it is
    refused after reading the repo when its configs point at data files the repo does not have.

    Returns:
        `CommitInfo`: the commit (with `pr_url` when `create_pr`).
    """
    subset = get_subset(subset_name)
    token = resolve_token(token)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    card, infos = regenerate_card(subset, folder, _hub_card_data(api, repo_id, revision or "main", endpoint, token))
    return push_card_text(str(card), repo_id, infos, create_pr=create_pr, revision=revision, token=token,
                          endpoint=endpoint)


def _hub_card_data(api: HfApi, repo_id: str, revision: str, endpoint: str, token: str):
    try:
        remote = fetch_card(api, repo_id, revision)
    except (HfHubHTTPError, httpx2.TransportError) as err:
        raise PublishError(explain(err, repo_id, endpoint, token, revision)) from None
    return DatasetCard(remote).data if remote else None


def push_card_text(text: str, repo_id: str, expected: dict[str, DatasetInfo], *, create_pr: bool = False,
                   revision: Optional[str] = None, token: Optional[str] = None, endpoint: Optional[str] = None):
    """Push `text` as the repo's `README.md` after checking it: its YAML must round-trip to `expected` (checked
    before anything is sent) and its configs must point at files the repo has.

    Raises:
        `CardError`: the YAML does not round-trip; nothing was sent.
        `PublishError`: the repo lacks the data the card describes, or the Hub refused the commit.
    """
    verify_card(text, expected)
    token = resolve_token(token)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    base = "main" if create_pr else (revision or "main")
    try:
        _check_card_data_files(api, repo_id, base, text)
        return api.create_commit(
            repo_id, [CommitOperationAdd(CARD_FILENAME, text.encode())], repo_type="dataset",
            commit_message="Update the dataset card", revision=None if create_pr else revision, create_pr=create_pr,
        )
    except (HfHubHTTPError, httpx2.TransportError) as err:
        raise PublishError(explain(err, repo_id, endpoint, token, revision)) from None


def _check_card_data_files(api: HfApi, repo_id: str, revision: str, text: str) -> None:
    remote = [f.path for f in api.list_repo_tree(repo_id, repo_type="dataset", revision=revision, recursive=True)]
    configs = MetadataConfigs.from_dataset_card_data(DatasetCard(text).data)
    for name, config in configs.items():
        for entry in config.get("data_files", []):
            patterns = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
            for pattern in patterns:
                if not fnmatch.filter(remote, pattern):
                    raise PublishError(
                        f"{repo_id}@{revision} has no files matching {pattern!r}, which config {name!r} of the card "
                        f"points at. Push the data first with `pixmo push SUBSET --repo {repo_id} --data DIR`."
                    )

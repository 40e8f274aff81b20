"""A local, read-only Hub endpoint: folders kept as git repos under a root and served by `olah` on 127.0.0.1.

With `HF_ENDPOINT` set to the URL that `LocalHub.serve()` yields, `datasets.load_dataset("allenai/pixmo-points")`
and `huggingface_hub.snapshot_download("allenai/pixmo-points", repo_type="dataset")` read the local copies (both
ask for `main` when no revision is given). olah cannot resolve the default branch of a local repo on its own, so a
repo-info call without a revision (`HfApi().dataset_info(repo_id)`) fails there: pass `revision="main"`. Nor does it
resolve `refs/pr/N` by name (it routes on the decoded path): read a pull request by its head commit sha.

Example:

```python
hub = LocalHub("/tmp/hub")
hub.add_repo("allenai/pixmo-points", "./pixmo-points")
with hub.serve() as endpoint:
    ds = datasets.load_dataset("allenai/pixmo-points")  # in a process started with HF_ENDPOINT=endpoint
```
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import requests

logger = logging.getLogger(__name__)

REPO_TYPES = {"dataset": "datasets", "model": "models", "space": "spaces"}
GIT_IDENTITY = ["-c", "user.name=pixmo", "-c", "user.email=pixmo@localhost", "-c", "commit.gpgsign=false"]
DEFAULT_BRANCH = "main"
START_ATTEMPTS = 3


class LocalHubError(RuntimeError):
    """The local endpoint could not store a repo or did not start."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def run_git(repo_dir, *args: str) -> str:
    """Run one git command in `repo_dir` with a fixed identity; returns its stdout, stripped.

    Raises:
        `LocalHubError`: git exited non-zero (its stderr is in the message).
    """
    result = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=repo_dir, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LocalHubError(f"`git {' '.join(args)}` failed in {repo_dir}: {result.stderr.strip()}")
    return result.stdout.strip()


def init_git_repo(repo_dir) -> None:
    """Create an empty git repo on branch `main` (no-op when one exists)."""
    repo_dir = Path(repo_dir)
    repo_dir.mkdir(parents=True, exist_ok=True)
    if not (repo_dir / ".git").is_dir():
        run_git(repo_dir, "init", "--quiet", "--initial-branch", DEFAULT_BRANCH)


def hub_repo_dir(root, repo_id: str, repo_type: str = "dataset") -> Path:
    """Where `repo_id` lives under `root`, as olah's local mirrors lay repos out: `{root}/datasets/{org}/{name}`."""
    if repo_type not in REPO_TYPES:
        raise ValueError(f"repo_type must be one of {sorted(REPO_TYPES)}, got {repo_type!r}")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") for p in parts):
        raise ValueError(f"repo_id must be 'org/name' (e.g. 'allenai/pixmo-points'), got {repo_id!r}")
    return Path(root, REPO_TYPES[repo_type], *parts)


class LocalHub:
    """Hub repos kept as git repositories under `root`, served read-only by olah.

    Args:
        root (`str` or `Path`): the folder holding the repos (`{root}/datasets/{org}/{name}`) and olah's
            cache, config and log (`{root}/.olah`).
    """

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def repo_dir(self, repo_id: str, repo_type: str = "dataset") -> Path:
        return hub_repo_dir(self.root, repo_id, repo_type)

    def add_repo(self, repo_id: str, folder, repo_type: str = "dataset", message: Optional[str] = None) -> str:
        """Copy `folder` into the repo `repo_id` (replacing its files) and commit it on `main`.

        Args:
            repo_id (`str`): `org/name`, e.g. `allenai/pixmo-points`.
            folder (`str` or `Path`): a folder laid out as the Hub repo (`data/*.parquet`, `README.md`).
            repo_type (`str`, *optional*, defaults to `"dataset"`): `dataset`, `model` or `space`.
            message (`str`, *optional*): the commit message; defaults to `Add files from <folder>`.

        Returns:
            `str`: the sha of the commit (the previous head when nothing changed).
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise LocalHubError(
                f"Cannot add {repo_id!r}: {folder} is not a folder. Pass a folder laid out as the repo."
            )
        repo_dir = self.repo_dir(repo_id, repo_type)
        init_git_repo(repo_dir)
        for entry in repo_dir.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        shutil.copytree(folder, repo_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git", ".cache*"))
        run_git(repo_dir, "add", "--all")
        if run_git(repo_dir, "status", "--porcelain"):
            run_git(repo_dir, "commit", "--quiet", "-m", message or f"Add files from {folder.name}")
        sha = run_git(repo_dir, "rev-parse", "HEAD")
        logger.info("Committed %s to local %s repo %s at %s", folder, repo_type, repo_id, sha[:10])
        return sha

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: Optional[int] = None, timeout: float = 60.0) -> Iterator[str]:
        """Serve the repos under `root` read-only with olah; yields the endpoint URL (`http://127.0.0.1:PORT`).

        The server runs in its own process group, which is killed on exit, also when the body raises.

        Args:
            host (`str`, *optional*, defaults to `"127.0.0.1"`): the address to listen on.
            port (`int`, *optional*): the port; defaults to a free one.
            timeout (`float`, *optional*, defaults to `60.0`): seconds to wait for the server to answer.
        """
        with serve_olah([self.root], self.root / ".olah", host=host, port=port, timeout=timeout) as endpoint:
            yield endpoint


@contextlib.contextmanager
def serve_olah(mirror_roots, state_dir, host: str = "127.0.0.1", port: Optional[int] = None,
               timeout: float = 60.0) -> Iterator[str]:
    """Run olah offline over the local git repos under `mirror_roots`; yields its URL and stops it on exit.

    Args:
        mirror_roots (`list`): folders laid out as `{root}/{datasets|models|spaces}/{org}/{name}` git repos.
        state_dir (`str` or `Path`): where olah's config, cache and log go.
        host (`str`, *optional*, defaults to `"127.0.0.1"`): the address to listen on.
        port (`int`, *optional*): the port; defaults to a free one.
        timeout (`float`, *optional*, defaults to `60.0`): seconds to wait for the server to answer.
    """
    # olah runs inside `state_dir` and reads its config by path: a relative path would be read from there.
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    # A free port can be taken between choosing it and olah binding it: choose again when olah exits early.
    attempts = 1 if port else START_ATTEMPTS
    for attempt in range(1, attempts + 1):
        process, url = _start_olah(mirror_roots, state_dir, host, port or free_port(host))
        try:
            wait_until_ready(url + "/docs", process, timeout, state_dir / "olah.out")  # served locally, not proxied
            break
        except LocalHubError:
            exited_early = process.poll() is not None  # a timeout is not a port clash: no retry
            stop_process_group(process)
            if attempt == attempts or not exited_early:
                raise
            logger.warning("olah did not start on %s (attempt %d of %d); trying another port", url, attempt, attempts)
    try:
        logger.info("olah serves %s at %s", ", ".join(str(r) for r in mirror_roots), url)
        yield url
    finally:
        stop_process_group(process)


def _start_olah(mirror_roots, state_dir: Path, host: str, port: int) -> tuple[subprocess.Popen, str]:
    config = state_dir / "olah.toml"
    config.write_text(_olah_config(mirror_roots, state_dir, host, port))
    with open(state_dir / "olah.out", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "--config", str(config), "--log-path", str(state_dir / "logs")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=state_dir,
        )
    return process, f"http://{host}:{port}"


def _olah_config(mirror_roots, state_dir: Path, host: str, port: int) -> str:
    mirrors = ", ".join(f'"{Path(r).resolve().as_posix()}"' for r in mirror_roots)
    return (
        "[basic]\n"
        f'host = "{host}"\n'
        f"port = {port}\n"
        f'repos-path = "{(state_dir / "cache").resolve().as_posix()}"\n'
        f'mirror-netloc = "{host}:{port}"\n'
        f'mirror-lfs-netloc = "{host}:{port}"\n'
        f"mirrors-path = [{mirrors}]\n"
        "metadata-cache-ttl = 0\n"
        "\n[accessibility]\n"
        "offline = true\n"
    )


@contextlib.contextmanager
def use_endpoint(url: str) -> Iterator[str]:
    """Point `huggingface_hub` and `datasets` in this process at `url`, and restore the previous endpoint on exit.

    Both libraries read `HF_ENDPOINT` once, at import, into module constants; a process that imported them
    before the endpoint was known (a test, a demo) needs those constants set too. A fresh process only needs
    `HF_ENDPOINT` in its environment.
    """
    import datasets.config
    from huggingface_hub import constants

    url = url.rstrip("/")
    saved_env = os.environ.get("HF_ENDPOINT")
    names = {
        constants: {"ENDPOINT": url, "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}"},
        datasets.config: {
            "HF_ENDPOINT": url, "HUB_DATASETS_URL": url + "/datasets/{repo_id}/resolve/{revision}/{path}"
        },
    }
    saved = {module: {name: getattr(module, name) for name in values} for module, values in names.items()}
    os.environ["HF_ENDPOINT"] = url
    for module, values in names.items():
        for name, value in values.items():
            setattr(module, name, value)
    try:
        yield url
    finally:
        for module, values in saved.items():
            for name, value in values.items():
                setattr(module, name, value)
        if saved_env is None:
            os.environ.pop("HF_ENDPOINT", None)
        else:
            os.environ["HF_ENDPOINT"] = saved_env


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float, log_path: Optional[Path] = None) -> None:
    """Poll `url` until it answers (any HTTP status); fail early when `process` exits.

    Raises:
        `LocalHubError`: the process died or `timeout` seconds passed without an answer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalHubError(
                f"The server exited with code {process.returncode} before answering {url}. {_tail(log_path)}"
            )
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise LocalHubError(f"The server did not answer {url} within {timeout:.0f} s. {_tail(log_path)}")


def _tail(log_path: Optional[Path], lines: int = 20) -> str:
    if log_path is None or not Path(log_path).exists():
        return ""
    text = Path(log_path).read_text(errors="replace").splitlines()[-lines:]
    return f"Its log ({log_path}) ends with:\n" + "\n".join(text)


def stop_process_group(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop `process` and every process in its group: SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

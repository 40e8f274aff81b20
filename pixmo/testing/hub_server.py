"""A Hub-compatible server on 127.0.0.1 that accepts writes and keeps each repo as a git repository.

It speaks the part of the Hub API that `huggingface_hub` uses to publish a dataset over the LFS protocol
(run clients with `HF_HUB_DISABLE_XET=1`): create repo, repo info, refs, preupload, LFS batch and upload,
commit (to a branch or a new pull request), tree, paths-info, resolve and validate-yaml. Repos are laid
out as `{root}/datasets/{org}/{name}`, the layout `pixmo.localhub.LocalHub` serves read-only through olah,
so what a client pushed can be read back by an independent implementation. LFS files are committed to git
with their real bytes.

Tokens: `write_token` may write, `read_token` gets 403 on writes, no token gets 401 on writes.
`drop_requests` makes chosen requests fail as a dropped connection, for resume tests.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from pixmo.localhub import REPO_TYPES, hub_repo_dir, init_git_repo, run_git
from pixmo.testing.http_server import send_body

logger = logging.getLogger(__name__)

_PLURAL_TO_TYPE = {plural: singular for singular, plural in REPO_TYPES.items()}
_REPO = r"(?P<type>datasets|models|spaces)/(?P<repo>[^/]+/[^/]+)"
TEXT_SUFFIXES = (".md", ".json", ".txt", ".yaml", ".yml", ".gitattributes")
REGULAR_MAX_BYTES = 10 * 1024**2  # the Hub sends larger files, and every binary file, through LFS


class HubError(Exception):
    """An HTTP error answered the way the Hub does: status, `X-Error-Code` and a JSON `error` message."""

    def __init__(self, status: int, message: str, code: Optional[str] = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class HubWriteServer:
    """A writable Hub endpoint over git repos under `root`; use as a context manager (it starts and stops).

    Args:
        root (`str` or `Path`): where the repos live (`{root}/datasets/{org}/{name}`) and LFS uploads wait.
        write_token (`str`): the token that may write.
        read_token (`str`, *optional*): a token that authenticates but may not write (403 on writes).
        user (`str`, *optional*, defaults to `"pixmo-user"`): the user name `whoami` returns.
    """

    def __init__(self, root, write_token: str, read_token: Optional[str] = None, user: str = "pixmo-user"):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lfs_dir = self.root / ".lfs-uploads"
        self.lfs_dir.mkdir(exist_ok=True)
        self.tokens = {write_token: "write"}
        if read_token:
            self.tokens[read_token] = "read"
        self.user = user
        self.calls = Counter()  # route name -> requests answered
        self.drop_requests: dict[str, set] = {}  # route name -> call numbers (1-based) to drop
        self._lock = threading.Lock()
        self._secret = os.urandom(16)
        self._sha256: dict[str, str] = {}  # git blob id -> sha256 of its bytes
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "HubWriteServer":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-write-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    # ------------------------------------------------------------------ repos

    def repo_dir(self, repo_type: str, repo_id: str) -> Path:
        return hub_repo_dir(self.root, repo_id, _PLURAL_TO_TYPE[repo_type])

    def existing_repo(self, repo_type: str, repo_id: str) -> Path:
        path = self.repo_dir(repo_type, repo_id)
        if not (path / ".git").is_dir():
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return path

    def resolve(self, repo_dir: Path, revision: str) -> str:
        revision = unquote(revision)
        for ref in (f"refs/heads/{revision}", revision, f"refs/tags/{revision}"):
            with contextlib.suppress(Exception):
                return run_git(repo_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> None:
        path = self.repo_dir(repo_type, repo_id)
        if (path / ".git").is_dir():
            raise HubError(409, "You already created this repo")
        init_git_repo(path)
        run_git(path, "config", "pixmo.private", "true" if private else "false")
        # An empty initial commit, as the Hub makes one with a .gitattributes.
        run_git(path, "commit", "--allow-empty", "--quiet", "-m", "initial commit")

    def entries(self, repo_dir: Path, sha: str, path: str = "", recursive: bool = True) -> list[dict]:
        """Files and folders of the tree at `sha` under `path`, as the Hub's tree API lists them."""
        under = path.strip("/")
        out = []
        for line in run_git(repo_dir, "ls-tree", "-r", "-t", "-l", "--full-tree", sha).splitlines():
            meta, name = line.split("\t", 1)
            _, kind, oid, size = meta.split()
            parent = name.rpartition("/")[0]
            inside = parent == under if not recursive else (not under or name.startswith(under + "/"))
            if not inside:
                continue
            if kind == "tree":
                out.append({"type": "directory", "oid": oid, "size": 0, "path": name})
                continue
            entry = {"type": "file", "oid": oid, "size": int(size), "path": name}
            if self.is_lfs_path(name, int(size)):
                entry["lfs"] = {"oid": self.sha256_of(repo_dir, oid), "size": int(size), "pointerSize": 134}
            out.append(entry)
        return out

    @staticmethod
    def is_lfs_path(path: str, size: int) -> bool:
        return size > REGULAR_MAX_BYTES or not path.endswith(TEXT_SUFFIXES)

    def sha256_of(self, repo_dir: Path, blob: str) -> str:
        if blob not in self._sha256:
            self._sha256[blob] = hashlib.sha256(_git_bytes(repo_dir, "cat-file", "blob", blob)).hexdigest()
        return self._sha256[blob]

    def commit(self, repo_dir: Path, revision: str, lines: list[dict], create_pr: bool) -> dict:
        header = next(line["value"] for line in lines if line["key"] == "header")
        parent = self.resolve(repo_dir, "main" if create_pr else revision)
        if header.get("parentCommit") and header["parentCommit"] != parent:
            raise HubError(412, f"parentCommit {header['parentCommit']} is not the head {parent}")
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".index-") as index:
            env = {**os.environ, "GIT_INDEX_FILE": index.name}
            _git_bytes(repo_dir, "read-tree", parent, env=env)
            for line in lines:
                self._apply(repo_dir, line, env)
            tree = _git_bytes(repo_dir, "write-tree", env=env).decode().strip()
        message = header.get("summary") or "commit"
        if header.get("description"):
            message += "\n\n" + header["description"]
        sha = run_git(repo_dir, "commit-tree", tree, "-p", parent, "-m", message)
        ref = self._target_ref(repo_dir, revision, create_pr)
        run_git(repo_dir, "update-ref", ref, sha)
        return {"sha": sha, "ref": ref}

    def _apply(self, repo_dir: Path, line: dict, env: dict) -> None:
        key, value = line["key"], line.get("value", {})
        if key == "file":
            data = base64.b64decode(value["content"])
        elif key == "lfsFile":
            data = self._lfs_object(value["oid"], value["size"])
        elif key in ("deletedFile", "deletedFolder"):
            _git_bytes(repo_dir, "rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", value["path"], env=env)
            return
        elif key == "header":
            return
        else:
            raise HubError(400, f"Unsupported commit operation {key!r}")
        blob = _git_bytes(repo_dir, "hash-object", "-w", "--stdin", input=data).decode().strip()
        _git_bytes(repo_dir, "update-index", "--add", "--cacheinfo", f"100644,{blob},{value['path']}", env=env)

    def _lfs_object(self, oid: str, size: int) -> bytes:
        path = self.lfs_dir / oid
        if not path.exists():
            raise HubError(400, f"LFS object {oid} was not uploaded before the commit")
        data = path.read_bytes()
        if len(data) != size:
            raise HubError(400, f"LFS object {oid} has {len(data)} bytes, the commit says {size}")
        return data

    def _target_ref(self, repo_dir: Path, revision: str, create_pr: bool) -> str:
        if create_pr:
            numbers = [int(r.rsplit("/", 1)[1]) for r in _refs(repo_dir) if r.startswith("refs/pr/")]
            return f"refs/pr/{max(numbers, default=0) + 1}"
        revision = unquote(revision)
        if revision.startswith("refs/"):
            return revision
        return f"refs/heads/{revision}"

    def sign(self, oid: str) -> str:
        """The signature that makes an upload URL valid, like a presigned storage URL: no token is sent with it."""
        return hmac.new(self._secret, oid.encode(), hashlib.sha256).hexdigest()

    def store_lfs(self, oid: str, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"Uploaded bytes do not hash to {oid}")
        tmp = self.lfs_dir / f".{oid}.part"
        tmp.write_bytes(data)
        tmp.replace(self.lfs_dir / oid)


@contextlib.contextmanager
def hub_client_sandbox(folder, token: Optional[str] = None):
    """Run `huggingface_hub` in this process against test servers: its own cache and login file under `folder`,
    uploads over LFS (Xet off, as these servers speak LFS only) and `HF_TOKEN` set to `token` (or unset).
    Everything is restored on exit.
    """
    import datasets.config
    from huggingface_hub import constants

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    patches = {
        constants: {"HF_HUB_CACHE": str(folder / "hub"), "HF_TOKEN_PATH": str(folder / "token"),
                    "HF_HUB_DISABLE_XET": True},
        datasets.config: {"HF_DATASETS_CACHE": folder / "datasets", "HF_HUB_CACHE": str(folder / "hub")},
    }
    patches = {module: {k: v for k, v in values.items() if hasattr(module, k)} for module, values in patches.items()}
    env = {"HF_HUB_DISABLE_XET": "1", "HF_TOKEN": token}
    saved = {module: {name: getattr(module, name) for name in values} for module, values in patches.items()}
    saved_env = {name: os.environ.get(name) for name in env}
    for module, values in patches.items():
        for name, value in values.items():
            setattr(module, name, value)
    _set_env(env)
    try:
        yield folder
    finally:
        for module, values in saved.items():
            for name, value in values.items():
                setattr(module, name, value)
        _set_env(saved_env)


def _set_env(values: dict) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _git_bytes(repo_dir, *args, env=None, input: Optional[bytes] = None) -> bytes:
    import subprocess

    result = subprocess.run(["git", *args], cwd=repo_dir, env=env, input=input, capture_output=True, check=False)
    if result.returncode != 0:
        raise HubError(500, f"git {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _refs(repo_dir) -> list[str]:
    out = run_git(repo_dir, "for-each-ref", "--format=%(refname) %(objectname)")
    return [line.split()[0] for line in out.splitlines()]


class _Handler(BaseHTTPRequestHandler):
    hub: HubWriteServer
    protocol_version = "HTTP/1.1"

    ROUTES = [
        ("POST", r"/api/repos/create", "create_repo"),
        ("GET", r"/api/whoami-v2", "whoami"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("POST", rf"/api/{_REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
        ("POST", rf"/api/{_REPO}/commit/(?P<rev>[^/]+)", "commit"),
        ("GET", rf"/api/{_REPO}/refs", "refs"),
        ("GET", rf"/api/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
        ("POST", rf"/api/{_REPO}/paths-info/(?P<rev>[^/]+)", "paths_info"),
        ("GET", rf"/api/{_REPO}(?:/revision/(?P<rev>[^/]+))?", "repo_info"),
        ("POST", rf"/{_REPO}\.git/info/lfs/objects/batch", "lfs_batch"),
        ("PUT", r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "lfs_upload"),
        ("GET", rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
        ("HEAD", rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ]
    WRITES = {"create_repo", "preupload", "commit", "lfs_batch"}  # lfs_upload carries a signed URL instead

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        for route_method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, url.path)
            if route_method == method and match:
                break
        else:
            return self._send_error(HubError(404, f"No route for {method} {url.path}"))
        with self.hub._lock:
            self.hub.calls[name] += 1
            dropped = self.hub.calls[name] in self.hub.drop_requests.get(name, ())
        if dropped:
            return self._drop()
        try:
            if name in self.WRITES:
                self._authorize_write()
            params = {k: unquote(v) if v else v for k, v in match.groupdict().items()}
            with self.hub._lock:
                getattr(self, f"_{name}")(**params)
        except HubError as err:
            self._send_error(err)

    def _drop(self) -> None:
        """End the connection without an answer, as a network failure would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _authorize_write(self) -> None:
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        if not token:
            raise HubError(401, "Authorization required: send a write token")
        role = self.hub.tokens.get(token)
        if role is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        if role != "write":
            raise HubError(403, "This token does not have write access to this resource")

    # ---------------------------------------------------------------- responses

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json", headers=None) -> None:
        send_body(self, status, body, content_type, headers)

    def _json(self, data, status: int = 200, headers=None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _send_error(self, err: HubError) -> None:
        headers = {"X-Error-Message": err.message}
        if err.code:
            headers["X-Error-Code"] = err.code
        self._json({"error": err.message}, err.status, headers)

    # ------------------------------------------------------------------ routes

    def _whoami(self) -> None:
        auth = self.headers.get("Authorization", "")
        role = self.hub.tokens.get(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        if role is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        self._json({"type": "user", "name": self.hub.user, "orgs": [],
                    "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}}})

    def _create_repo(self) -> None:
        data = json.loads(self.body or b"{}")
        repo_type = REPO_TYPES.get(data.get("type") or "model")
        repo_id = f"{data.get('organization') or self.hub.user}/{data['name']}"
        self.hub.create_repo(repo_type, repo_id, bool(data.get("private")))
        prefix = "" if repo_type == "models" else f"{repo_type}/"
        self._json({"url": f"{self.hub.url}/{prefix}{repo_id}", "name": repo_id})

    def _validate_yaml(self) -> None:
        content = json.loads(self.body)["content"]
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, flags=re.S)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as err:
            return self._json({"errors": [{"message": f"Invalid YAML: {err}"}]}, 400)
        if metadata is not None and not isinstance(metadata, dict):
            return self._json({"errors": [{"message": "The metadata must be a YAML mapping"}]}, 400)
        self._json({"errors": [], "warnings": []})

    def _repo_info(self, type: str, repo: str, rev: Optional[str] = None) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        sha = self.hub.resolve(repo_dir, rev or "main")
        files = [e for e in self.hub.entries(repo_dir, sha) if e["type"] == "file"]
        private = run_git(repo_dir, "config", "--default", "false", "--get", "pixmo.private") == "true"
        self._json({"id": repo, "author": repo.split("/")[0], "sha": sha, "private": private,
                    "siblings": [{"rfilename": e["path"]} for e in files], "tags": []})

    def _refs(self, type: str, repo: str) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        out = {"branches": [], "tags": [], "converts": [], "pullRequests": []}
        groups = {"refs/heads/": "branches", "refs/tags/": "tags", "refs/pr/": "pullRequests"}
        for line in run_git(repo_dir, "for-each-ref", "--format=%(refname) %(objectname)").splitlines():
            ref, sha = line.split()
            for prefix, group in groups.items():
                if ref.startswith(prefix):
                    out[group].append({"name": ref[len(prefix):], "ref": ref, "targetCommit": sha})
        self._json(out)

    def _tree(self, type: str, repo: str, rev: str, path: Optional[str] = None) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        sha = self.hub.resolve(repo_dir, rev)
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        entries = self.hub.entries(repo_dir, sha, path or "", recursive=recursive)
        if path and not entries:
            raise HubError(404, f"{path} does not exist at {rev}", "EntryNotFound")
        self._json(entries)

    def _paths_info(self, type: str, repo: str, rev: str) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        sha = self.hub.resolve(repo_dir, rev)
        form = parse_qs(self.body.decode())
        wanted = set(form.get("paths", []))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            wanted = set(json.loads(self.body).get("paths", []))
        self._json([e for e in self.hub.entries(repo_dir, sha) if e["path"] in wanted])

    def _preupload(self, type: str, repo: str, rev: str) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        sha = self.hub.resolve(repo_dir, "main" if self.query.get("create_pr") else rev)
        remote = {e["path"]: e for e in self.hub.entries(repo_dir, sha) if e["type"] == "file"}
        files = []
        for item in json.loads(self.body)["files"]:
            lfs = self.hub.is_lfs_path(item["path"], item["size"])
            entry = remote.get(item["path"])
            oid = (entry.get("lfs", {}).get("oid") if lfs else entry["oid"]) if entry else None
            files.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                          "shouldIgnore": False, "oid": oid})
        self._json({"files": files, "commitOid": sha})

    def _lfs_batch(self, type: str, repo: str) -> None:  # noqa: A002
        self.hub.existing_repo(type, repo)
        objects = []
        for obj in json.loads(self.body)["objects"]:
            item = {"oid": obj["oid"], "size": obj["size"]}
            if not (self.hub.lfs_dir / obj["oid"]).exists():
                href = f"{self.hub.url}/lfs-upload/{obj['oid']}?sig={self.hub.sign(obj['oid'])}"
                item["actions"] = {"upload": {"href": href, "header": {}}}
            objects.append(item)
        self._json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                   headers={"Content-Type": "application/vnd.git-lfs+json"})

    def _lfs_upload(self, oid: str) -> None:
        if not hmac.compare_digest(self.query.get("sig", ""), self.hub.sign(oid)):
            raise HubError(403, "The upload URL is not signed for this object: ask the LFS batch endpoint for one")
        self.hub.store_lfs(oid, self.body)
        self._send(200, b"")

    def _commit(self, type: str, repo: str, rev: str) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
        create_pr = self.query.get("create_pr") in ("1", "true")
        result = self.hub.commit(repo_dir, rev, lines, create_pr)
        prefix = "" if type == "models" else f"{type}/"
        base = f"{self.hub.url}/{prefix}{repo}"
        pr_url = f"{base}/discussions/{result['ref'].rsplit('/', 1)[1]}" if create_pr else None
        self._json({"success": True, "commitOid": result["sha"], "commitUrl": f"{base}/commit/{result['sha']}",
                    "pullRequestUrl": pr_url, "hookOutput": ""})

    def _resolve(self, type: str, repo: str, rev: str, path: str) -> None:  # noqa: A002
        repo_dir = self.hub.existing_repo(type, repo)
        sha = self.hub.resolve(repo_dir, rev)
        entry = next((e for e in self.hub.entries(repo_dir, sha) if e["path"] == path and e["type"] == "file"), None)
        if entry is None:
            raise HubError(404, f"{path} does not exist at {rev}", "EntryNotFound")
        data = _git_bytes(repo_dir, "cat-file", "blob", entry["oid"])
        etag = entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]
        headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Accept-Ranges": "none"}
        if "lfs" in entry:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        self._send(200, data, "application/octet-stream", headers)


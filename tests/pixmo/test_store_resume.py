"""A fetch killed with SIGKILL half-way, run again, ends with exactly the store an uninterrupted run makes."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from pixmo.fetch import FetchOptions
from pixmo.store import ImageStore
from pixmo.testing.http_server import make_images, serve_images

IMAGES = make_images(60, seed=11)
NAMES = sorted(IMAGES)
SHA = {name: hashlib.sha256(data).hexdigest() for name, data in IMAGES.items()}
OPTIONS = FetchOptions(threads=2, per_host=4, connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0, retries=0)

FETCH_SCRIPT = """
import json, sys
from pixmo.fetch import FetchOptions
from pixmo.store import ImageStore
root, items_file, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
items = [tuple(item) for item in json.load(open(items_file))]
ImageStore(root).fetch(items, n_proc=2, options=FetchOptions(**options), progress=False)
"""


def make_items(server) -> list:
    items = [(server.url(name, host=i % 2, delay=0.15), SHA[name]) for i, name in enumerate(NAMES)]
    items += [(server.fault_url("404", NAMES[0]), None), (server.url(NAMES[1], host=1), "0" * 64)]
    return items


def store_state(root: Path) -> tuple:
    with ImageStore(root) as store:
        files = {p.relative_to(store.images_dir).as_posix(): p.read_bytes() for p in store.files()}
        entries = {e.url: (e.status, e.reason, e.digest, e.ext, e.bytes) for e in store.ledger.entries()}
    return files, entries


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def ledger_rows(root: Path) -> int:
    """Committed ledger rows, read while the fetch writes (sqlite WAL lets a reader in)."""
    if not (root / "ledger.sqlite").exists():
        return 0
    try:
        with sqlite3.connect(f"file:{root / 'ledger.sqlite'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM urls").fetchone()[0]
    except sqlite3.OperationalError:  # the table is being created
        return 0


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_sigkill_half_way_then_rerun_equals_an_uninterrupted_run(tmp_path):
    with serve_images(IMAGES, hosts=2) as server:
        items = make_items(server)
        items_file = tmp_path / "items.json"
        items_file.write_text(json.dumps(items))
        killed = tmp_path / "killed"
        command = [sys.executable, "-c", FETCH_SCRIPT, str(killed), str(items_file), json.dumps(OPTIONS.__dict__)]
        process = subprocess.Popen(command, stderr=subprocess.PIPE)
        try:
            started = wait_for(lambda: ledger_rows(killed) >= 8, 60)
            assert started, process.stderr.read().decode() if process.poll() is not None else "no ledger rows in 60 s"
            workers = children_of(process.pid)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        finally:
            if process.poll() is None:
                process.kill()
        stored_at_kill = len([p for p in (killed / "images").rglob("*") if p.is_file()])
        assert stored_at_kill < len(NAMES), "the fetch finished before it was killed: nothing was interrupted"
        # The workers die with their parent instead of fetching on unseen.
        assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10), workers

        with ImageStore(killed) as store:
            resumed = store.fetch(items, n_proc=2, options=OPTIONS, progress=False)
            assert list(store.tmp_dir.iterdir()) == []
        assert resumed.fetched < len(items)  # what the killed run had recorded was not fetched again
        with ImageStore(tmp_path / "whole") as store:
            store.fetch(items, n_proc=2, options=OPTIONS, progress=False)

    killed_state, whole_state = store_state(killed), store_state(tmp_path / "whole")
    assert killed_state == whole_state
    files, entries = whole_state
    assert len(files) == len(NAMES)
    for relpath, data in files.items():  # every file is complete: its name is the digest of its bytes
        assert Path(relpath).stem == hashlib.sha256(data).hexdigest()
    assert [reason for _, reason, *_ in entries.values()].count("ok") == len(NAMES)

"""The image store: content addressing, the ledger, resuming, sharding, merging, subset URLs and the commands."""

import hashlib
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixmo.cli import main
from pixmo.fetch import FetchOptions, urls_of_subset
from pixmo.ledger import FAILED, STORED, Reason
from pixmo.splits import url_key
from pixmo.store import ImageStore, default_root, write_atomic
from pixmo.testing.http_server import make_images, serve_images

IMAGES = make_images(12, seed=3)
NAMES = sorted(IMAGES)
SHA = {name: hashlib.sha256(data).hexdigest() for name, data in IMAGES.items()}
FAST = FetchOptions(threads=4, connect_timeout=1.0, read_timeout=1.0, total_timeout=3.0, retries=0, backoff=0.01)


@pytest.fixture(scope="module")
def server():
    with serve_images(IMAGES, hosts=3) as running:
        yield running


def items_of(server, names, host=0, with_sha=True):
    return [(server.url(name, host=host), SHA[name] if with_sha else None) for name in names]


def store_state(store: ImageStore) -> tuple:
    """What a store holds: its files with their bytes, and each URL's status and reason."""
    files = {p.relative_to(store.images_dir).as_posix(): p.read_bytes() for p in store.files()}
    return files, {e.url: (e.status, e.reason, e.digest) for e in store.ledger.entries()}


def test_root_defaults_to_pixmo_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXMO_HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home"
    with ImageStore() as store:
        assert store.root == tmp_path / "home" and (store.root / "ledger.sqlite").exists()


def test_fetch_stores_each_image_once_under_its_digest(server, tmp_path):
    store = ImageStore(tmp_path)
    summary = store.fetch(items_of(server, NAMES, host=1), options=FAST, progress=False)
    assert (summary.requested, summary.stored, sum(summary.failed.values())) == (12, 12, 0)
    for name in NAMES:
        path = store.lookup(server.url(name, host=1))
        assert path.read_bytes() == IMAGES[name]
        assert path.stem == SHA[name] == hashlib.sha256(path.read_bytes()).hexdigest()
        entry = store.outcome(server.url(name, host=1))
        assert (entry.status, entry.reason, entry.attempts, entry.bytes) == (STORED, Reason.OK, 1, len(IMAGES[name]))
    assert len(list(store.files())) == 12
    urls = [server.url(name, host=1) for name in NAMES] + ["http://unknown.invalid/x.jpg"]
    assert set(store.lookup_many(urls)) == set(urls[:-1])
    assert store.outcome("http://unknown.invalid/x.jpg") is None


def test_rerun_skips_what_is_stored(server, tmp_path):
    store = ImageStore(tmp_path)
    items = items_of(server, NAMES[:4], host=2)
    store.fetch(items, options=FAST, progress=False)
    hits = sum(server.hits[f"/images/{n}"] for n in NAMES[:4])
    again = store.fetch(items, options=FAST, progress=False)
    assert (again.already_stored, again.fetched) == (4, 0)
    assert sum(server.hits[f"/images/{n}"] for n in NAMES[:4]) == hits


def test_missing_file_is_fetched_again(server, tmp_path):
    store = ImageStore(tmp_path)
    items = items_of(server, NAMES[:1])
    store.fetch(items, options=FAST, progress=False)
    store.lookup(items[0][0]).unlink()
    assert store.lookup(items[0][0]) is None
    assert store.fetch(items, options=FAST, progress=False).fetched == 1
    assert store.lookup(items[0][0]).read_bytes() == IMAGES[NAMES[0]]


def test_overlapping_fetches_share_images(server, tmp_path):
    store = ImageStore(tmp_path)
    first = store.fetch(items_of(server, NAMES[:8]), options=FAST, progress=False)
    second = store.fetch(items_of(server, NAMES[4:]), options=FAST, progress=False)
    assert (first.stored, second.already_stored, second.fetched) == (8, 4, 4)
    # The same images under other URLs: known digests are recognised without a download...
    third = store.fetch(items_of(server, NAMES[:6], host=1), options=FAST, progress=False)
    assert (third.deduplicated, third.fetched) == (6, 0)
    # ...and unknown ones are downloaded but kept once.
    fourth = store.fetch(items_of(server, NAMES[6:], host=2, with_sha=False), options=FAST, progress=False)
    assert fourth.fetched == 6
    assert len(list(store.files())) == 12
    assert store.lookup(server.url(NAMES[7], host=2)) == store.lookup(server.url(NAMES[7]))


def test_deduplicated_urls_are_not_requested(tmp_path):
    with serve_images(IMAGES, hosts=2) as fresh:
        store = ImageStore(tmp_path)
        store.fetch(items_of(fresh, NAMES[:3]), options=FAST, progress=False)
        summary = store.fetch(items_of(fresh, NAMES[:3], host=1), options=FAST, progress=False)
        assert summary.deduplicated == 3
        assert sum(fresh.hits.values()) == 3  # only the first fetch went to the server


def test_transient_failures_are_retried_by_later_runs_up_to_a_limit(server, tmp_path):
    store = ImageStore(tmp_path)
    url = server.fault_url("flaky", NAMES[0], fails=2)  # 500, 500, then the image
    options = replace(FAST, max_runs=5)
    assert store.fetch([(url, None)], options=options, progress=False).failed == {Reason.SERVER_ERROR: 1}
    assert store.fetch([(url, None)], options=options, progress=False).failed == {Reason.SERVER_ERROR: 1}
    third = store.fetch([(url, None)], options=options, progress=False)
    assert third.stored == 1
    entry = store.outcome(url)
    assert (entry.status, entry.attempts, entry.runs) == (STORED, 3, 3)

    capped = server.fault_url("flaky", NAMES[1], fails=10)
    limit = replace(FAST, max_runs=2)
    for _ in range(3):
        store.fetch([(capped, None)], options=limit, progress=False)
    assert server.hits[f"/fault/flaky/{NAMES[1]}"] == 2
    assert store.outcome(capped).runs == 2


def test_permanent_failures_are_left_alone_unless_asked(server, tmp_path):
    store = ImageStore(tmp_path)
    url = server.fault_url("410", NAMES[2])
    store.fetch([(url, None)], options=FAST, progress=False)
    second = store.fetch([(url, None)], options=FAST, progress=False)
    assert (second.left_failed, second.fetched, server.hits[f"/fault/410/{NAMES[2]}"]) == (1, 0, 1)
    retry = replace(FAST, retry_failed=True)
    store.fetch([(url, None)], options=retry, progress=False)
    assert server.hits[f"/fault/410/{NAMES[2]}"] == 2
    assert (store.outcome(url).attempts, store.outcome(url).runs) == (2, 2)


def test_shards_are_disjoint_and_merge_into_the_whole(server, tmp_path):
    items = items_of(server, NAMES) + [(server.fault_url("404", NAMES[0]), None)]
    # The URLs carry the server's random port: add missing images until every shard has a URL to fetch.
    while len({url_key(url) % 3 for url, _ in items}) < 3:
        items.append((server.fault_url("404", f"absent-{len(items)}.png"), None))
    parts = []
    for k in range(3):
        shard_store = ImageStore(tmp_path / f"shard{k}")
        shard_store.fetch(items, options=FAST, progress=False, shard=(k, 3))
        parts.append({e.url for e in shard_store.ledger.entries()})
        shard_store.close()
        assert parts[k] == {url for url, _ in items if url_key(url) % 3 == k}
    assert sum(len(p) for p in parts) == len(set().union(*parts)) == len(items)
    assert all(parts)
    merged = ImageStore(tmp_path / "merged")
    for k in range(3):
        merged.merge(tmp_path / f"shard{k}")
    whole = ImageStore(tmp_path / "whole")
    whole.fetch(items, options=FAST, progress=False)
    assert store_state(merged) == store_state(whole)
    again = merged.merge(tmp_path / "shard0")
    assert (again.files_copied, again.entries_taken) == (0, 0)


def test_merge_prefers_stored_over_failed(server, tmp_path):
    url = server.url(NAMES[3])
    failed = ImageStore(tmp_path / "a")
    failed.fetch([(url, "0" * 64)], options=FAST, progress=False)  # a hash mismatch
    assert (failed.outcome(url).status, failed.outcome(url).reason) == (FAILED, Reason.HASH_MISMATCH)
    stored = ImageStore(tmp_path / "b")
    stored.fetch([(url, SHA[NAMES[3]])], options=FAST, progress=False)
    failed.merge(tmp_path / "b")
    assert failed.outcome(url).status == STORED and failed.lookup(url).read_bytes() == IMAGES[NAMES[3]]
    stored.merge(tmp_path / "a")
    assert stored.outcome(url).status == STORED
    with pytest.raises(FileNotFoundError, match="not an image store"):
        stored.merge(tmp_path / "nowhere")


def test_stale_partial_files_are_removed_and_never_accepted(server, tmp_path):
    store = ImageStore(tmp_path)
    stale = store.tmp_dir / "999999999-dead.part"  # a pid that cannot be alive
    stale.write_bytes(IMAGES[NAMES[0]][:100])
    store.fetch(items_of(server, NAMES[:1]), options=FAST, progress=False)
    assert not stale.exists()
    assert store.lookup(server.url(NAMES[0])).read_bytes() == IMAGES[NAMES[0]]


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    ImageStore(tmp_path).close()
    path = write_atomic(tmp_path, "ab" * 32, "jpg", b"data")
    assert path == tmp_path / "images" / "ab" / "ab" / f"{'ab' * 32}.jpg" and path.read_bytes() == b"data"
    assert list((tmp_path / "tmp").iterdir()) == []


# -- the subsets' URLs and the commands ---------------------------------------------------------------------


def write_repo(folder: Path, split: str, table: pa.Table) -> None:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "data" / f"{split}-00000-of-00001.parquet")


def points_table(urls, shas) -> pa.Table:
    n = len(urls)
    points = pa.array([[{"x": 10.0, "y": 20.0}]] * n, pa.list_(pa.struct([("x", pa.float64()), ("y", pa.float64())])))
    return pa.table({"image_url": urls, "image_sha256": shas, "points": points, "count": [1] * n,
                     "label": ["cat"] * n, "collection_method": ["pointing"] * n})


@pytest.fixture
def sources(server, tmp_path):
    """pixmo-points (with a repeated image and one dead URL), pixmo-points-eval and pixmo-cap, as local Hub folders."""
    root = tmp_path / "hub"
    urls = [server.url(n) for n in NAMES[:5]] + [server.url(NAMES[0]), server.fault_url("404", NAMES[9])]
    shas = [SHA[n] for n in NAMES[:5]] + [SHA[NAMES[0]], SHA[NAMES[9]]]
    write_repo(root / "pixmo-points", "train", points_table(urls, shas))
    eval_table = pa.table({"image_url": [server.url(NAMES[5])], "image_sha256": [SHA[NAMES[5]]]})
    write_repo(root / "pixmo-points-eval", "test", eval_table)
    cap = pa.table({"image_url": [server.url(n) for n in NAMES[4:8]], "caption": ["a picture"] * 4,
                    "transcripts": [["a"]] * 4})
    write_repo(root / "pixmo-cap", "train", cap)
    return root


def test_urls_of_subset_reads_every_config_once_per_url(sources, server):
    items = list(urls_of_subset("pixmo_points", source_root=str(sources)))
    assert [url for url, _ in items] == [server.url(n) for n in NAMES[:5]] + [
        server.fault_url("404", NAMES[9]), server.url(NAMES[5])]
    assert dict(items)[server.url(NAMES[5])] == SHA[NAMES[5]]
    # A local --source finds pixmo-points-eval beside it.
    assert list(urls_of_subset("pixmo-points", source=str(sources / "pixmo-points"))) == items
    assert all(sha is None for _, sha in urls_of_subset("pixmo_cap", source=str(sources / "pixmo-cap")))
    with pytest.raises(ValueError, match="no image URLs"):
        list(urls_of_subset("pixmo_clocks"))


def test_download_report_and_merge_commands(sources, server, tmp_path, capsys):
    store = tmp_path / "store"
    fast = ["--connect-timeout", "1", "--read-timeout", "1", "--retries", "0", "--no-progress"]
    code = main(["download", "pixmo_points", "--source", str(sources / "pixmo-points"), "--store", str(store)] + fast)
    assert code == 0
    assert "7 URLs" in capsys.readouterr().out
    code = main(["report", "pixmo_points", "--source", str(sources / "pixmo-points"), "--store", str(store)])
    table = capsys.readouterr().out
    assert code == 0
    row = next(line for line in table.splitlines() if line.startswith("| pixmo_points"))
    stored_bytes = sum(len(IMAGES[n]) for n in NAMES[:6])
    assert row == f"| pixmo_points | 8 | 7 | 6 | 1 | 0 | gone: 1 | {stored_bytes:,} |"

    other = tmp_path / "other"
    main(["download", "pixmo_cap", "--source-root", str(sources), "--store", str(other), "--shard", "0/1"] + fast)
    capsys.readouterr()
    assert main(["store", "merge", str(other), "--store", str(store)]) == 0
    assert "2 files copied" in capsys.readouterr().out  # NAMES[6:8]; NAMES[4:6] were there already
    assert main(["download", "pixmo_clocks", "--store", str(store)]) == 1
    assert main(["download", "pixmo_cap", "--shard", "3/2", "--store", str(store)]) == 1


def test_ledger_lookups_span_more_urls_than_one_sql_statement_takes(tmp_path):
    from pixmo.ledger import FAILED, SQL_BATCH, STORED, Ledger, LedgerEntry, Reason

    n = 2 * SQL_BATCH + 7
    entries = [
        LedgerEntry(f"http://h/{i}", STORED if i % 2 else FAILED, Reason.OK if i % 2 else Reason.HTTP_ERROR,
                    digest=f"{i:064x}", ext="png")
        for i in range(n)
    ]
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.record(entries)
        found = ledger.get_many([e.url for e in entries] + ["http://h/missing"])
        assert len(found) == n and found["http://h/5"].digest == f"{5:064x}"
        stored = ledger.stored_files(e.digest for e in entries)
        assert stored == {e.digest: "png" for e in entries if e.status == STORED}

"""Fetch image URLs into an `ImageStore`: bounded, verified, resumable and polite to each host.

Concurrency is threads in `n_proc` processes. Each thread runs a blocking urllib3 request on a
connection pool per host (keep-alive, so a host's connections are reused); sha256 and the decode check
run in the same thread and release the GIL (hashlib, Pillow), and the processes use the other cores.
A per-process scheduler hands a thread only a URL whose host is below its concurrency cap, so a slow
host holds at most its cap of threads. Results go back to the parent, which alone writes the ledger, in
short transactions: a killed run loses at most its last second of ledger rows, and the images of those
rows are fetched again (and land on the same content-addressed name).

Every failure ends as one `Reason` in the ledger. Transient ones (timeouts, resets, 5xx, 429) are
retried in the run with exponential backoff and jitter, a server's `Retry-After` honoured up to
`FetchOptions.max_retry_after` (beyond it the URL is left for a later run rather than stalling this one),
and retried by later runs up to `FetchOptions.max_runs` runs.
"""

import hashlib
import io
import logging
import os
import queue
import random
import sys
import threading
import time
import warnings
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Optional, get_args
from urllib.parse import urljoin, urlsplit

import urllib3
from PIL import Image

from .ledger import FAILED, STORED, LedgerEntry, Reason
from .store import blob_relpath, remove_stale_parts, write_atomic

if TYPE_CHECKING:
    from .store import ImageStore

logger = logging.getLogger(__name__)

OnMismatch = Literal["skip", "keep"]
USER_AGENT = "pixmo-fetch/0.1 (+https://huggingface.co/datasets/allenai/pixmo-points)"
CHUNK_BYTES = 256 * 1024
REDIRECTS = (301, 302, 303, 307, 308)
PIL_FORMAT_EXT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif",
                  "MPO": "jpg", "ICO": "ico", "AVIF": "avif"}
LEDGER_COMMIT_SECONDS = 1.0
PLAN_BATCH = 20_000


@dataclass
class FetchOptions:
    """How a fetch behaves: timeouts, limits, retries and policies.

    Args:
        threads (`int`, *optional*, defaults to `16`): download threads in each process.
        per_host (`int`, *optional*, defaults to `8`): concurrent requests to one host, over all processes
            (each process gets `per_host // n_proc`, at least one).
        connect_timeout (`float`, *optional*, defaults to `10`): seconds to open a connection.
        read_timeout (`float`, *optional*, defaults to `20`): seconds a read may wait for the next bytes.
        total_timeout (`float`, *optional*, defaults to `60`): seconds for one request, redirects and body
            included; a server that drips bytes is cut off here.
        max_bytes (`int`, *optional*, defaults to `64 MiB`): larger bodies are refused (`too large`).
        max_pixels (`int`, *optional*, defaults to `178_956_970`): images with more pixels are refused
            (`too many pixels`, a decompression bomb) before they are decoded.
        max_redirects (`int`, *optional*, defaults to `5`): redirects followed; each must stay on http or https.
        retries (`int`, *optional*, defaults to `3`): retries in this run of a transient failure.
        backoff (`float`, *optional*, defaults to `0.5`): the first retry's delay in seconds, doubled each
            retry, with full jitter.
        max_backoff (`float`, *optional*, defaults to `30`): the cap of one backoff delay.
        max_retry_after (`float`, *optional*, defaults to `60`): the longest `Retry-After` obeyed; a longer one
            ends the URL as `rate limited` for this run.
        on_mismatch (`"skip"` or `"keep"`, *optional*, defaults to `"skip"`): bytes whose sha256 differs from the
            source's `image_sha256`: refuse them (`hash mismatch`), or store them marked `hash mismatch (kept)`.
        retry_failed (`bool`, *optional*, defaults to `False`): also retry URLs that failed permanently.
        max_runs (`int`, *optional*, defaults to `5`): runs that retry a transiently failed URL; after that it is
            left alone unless `retry_failed`.
    """

    threads: int = 16
    per_host: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 64 * 1024**2
    max_pixels: int = 178_956_970
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0
    on_mismatch: OnMismatch = "skip"
    retry_failed: bool = False
    max_runs: int = 5

    def __post_init__(self):
        allowed = get_args(OnMismatch)
        if self.on_mismatch not in allowed:
            raise ValueError(f"on_mismatch must be one of {allowed}, got {self.on_mismatch!r}")
        for name in ("threads", "per_host", "max_runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")


@dataclass
class FetchSummary:
    """What one fetch did.

    Args:
        requested (`int`): distinct URLs given (after sharding).
        already_stored (`int`): URLs skipped because they were stored.
        left_failed (`int`): URLs skipped because they failed before (permanently, or transiently `max_runs` times).
        deduplicated (`int`): URLs recorded as stored without a download, their known sha256 already in the store.
        fetched (`int`): URLs downloaded in this run (stored or failed).
        stored (`int`): URLs stored in this run (downloaded or deduplicated).
        failed (`Counter`): failures of this run by reason.
        bytes (`int`): bytes downloaded into the store in this run.
        seconds (`float`): wall time of the run.
    """

    requested: int = 0
    already_stored: int = 0
    left_failed: int = 0
    deduplicated: int = 0
    fetched: int = 0
    stored: int = 0
    failed: Counter = field(default_factory=Counter)
    bytes: int = 0
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.fetched / self.seconds if self.seconds else 0.0

    def to_text(self) -> str:
        failed = "; ".join(f"{reason}: {n:,}" for reason, n in sorted(self.failed.items())) or "none"
        return (
            f"{self.requested:,} URLs: {self.already_stored:,} already stored, {self.left_failed:,} left failed, "
            f"{self.deduplicated:,} already in the store under another URL, {self.fetched:,} fetched in "
            f"{self.seconds:.1f} s ({self.images_per_second:.1f} images/s): {self.stored:,} stored "
            f"({self.bytes / 1e6:.1f} MB), failed: {failed}"
        )


# -- one URL -------------------------------------------------------------------------------------------


class _Failure(Exception):
    """One attempt's failure, with its ledger reason and the server's `Retry-After` in seconds (429, 5xx)."""

    def __init__(self, reason: str, message: str, http_status: Optional[int] = None, retry_after=None):
        super().__init__(message)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass
class _Download:
    data: bytes
    digest: str
    http_status: int


def fetch_url(http: urllib3.PoolManager, url: str, expected: Optional[str], options: FetchOptions, root) -> LedgerEntry:
    """Fetch, verify and store one URL, retrying transient failures; never raises for a network or data fault.

    Args:
        http (`urllib3.PoolManager`): the connection pools (one per host) of this process.
        url (`str`): the image URL.
        expected (`str`, *optional*): the source's sha256 of the image bytes.
        options (`FetchOptions`): timeouts, limits, retries and policies.
        root (`Path`): the store root the image is written into.

    Returns:
        `LedgerEntry`: the outcome of this run (attempts and runs counted for this run only).
    """
    start = time.monotonic()
    entry = LedgerEntry(url=url, status=FAILED, reason=Reason.CONNECTION, runs=1, expected_sha256=expected)
    for attempt in range(options.retries + 1):
        entry.attempts += 1
        try:
            download = _download(http, url, options)
            _finish(entry, download, expected, options, root)
            break
        except _Failure as failure:
            entry.status, entry.reason, entry.error = FAILED, failure.reason, str(failure)
            entry.http_status = failure.http_status
            delay = _retry_delay(failure, attempt, options)
            if delay is None:
                break
            time.sleep(delay)
    entry.seconds = time.monotonic() - start
    entry.updated = time.time()
    return entry


def _retry_delay(failure: _Failure, attempt: int, options: FetchOptions) -> Optional[float]:
    """Seconds to wait before the next attempt, or None to stop now."""
    if failure.reason not in Reason.TRANSIENT or attempt >= options.retries:
        return None
    if failure.retry_after is not None:
        if failure.retry_after > options.max_retry_after:
            return None  # "retry in a day": leave it to a later run instead of stalling this one
        return failure.retry_after
    return random.uniform(0, min(options.max_backoff, options.backoff * 2**attempt))


def _download(http: urllib3.PoolManager, url: str, options: FetchOptions) -> _Download:
    deadline = time.monotonic() + options.total_timeout
    current = url
    for _ in range(options.max_redirects + 1):
        response = _request(http, current, options, deadline)
        if response.status not in REDIRECTS:
            return _read(response, options, deadline)
        location = response.headers.get("Location")
        response.drain_conn()
        response.release_conn()
        if not location:
            raise _Failure(Reason.HTTP_ERROR, f"redirect {response.status} without a Location header", response.status)
        current = urljoin(current, location)
    raise _Failure(Reason.TOO_MANY_REDIRECTS, f"more than {options.max_redirects} redirects (last to {current})")


def _request(http: urllib3.PoolManager, url: str, options: FetchOptions, deadline: float) -> urllib3.BaseHTTPResponse:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise _Failure(Reason.BAD_SCHEME, f"only http and https are fetched, got {scheme or 'no'} scheme in {url!r}")
    left = max(0.001, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=min(options.connect_timeout, left), read=min(options.read_timeout, left))
    try:
        return http.request(
            "GET", url, preload_content=False, redirect=False, retries=False, timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "image/*,*/*;q=0.5"},
        )
    except (urllib3.exceptions.LocationParseError, urllib3.exceptions.LocationValueError, ValueError) as err:
        raise _Failure(Reason.INVALID_URL, f"invalid URL {url!r}: {err}") from err
    except urllib3.exceptions.HTTPError as err:
        raise _network_failure(err) from err


def _network_failure(err: Exception) -> _Failure:
    # urllib3 2 derives NewConnectionError (refused, unreachable) from ConnectTimeoutError: test it first.
    if isinstance(err, urllib3.exceptions.NewConnectionError):
        return _Failure(Reason.CONNECTION, f"{type(err).__name__}: {err}")
    if isinstance(err, urllib3.exceptions.TimeoutError) or "timed out" in str(err):
        return _Failure(Reason.TIMEOUT, f"timed out: {err}")
    return _Failure(Reason.CONNECTION, f"{type(err).__name__}: {err}")


def _read(response: urllib3.BaseHTTPResponse, options: FetchOptions, deadline: float) -> _Download:
    try:
        _check_status(response)
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > options.max_bytes:
            raise _Failure(Reason.TOO_LARGE, f"Content-Length {length} exceeds {options.max_bytes} bytes", response.status)
        sha, chunks, size = hashlib.sha256(), [], 0
        # read1 returns what one recv brings, so a server that drips bytes meets the deadline check.
        while chunk := response.read1(CHUNK_BYTES):
            size += len(chunk)
            if size > options.max_bytes:
                raise _Failure(Reason.TOO_LARGE, f"body exceeds {options.max_bytes} bytes", response.status)
            if time.monotonic() > deadline:
                raise _Failure(Reason.TIMEOUT, f"body not complete within {options.total_timeout} s", response.status)
            sha.update(chunk)
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as err:
        response.close()
        failure = _network_failure(err)
        failure.http_status = response.status
        raise failure from err
    except _Failure:
        response.close()  # an unread body: the connection cannot be reused
        raise
    response.release_conn()
    return _Download(b"".join(chunks), sha.hexdigest(), response.status)


def _check_status(response: urllib3.BaseHTTPResponse) -> None:
    status = response.status
    if status == 200:
        return
    if status in (404, 410):
        raise _Failure(Reason.GONE, f"HTTP {status}", status)
    if status == 429:
        raise _Failure(Reason.RATE_LIMITED, "HTTP 429", status, _retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise _Failure(Reason.SERVER_ERROR, f"HTTP {status}", status, _retry_after(response.headers.get("Retry-After")))
    raise _Failure(Reason.HTTP_ERROR, f"HTTP {status}", status)


def _retry_after(value: Optional[str]) -> Optional[float]:
    """`Retry-After` in seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _finish(entry: LedgerEntry, download: _Download, expected: Optional[str], options: FetchOptions, root) -> None:
    """Verify the bytes (digest, decode) and store them; fills `entry` or raises `_Failure`."""
    entry.http_status, entry.digest, entry.bytes = download.http_status, download.digest, len(download.data)
    mismatch = bool(expected) and download.digest != expected.lower()
    if mismatch and options.on_mismatch == "skip":
        raise _Failure(Reason.HASH_MISMATCH, f"sha256 {download.digest} differs from the source's {expected}", 200)
    entry.ext = check_image(download.data, options.max_pixels)
    write_atomic(root, download.digest, entry.ext, download.data)
    entry.status, entry.error = STORED, None
    entry.reason = Reason.HASH_MISMATCH_KEPT if mismatch else Reason.OK


def check_image(data: bytes, max_pixels: int) -> str:
    """Decode-check image bytes; returns the file extension of their format or raises `_Failure`.

    The pixel count is checked from the header before any decoding. JPEGs are decoded at 1/8 scale
    (every byte of the entropy-coded data is still read, so truncation is caught) to keep the check cheap.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise _Failure(Reason.TOO_MANY_PIXELS, f"{width}x{height} pixels exceeds the limit of {max_pixels}", 200)
        if image.format == "JPEG":
            image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise _Failure(Reason.TOO_MANY_PIXELS, str(err), 200) from err
    except Image.UnidentifiedImageError as err:
        raise _Failure(Reason.NOT_AN_IMAGE, f"not a readable image ({data[:16]!r}...)", 200) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        reason = Reason.TRUNCATED if "truncated" in str(err) or isinstance(err, EOFError) else Reason.NOT_AN_IMAGE
        raise _Failure(reason, f"image does not decode: {err}", 200) from err
    return PIL_FORMAT_EXT.get(image.format, (image.format or "bin").lower())


# -- many URLs in one process --------------------------------------------------------------------------


class HostScheduler:
    """Hands out URLs so that no host has more than `per_host` in flight, taking hosts in turn.

    Args:
        items (`Iterable[tuple[str, Optional[str]]]`): `(url, sha256)` pairs.
        per_host (`int`): the most URLs of one host handed out and not yet `done`.
    """

    def __init__(self, items: Iterable[tuple[str, Optional[str]]], per_host: int):
        self.per_host = per_host
        self.pending: OrderedDict[str, deque] = OrderedDict()
        for item in items:
            self.pending.setdefault(_host(item[0]), deque()).append(item)
        self.active: Counter = Counter()
        self.cond = threading.Condition()
        self.stopped = False

    def take(self) -> Optional[tuple[str, Optional[str]]]:
        """The next URL whose host has room, waiting while every pending host is at its cap; None when all are out."""
        with self.cond:
            while self.pending and not self.stopped:
                for host, items in self.pending.items():
                    if self.active[host] < self.per_host:
                        item = items.popleft()
                        if items:
                            self.pending.move_to_end(host)  # the next take serves other hosts first
                        else:
                            del self.pending[host]
                        self.active[host] += 1
                        return item
                self.cond.wait(timeout=1.0)
            return None

    def done(self, url: str) -> None:
        with self.cond:
            self.active[_host(url)] -= 1
            self.cond.notify()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


def make_pool(options: FetchOptions, per_host: int) -> urllib3.PoolManager:
    return urllib3.PoolManager(num_pools=max(64, options.threads * 4), maxsize=per_host, block=False)


def fetch_in_threads(items, root, options: FetchOptions, per_host: int, emit, should_stop=lambda: False) -> None:
    """Fetch `items` with `options.threads` threads of this process, calling `emit(entry)` for each outcome."""
    scheduler = HostScheduler(items, per_host)
    http = make_pool(options, per_host)

    def work():
        while (item := scheduler.take()) is not None:
            if should_stop():
                scheduler.stop()
                return
            try:
                emit(fetch_url(http, item[0], item[1], options, root))
            except Exception as err:  # a bug must not hang the run: the URL is recorded with the error
                logger.exception("Unexpected error fetching %s", item[0])
                emit(LedgerEntry(url=item[0], status=FAILED, reason=Reason.CONNECTION, attempts=1, runs=1,
                                 expected_sha256=item[1], error=f"unexpected {type(err).__name__}: {err}",
                                 updated=time.time()))
            finally:
                scheduler.done(item[0])

    threads = [threading.Thread(target=work, daemon=True) for _ in range(options.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    http.clear()


def _worker_main(items, root, options: FetchOptions, per_host: int, results, parent_pid: int) -> None:
    """A worker process: fetch its part and send each `LedgerEntry` to the parent; stop if the parent dies."""
    _die_with_parent()
    if os.getppid() != parent_pid:
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    fetch_in_threads(items, root, options, per_host, results.put, should_stop=lambda: os.getppid() != parent_pid)
    results.put(None)


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent dies (a killed fetch leaves no workers)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


# -- a whole fetch ---------------------------------------------------------------------------------------


def run_fetch(store: "ImageStore", items, n_proc: int, options: FetchOptions, progress: bool, shard) -> FetchSummary:
    """The body of `ImageStore.fetch`: plan from the ledger, fetch in `n_proc` processes, record outcomes."""
    start = time.monotonic()
    remove_stale_parts(store.root)
    summary = FetchSummary()
    todo, previous = _plan(store, items, options, shard, summary)
    logger.info("%s fetch plan: %d to download, %d already stored, %d left failed, %d deduplicated.",
                store, len(todo), summary.already_stored, summary.left_failed, summary.deduplicated)
    if todo:
        _run_workers(store, todo, previous, n_proc, options, progress, summary)
    summary.seconds = time.monotonic() - start
    return summary


def _plan(store: "ImageStore", items, options: FetchOptions, shard, summary: FetchSummary):
    """The URLs to download, and the ledger entries they had; records dedup hits on the way."""
    if shard is not None:
        k, n = shard
        if not 0 <= k < n:
            raise ValueError(f"shard must be (k, n) with 0 <= k < n, got {shard!r}")
    todo: list[tuple[str, Optional[str]]] = []
    previous: dict[str, LedgerEntry] = {}
    for batch in _distinct_batches(items, shard):
        summary.requested += len(batch)
        known = store.ledger.get_many(batch)
        wanted = {}
        for url, expected in batch.items():
            entry = known.get(url)
            if entry is not None and not _wants(store, entry, options, summary):
                continue
            wanted[url] = expected
            if entry is not None:
                previous[url] = entry
        todo.extend(_deduplicate(store, wanted, previous, summary))
    return todo, previous


def _distinct_batches(items, shard) -> Iterator[dict[str, Optional[str]]]:
    from .splits import url_key  # imported here: it brings pyarrow, which the worker processes do not need

    seen: set[str] = set()
    batch: dict[str, Optional[str]] = {}
    for url, expected in items:
        if url in seen or (shard is not None and url_key(url) % shard[1] != shard[0]):
            continue
        seen.add(url)
        batch[url] = expected
        if len(batch) >= PLAN_BATCH:
            yield batch
            batch = {}
    if batch:
        yield batch


def _wants(store: "ImageStore", entry: LedgerEntry, options: FetchOptions, summary: FetchSummary) -> bool:
    """Whether a URL the ledger knows is downloaded again in this run."""
    if entry.stored:
        if store.path_of(entry) is not None:
            summary.already_stored += 1
            return False
        return True  # its file went missing
    if options.retry_failed or (entry.transient and entry.runs < options.max_runs):
        return True
    summary.left_failed += 1
    return False


def _deduplicate(store: "ImageStore", wanted: dict, previous: dict, summary: FetchSummary) -> list:
    """Record as stored, without a download, the URLs whose expected sha256 is already a file in the store;
    returns the other `(url, sha256)` pairs."""
    files = store.ledger.stored_files({sha.lower() for sha in wanted.values() if sha})
    entries, rest = [], []
    for url, expected in wanted.items():
        ext = files.get(expected.lower()) if expected else None
        path = store.images_dir / blob_relpath(expected.lower(), ext) if ext else None
        if path is None or not path.exists():
            rest.append((url, expected))
            continue
        old = previous.get(url)
        entries.append(LedgerEntry(
            url=url, status=STORED, reason=Reason.OK, attempts=old.attempts if old else 0,
            runs=old.runs if old else 0, digest=expected.lower(), ext=ext, expected_sha256=expected,
            bytes=path.stat().st_size, updated=time.time(),
        ))
    store.ledger.record(entries)
    summary.deduplicated += len(entries)
    summary.stored += len(entries)
    return rest


def _run_workers(store, todo, previous, n_proc: int, options: FetchOptions, progress: bool, summary: FetchSummary):
    from tqdm.auto import tqdm

    n_proc = max(1, min(n_proc, len(todo)))
    per_host = max(1, options.per_host // n_proc)
    recorder = _Recorder(store, previous, summary)
    bar = tqdm(total=len(todo), unit="img", desc="fetch", disable=not progress, dynamic_ncols=True)
    try:
        if n_proc == 1:
            results: queue.Queue = queue.Queue()
            worker = threading.Thread(
                target=lambda: (fetch_in_threads(todo, store.root, options, per_host, results.put), results.put(None)),
                daemon=True,
            )
            worker.start()
            _collect(results, 1, recorder, bar, alive=lambda: True)
        else:
            _run_processes(store, todo, n_proc, options, per_host, recorder, bar)
    finally:
        recorder.flush()
        bar.close()


def _run_processes(store, todo, n_proc, options, per_host, recorder, bar) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker_main, args=(todo[i::n_proc], store.root, options, per_host, results, os.getpid()),
            daemon=True,
        )
        for i in range(n_proc)
    ]
    for worker in workers:
        worker.start()
    try:
        _collect(results, n_proc, recorder, bar, alive=lambda: any(w.is_alive() for w in workers))
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()


def _collect(results, n_workers: int, recorder: "_Recorder", bar, alive) -> None:
    """Record results until every worker has sent its end marker (or died)."""
    finished = 0
    while finished < n_workers:
        try:
            entry = results.get(timeout=LEDGER_COMMIT_SECONDS)
        except queue.Empty:
            recorder.flush()
            if not alive():
                raise RuntimeError("A fetch worker process died; rerun the fetch to resume from the ledger.")
            continue
        if entry is None:
            finished += 1
            continue
        recorder.add(entry)
        bar.update(1)
        bar.set_postfix(stored=recorder.summary.stored, failed=sum(recorder.summary.failed.values()), refresh=False)


class _Recorder:
    """Adds this run's outcome to what the ledger had, and commits in batches of at most a second."""

    def __init__(self, store, previous: dict, summary: FetchSummary):
        self.store, self.previous, self.summary = store, previous, summary
        self.pending: list[LedgerEntry] = []
        self.last_commit = time.monotonic()

    def add(self, entry: LedgerEntry) -> None:
        old = self.previous.get(entry.url)
        if old is not None:
            entry.attempts += old.attempts
            entry.runs += old.runs
        self.summary.fetched += 1
        if entry.stored:
            self.summary.stored += 1
            self.summary.bytes += entry.bytes or 0
        else:
            self.summary.failed[entry.reason] += 1
        self.pending.append(entry)
        if time.monotonic() - self.last_commit >= LEDGER_COMMIT_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.store.ledger.record(self.pending)
        self.pending = []
        self.last_commit = time.monotonic()


# -- the URLs of a subset ----------------------------------------------------------------------------------


def urls_of_subset(
    subset_name: str, source: Optional[str] = None, revision: Optional[str] = None, source_root: Optional[str] = None
) -> Iterator[tuple[str, Optional[str]]]:
    """The distinct image URLs of a subset, with the source's sha256 where it has one.

    Every config of the subset that lists URLs is read (pixmo_points: its default config and `eval`, the
    pixmo-points-eval repo), each split its builder config names, straight from the parquet columns.

    Args:
        subset_name (`str`): `pixmo_points`, `pixmo-points`, ...
        source (`str`, *optional*): a Hub repo id or local folder for the subset's default config. Other configs
            are read from `source_root`, or from a sibling folder of a local `source` named after their Hub repo
            (`pixmo-points-eval`) when it exists, or else from the Hub.
        revision (`str`, *optional*): the revision of `source`; defaults to the builder's pinned revision.
        source_root (`str`, *optional*): a folder holding one folder per Hub repo (`ROOT/pixmo-points`,
            `ROOT/pixmo-points-eval`), used for every config unless `source` is given.

    Yields:
        `tuple[str, Optional[str]]`: `(image_url, image_sha256 or None)`, each URL once.
    """
    seen: set[str] = set()
    for url, sha in subset_url_rows(subset_name, source, revision, source_root):
        if url not in seen:
            seen.add(url)
            yield url, sha


def subset_url_rows(
    subset_name: str, source: Optional[str] = None, revision: Optional[str] = None, source_root: Optional[str] = None
) -> Iterator[tuple[str, Optional[str]]]:
    """`(image_url, image_sha256 or None)` for every row of a subset's URL configs (repeats included);
    arguments as in `urls_of_subset`."""
    import pyarrow.parquet as pq

    from .source import resolve_data_files
    from .subsets import get_subset

    subset = get_subset(subset_name)
    if not subset.has_image_urls:
        raise ValueError(
            f"{subset.hub_name} has no image URLs to fetch (pixmo-docs embeds its images; pixmo-clocks ships none)."
        )
    for index, config in enumerate(subset.builder.BUILDER_CONFIGS):
        where, rev = _config_source(config, index, source, revision, source_root)
        if where is None:
            continue
        files = resolve_data_files(where, config.hub_data_dir, list(config.hub_splits), rev)
        for path in (p for split_files in files.values() for p in split_files):
            parquet = pq.ParquetFile(path)
            columns = [c for c in ("image_url", "image_sha256") if c in parquet.schema_arrow.names]
            if "image_url" not in columns:
                raise ValueError(f"{path} has no image_url column (it has {parquet.schema_arrow.names}).")
            for batch in parquet.iter_batches(batch_size=65_536, columns=columns):
                urls = batch.column(0).to_pylist()
                shas = batch.column(1).to_pylist() if len(columns) == 2 else [None] * len(urls)
                yield from ((u, s) for u, s in zip(urls, shas) if u)


def _config_source(config, index: int, source, revision, source_root):
    """Where one builder config's files come from, and at which revision (None, None to skip the config)."""
    repo_name = config.hub_repo.split("/")[-1]
    if source and index == 0:
        return source, revision
    if source_root:
        folder = os.path.join(os.path.expanduser(source_root), repo_name)
        if os.path.isdir(folder):
            return folder, None
        logger.warning("%s is missing: the %s config (%s) is skipped.", folder, config.name, config.hub_repo)
        return None, None
    if source and os.path.isdir(os.path.expanduser(source)):
        sibling = os.path.join(os.path.dirname(os.path.abspath(os.path.expanduser(source))), repo_name)
        if os.path.isdir(sibling):
            return sibling, None
        logger.warning("No %s folder beside %s: the %s config is skipped.", repo_name, source, config.name)
        return None, None
    return config.hub_repo, config.hub_revision

"""Every fault a web host throws ends with the right ledger entry, no partial file and no stall beyond the bounds."""

import hashlib
import io
import socket
import time
from dataclasses import replace

import pytest
from PIL import Image

from pixmo.fetch import FetchOptions, check_image
from pixmo.ledger import FAILED, STORED, Reason
from pixmo.store import ImageStore
from pixmo.testing.http_server import make_images, make_png_bomb, serve_images

IMAGES = make_images(3, seed=7)
NAME = "img-00000.jpg"
DATA = IMAGES[NAME]
DIGEST = hashlib.sha256(DATA).hexdigest()

# Short bounds keep the faults fast: one retry, a second to connect or read, two for a whole request.
OPTIONS = FetchOptions(
    threads=4, connect_timeout=1.0, read_timeout=0.5, total_timeout=2.0, retries=1, backoff=0.01, max_retry_after=1.0
)
SLACK = 1.5  # seconds of scheduling slack on a loaded 2-core machine


@pytest.fixture(scope="module")
def server():
    with serve_images(IMAGES, hosts=2) as running:
        yield running


def fetch_one(tmp_path, url, sha=None, options=OPTIONS):
    store = ImageStore(tmp_path / "store")
    start = time.monotonic()
    summary = store.fetch([(url, sha)], options=options, progress=False)
    elapsed = time.monotonic() - start
    assert summary.fetched == 1
    return store, store.outcome(url), elapsed


def assert_no_file(store: ImageStore):
    assert list(store.files()) == []
    assert list(store.tmp_dir.iterdir()) == []


# Each case: fault, parameters, ledger reason, attempts, HTTP status, the most seconds it may take.
FAILURES = [
    ("404", {}, Reason.GONE, 1, 404, 1.0),
    ("410", {}, Reason.GONE, 1, 410, 1.0),
    ("429", {"retry_after": 86400}, Reason.RATE_LIMITED, 1, 429, 1.0),
    ("stall", {}, Reason.TIMEOUT, 2, 200, 2 * 0.5 + 0.01),
    ("drip", {}, Reason.TIMEOUT, 2, 200, 2 * (2.0 + 0.5) + 0.01),
    ("truncated", {}, Reason.CONNECTION, 2, 200, 1.0),
    ("truncated-image", {}, Reason.TRUNCATED, 1, 200, 1.0),
    ("html", {}, Reason.NOT_AN_IMAGE, 1, 200, 1.0),
    ("redirect-file", {}, Reason.BAD_SCHEME, 1, None, 1.0),
    ("redirect-loop", {}, Reason.TOO_MANY_REDIRECTS, 1, None, 1.0),
    ("reset", {}, Reason.CONNECTION, 2, None, 1.0),
]


@pytest.mark.parametrize("fault,params,reason,attempts,http_status,bound", FAILURES, ids=[f[0] for f in FAILURES])
def test_fault_is_recorded(server, tmp_path, fault, params, reason, attempts, http_status, bound):
    url = server.fault_url(fault, NAME, **params)
    store, entry, elapsed = fetch_one(tmp_path, url)
    assert (entry.status, entry.reason, entry.attempts, entry.http_status) == (FAILED, reason, attempts, http_status)
    assert entry.runs == 1 and entry.error
    assert elapsed < bound + SLACK
    assert_no_file(store)
    assert store.lookup(url) is None


def test_server_error_then_success_is_stored(server, tmp_path):
    url = server.fault_url("flaky", NAME, fails=1)
    store, entry, _ = fetch_one(tmp_path, url, DIGEST)
    assert (entry.status, entry.reason, entry.attempts, entry.http_status) == (STORED, Reason.OK, 2, 200)
    assert server.hits["/fault/flaky/" + NAME] == 2
    assert store.lookup(url).read_bytes() == DATA
    assert store.lookup(url).name == f"{DIGEST}.jpg"


def test_short_retry_after_is_waited_for(server, tmp_path):
    url = server.fault_url("429", NAME, retry_after=1)
    _, entry, elapsed = fetch_one(tmp_path, url)
    assert (entry.reason, entry.attempts) == (Reason.RATE_LIMITED, 2)
    assert 1.0 <= elapsed < 1.0 + SLACK


def test_hash_mismatch_is_refused_by_default(server, tmp_path):
    url = server.url(NAME)
    store, entry, _ = fetch_one(tmp_path, url, "0" * 64)
    assert (entry.status, entry.reason, entry.digest) == (FAILED, Reason.HASH_MISMATCH, DIGEST)
    assert_no_file(store)


def test_hash_mismatch_kept_and_marked(server, tmp_path):
    url = server.url(NAME)
    options = replace(OPTIONS, on_mismatch="keep")
    store, entry, _ = fetch_one(tmp_path, url, "0" * 64, options)
    assert (entry.status, entry.reason, entry.expected_sha256) == (STORED, Reason.HASH_MISMATCH_KEPT, "0" * 64)
    assert store.lookup(url).read_bytes() == DATA


def test_decompression_bomb_is_refused_unread(server, tmp_path):
    store, entry, elapsed = fetch_one(tmp_path, server.fault_url("bomb"))
    assert (entry.status, entry.reason, entry.http_status) == (FAILED, Reason.TOO_MANY_PIXELS, 200)
    assert_no_file(store)
    assert elapsed < 1.0 + SLACK


def test_pixel_limit_is_configurable(server, tmp_path):
    options = replace(OPTIONS, max_pixels=100)
    store, entry, _ = fetch_one(tmp_path, server.url(NAME), DIGEST, options)
    assert entry.reason == Reason.TOO_MANY_PIXELS
    assert_no_file(store)


def test_too_large_body_is_refused(server, tmp_path):
    options = replace(OPTIONS, max_bytes=len(DATA) - 1)
    store, entry, _ = fetch_one(tmp_path, server.url(NAME), DIGEST, options)
    assert (entry.status, entry.reason) == (FAILED, Reason.TOO_LARGE)
    assert_no_file(store)


def test_redirect_within_http_is_followed(server, tmp_path):
    url = server.fault_url("redirect", NAME)
    store, entry, _ = fetch_one(tmp_path, url, DIGEST)
    assert (entry.status, entry.reason) == (STORED, Reason.OK)
    assert store.lookup(url).read_bytes() == DATA


def test_unsupported_scheme_is_refused_without_a_request(tmp_path):
    store, entry, _ = fetch_one(tmp_path, "file:///etc/passwd")
    assert (entry.reason, entry.http_status) == (Reason.BAD_SCHEME, None)
    assert_no_file(store)


def test_connection_refused_is_transient(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the fetch: nothing listens there
    _, entry, elapsed = fetch_one(tmp_path, f"http://127.0.0.1:{port}/x.jpg")
    assert (entry.reason, entry.attempts) == (Reason.CONNECTION, 2)
    assert entry.transient
    assert elapsed < 1.0 + SLACK


def test_bomb_is_a_real_png_of_its_declared_size():
    with Image.open(io.BytesIO(make_png_bomb(1024))) as image:
        assert image.size == (1024, 1024)
        image.load()  # decodes: a valid stream, not only a header
    assert check_image(make_png_bomb(1024), max_pixels=2**20) == "png"


def test_server_on_a_fixed_port_gives_the_same_urls_and_refuses_a_taken_port():
    with serve_images({"a.png": b"x"}) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            with serve_images({}, port=port):
                pass
    with serve_images({"a.png": b"x"}, port=port) as again:
        assert again.url("a.png") == first.url("a.png")

"""A real threaded HTTP server on loopback addresses that serves images and, by path, every fault a web host has.

```py
>>> from pixmo.testing.http_server import serve_images
>>> with serve_images({"cat.jpg": jpeg_bytes}, hosts=3) as server:
...     server.url("cat.jpg")                      # http://127.0.0.1:PORT/images/cat.jpg
...     server.url("cat.jpg", host=2)              # the same image on http://127.0.0.3:PORT2/...
...     server.fault_url("429", "cat.jpg", retry_after=86400)
```

Paths (`NAME` is an image the server holds):

| path | what the client gets |
|---|---|
| `/images/NAME[?delay=S]` | the image (200), after `S` seconds |
| `/fault/404/NAME`, `/fault/410/NAME` | that status |
| `/fault/flaky/NAME?fails=K` | 500 for the first `K` requests of the path (default 1), then the image |
| `/fault/429/NAME?retry_after=V` | 429 with `Retry-After: V`, every time |
| `/fault/stall/NAME` | headers and half the body, then silence until the server stops |
| `/fault/drip/NAME` | the body a byte every 0.1 s |
| `/fault/truncated/NAME` | `Content-Length` of the whole image, half the body, then the connection closes |
| `/fault/truncated-image/NAME` | a complete response holding the first half of the image |
| `/fault/html/NAME` | an HTML page with status 200 |
| `/fault/bomb` | a small PNG that declares 30000 x 30000 pixels |
| `/fault/redirect/NAME` | 302 to `/images/NAME` |
| `/fault/redirect-file` | 302 to `file:///etc/passwd` |
| `/fault/redirect-loop` | 302 to itself |
| `/fault/reset/NAME` | the connection reset (RST) before any response |

`server.hits[path]` counts the requests of each path (in-process servers only).
"""

import contextlib
import multiprocessing
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional, Union
from urllib.parse import parse_qs, quote, urlsplit

CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
BOMB_SIDE = 30_000


def make_png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A 1-bit PNG of `side` x `side` black pixels: about 100 KB that decode to `side`**2 pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    block, repeats = row * 256, side // 256
    # After a full flush deflate forgets its window, so one compressed block repeated is a valid stream:
    # the bomb is built in a fraction of a second instead of compressing 100 MB.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(row * (side - repeats * 256)) + compressor.flush()
    adler = 1
    for _ in range(repeats):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(row * (side - repeats * 256), adler)
    body = b"\x78\xda" + piece * repeats + tail + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def send_body(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, headers: Optional[dict] = None
) -> None:
    """Answer a request with `status`, its headers and the whole `body` (no body for a HEAD request)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class _State:
    """What every host's server shares: the images, the hit counts, and the stop signal for stalled responses."""

    def __init__(self, images: dict[str, bytes]):
        self.images = images
        self.hits: Counter = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._bomb: Optional[bytes] = None

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] += 1
            return self.hits[path]

    @property
    def bomb(self) -> bytes:
        with self.lock:
            if self._bomb is None:
                self._bomb = make_png_bomb()
            return self._bomb


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real image hosts serve
    # TCP_NODELAY, as production servers set it: with Nagle on, the body written after the headers waits for
    # the client's delayed ACK, and every keep-alive request takes 40 ms.
    disable_nagle_algorithm = True
    state: _State  # set on the per-server subclass

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        count = self.state.hit(parts.path)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) >= 2 and segments[0] == "images":
            if "delay" in query:
                time.sleep(float(query["delay"]))
            return self._image("/".join(segments[1:]))
        if len(segments) >= 2 and segments[0] == "fault":
            return self._fault(segments[1], "/".join(segments[2:]), query, count)
        self._send(404, b"not found", "text/plain")

    # -- responses ----------------------------------------------------------------------------------------

    def _image(self, name: str, status: int = 200):
        data = self.state.images.get(name)
        if data is None:
            return self._send(404, b"no such image", "text/plain")
        self._send(status, data, CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream"))

    _send = send_body

    def _redirect(self, location: str):
        self._send(302, b"", "text/plain", {"Location": location})

    def _fault(self, kind: str, name: str, query: dict, count: int):
        data = self.state.images.get(name, b"")
        if kind in ("404", "410"):
            return self._send(int(kind), b"gone", "text/plain")
        if kind == "flaky":
            if count <= int(query.get("fails", 1)):
                return self._send(500, b"internal error", "text/plain")
            return self._image(name)
        if kind == "429":
            return self._send(429, b"slow down", "text/plain", {"Retry-After": query.get("retry_after", "86400")})
        if kind == "html":
            return self._send(200, b"<!doctype html><html><body>Image moved</body></html>", "text/html")
        if kind == "bomb":
            return self._send(200, self.state.bomb, "image/png")
        if kind == "truncated-image":
            return self._send(200, data[: len(data) // 2], "image/jpeg")
        if kind == "redirect":
            return self._redirect(f"/images/{quote(name)}")
        if kind == "redirect-file":
            return self._redirect("file:///etc/passwd")
        if kind == "redirect-loop":
            return self._redirect(self.path)
        if kind == "reset":
            return self._reset()
        if kind in ("stall", "truncated", "drip"):
            return self._partial(kind, data)
        self._send(404, f"unknown fault {kind!r}".encode(), "text/plain")

    def _partial(self, kind: str, data: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if kind == "drip":
            for i in range(len(data)):
                if self.state.stopping.wait(0.1):
                    break
                self.wfile.write(data[i : i + 1])
            self.close_connection = True
            return
        self.wfile.write(data[: len(data) // 2])
        if kind == "stall":
            self.state.stopping.wait()  # silence until the server stops
        self.close_connection = True

    def _reset(self):
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        # A client that hangs up mid-response (a timeout, a refused body) is part of the tests, not a server error.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class ImageServer:
    """A running server: its base URLs (one per loopback host) and the URL makers.

    Args:
        base_urls (`list[str]`): `http://127.0.0.N:PORT` for N = 1, 2, ...
        state (`_State`, *optional*): the shared state of an in-process server (for `hits`).
    """

    def __init__(self, base_urls: list[str], state: Optional[_State] = None):
        self.base_urls = base_urls
        self._state = state

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    @property
    def hits(self) -> Counter:
        if self._state is None:
            raise RuntimeError("hits are counted only by an in-process server (serve_images(..., process=False)).")
        return self._state.hits

    def add_images(self, images: dict[str, bytes]) -> None:
        """Serve more images from now on (an in-process server): data made after the server's URL was known."""
        if self._state is None:
            raise RuntimeError("add_images needs an in-process server (serve_images(..., process=False)).")
        with self._state.lock:
            self._state.images.update(images)

    def url(self, name: str, host: int = 0, delay: Optional[float] = None) -> str:
        """The URL of an image on host `host` (0-based), optionally served after `delay` seconds."""
        url = f"{self.base_urls[host]}/images/{quote(name)}"
        return f"{url}?delay={delay}" if delay else url

    def fault_url(self, fault: str, name: str = "", host: int = 0, **params) -> str:
        """The URL of a fault (`"404"`, `"flaky"`, `"stall"`, ...) on an image, with query parameters."""
        url = f"{self.base_urls[host]}/fault/{fault}" + (f"/{quote(name)}" if name else "")
        query = "&".join(f"{key}={value}" for key, value in params.items())
        return f"{url}?{query}" if query else url


def _start(images: dict[str, bytes], hosts: int, port: int = 0) -> tuple[list[ThreadingHTTPServer], _State]:
    state = _State(images)
    handler = type("Handler", (_Handler,), {"state": state})
    servers = []
    try:
        for index in range(hosts):
            server = _Server((f"127.0.0.{index + 1}", port), handler)
            servers.append(server)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    except OSError:
        _stop(servers, state)
        raise
    return servers, state


def _stop(servers: list[ThreadingHTTPServer], state: _State) -> None:
    state.stopping.set()
    for server in servers:
        server.shutdown()
        server.server_close()


def _base_urls(servers: list[ThreadingHTTPServer]) -> list[str]:
    return [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in servers]


def load_images(folder: Union[str, Path]) -> dict[str, bytes]:
    """Every file of a folder (recursively), keyed by its path relative to the folder."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _serve_in_child(folder: str, hosts: int, port: int, conn) -> None:
    servers, state = _start(load_images(folder), hosts, port)
    conn.send(_base_urls(servers))
    conn.recv()  # any message, or the parent's end of the pipe closing, stops the server
    _stop(servers, state)


@contextlib.contextmanager
def serve_images(
    images: Union[dict[str, bytes], str, Path, None] = None, hosts: int = 1, process: bool = False, port: int = 0
) -> Iterator[ImageServer]:
    """Start the server on free ports of 127.0.0.1 ... 127.0.0.`hosts`, yield it, and always stop it.

    Args:
        images (`dict[str, bytes]`, `str` or `Path`, *optional*): the images by name, or a folder of them.
        hosts (`int`, *optional*, defaults to `1`): loopback addresses to serve on, each its own host (at most 254).
        process (`bool`, *optional*, defaults to `False`): run the server in a child process, so that it does not
            share the client's interpreter lock (benchmarks); `images` must then be a folder and `hits` is unavailable.
        port (`int`, *optional*, defaults to `0`): the port of every host; `0` takes a free one. A fixed port gives
            the same URLs in every run, so that what depends on them (validation carved by URL hash) is the same;
            `OSError` when it is in use.

    Yields:
        `ImageServer`: the base URLs and URL makers.
    """
    if not 1 <= hosts <= 254:
        raise ValueError(f"hosts must be between 1 and 254, got {hosts}")
    if not process:
        images = load_images(images) if isinstance(images, (str, Path)) else dict(images or {})
        servers, state = _start(images, hosts, port)
        try:
            yield ImageServer(_base_urls(servers), state)
        finally:
            _stop(servers, state)
        return
    if not isinstance(images, (str, Path)):
        raise ValueError("serve_images(process=True) serves a folder: pass its path as images.")
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    worker = context.Process(target=_serve_in_child, args=(str(images), hosts, port, child), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while not parent.poll(0.1):
            if not worker.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"The image server process {'exited' if not worker.is_alive() else 'did not start in 120 s'}; "
                    "a script that starts it must guard its code with `if __name__ == '__main__':`, and a fixed "
                    "port must be free."
                )
        yield ImageServer(parent.recv())
    finally:
        with contextlib.suppress(OSError):
            parent.send("stop")
        worker.join(10)
        if worker.is_alive():
            worker.kill()
            worker.join()


def make_images(n: int, seed: int = 0, sizes: tuple[int, int] = (64, 160), formats=("jpg", "png")) -> dict[str, bytes]:
    """`n` distinct small images with varied content (gradients, shapes, noise), named `img-00000.jpg`, ...

    Args:
        n (`int`): how many images.
        seed (`int`, *optional*, defaults to `0`): the random seed; the same seed gives the same bytes.
        sizes (`tuple[int, int]`, *optional*, defaults to `(64, 160)`): the range of the width and height in pixels.
        formats (`tuple[str, ...]`, *optional*, defaults to `("jpg", "png")`): the formats, used in turn.
    """
    import io
    import random

    import numpy as np
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    images = {}
    for index in range(n):
        fmt = formats[index % len(formats)]
        width, height = rng.randint(*sizes), rng.randint(*sizes)
        if fmt == "png":  # PNG stores noise nearly raw: smaller and smoother, to stay near the JPEGs' sizes
            width, height = max(8, width // 2), max(8, height // 2)
        y, x = np.ogrid[0:height, 0:width]
        channels = [((x * rng.uniform(0, 4) + y * rng.uniform(0, 4) + rng.randint(0, 255)) % 256) for _ in "rgb"]
        base = np.stack(np.broadcast_arrays(*channels), -1).astype(np.int16)
        amplitude = rng.randint(2 if fmt == "png" else 1, 12 if fmt == "png" else 64)
        noise = np.random.default_rng(seed * 1_000_003 + index).integers(0, amplitude, base.shape, dtype=np.int16)
        image = Image.fromarray(((base + noise) % 256).astype("uint8"))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(1, 6)):
            x0, y0 = rng.randrange(width), rng.randrange(height)
            box = (x0, y0, x0 + rng.randint(4, width // 2 + 4), y0 + rng.randint(4, height // 2 + 4))
            color = tuple(rng.randrange(256) for _ in "rgb")
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=color)
        buffer = io.BytesIO()
        if fmt == "jpg":
            image.save(buffer, format="JPEG", quality=90)
        else:
            image.save(buffer, format=fmt.upper(), **({"compress_level": 1} if fmt == "png" else {}))
        images[f"img-{index:05d}.{fmt}"] = buffer.getvalue()
    return images

"""A deterministic OpenAI-compatible judge on 127.0.0.1: `POST /v1/chat/completions`, with failures on demand.

It plays the statement judge of `pixmo_cap.metrics` without a model. A prompt holding a
`<description>` block alone asks for statements: the server splits the description into sentences. A
prompt that also holds a numbered `<statements>` block asks which statements the description supports:
a statement is supported when at least half of its content words occur in the description. Replies are
`{"statements": [...]}` and `{"supported": [...]}`, as the real judge is asked to give.

Failures are injected by configuration, either for the next requests in order (`fail_next`) or for every
request whose prompt contains a string (`fail_matching`):

- `"http_500"`: HTTP 500 with an error body.
- `"http_429"`: HTTP 429 with `Retry-After: {retry_after}`.
- `"http_401"`: HTTP 401, as for a wrong API key (the body echoes the `Authorization` header it refused).
- `"timeout"`: the reply is held back for `delay` seconds (longer than the client's timeout).
- `"malformed_body"`: HTTP 200 whose body is not JSON.
- `"malformed_reply"`: a well-formed completion whose message is not the JSON that was asked for.

Every request is counted (`request_count`) and recorded (`requests`), so tests can check that a cached
rerun sends nothing.

Example:

```python
with OpenAICompatibleServer() as server:
    server.fail_next("http_429", times=2)
    client = JudgeClient(server.url, "judge")
```
"""

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from pixmo.testing.http_server import send_body

logger = logging.getLogger(__name__)

FAILURE_KINDS = ("http_500", "http_429", "http_401", "timeout", "malformed_body", "malformed_reply")
SUPPORT_THRESHOLD = 0.5
STOPWORDS = frozenset(
    "a an the is are was were be been being of in on at to and or with by for from as it its this that these "
    "there here has have had which who whose while into onto over under near next some any".split()
)
_DESCRIPTION = re.compile(r"<description>\s*(.*?)\s*</description>", re.S)
_STATEMENTS = re.compile(r"<statements>\s*(.*?)\s*</statements>", re.S)
_NUMBERED = re.compile(r"^\s*\d+\.\s*(.*)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class RecordedRequest:
    path: str
    model: Optional[str]
    authorization: Optional[str]
    prompt: str
    answered_with: str  # "ok" or a failure kind
    body: dict


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}


def split_statements(text: str) -> list[str]:
    """Sentences of `text`, each one statement."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def is_supported(statement: str, description: str) -> bool:
    words = content_words(statement)
    return bool(words) and len(words & content_words(description)) / len(words) >= SUPPORT_THRESHOLD


def judge_reply(prompt: str) -> dict:
    """The reply a careful judge would give to one of the statement prompts, computed from word overlap."""
    description = _DESCRIPTION.search(prompt)
    if description is None:
        raise ValueError("the prompt has no <description> block")
    statements = _STATEMENTS.search(prompt)
    if statements is None:
        return {"statements": split_statements(description.group(1))}
    numbered = [_NUMBERED.match(line) for line in statements.group(1).splitlines() if line.strip()]
    return {"supported": [bool(m) and is_supported(m.group(1), description.group(1)) for m in numbered]}


class OpenAICompatibleServer:
    """The judge server, started on a free port of 127.0.0.1; use it as a context manager or call `stop()`.

    Args:
        api_key (`str`, *optional*): when set, requests without `Authorization: Bearer {api_key}` get 401.
        retry_after (`str`, defaults to `"0"`): the `Retry-After` header sent with injected 429s.
        delay (`float`, defaults to `2.0`): how long an injected `"timeout"` holds its reply, in seconds.
    """

    def __init__(self, api_key: Optional[str] = None, retry_after: str = "0", delay: float = 2.0):
        self.api_key = api_key
        self.retry_after = retry_after
        self.delay = delay
        self.requests: list[RecordedRequest] = []
        self._scripted: list[str] = []
        self._matching: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-server", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The base URL a client is given: `http://127.0.0.1:PORT/v1`."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def fail_next(self, kind: str, times: int = 1) -> None:
        """Answer the next `times` requests (after those already scripted) with failure `kind`."""
        _check_kind(kind)
        with self._lock:
            self._scripted.extend([kind] * times)

    def fail_matching(self, text: str, kind: str) -> None:
        """Answer every request whose prompt contains `text` with failure `kind`, for as long as the server runs."""
        _check_kind(kind)
        with self._lock:
            self._matching.append((text, kind))

    def clear_failures(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._matching.clear()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "OpenAICompatibleServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _choose(self, body: dict, prompt: str, authorization: Optional[str], path: str) -> str:
        """Decide how to answer one request, and record it."""
        with self._lock:
            if self.api_key is not None and authorization != f"Bearer {self.api_key}":
                kind = "http_401"
            elif self._scripted:
                kind = self._scripted.pop(0)
            else:
                kind = next((k for text, k in self._matching if text in prompt), "ok")
            self.requests.append(RecordedRequest(path, body.get("model"), authorization, prompt, kind, body))
        return kind


def _check_kind(kind: str) -> None:
    if kind not in FAILURE_KINDS:
        raise ValueError(f"failure kind must be one of {FAILURE_KINDS}, got {kind!r}")


def _make_handler(server: OpenAICompatibleServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def log_message(self, format, *args):
            logger.debug("openai_server: " + format, *args)

        def do_POST(self):
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                prompt = "\n".join(m.get("content", "") for m in body.get("messages", []) if isinstance(m, dict))
            except (ValueError, AttributeError) as err:
                return self._send_json(400, {"error": {"message": f"bad request body: {err}"}})
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            kind = server._choose(body, prompt, self.headers.get("Authorization"), self.path)
            try:
                self._answer(kind, prompt, body.get("model"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (an injected timeout)

        def _answer(self, kind: str, prompt: str, model: Optional[str]) -> None:
            if kind == "http_500":
                return self._send_json(500, {"error": {"message": "injected internal error"}})
            if kind == "http_429":
                return self._send_json(429, {"error": {"message": "rate limited"}}, {"Retry-After": server.retry_after})
            if kind == "http_401":  # echoing the refused key, as careless servers do
                refused = self.headers.get("Authorization")
                return self._send_json(401, {"error": {"message": f"invalid api key: {refused}"}})
            if kind == "malformed_body":
                return self._send_raw(200, b"<html>upstream hiccup</html>", "text/html")
            if kind == "timeout":
                time.sleep(server.delay)
            try:
                content = "Sure! Here is my answer." if kind == "malformed_reply" else json.dumps(judge_reply(prompt))
            except ValueError as err:
                return self._send_json(400, {"error": {"message": str(err)}})
            self._send_json(200, _completion(model, content))

        def _send_json(self, status: int, payload: dict, headers: Optional[dict] = None) -> None:
            self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

        _send_raw = send_body

    return Handler


def _completion(model: Optional[str], content: str) -> dict:
    return {
        "id": "chatcmpl-pixmo-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }

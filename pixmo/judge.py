"""A client for judge models behind any OpenAI-compatible endpoint: retries, timeouts and a disk cache.

The judge is reached through `POST {url}/chat/completions` (OpenAI, vLLM, SGLang, llama.cpp, Ollama and
most hosted gateways speak it). Every reply that the caller's parser accepts is kept on disk, keyed by the
model and the exact request, so a rerun of an evaluation sends nothing for the calls it already made. The
API key is read from the environment (`PIXMO_JUDGE_API_KEY`, then `OPENAI_API_KEY`) and is only ever put
in the `Authorization` header: never logged, printed or cached.
"""

import email.utils
import hashlib
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import requests

logger = logging.getLogger(__name__)

API_KEY_ENV_VARS = ("PIXMO_JUDGE_API_KEY", "OPENAI_API_KEY")
CACHE_ENV_VAR = "PIXMO_JUDGE_CACHE"
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_BACKOFF_S = 30.0

T = TypeVar("T")


class JudgeError(RuntimeError):
    """A judge call that failed for good: after every retry, or at once for an error that retrying cannot fix."""


class JudgeReplyError(ValueError):
    """A judge reply that arrived but does not have the shape the caller asked for (raised by reply parsers)."""


def default_cache_dir() -> Path:
    """`$PIXMO_JUDGE_CACHE`, else `~/.cache/pixmo/judge`."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "pixmo" / "judge")


def api_key_from_env() -> Optional[str]:
    """The first of `PIXMO_JUDGE_API_KEY` and `OPENAI_API_KEY` that is set, else `None` (a local server)."""
    for name in API_KEY_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return None


def chat_completions_url(url: str) -> str:
    """`http://host/v1` or `http://host/v1/chat/completions` -> the chat completions endpoint."""
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


class ReplyCache:
    """One JSON file per reply under `root/<2 hex>/<sha256>.json`, written atomically (safe across processes).

    Args:
        root (`str` or `Path`): the cache folder; created on the first write.
    """

    def __init__(self, root):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Optional[str]:
        try:
            return json.loads(self.path(key).read_text(encoding="utf-8"))["reply"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            logger.warning("Ignoring unreadable judge cache entry %s (%s); asking again.", self.path(key), err)
            return None

    def put(self, key: str, model: str, reply: str) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
            json.dump({"model": model, "reply": reply}, f)
        os.replace(f.name, path)


class JudgeClient:
    """Chat completions from a judge model, retried with backoff and cached on disk.

    Args:
        url (`str`): the OpenAI-compatible base URL (`http://127.0.0.1:8000/v1`), or the full
            `.../chat/completions` endpoint.
        model (`str`): the model name the endpoint serves.
        api_key (`str`, *optional*): defaults to `PIXMO_JUDGE_API_KEY`, then `OPENAI_API_KEY`; no
            `Authorization` header is sent when none is set.
        cache_dir (`str` or `Path`, *optional*): where replies are kept; defaults to `$PIXMO_JUDGE_CACHE` or
            `~/.cache/pixmo/judge`. Pass `use_cache=False` to turn the cache off.
        use_cache (`bool`, defaults to `True`): read and write the disk cache.
        timeout (`float`, defaults to `60.0`): seconds to wait for the connection and for each read.
        max_retries (`int`, defaults to `4`): attempts after the first, for timeouts, connection errors,
            429, 5xx and replies that cannot be parsed.
        backoff (`float`, defaults to `1.0`): the first wait in seconds; doubled after each failure (with
            jitter, at most 30 s) unless the server sends `Retry-After`.
        max_retry_after (`float`, defaults to `60.0`): the longest `Retry-After` obeyed; a longer one is cut
            to this, so a far-future value cannot stall the run.
        temperature (`float`, defaults to `0.0`): sampling temperature sent with every request.
        max_tokens (`int`, defaults to `2048`): reply length limit sent with every request.
        json_mode (`bool`, defaults to `True`): send `response_format={"type": "json_object"}`; turn off for a
            server that rejects it.
    """

    def __init__(
        self,
        url: str,
        model: str,
        api_key: Optional[str] = None,
        cache_dir=None,
        use_cache: bool = True,
        timeout: float = 60.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_retry_after: float = 60.0,
        temperature: float = 0.0,
        max_tokens: int = 2048,
        json_mode: bool = True,
    ):
        if not url or not model:
            raise ValueError(f"A judge needs an endpoint URL and a model name, got url={url!r}, model={model!r}.")
        if max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, got {max_retries!r}")
        self.endpoint = chat_completions_url(url)
        self.model = model
        self._api_key = api_key or api_key_from_env()
        self.cache = ReplyCache(cache_dir or default_cache_dir()) if use_cache else None
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.json_mode = json_mode
        self._local = threading.local()
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.cache_hits = 0

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"JudgeClient(endpoint={self.endpoint!r}, model={self.model!r}, api_key={key}, cache={self.cache_root})"

    @property
    def cache_root(self) -> Optional[str]:
        return str(self.cache.root) if self.cache else None

    # -- the public call -------------------------------------------------------------------------------

    def complete(self, messages: list[dict], parse: Callable[[str], T] = str) -> T:
        """Send `messages`, parse the reply text with `parse`, and return what it returns.

        Args:
            messages (`list[dict]`): chat messages, `{"role": ..., "content": ...}`.
            parse (`Callable[[str], T]`, defaults to `str`): turns the reply text into a value, raising
                `JudgeReplyError` (or `ValueError`) when the reply is unusable; such a reply is asked for
                again and never cached.

        Returns:
            `T`: `parse(reply)` for the first reply that parses.

        Raises:
            `JudgeError`: when no usable reply came after `max_retries` retries, or at once on an error that
                retrying cannot fix (a 4xx other than 408, 425 or 429).
        """
        body = self._request_body(messages)
        key = self.cache_key(body)
        cached = self.cache.get(key) if self.cache else None
        if cached is not None:
            try:
                value = parse(cached)
                with self._lock:
                    self.cache_hits += 1
                return value
            except ValueError:
                logger.warning("A cached judge reply no longer parses; asking the judge again.")
        reply, value = self._call_with_retries(body, parse)
        if self.cache:
            self.cache.put(key, self.model, reply)
        return value

    def cache_key(self, body: dict) -> str:
        """sha256 of the model and the exact request (messages and sampling settings); never of the key or URL."""
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    # -- sending and retrying --------------------------------------------------------------------------

    def _request_body(self, messages: list[dict]) -> dict:
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _call_with_retries(self, body: dict, parse: Callable[[str], T]) -> tuple[str, T]:
        problems = []
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                reply = self._send(body)
                return reply, parse(reply)
            except _Retryable as err:
                problems.append(str(err))
                wait = err.retry_after
            except ValueError as err:  # JudgeReplyError included: the reply came but is unusable
                problems.append(f"unusable reply: {err}")
            if attempt < self.max_retries:
                delay = self._delay(attempt, wait)
                logger.debug(
                    "Judge call failed (%s); retry %d/%d in %.2f s.", problems[-1], attempt + 1, self.max_retries, delay
                )
                time.sleep(delay)
        raise JudgeError(
            f"The judge at {self.endpoint} (model {self.model!r}) gave no usable reply after "
            f"{self.max_retries + 1} attempts. Last problem: {problems[-1]}. Check that the server is up and "
            f"serves this model, or raise --judge-retries / --judge-timeout."
        )

    def _delay(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                logger.warning(
                    "The judge asked to wait %.0f s (Retry-After); waiting %.0f s instead.",
                    retry_after,
                    self.max_retry_after,
                )
            return min(max(retry_after, 0.0), self.max_retry_after)
        return min(self.backoff * 2**attempt, MAX_BACKOFF_S) * random.uniform(0.5, 1.0)

    def _send(self, body: dict) -> str:
        with self._lock:
            self.requests_sent += 1
        try:
            response = self._session().post(self.endpoint, json=body, headers=self._headers(), timeout=self.timeout)
        except requests.Timeout as err:
            raise _Retryable(f"no reply within {self.timeout} s ({type(err).__name__})") from err
        except requests.ConnectionError as err:
            raise _Retryable(f"cannot connect to {self.endpoint} ({type(err).__name__})") from err
        if response.status_code != 200:
            self._raise_for_status(response)
        return _reply_text(response)

    def _raise_for_status(self, response: requests.Response) -> None:
        excerpt = self._redact(response.text[:300])
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {response.status_code}: {excerpt}", _retry_after(response))
        hint = ""
        if response.status_code in (401, 403):
            hint = f" Set the API key in {' or '.join(API_KEY_ENV_VARS)}."
        elif response.status_code == 400 and self.json_mode:
            hint = " If the server rejects response_format, turn JSON mode off (--judge-no-json-mode)."
        raise JudgeError(
            f"The judge at {self.endpoint} refused the request: HTTP {response.status_code}: {excerpt}.{hint}"
        )

    def _redact(self, text: str) -> str:
        """`text` without the API key (some servers echo the key they refused)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _session(self) -> requests.Session:
        # requests.Session is not thread safe: one per thread.
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: Optional[float] = None):
        super().__init__(message)
        self.retry_after = retry_after


def _reply_text(response: requests.Response) -> str:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise _Retryable(
            f"malformed response body (expected choices[0].message.content): {response.text[:200]!r}"
        ) from err
    if not isinstance(content, str):
        raise _Retryable(f"malformed response body: message content is {type(content).__name__}, expected a string")
    return content


def _retry_after(response: requests.Response) -> Optional[float]:
    """`Retry-After` in seconds, from either of its forms (seconds, or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def parse_json_object(text: str, required_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Parse a reply that must be one JSON object, optionally inside a single ``` fence, holding `required_keys`.

    Raises:
        `JudgeReplyError`: when the reply is not exactly one JSON object, or lacks a required key.
    """
    stripped = text.strip()
    if stripped.startswith("```"):
        lines = stripped.splitlines()
        if len(lines) < 2 or lines[-1].strip() != "```":
            raise JudgeReplyError(f"an unclosed code fence: {text[:200]!r}")
        stripped = "\n".join(lines[1:-1])
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as err:
        raise JudgeReplyError(f"not JSON ({err.msg}): {text[:200]!r}") from err
    if not isinstance(data, dict):
        raise JudgeReplyError(f"expected a JSON object, got {type(data).__name__}: {text[:200]!r}")
    missing = [k for k in required_keys if k not in data]
    if missing:
        raise JudgeReplyError(f"the JSON object lacks {missing}: {text[:200]!r}")
    return data

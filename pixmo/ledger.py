"""The ledger of an image store: one sqlite row per image URL, the outcome of its last fetch.

sqlite (standard library) in WAL mode: a write is either committed or absent after a crash, several
processes may read and write the same store, and the ledger can be queried by hand
(`sqlite3 ~/.cache/pixmo/ledger.sqlite "select reason, count(*) from urls group by reason"`).
"""

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)

LEDGER_FILENAME = "ledger.sqlite"
SQL_BATCH = 900  # below sqlite's default limit of host parameters in one statement


class Reason:
    """Why a URL ended as it did: the values of `LedgerEntry.reason`."""

    OK = "ok"
    HASH_MISMATCH_KEPT = "hash mismatch (kept)"
    GONE = "gone"  # 404, 410
    HTTP_ERROR = "http error"  # another 4xx
    SERVER_ERROR = "server error"  # 5xx
    RATE_LIMITED = "rate limited"  # 429
    TIMEOUT = "timeout"
    CONNECTION = "connection error"  # refused, reset, incomplete body
    HASH_MISMATCH = "hash mismatch"
    NOT_AN_IMAGE = "not an image"
    TRUNCATED = "truncated image"
    TOO_LARGE = "too large"  # bytes beyond the size limit
    TOO_MANY_PIXELS = "too many pixels"  # a decompression bomb
    BAD_SCHEME = "unsupported scheme"  # not http or https, first or after a redirect
    TOO_MANY_REDIRECTS = "too many redirects"
    INVALID_URL = "invalid url"

    # A later run retries these (up to a limit of runs); the others stay failed unless asked.
    TRANSIENT = frozenset({SERVER_ERROR, RATE_LIMITED, TIMEOUT, CONNECTION})


STORED = "stored"
FAILED = "failed"


@dataclass
class LedgerEntry:
    """The outcome of one URL.

    Args:
        url (`str`): the image URL as the source lists it.
        status (`str`): `"stored"` or `"failed"`.
        reason (`str`): one of the `Reason` values (`"ok"` for a verified image).
        attempts (`int`): HTTP requests made for this URL over every run, retries included.
        runs (`int`): fetch runs that tried this URL.
        http_status (`int`, *optional*): the last HTTP status received.
        bytes (`int`, *optional*): the size of the stored image.
        digest (`str`, *optional*): the sha256 hex digest of the downloaded bytes (the file name in the store).
        ext (`str`, *optional*): the file extension of the stored image (`jpg`, `png`, ...).
        expected_sha256 (`str`, *optional*): the digest the source lists for the URL, when it has one.
        seconds (`float`): the time spent on the URL in its last run.
        updated (`float`): when the entry was written (seconds since the epoch).
        error (`str`, *optional*): the error message of a failure.
    """

    url: str
    status: str
    reason: str
    attempts: int = 0
    runs: int = 0
    http_status: Optional[int] = None
    bytes: Optional[int] = None
    digest: Optional[str] = None
    ext: Optional[str] = None
    expected_sha256: Optional[str] = None
    seconds: float = 0.0
    updated: float = 0.0
    error: Optional[str] = None

    @property
    def stored(self) -> bool:
        return self.status == STORED

    @property
    def transient(self) -> bool:
        return self.status == FAILED and self.reason in Reason.TRANSIENT


COLUMNS = [f.name for f in fields(LedgerEntry)]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    http_status INTEGER,
    bytes INTEGER,
    digest TEXT,
    ext TEXT,
    expected_sha256 TEXT,
    seconds REAL NOT NULL DEFAULT 0,
    updated REAL NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS urls_digest ON urls (digest);
"""
_UPSERT = (
    f"INSERT INTO urls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
    f"ON CONFLICT(url) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])}"
)


class Ledger:
    """The sqlite ledger of a store: `record` outcomes, `get`/`get_many` them back.

    Args:
        path (`str` or `Path`): the sqlite file; created with its table when missing.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A build may call `lookup` from several threads; sqlite serialises the calls on one connection.
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def record(self, entries: Iterable[LedgerEntry]) -> None:
        """Write entries in one transaction (all or none survive a crash)."""
        rows = [tuple(getattr(e, name) for name in COLUMNS) for e in entries]  # astuple deep-copies: slow
        if not rows:
            return
        with self._transaction():
            self._db.executemany(_UPSERT, rows)

    def get(self, url: str) -> Optional[LedgerEntry]:
        row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM urls WHERE url = ?", (url,)).fetchone()
        return LedgerEntry(*row) if row else None

    def _select_in(self, query: str, values: Iterable, *leading) -> Iterator[tuple]:
        """The rows of `query` (whose `{}` becomes the `IN` list) over `values`, in batches of at most `SQL_BATCH`
        parameters; `leading` are the parameters before the list."""
        values = list(values)
        for start in range(0, len(values), SQL_BATCH):
            batch = values[start : start + SQL_BATCH]
            yield from self._db.execute(query.format(", ".join("?" for _ in batch)), [*leading, *batch])

    def get_many(self, urls: Iterable[str]) -> dict[str, LedgerEntry]:
        """The entries of the URLs that have one, queried in batches."""
        rows = self._select_in(f"SELECT {', '.join(COLUMNS)} FROM urls WHERE url IN ({{}})", urls)
        return {row[0]: LedgerEntry(*row) for row in rows}

    def stored_files(self, digests: Iterable[str]) -> dict[str, str]:
        """`digest -> ext` for the digests some URL has stored."""
        query = "SELECT digest, ext FROM urls WHERE status = ? AND digest IN ({})"
        return dict(self._select_in(query, digests, STORED))

    def entries(self) -> Iterator[LedgerEntry]:
        for row in self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM urls ORDER BY url"):
            yield LedgerEntry(*row)

    def counts(self) -> dict[tuple[str, str], int]:
        """`(status, reason) -> URLs` over the whole ledger."""
        query = "SELECT status, reason, count(*) FROM urls GROUP BY status, reason"
        return {(status, reason): n for status, reason, n in self._db.execute(query)}

    def merge_from(self, other_path) -> int:
        """Take the entries of another ledger where they are better: stored beats failed, then the newer wins.

        Returns:
            `int`: the number of entries taken from the other ledger.
        """
        before = self._db.total_changes
        self._db.execute("ATTACH DATABASE ? AS other", (str(other_path),))
        try:
            with self._transaction():
                self._db.execute(
                    f"INSERT INTO urls ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM other.urls AS o "
                    f"WHERE true ON CONFLICT(url) DO UPDATE SET "
                    f"{', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])} "
                    f"WHERE (excluded.status = '{STORED}') > (urls.status = '{STORED}') "
                    f"OR ((excluded.status = '{STORED}') = (urls.status = '{STORED}') AND excluded.updated > urls.updated)"
                )
        finally:
            self._db.execute("DETACH DATABASE other")
        return self._db.total_changes - before

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """`BEGIN IMMEDIATE ... COMMIT`, rolled back on error: the write lock is taken up front, so two fetches on one
    store wait for each other (up to the connection timeout) instead of failing half-way."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *exc):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")

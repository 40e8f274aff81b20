"""The content-addressed image store every PixMo subset shares: each image kept once, named by its sha256.

Layout of a store root (`--store`, else `$PIXMO_HOME`, else `~/.cache/pixmo`)::

    images/ab/cd/abcd...ef.jpg   one file per distinct image, named by the sha256 of its bytes
    ledger.sqlite                one row per URL: stored (with its digest) or failed (with the reason)
    tmp/                         downloads in flight; renamed into images/ only once complete and synced

A file is renamed into `images/` only after it was written in full, fsynced and verified, so an
interrupted fetch never leaves a partial image that a later run (or a build) accepts.
"""

import itertools
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from .ledger import LEDGER_FILENAME, Ledger, LedgerEntry

if TYPE_CHECKING:
    from .fetch import FetchOptions, FetchSummary

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


def default_root() -> Path:
    """`$PIXMO_HOME`, read at call time, or `~/.cache/pixmo`."""
    return Path(os.environ.get("PIXMO_HOME") or Path.home() / ".cache" / "pixmo").expanduser()


def blob_relpath(digest: str, ext: str) -> str:
    """Where an image lives inside `images/`: two levels of fan-out keep folders small at millions of images."""
    return f"{digest[:2]}/{digest[2:4]}/{digest}.{ext}"


_PART_NUMBERS = itertools.count()


def write_atomic(root: Path, digest: str, ext: str, data: bytes) -> Path:
    """Write an image into the store under its digest: temporary file, fsync, rename.

    Two writers of the same image both rename a complete file onto the same name, so the result is one
    complete file either way.

    Args:
        root (`Path`): the store root.
        digest (`str`): the sha256 hex digest of `data`.
        ext (`str`): the file extension (`jpg`, `png`, ...).
        data (`bytes`): the image bytes.

    Returns:
        `Path`: the stored file.
    """
    target = root / "images" / blob_relpath(digest, ext)
    if target.exists():
        return target
    tmp = root / "tmp" / f"{os.getpid()}-{threading.get_ident()}-{next(_PART_NUMBERS)}.part"
    try:
        with _create(tmp) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.replace(tmp, target)
        except FileNotFoundError:  # the first image of its fan-out folder: make the folder only then
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _create(path: Path):
    try:
        return open(path, "xb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "xb")


def remove_stale_parts(root: Path) -> int:
    """Delete the temporary files that processes no longer alive left in `tmp/`; returns how many."""
    removed = 0
    for part in (root / "tmp").glob("*.part"):
        pid = part.name.split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue  # another fetch on this store is writing it now
        part.unlink(missing_ok=True)
        removed += 1
    if removed:
        logger.info("Removed %d partial downloads left by interrupted fetches.", removed)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class MergeSummary:
    """What `ImageStore.merge` took from the other store."""

    files_copied: int = 0
    entries_taken: int = 0


class ImageStore:
    """A content-addressed image store with a ledger of every URL's outcome.

    Args:
        root (`str` or `os.PathLike`, *optional*): the store folder; defaults to `$PIXMO_HOME` or `~/.cache/pixmo`.

    Example:

    ```py
    >>> from pixmo.store import ImageStore
    >>> from pixmo.fetch import FetchOptions, urls_of_subset
    >>> store = ImageStore("/data/pixmo")
    >>> summary = store.fetch(urls_of_subset("pixmo_count"), n_proc=4, options=FetchOptions(on_mismatch="keep"))
    >>> store.lookup("https://example.com/cat.jpg")  # the stored file, or None
    >>> store.outcome("https://example.com/cat.jpg").reason  # "ok", "gone", "hash mismatch", ...
    ```
    """

    def __init__(self, root: Optional[PathLike] = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.images_dir = self.root / "images"
        self.tmp_dir = self.root / "tmp"
        for folder in (self.images_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(self.root / LEDGER_FILENAME)

    def __repr__(self) -> str:
        return f"ImageStore({str(self.root)!r})"

    def __enter__(self) -> "ImageStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.ledger.close()

    # -- reading -----------------------------------------------------------------------------------------

    def path_of(self, entry: LedgerEntry) -> Optional[Path]:
        """The file of a stored entry, or None when the entry is not stored or its file is missing."""
        if not entry.stored or not entry.digest:
            return None
        path = self.images_dir / blob_relpath(entry.digest, entry.ext)
        return path if path.exists() else None

    def lookup(self, url: str) -> Optional[Path]:
        """The stored image file of a URL, or None when it is not stored.

        Args:
            url (`str`): the image URL as the source lists it.
        """
        entry = self.ledger.get(url)
        return self.path_of(entry) if entry else None

    def lookup_many(self, urls: Iterable[str]) -> dict[str, Path]:
        """`url -> stored file` for those of `urls` that are stored, in a few batched queries."""
        found = {}
        for url, entry in self.ledger.get_many(urls).items():
            path = self.path_of(entry)
            if path is not None:
                found[url] = path
        return found

    def outcome(self, url: str) -> Optional[LedgerEntry]:
        """The ledger entry of a URL (status, reason, attempts, HTTP status, bytes, digest, time), or None if
        it was never fetched."""
        return self.ledger.get(url)

    def outcomes(self, urls: Iterable[str]) -> dict[str, LedgerEntry]:
        """`url -> LedgerEntry` for those of `urls` that the ledger knows, in a few batched queries."""
        return self.ledger.get_many(urls)

    def files(self) -> Iterator[Path]:
        """Every image file in the store."""
        return (p for p in self.images_dir.glob("*/*/*") if p.is_file())

    # -- writing -----------------------------------------------------------------------------------------

    def fetch(
        self,
        items: Iterable[tuple[str, Optional[str]]],
        n_proc: int = 1,
        options: Optional["FetchOptions"] = None,
        progress: bool = True,
        shard: Optional[tuple[int, int]] = None,
    ) -> "FetchSummary":
        """Download the images of `items` into the store, resuming from the ledger.

        What is stored is skipped; transient failures (timeouts, resets, 5xx, 429) are retried up to
        `options.max_runs` runs; permanent ones (404, 410, hash mismatch, not an image, ...) are left alone
        unless `options.retry_failed`.

        Args:
            items (`Iterable[tuple[str, Optional[str]]]`): `(url, sha256 or None)` pairs; repeated URLs are fetched once.
            n_proc (`int`, *optional*, defaults to `1`): worker processes, each running `options.threads` threads.
            options (`FetchOptions`, *optional*): timeouts, limits, retries and policies; defaults to `FetchOptions()`.
            progress (`bool`, *optional*, defaults to `True`): show a progress bar (images/s, stored, failed).
            shard (`tuple[int, int]`, *optional*): `(k, n)`: fetch only the URLs whose hash modulo `n` is `k`,
                a deterministic, disjoint part for machine `k` of `n`.

        Returns:
            `FetchSummary`: what was requested, skipped, stored and failed (by reason).

        With `n_proc > 1` the workers are spawned processes: a script that calls this must run its code under
        `if __name__ == "__main__":`.
        """
        from .fetch import FetchOptions, run_fetch

        return run_fetch(self, items, n_proc, options or FetchOptions(), progress, shard)

    def merge(self, other_root: PathLike) -> MergeSummary:
        """Bring another store's images and ledger into this one (after `--shard K/N` runs on several machines).

        Images missing here are copied (atomically); a URL's entry is taken from the other ledger when it is
        stored there and not here, or when both agree on stored or failed and the other is newer.

        Args:
            other_root (`str` or `os.PathLike`): the root of the other store.

        Returns:
            `MergeSummary`: files copied and ledger entries taken.
        """
        other = Path(other_root).expanduser()
        if not (other / LEDGER_FILENAME).exists():
            raise FileNotFoundError(
                f"{other} is not an image store: expected {other / LEDGER_FILENAME}. Pass the --store folder of "
                "the other run."
            )
        if other.resolve() == self.root.resolve():
            raise ValueError(f"Cannot merge the store {other} into itself.")
        summary = MergeSummary()
        for source in (other / "images").glob("*/*/*"):
            target = self.images_dir / source.relative_to(other / "images")
            if source.is_file() and not target.exists():
                self._copy_in(source, target)
                summary.files_copied += 1
        summary.entries_taken = self.ledger.merge_from(other / LEDGER_FILENAME)
        logger.info("Merged %s: %d files copied, %d ledger entries taken.", other, summary.files_copied,
                    summary.entries_taken)
        return summary

    def _copy_in(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(source, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

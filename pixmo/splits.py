"""Deterministic, image-disjoint validation splits chosen from a hash of the image URL.

Where the Hub has only a train split, Molmo carves 2,048 images out for validation. Here the choice is
the `n` image URLs with the smallest sha256, so it depends neither on row order nor on which images
later fail to download: one threshold on the hash decides every row, and every row of an image goes
to the same side.
"""

import hashlib
import heapq
import logging
from collections.abc import Iterable

import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

MIN_TRAIN_FRACTION = 10  # a small source keeps at least nine tenths of its rows for training


def url_key(url: str) -> int:
    """The 64-bit hash of an image URL that orders images for the split."""
    return int.from_bytes(hashlib.sha256(url.encode("utf-8")).digest()[:8], "big")


def validation_threshold(urls: Iterable[str], num_images: int) -> int:
    """The largest key among the `num_images` distinct URLs with the smallest keys (or -1 when there are none).

    A URL belongs to validation when `url_key(url) <= threshold`. Memory is bounded by `num_images`.
    """
    heap: list[int] = []  # max-heap through negation, of the smallest keys seen
    members: set[int] = set()
    for url in urls:
        key = url_key(url)
        if key in members:
            continue
        if len(heap) < num_images:
            heapq.heappush(heap, -key)
            members.add(key)
        elif key < -heap[0]:
            members.discard(-heapq.heappushpop(heap, -key))
            members.add(key)
    return -heap[0] if heap else -1


def iter_column(files: list[str], column: str, batch_size: int = 65_536) -> Iterable[str]:
    """The values of one column across parquet files, read a batch at a time."""
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=[column]):
            yield from (value for value in batch.column(0).to_pylist() if value is not None)


def count_rows(files: list[str]) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in files)


def validation_size(num_rows: int, requested: int) -> int:
    """`requested` images, or fewer for a small source so that validation does not swallow it."""
    size = min(requested, max(1, num_rows // MIN_TRAIN_FRACTION))
    if size < requested:
        logger.warning(
            "The source has only %d rows: carving %d validation images instead of %d.", num_rows, size, requested
        )
    return size

"""Resolve a PixMo source, a Hub repo id at a revision or a local folder laid out like it, to parquet files."""

import logging
import os
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source that is missing, unreachable or not laid out like the PixMo Hub repo."""


def hub_endpoint() -> str:
    """The Hub endpoint in force now: `HF_ENDPOINT` read at call time, so tests and the demo can point elsewhere."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def is_local_source(source: str) -> bool:
    return os.path.isdir(source) or source.startswith((".", "/", "~"))


def resolve_data_files(
    source: str, data_dir: str, splits: list[str], revision: Optional[str] = None
) -> dict[str, list[str]]:
    """Find the parquet files of each split, as `push_to_hub` lays them out: `{data_dir}/{split}-NNNNN-of-NNNNN.parquet`.

    Args:
        source (`str`): a local folder, or a Hub dataset repo id (`allenai/pixmo-points`) fetched through
            `HF_ENDPOINT`.
        data_dir (`str`): the folder inside the repo that holds the files (`data`, or the config name for
            pixmo-docs).
        splits (`list[str]`): the splits to find; each must have at least one file.
        revision (`str`, *optional*): the Hub revision (a commit sha for a pinned build); defaults to `main`.

    Returns:
        `dict[str, list[str]]`: local paths of each split's files, sorted.
    """
    root = _local_root(source, data_dir, revision)
    files = {}
    for split in splits:
        found = sorted(str(p) for p in Path(root, data_dir).glob(f"{split}-*.parquet"))
        if not found:
            raise SourceError(
                f"No parquet files for split {split!r} in {source!r}: expected "
                f"{data_dir}/{split}-00000-of-0000N.parquet as the Hub lays them out. "
                f"Check the source path, or build from the Hub repo with --source allenai/<repo>."
            )
        files[split] = found
    return files


def _local_root(source: str, data_dir: str, revision: Optional[str]) -> str:
    source = os.path.expanduser(source)
    if is_local_source(source):
        if not os.path.isdir(source):
            raise SourceError(f"Source folder {source!r} does not exist. Pass a folder laid out like the Hub repo.")
        return source
    return _snapshot(source, data_dir, revision)


def _snapshot(repo_id: str, data_dir: str, revision: Optional[str]) -> str:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = hub_endpoint()
    revision = revision or "main"
    try:
        return snapshot_download(
            repo_id,
            repo_type="dataset",
            revision=revision,
            allow_patterns=[f"{data_dir}/*.parquet", "README.md"],
            endpoint=endpoint,
            cache_dir=os.environ.get("HF_HUB_CACHE"),  # read now, like HF_ENDPOINT, so a caller can redirect it
        )
    except RevisionNotFoundError as err:
        raise SourceError(f"Revision {revision!r} of dataset {repo_id!r} does not exist on {endpoint}.") from err
    except (RepositoryNotFoundError, GatedRepoError) as err:
        raise SourceError(
            f"Dataset repo {repo_id!r} was not found on {endpoint} (or needs a token). Check the repo id, "
            f"log in with `hf auth login`, or pass --source DIR with a local copy."
        ) from err
    except (LocalEntryNotFoundError, OSError) as err:
        raise SourceError(
            f"Could not reach {endpoint} to fetch {repo_id!r} at revision {revision!r}: {err}. "
            f"Check the network or HF_ENDPOINT, or pass --source DIR with a local copy of the repo."
        ) from err

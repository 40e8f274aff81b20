"""Shared test set-up: `datasets` caches that no two tests share.

`datasets` keys the cache of a local folder by the folder's name and its card's dataset_info, not by where the
folder is: two test folders named `out` with the same split sizes would share one cache entry and read each
other's rows. A cache for the session (module fixtures run before function fixtures) and one per test keep
every `load_dataset` honest.
"""

import datasets
import pytest


def _use_cache(monkeypatch, cache) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)


@pytest.fixture(scope="session", autouse=True)
def session_datasets_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        _use_cache(monkeypatch, tmp_path_factory.mktemp("hf-datasets-session-cache"))
        yield


@pytest.fixture(autouse=True)
def isolated_datasets_cache(tmp_path_factory, monkeypatch):
    _use_cache(monkeypatch, tmp_path_factory.mktemp("hf-datasets-cache"))

"""Fixtures of the training tests: one CPU thread per test, and one tiny Molmo2 made once for the whole session."""

import pytest

pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def one_thread():
    """Two OpenMP threads on a shared 2-core machine spin against each other: one thread is several times faster."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Molmo2 and its processor (`training.tiny_model.make_tiny_model`, seed 0); treat it as read-only."""
    from training.tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))

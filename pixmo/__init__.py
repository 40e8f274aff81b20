"""PixMo made real: the shared core of the PixMo subset builders, image store, cards and command line."""

__version__ = "0.1.0"

# The seed document's dataset classes, importable from here as from their subset packages.
_SEED_CLASSES = {
    "PixMoCap": "pixmo_cap",
    "PixMoPoints": "pixmo_points",
    "PixMoCount": "pixmo_count",
    "PixMoDocs": "pixmo_docs",
    "PixMoCapQA": "pixmo_capqa",
    "PixMoAskModelAnything": "pixmo_ama",
    "PixMoClocks": "pixmo_clocks",
}
__all__ = list(_SEED_CLASSES)


def __getattr__(name):
    # Imported lazily: the subset packages import this core, so it cannot import them at its own import time.
    if name in _SEED_CLASSES:
        import importlib

        return getattr(importlib.import_module(_SEED_CLASSES[name]), name)
    raise AttributeError(f"module 'pixmo' has no attribute {name!r}")

"""pixmo_docs: the builder, its config and FEATURES, and the seed-style dataset class `PixMoDocs`."""

from .builder import FEATURES, PixMoDocsBuilder, PixMoDocsConfig
from .dataset import PixMoDocs

__all__ = ["PixMoDocs", "FEATURES", "PixMoDocsBuilder", "PixMoDocsConfig"]

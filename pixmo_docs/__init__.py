"""pixmo_docs: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoDocsBuilder, PixMoDocsConfig

__all__ = ["FEATURES", "PixMoDocsBuilder", "PixMoDocsConfig"]

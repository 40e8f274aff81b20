"""pixmo_count: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoCountBuilder, PixMoCountConfig

__all__ = ["FEATURES", "PixMoCountBuilder", "PixMoCountConfig"]

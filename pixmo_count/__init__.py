"""pixmo_count: the builder, its config and FEATURES, and the seed-style dataset class `PixMoCount`."""

from .builder import FEATURES, PixMoCountBuilder, PixMoCountConfig
from .dataset import PixMoCount

__all__ = ["PixMoCount", "FEATURES", "PixMoCountBuilder", "PixMoCountConfig"]

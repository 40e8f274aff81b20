"""pixmo_cap: the builder, its config and FEATURES, and the seed-style dataset class `PixMoCap`."""

from .builder import FEATURES, PixMoCapBuilder, PixMoCapConfig
from .dataset import PixMoCap

__all__ = ["PixMoCap", "FEATURES", "PixMoCapBuilder", "PixMoCapConfig"]

"""pixmo_clocks: the builder, its config and FEATURES, and the seed-style dataset class `PixMoClocks`."""

from .builder import FEATURES, PixMoClocksBuilder, PixMoClocksConfig
from .dataset import PixMoClocks

__all__ = ["PixMoClocks", "FEATURES", "PixMoClocksBuilder", "PixMoClocksConfig"]

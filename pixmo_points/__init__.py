"""pixmo_points: the builder, its config and FEATURES, and the seed-style dataset class `PixMoPoints`."""

from .builder import FEATURES, PixMoPointsBuilder, PixMoPointsConfig
from .dataset import PixMoPoints

__all__ = ["PixMoPoints", "FEATURES", "PixMoPointsBuilder", "PixMoPointsConfig"]

"""pixmo_points: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoPointsBuilder, PixMoPointsConfig

__all__ = ["FEATURES", "PixMoPointsBuilder", "PixMoPointsConfig"]

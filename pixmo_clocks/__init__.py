"""pixmo_clocks: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoClocksBuilder, PixMoClocksConfig

__all__ = ["FEATURES", "PixMoClocksBuilder", "PixMoClocksConfig"]

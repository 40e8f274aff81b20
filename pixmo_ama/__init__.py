"""pixmo_ama: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoAMABuilder, PixMoAMAConfig

__all__ = ["FEATURES", "PixMoAMABuilder", "PixMoAMAConfig"]

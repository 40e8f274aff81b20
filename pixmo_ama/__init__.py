"""pixmo_ama: the builder, its config and FEATURES, and the seed-style dataset class `PixMoAskModelAnything`."""

from .builder import FEATURES, PixMoAMABuilder, PixMoAMAConfig
from .dataset import PixMoAskModelAnything

__all__ = ["PixMoAskModelAnything", "FEATURES", "PixMoAMABuilder", "PixMoAMAConfig"]

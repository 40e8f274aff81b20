"""pixmo_capqa: the builder, its config and FEATURES, and the seed-style dataset class `PixMoCapQA`."""

from .builder import FEATURES, PixMoCapQABuilder, PixMoCapQAConfig
from .dataset import PixMoCapQA

__all__ = ["PixMoCapQA", "FEATURES", "PixMoCapQABuilder", "PixMoCapQAConfig"]

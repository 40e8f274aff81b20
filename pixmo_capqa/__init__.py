"""pixmo_capqa: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoCapQABuilder, PixMoCapQAConfig

__all__ = ["FEATURES", "PixMoCapQABuilder", "PixMoCapQAConfig"]

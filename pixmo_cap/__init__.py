"""pixmo_cap: the builder, its config and FEATURES."""

from .builder import FEATURES, PixMoCapBuilder, PixMoCapConfig

__all__ = ["FEATURES", "PixMoCapBuilder", "PixMoCapConfig"]

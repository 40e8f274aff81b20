"""pixmo_points: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoPoints`."""

from .builder import FEATURES, PixMoPointsBuilder, PixMoPointsConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoPoints

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoPoints", "FEATURES", "PixMoPointsBuilder", "PixMoPointsConfig"]

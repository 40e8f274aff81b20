"""pixmo_count: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoCount`."""

from .builder import FEATURES, PixMoCountBuilder, PixMoCountConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoCount

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoCount", "FEATURES", "PixMoCountBuilder", "PixMoCountConfig"]

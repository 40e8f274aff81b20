"""pixmo_cap: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoCap`."""

from .builder import FEATURES, PixMoCapBuilder, PixMoCapConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoCap

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoCap", "FEATURES", "PixMoCapBuilder", "PixMoCapConfig"]

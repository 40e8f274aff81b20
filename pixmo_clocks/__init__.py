"""pixmo_clocks: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoClocks`."""

from .builder import FEATURES, PixMoClocksBuilder, PixMoClocksConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoClocks

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoClocks", "FEATURES", "PixMoClocksBuilder", "PixMoClocksConfig"]

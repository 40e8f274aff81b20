"""pixmo_capqa: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoCapQA`."""

from .builder import FEATURES, PixMoCapQABuilder, PixMoCapQAConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoCapQA

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoCapQA", "FEATURES", "PixMoCapQABuilder", "PixMoCapQAConfig"]

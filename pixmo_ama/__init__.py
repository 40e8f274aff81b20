"""pixmo_ama: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoAskModelAnything`."""

from .builder import FEATURES, PixMoAMABuilder, PixMoAMAConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoAskModelAnything

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoAskModelAnything", "FEATURES", "PixMoAMABuilder", "PixMoAMAConfig"]

"""pixmo_docs: the builder, its config and FEATURES, the formatter, and the seed-style dataset class `PixMoDocs`."""

from .builder import FEATURES, PixMoDocsBuilder, PixMoDocsConfig
from .format import format_group, parse_answer, to_conversations
from .dataset import PixMoDocs

__all__ = ["format_group", "parse_answer", "to_conversations", "PixMoDocs", "FEATURES", "PixMoDocsBuilder", "PixMoDocsConfig"]

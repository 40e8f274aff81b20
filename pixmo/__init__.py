"""PixMo made real: the shared core of the PixMo subset builders, image store, cards and command line."""

__version__ = "0.1.0"

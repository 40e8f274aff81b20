"""A synthetic mini-PixMo: every subset laid out like its Hub repo, in the Hub's schema, true by construction.

Scenes of drawn shapes give pixmo-cap, pixmo-points (and -eval), pixmo-count, pixmo-cap-qa and
pixmo-ask-model-anything; rendered charts, tables, diagrams and receipts give pixmo-docs; watch faces drawn by
`pixmo_clocks.render` give pixmo-clocks. `synthesize(out_dir, rows, seed, base_url)` writes them all.
"""

from .repos import HUB_NAMES, IMAGES_DIR, small_split_rows, synthesize

__all__ = ["HUB_NAMES", "IMAGES_DIR", "small_split_rows", "synthesize"]

"""Fetch PixMo images into the shared image store, as the seed document spells it.

    python scripts/download_data.py all --n_proc 12
    python scripts/download_data.py pixmo_points --n_proc 4 --store /data/pixmo

A thin wrapper of `pixmo download`; every option of that command applies (`pixmo download --help`).
"""

import sys

from pixmo.cli import main

if __name__ == "__main__":
    sys.exit(main(["download", *sys.argv[1:]]))

"""The seed document's dataset API: `PixMoPoints(split="train")[0]` gives a dict with the image as an array.

Each subset package defines its class on `PixMoDataset`; all of them read a folder that `pixmo build` wrote with
images (by default `$PIXMO_HOME/built/<hub-name>`).
"""

import logging
from pathlib import Path
from typing import Optional

import datasets
import numpy as np

from .store import default_root
from .subsets import get_subset

logger = logging.getLogger(__name__)


def default_built_dir(subset_name: str) -> Path:
    """Where `pixmo build SUBSET` writes when `--out` is not given: `$PIXMO_HOME/built/<hub-name>`."""
    return default_root() / "built" / get_subset(subset_name).hub_name


class PixMoDataset:
    """A built PixMo subset read as the seed document promised: `len(x)` and `x[i]` giving plain dicts.

    Args:
        split (`str`, defaults to `"train"`): the split to read.
        data_dir (`str`, *optional*): a folder written by `pixmo build` with images; defaults to
            `$PIXMO_HOME/built/<hub-name>`.
        config (`str`, *optional*): the builder config (pixmo-docs: `charts`, `diagrams`, `tables`, `other`).
    """

    SUBSET = ""

    def __init__(self, split: str = "train", data_dir: Optional[str] = None, config: Optional[str] = None):
        self.subset = get_subset(self.SUBSET)
        self.split = split
        self.config = config
        self.data_dir = Path(data_dir) if data_dir else default_built_dir(self.SUBSET)
        fetch_and_build = (
            (f"pixmo download {self.subset.package} && " if self.subset.has_image_urls else "")
            + f"pixmo build {self.subset.package}{f' --config {config}' if config else ''} --out {self.data_dir}"
        )
        if not (self.data_dir / "README.md").exists():
            raise FileNotFoundError(
                f"No built {self.subset.hub_name} in {self.data_dir}. Fetch and build it first: {fetch_and_build}"
            )
        self.data = datasets.load_dataset(str(self.data_dir), config, split=split)
        if "image" not in self.data.features:
            raise FileNotFoundError(
                f"{self.data_dir} was built without images (--metadata-only). Fetch the images and build again: "
                f"{fetch_and_build}"
            )

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} examples")
        return self.to_example(self.data[index], index % len(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split!r}, rows={len(self)}, data_dir={str(self.data_dir)!r})"

    def to_example(self, row: dict, index: int) -> dict:
        raise NotImplementedError

    @staticmethod
    def to_array(image) -> np.ndarray:
        """An RGB uint8 array of shape (H, W, 3)."""
        return np.asarray(image.convert("RGB"), dtype=np.uint8)

"""`PixMoCapQA`: the seed API over a built pixmo-cap-qa, with each image's PixMo-Cap caption joined by URL."""

import logging
from typing import Optional

import datasets

from pixmo.seed import PixMoDataset, default_built_dir

logger = logging.getLogger(__name__)


class PixMoCapQA(PixMoDataset):
    """`x[i]` is `{"image", "question", "answer", "caption"}`; `caption` is the PixMo-Cap caption of the same image
    URL (`None` where pixmo-cap has no row for it).

    Args:
        split (`str`, defaults to `"train"`), data_dir (`str`, *optional*): as for every seed dataset.
        captions_dir (`str`, *optional*): a built pixmo-cap folder (with or without images) to join captions from;
            defaults to `$PIXMO_HOME/built/pixmo-cap`.
    """

    SUBSET = "pixmo_capqa"

    def __init__(self, split: str = "train", data_dir: Optional[str] = None, captions_dir: Optional[str] = None):
        super().__init__(split, data_dir)
        folder = captions_dir or default_built_dir("pixmo_cap")
        try:
            captions = datasets.load_dataset(str(folder)).select_columns(["image_url", "caption"])
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"pixmo-cap-qa joins its captions from a built pixmo-cap, and {folder} has none: "
                f"run `pixmo build pixmo_cap --metadata-only --out {folder}`."
            ) from err
        self.captions = {url: caption for part in captions.values() for url, caption in zip(part["image_url"], part["caption"])}
        missing = sum(url not in self.captions for url in self.data["image_url"])
        if missing:
            logger.warning("%d of %d pixmo-cap-qa rows have no pixmo-cap caption (caption is None).", missing, len(self))

    def to_example(self, row: dict, index: int) -> dict:
        return {
            "image": self.to_array(row["image"]),
            "question": row["question"],
            "answer": row["answer"],
            "caption": self.captions.get(row["image_url"]),
        }

"""`PixMoDocs`: the seed API over a built pixmo-docs config."""

from typing import Optional

from pixmo.seed import PixMoDataset


class PixMoDocs(PixMoDataset):
    """`x[i]` is `{"image", "questions", "answers", "document_type"}`.

    Args:
        split (`str`, defaults to `"train"`), data_dir (`str`, *optional*): as for every seed dataset.
        document_type (`str`, defaults to `"charts"`): `charts`, `diagrams`, `tables` or `other`.
    """

    SUBSET = "pixmo_docs"

    def __init__(self, split: str = "train", data_dir: Optional[str] = None, document_type: str = "charts"):
        super().__init__(split, data_dir, config=document_type)

    def to_example(self, row: dict, index: int) -> dict:
        return {
            "image": self.to_array(row["image"]),
            "questions": list(row["questions"]["question"]),
            "answers": list(row["questions"]["answer"]),
            "document_type": self.config,
        }

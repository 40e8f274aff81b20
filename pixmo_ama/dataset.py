"""`PixMoAskModelAnything`: the seed API over a built pixmo-ask-model-anything."""

from pixmo.seed import PixMoDataset


class PixMoAskModelAnything(PixMoDataset):
    """`x[i]` is `{"image", "question", "answer"}`."""

    SUBSET = "pixmo_ama"

    def to_example(self, row: dict, index: int) -> dict:
        return {"image": self.to_array(row["image"]), "question": row["question"], "answer": row["answer"]}

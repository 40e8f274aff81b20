"""`PixMoCap`: the seed API over a built pixmo-cap."""

from pixmo.seed import PixMoDataset


class PixMoCap(PixMoDataset):
    """`x[i]` is `{"image", "caption", "metadata": {"source", "id"}}`; the source is the image URL."""

    SUBSET = "pixmo_cap"

    def to_example(self, row: dict, index: int) -> dict:
        return {
            "image": self.to_array(row["image"]),
            "caption": row["caption"],
            "metadata": {"source": row["image_url"], "id": f"{self.split}-{index}"},
        }

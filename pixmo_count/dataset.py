"""`PixMoCount`: the seed API over a built pixmo-count."""

from pixmo.seed import PixMoDataset


def plural(noun: str) -> str:
    return noun if noun.endswith("s") else f"{noun}es" if noun.endswith(("sh", "ch", "x", "z")) else f"{noun}s"


class PixMoCount(PixMoDataset):
    """`x[i]` is `{"image", "count", "object_name", "query"}`."""

    SUBSET = "pixmo_count"

    def to_example(self, row: dict, index: int) -> dict:
        return {
            "image": self.to_array(row["image"]),
            "count": int(row["count"]),
            "object_name": row["label"],
            "query": f"How many {plural(row['label'])} are in the image?",
        }

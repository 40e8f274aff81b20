"""`PixMoClocks`: the seed API over a built pixmo-clocks (faces rendered from the metadata unless originals were given)."""

from pixmo.seed import PixMoDataset


class PixMoClocks(PixMoDataset):
    """`x[i]` is `{"image", "time", "query"}`; `time` is the time as a person reads it ("3:45 PM")."""

    SUBSET = "pixmo_clocks"

    def to_example(self, row: dict, index: int) -> dict:
        return {"image": self.to_array(row["image"]), "time": row["text"], "query": "What time is shown on the clock?"}

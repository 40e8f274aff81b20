"""`PixMoPoints`: the seed API over a built pixmo-points, points in pixels."""

from pixmo.seed import PixMoDataset


class PixMoPoints(PixMoDataset):
    """`x[i]` is `{"image", "points", "object_names", "query"}`: points as (x, y) pixel ints, converted from the
    Hub's percentages with the image size, and one object name per point."""

    SUBSET = "pixmo_points"

    def to_example(self, row: dict, index: int) -> dict:
        image = self.to_array(row["image"])
        height, width = image.shape[:2]
        points = [(round(p["x"] / 100 * width), round(p["y"] / 100 * height)) for p in row["points"]]
        return {
            "image": image,
            "points": points,
            "object_names": [row["label"]] * len(points),
            "query": f"Point to the {row['label']}",
        }

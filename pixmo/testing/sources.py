"""Small sources in the Hub's exact schema for every subset and config, for tests and benchmarks.

The values are plausible but not tied to real images (the synthetic mini-PixMo in `pixmo.synth` makes data whose
annotations are true of its images); here the point is the schema, the layout and the invariants.
"""

import io
import random
from pathlib import Path
from typing import Optional

from ..hubfolder import write_source_repo
from ..subsets import get_subset

LABELS = ["red car", "dog", "window", "person", "blue cup", "tree"]


def _url(rng: random.Random, images: int) -> str:
    return f"https://images.example.org/{rng.randrange(images):06d}.jpg"


def _sha(url: str) -> str:
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()


def _png(rng: random.Random) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), tuple(rng.randrange(256) for _ in range(3))).save(buffer, format="PNG")
    return buffer.getvalue()


def _points_row(rng, images):
    url = _url(rng, images)
    n = rng.randrange(4)
    return {
        "image_url": url,
        "image_sha256": _sha(url),
        "points": [{"x": round(rng.uniform(0, 100), 1), "y": round(rng.uniform(0, 100), 1)} for _ in range(n)],
        "count": n,
        "label": rng.choice(LABELS),
        "collection_method": rng.choice(["pointing", "counting"]),
    }


def _points_eval_row(rng, images):
    url = _url(rng, images)
    n = rng.randrange(1, 3)
    return {
        "image_url": url,
        "image_sha256": _sha(url),
        "label": rng.choice(LABELS),
        "points": [{"x": round(rng.uniform(0, 100), 1), "y": round(rng.uniform(0, 100), 1)} for _ in range(n)],
        "masks": [[[rng.random() < 0.5 for _ in range(4)] for _ in range(3)] for _ in range(n)],
    }


def _count_row(rng, images):
    url = _url(rng, images)
    n = rng.randrange(11)
    return {
        "image_url": url,
        "image_sha256": _sha(url),
        "count": n,
        "points": {"x": [rng.uniform(0, 640) for _ in range(n)], "y": [rng.uniform(0, 480) for _ in range(n)]},
        "label": rng.choice(LABELS),
    }


def _cap_row(rng, images):
    return {
        "image_url": _url(rng, images),
        "caption": f"A photo of a {rng.choice(LABELS)} next to a {rng.choice(LABELS)}.",
        "transcripts": [f"um there is a {rng.choice(LABELS)}" for _ in range(rng.randrange(1, 3))],
    }


def _capqa_row(rng, images):
    turns = rng.randrange(1, 3)
    messages = []
    for _ in range(turns):
        messages += [f"Is there a {rng.choice(LABELS)}?", rng.choice(["Yes.", "No."])]
    question = "\n".join(f"[USER] {messages[i]}\n[ASSISTANT] {messages[i + 1]}" for i in range(0, len(messages) - 2, 2))
    question = (question + "\n" if question else "") + f"[USER] {messages[-2]}\n[ASSISTANT]"
    return {"image_url": _url(rng, images), "question": question, "answer": messages[-1], "messages": messages}


def _ama_row(rng, images):
    url = _url(rng, images)
    return {
        "image_url": url,
        "image_sha256": _sha(url),
        "question": f"What colour is the {rng.choice(LABELS)}?",
        "answer": rng.choice(["Red.", "Blue.", "It is green."]),
    }


def _docs_row(rng, images):
    n = rng.randrange(1, 4)
    return {
        "image": {"bytes": _png(rng), "path": None},
        "image_id": f"doc-{rng.randrange(10**6):06d}",
        "questions": {"question": [f"What is value {i}?" for i in range(n)], "answer": [str(rng.randrange(100)) for _ in range(n)]},
    }


def _clocks_row(rng, images):
    hour, minute, second = rng.randrange(24), rng.randrange(60), rng.randrange(60)
    shows_seconds = rng.random() < 0.5
    ampm = rng.random() < 0.5
    face = rng.randrange(133)
    stamp = f"2024-01-{rng.randrange(1, 29):02d}T{hour:02d}:{minute:02d}:{second:02d}"
    shown_hour = (hour % 12 or 12) if ampm else (hour if hour else 12)
    text = f"{shown_hour}:{minute:02d}" + (f":{second:02d}" if shows_seconds else "")
    if ampm:
        text += " PM" if hour >= 12 else " AM"
    watchface_id = f"wf{face:08d}"
    return {
        "example_id": f"{watchface_id}_{stamp}",
        "watchface_id": watchface_id,
        "watchface_name": f"face-{face}",
        "watch_time": f"{rng.randrange(1000):03d}_{stamp}",
        "time_format": "With AM/PM" if ampm else "Without AM/PM",
        "shows_seconds": shows_seconds,
        "hour_visible": hour,
        "minute_visible": minute,
        "second_visible": second if shows_seconds else -1,
        "text": text,
    }


ROW_MAKERS = {
    ("pixmo_cap", "default"): _cap_row,
    ("pixmo_points", "default"): _points_row,
    ("pixmo_points", "eval"): _points_eval_row,
    ("pixmo_count", "default"): _count_row,
    ("pixmo_capqa", "default"): _capqa_row,
    ("pixmo_ama", "default"): _ama_row,
    ("pixmo_clocks", "default"): _clocks_row,
    **{("pixmo_docs", kind): _docs_row for kind in ("charts", "diagrams", "tables", "other")},
}


def make_rows(package: str, config: str, num_rows: int, seed: int = 0, num_images: Optional[int] = None) -> list[dict]:
    """`num_rows` valid rows of a subset's config in the Hub's schema (about two rows per image by default)."""
    rng = random.Random(f"{package}/{config}/{seed}")
    images = num_images or max(1, num_rows // 2)
    return [ROW_MAKERS[package, config](rng, images) for _ in range(num_rows)]


def config_of(package: str, config: str):
    builder = get_subset(package).builder
    return next(c for c in builder.BUILDER_CONFIGS if c.name == config)


def write_source(folder, package: str, config: str, splits: dict[str, list[dict]]) -> Path:
    """Write rows as the subset's Hub repo lays them out (the config's data_dir, one shard per split)."""
    cfg = config_of(package, config)
    return write_source_repo(folder, cfg.features, splits, data_dir=cfg.hub_data_dir, config_name=cfg.name)


def make_source(folder, package: str, config: str, rows_per_split: int = 40, seed: int = 0) -> dict[str, list[dict]]:
    """Write a valid source for every Hub split of a config; returns the rows written, by split."""
    cfg = config_of(package, config)
    splits = {
        split: make_rows(package, config, rows_per_split, seed=seed + i) for i, split in enumerate(cfg.hub_splits)
    }
    write_source(folder, package, config, splits)
    return splits

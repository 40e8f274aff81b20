"""Write the synthetic mini-PixMo: one folder per Hub repo, in the Hub's schema and layout, and the served images.

Every scene, document and clock is drawn from its own random stream, `np.random.default_rng([seed, stream,
index])`, so the output is a function of the seed alone: the same bytes for the same seed, whatever the order
of work. The URL subsets share one pool of scenes, as the real subsets share web images: row `i` of pixmo-cap,
pixmo-points, pixmo-count, pixmo-cap-qa and pixmo-ask-model-anything points at the same image.
"""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..hubfolder import write_source_repo
from . import language
from .clocks import clock_row
from .documents import DOCUMENT_TYPES, render_document
from .shapes import Scene, encode_png, make_scene, object_mask

logger = logging.getLogger(__name__)

HUB_NAMES = (
    "pixmo-cap", "pixmo-points", "pixmo-points-eval", "pixmo-count", "pixmo-docs", "pixmo-cap-qa",
    "pixmo-ask-model-anything", "pixmo-clocks",
)
IMAGES_DIR = "images"
# One random stream per kind of item; the numbers only need to differ.
STREAMS = {"train": 1, "count-validation": 2, "count-test": 3, "points-eval": 4, "text": 5, "docs": 6, "clocks": 7}
DOCS_STREAM = {kind: index for index, kind in enumerate(DOCUMENT_TYPES)}


def small_split_rows(rows: int) -> int:
    """Rows of the Hub's smaller splits (pixmo-count validation and test, pixmo-points-eval, docs and clocks
    validation): a tenth of `rows`, at least two."""
    return max(2, rows // 10)


def _rng(seed: int, stream: str, *index: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS[stream], *index])


@dataclass
class Job:
    """What every repo writer needs: the sizes, the seed, the shared scenes and where images go."""

    rows: int
    small: int
    seed: int
    scenes: "ScenePool"
    images_dir: Path
    base_url: str

    def rng(self, stream: str, *index: int) -> np.random.Generator:
        return _rng(self.seed, stream, *index)

    def pool(self, stream: str, min_count: int = 0) -> "ScenePool":
        return ScenePool(self.seed, stream, self.images_dir, self.base_url, min_count)


class ScenePool:
    """Scenes drawn on demand from one stream, each written once to `images_dir` and served under `base_url`."""

    def __init__(self, seed: int, stream: str, images_dir: Path, base_url: str, min_count: int = 0):
        self.seed, self.stream, self.images_dir, self.min_count = seed, stream, images_dir, min_count
        self.base_url = base_url.rstrip("/") + "/"
        self._scenes: dict[int, tuple[Scene, str, str]] = {}

    def get(self, index: int) -> tuple[Scene, str, str]:
        """The scene at `index`, its image URL and the sha256 of the served bytes."""
        if index not in self._scenes:
            scene = make_scene(_rng(self.seed, self.stream, index), min_count=self.min_count)
            data = scene.png_bytes()
            name = f"{self.stream}-{index:06d}.png"
            (self.images_dir / name).write_bytes(data)
            scene.image = None  # the rows need only the objects; a large pool must not hold every image
            self._scenes[index] = (scene, self.base_url + name, hashlib.sha256(data).hexdigest())
        return self._scenes[index]


def synthesize(
    out_dir,
    rows: int = 200,
    seed: int = 0,
    base_url: str = "http://127.0.0.1:8000/",
    hub_names: Optional[Sequence[str]] = None,
) -> dict[str, Path]:
    """Write a synthetic mini-PixMo whose annotations are true by construction.

    Args:
        out_dir (`str` or `Path`): where to write `<hub-name>/` repo folders and `images/` (the files to serve).
        rows (`int`, *optional*, defaults to `200`): rows of each subset's largest split; the Hub's smaller
            splits get `small_split_rows(rows)`.
        seed (`int`, *optional*, defaults to `0`): the same seed writes the same bytes.
        base_url (`str`, *optional*, defaults to `"http://127.0.0.1:8000/"`): the URL at which `out_dir/images/`
            is served; image URLs are `base_url + file name`.
        hub_names (`Sequence[str]`, *optional*): write only these repos (`["pixmo-points", "pixmo-count"]`);
            all of them when unset. A repo's rows and images are the same whichever others are written.

    Returns:
        `dict[str, Path]`: each Hub name (`pixmo-points`) and its repo folder.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    writers = _WRITERS if hub_names is None else {name: _WRITERS[name] for name in _check_hub_names(hub_names)}
    out_dir = Path(out_dir)
    images_dir = out_dir / IMAGES_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    job = Job(rows, small_split_rows(rows), seed, ScenePool(seed, "train", images_dir, base_url), images_dir, base_url)
    repos = {}
    with tqdm(total=len(writers), desc="synthetic PixMo", unit="repo") as progress:
        for hub_name, write in writers.items():
            repos[hub_name] = write(out_dir / hub_name, job)
            progress.update()
    logger.info("Wrote %d synthetic PixMo repos and their images to %s", len(repos), out_dir)
    return repos


def _check_hub_names(hub_names: Sequence[str]) -> list[str]:
    if isinstance(hub_names, str):
        hub_names = [hub_names]
    unknown = [name for name in hub_names if name not in HUB_NAMES]
    if unknown or not hub_names:
        raise ValueError(f"hub_names must be a non-empty list of {', '.join(HUB_NAMES)}; got {list(hub_names)!r}")
    return list(dict.fromkeys(hub_names))


def _cap(folder: Path, job: "Job") -> Path:
    from pixmo_cap.builder import FEATURES

    out = []
    for index in range(job.rows):
        scene, url, _ = job.scenes.get(index)
        rng = job.rng("text", 0, index)
        out.append({"image_url": url, "caption": language.caption(scene), "transcripts": language.transcripts(scene, rng)})
    return write_source_repo(folder, FEATURES, {"train": out})


def points_row(scene: Scene, label: str, url: str, sha256: str, method: str) -> dict:
    """A pixmo-points row: every object of `label`, its centre in percent (0-100) of the image size."""
    objects = scene.objects_of(label)
    points = [{"x": round(o.x / scene.width * 100, 2), "y": round(o.y / scene.height * 100, 2)} for o in objects]
    return {"image_url": url, "image_sha256": sha256, "points": points, "count": len(points), "label": label,
            "collection_method": method}


def _points(folder: Path, job: "Job") -> Path:
    from pixmo_points.builder import FEATURES

    out, index = [], 0
    while len(out) < job.rows:
        scene, url, sha256 = job.scenes.get(index)
        rng = job.rng("text", 1, index)
        labels = list(dict.fromkeys(scene.labels + [scene.target]))  # the target: a zero-count row when absent
        for label in labels:
            method = "counting" if scene.count(label) > 1 and rng.random() < 0.5 else "pointing"
            out.append(points_row(scene, label, url, sha256, method))
        index += 1
    return write_source_repo(folder, FEATURES, {"train": out[:job.rows]})


def _points_eval(folder: Path, job: "Job") -> Path:
    from pixmo_points.builder import EVAL_FEATURES

    pool = job.pool("points-eval", min_count=1)
    out = []
    for index in range(job.small):
        scene, url, sha256 = pool.get(index)
        row = points_row(scene, scene.target, url, sha256, "pointing")
        masks = [object_mask(o, scene.width, scene.height).tolist() for o in scene.objects_of(scene.target)]
        out.append({key: row[key] for key in EVAL_FEATURES if key != "masks"} | {"masks": masks})
    return write_source_repo(folder, EVAL_FEATURES, {"test": out})


def count_row(scene: Scene, url: str, sha256: str) -> dict:
    """A pixmo-count row for the scene's target kind: its count and the objects' centres in pixels."""
    objects = scene.objects_of(scene.target)
    return {"image_url": url, "image_sha256": sha256, "count": len(objects),
            "points": {"x": [o.x for o in objects], "y": [o.y for o in objects]}, "label": scene.target}


def _count(folder: Path, job: "Job") -> Path:
    from pixmo_count.builder import FEATURES

    splits = {"train": [count_row(*job.scenes.get(index)) for index in range(job.rows)]}
    for split in ("validation", "test"):
        # As on the Hub, the human-verified splits have counts 2-10 and their own images.
        pool = job.pool(f"count-{split}", min_count=2)
        splits[split] = [count_row(*pool.get(index)) for index in range(job.small)]
    return write_source_repo(folder, FEATURES, splits)


def _docs(folder: Path, job: "Job") -> Path:
    from pixmo_docs.builder import FEATURES

    for kind in DOCUMENT_TYPES:
        splits = {}
        for split_index, (split, n) in enumerate((("train", job.rows), ("validation", job.small))):
            splits[split] = []
            for index in range(n):
                image, qa = render_document(kind, job.rng("docs", DOCS_STREAM[kind], split_index, index))
                splits[split].append({
                    "image": {"bytes": encode_png(image), "path": None},
                    "image_id": f"synth-{kind}-{split}-{index:06d}",
                    "questions": {"question": [q for q, _ in qa], "answer": [a for _, a in qa]},
                })
        write_source_repo(folder, FEATURES, splits, data_dir=kind, config_name=kind)
    return Path(folder)


def _cap_qa(folder: Path, job: "Job") -> Path:
    from pixmo_capqa.builder import FEATURES

    out = []
    for index in range(job.rows):
        scene, url, _ = job.scenes.get(index)
        messages = language.conversation(scene, job.rng("text", 2, index))
        out.append({"image_url": url, "question": language.transcript_question(messages), "answer": messages[-1],
                    "messages": messages})
    return write_source_repo(folder, FEATURES, {"train": out})


def _ama(folder: Path, job: "Job") -> Path:
    from pixmo_ama.builder import FEATURES

    out = []
    for index in range(job.rows):
        scene, url, sha256 = job.scenes.get(index)
        question, answer = language.question_answer(scene, job.rng("text", 3, index))
        out.append({"image_url": url, "image_sha256": sha256, "question": question, "answer": answer})
    return write_source_repo(folder, FEATURES, {"train": out})


def _clocks(folder: Path, job: "Job") -> Path:
    from pixmo_clocks.builder import FEATURES

    splits = {
        split: [clock_row(index, job.rng("clocks", split_index, index)) for index in range(n)]
        for split_index, (split, n) in enumerate((("train", job.rows), ("validation", job.small)))
    }
    return write_source_repo(folder, FEATURES, splits)


_WRITERS = {
    "pixmo-cap": _cap,
    "pixmo-points": _points,
    "pixmo-points-eval": _points_eval,
    "pixmo-count": _count,
    "pixmo-docs": _docs,
    "pixmo-cap-qa": _cap_qa,
    "pixmo-ask-model-anything": _ama,
    "pixmo-clocks": _clocks,
}

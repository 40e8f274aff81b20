"""Scenes of drawn shapes whose labels, counts, points and masks are true by construction.

Every object is a filled shape in one of a few named, high-contrast colours, drawn without anti-aliasing on a
pale background, and no two objects overlap: the pixel under an object's centre is exactly its colour, its mask
is exactly the pixels it covers, and a label ("red circle") names every object of that colour and shape.
"""

import io
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

# Colours far from each other and from the pale backgrounds, so that counting and pointing are learnable.
COLORS = {
    "red": (220, 30, 30),
    "green": (20, 150, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 200, 0),
    "purple": (140, 40, 170),
    "orange": (250, 130, 0),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "star", "diamond")
IMAGE_SIZES = (112, 128, 160, 192, 224)
MAX_COUNT = 10
MAX_OBJECTS = 14  # the target kind plus distractors, so that a 112 px image still holds them apart


@dataclass(frozen=True)
class SceneObject:
    """One drawn shape: its kind, its centre in pixels and the radius of the circle around it."""

    color: str
    shape: str
    x: float
    y: float
    radius: float

    @property
    def label(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass
class Scene:
    """An image and every object drawn on it.

    `background` describes the background in words ("cream", "grainy white", "cream-to-pale blue gradient");
    `target` is the label the scene was drawn around (its count follows the requested spread, 0 when the label
    names nothing in the image); `labels` are the kinds present, in drawing order.
    """

    width: int
    height: int
    background: str
    objects: list[SceneObject]
    target: str
    image: Optional[Image.Image] = field(repr=False, default=None)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(o.label for o in self.objects))

    def objects_of(self, label: str) -> list[SceneObject]:
        return [o for o in self.objects if o.label == label]

    def count(self, label: str) -> int:
        return len(self.objects_of(label))

    def png_bytes(self) -> bytes:
        return encode_png(self.image)


def plural(label: str, count: int) -> str:
    """`"red circle"` -> `"red circles"` for any count but one."""
    return label if count == 1 else label + "s"


def encode_png(image: Image.Image) -> bytes:
    """PNG bytes of an image: lossless (the colour under a point is exact) and the same bytes for the same pixels."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def shape_polygon(obj: SceneObject) -> Optional[list[tuple[float, float]]]:
    """The vertices of a shape in pixels, or `None` for a circle. Every shape is symmetric about (or, for the
    triangle, has its centroid at) `(x, y)`, so the centre lies well inside it."""
    x, y, r = obj.x, obj.y, obj.radius
    if obj.shape == "circle":
        return None
    if obj.shape == "square":
        h = r / math.sqrt(2)
        return [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)]
    if obj.shape == "diamond":
        return [(x, y - r), (x + 0.8 * r, y), (x, y + r), (x - 0.8 * r, y)]
    if obj.shape == "triangle":
        return [(x + r * math.cos(a), y + r * math.sin(a)) for a in (math.radians(d) for d in (-90, 30, 150))]
    if obj.shape == "star":
        return [
            (x + rr * math.cos(a), y + rr * math.sin(a))
            for i in range(10)
            for a, rr in [(math.radians(-90 + 36 * i), r if i % 2 == 0 else 0.5 * r)]
        ]
    raise ValueError(f"shape must be one of {SHAPES}, got {obj.shape!r}")


def draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject, fill) -> None:
    polygon = shape_polygon(obj)
    if polygon is None:
        draw.ellipse([obj.x - obj.radius, obj.y - obj.radius, obj.x + obj.radius, obj.y + obj.radius], fill=fill)
    else:
        draw.polygon(polygon, fill=fill)


def object_mask(obj: SceneObject, width: int, height: int) -> np.ndarray:
    """The boolean `(height, width)` mask of the pixels an object covers, drawn exactly as the object is."""
    mask = Image.new("1", (width, height), 0)
    draw_object(ImageDraw.Draw(mask), obj, 1)
    return np.array(mask, dtype=bool)


def make_scene(
    rng: np.random.Generator,
    count: Optional[int] = None,
    min_count: int = 0,
    max_count: int = MAX_COUNT,
    sizes: Sequence[int] = IMAGE_SIZES,
    max_distractor_kinds: int = 2,
    max_distractors: int = 4,
    plain_background: bool = False,
) -> Scene:
    """Draw a scene around one target kind shown `count` times (drawn from `min_count`..`max_count` when not given),
    with up to `max_distractor_kinds` distractor kinds that differ from it in colour or shape.

    The defaults draw the scenes of the synthetic mini-PixMo; the other settings draw simpler scenes with the same
    shapes, for `benchmarks/pointing_probe.py`.

    Args:
        rng (`np.random.Generator`): the only source of randomness, so a scene is a function of its seed.
        count (`int`, *optional*): how many objects of the target kind; 0 draws an image without it.
        min_count (`int`, *optional*, defaults to `0`): the smallest count drawn when `count` is not given.
        max_count (`int`, *optional*, defaults to `10`): the largest count drawn when `count` is not given.
        sizes (`Sequence[int]`, *optional*): the image widths to draw from; those of 160 px or more are square or
            4:3 landscape, smaller ones square.
        max_distractor_kinds (`int`, *optional*, defaults to `2`): the most distractor kinds.
        max_distractors (`int`, *optional*, defaults to `4`): the most objects of one distractor kind.
        plain_background (`bool`, *optional*, defaults to `False`): draw on plain white instead of a random pale
            background (plain, gradient or grainy).
    """
    width = int(rng.choice(sizes))
    height = int(rng.choice([width, width * 3 // 4])) if width >= 160 else width
    count = int(rng.integers(min_count, max_count + 1)) if count is None else count
    target = _random_kind(rng)
    kinds = [(target, count)]
    for _ in range(int(rng.integers(0 if count else min(1, max_distractor_kinds), max_distractor_kinds + 1))):
        room = MAX_OBJECTS - sum(n for _, n in kinds)
        if room < 1:
            break
        kind = _random_kind(rng, exclude={k for k, _ in kinds})
        kinds.append((kind, int(rng.integers(1, min(max_distractors, room) + 1))))
    placed = _place(rng, width, height, sum(n for _, n in kinds))
    objects = []
    for (color, shape), n in kinds:
        for _ in range(n):
            x, y, r = placed.pop()
            objects.append(SceneObject(color, shape, x, y, r))
    order = rng.permutation(len(objects))
    objects = [objects[i] for i in order]
    if plain_background:
        background, image = "white", Image.new("RGB", (width, height), BACKGROUNDS["white"])
    else:
        background, image = _background(rng, width, height)
    draw = ImageDraw.Draw(image)
    for obj in objects:
        draw_object(draw, obj, COLORS[obj.color])
    return Scene(width, height, background, objects, f"{target[0]} {target[1]}", image)


def _random_kind(rng: np.random.Generator, exclude: frozenset = frozenset()) -> tuple[str, str]:
    while True:
        kind = (str(rng.choice(list(COLORS))), str(rng.choice(SHAPES)))
        if kind not in exclude:
            return kind


def _place(rng: np.random.Generator, width: int, height: int, n: int) -> list[tuple[float, float, float]]:
    """Centres and radii of `n` objects apart from each other and from the border (rejection sampling, shrinking
    the objects until they fit)."""
    side = min(width, height)
    base = side * float(rng.uniform(0.06, 0.1))
    # Crowded scenes need smaller objects: n discs of radius r fill about n * 4r^2 of the image.
    base = min(base, math.sqrt(0.3 * width * height / max(n, 1)) / 2)
    for _attempt in range(50):
        placed = []
        for _ in range(n):
            r = max(5.0, base * float(rng.uniform(0.8, 1.25)))
            for _try in range(200):
                x = float(rng.uniform(r + 2, width - r - 2))
                y = float(rng.uniform(r + 2, height - r - 2))
                if all(math.hypot(x - px, y - py) > r + pr + 3 for px, py, pr in placed):
                    placed.append((round(x, 1), round(y, 1), round(r, 1)))
                    break
            else:
                break
        if len(placed) == n:
            return placed
        base *= 0.9
    raise RuntimeError(f"Could not place {n} objects apart in a {width}x{height} image; lower MAX_OBJECTS.")


BACKGROUNDS = {
    "white": (250, 250, 250),
    "light grey": (215, 215, 215),
    "cream": (245, 238, 220),
    "pale blue": (215, 230, 245),
    "pale green": (220, 240, 220),
    "pale pink": (245, 225, 230),
}


def _background(rng: np.random.Generator, width: int, height: int) -> tuple[str, Image.Image]:
    """A pale background and its description: plain, a gentle gradient into another pale colour, or light grain."""
    name, other = (str(n) for n in rng.choice(list(BACKGROUNDS), size=2, replace=False))
    base = np.array(BACKGROUNDS[name], dtype=np.float32)
    kind = int(rng.integers(3))
    pixels = np.broadcast_to(base, (height, width, 3)).copy()
    if kind == 1:
        ramp = np.linspace(0.0, 1.0, width if rng.random() < 0.5 else height, dtype=np.float32)
        ramp = ramp[None, :, None] if len(ramp) == width else ramp[:, None, None]
        pixels = base + ramp * (np.array(BACKGROUNDS[other], dtype=np.float32) - base)
        pixels = np.broadcast_to(pixels, (height, width, 3))
        name = f"{name}-to-{other} gradient"
    elif kind == 2:
        pixels = pixels + rng.normal(0.0, 6.0, size=(height, width, 1)).astype(np.float32)
        name = f"grainy {name}"
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return name, image

"""Rendered documents (charts, diagrams, tables, other) with questions answerable from what is drawn.

Each document is drawn from a small record (bar values, table cells, flow steps, receipt lines), and every
question is answered from that record; every value an answer needs is printed in the image.
"""

import functools
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DOCUMENT_TYPES = ("charts", "diagrams", "tables", "other")
WIDTH, HEIGHT = 320, 240
INK = (25, 25, 25)
BAR_COLORS = ((52, 101, 164), (204, 0, 0), (78, 154, 6), (245, 121, 0), (117, 80, 123), (193, 125, 17))

CATEGORIES = {
    "Fruit sold per day": ("apples", "pears", "plums", "kiwis", "lemons", "limes", "figs"),
    "Visitors per city": ("Oslo", "Lima", "Rome", "Cairo", "Delhi", "Quito", "Perth"),
    "Books read by month": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul"),
    "Animals in the park": ("ducks", "geese", "swans", "deer", "foxes", "owls", "hares"),
}
PEOPLE = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas")
TABLE_COLUMNS = ("Age", "Score", "Height", "Points", "Wins")
FLOWS = {
    "Making tea": ("Boil water", "Add tea bag", "Pour water", "Steep", "Remove bag", "Add milk"),
    "Shipping an order": ("Receive order", "Pick items", "Pack box", "Print label", "Ship", "Deliver"),
    "Fixing a bug": ("Report bug", "Reproduce", "Find cause", "Write fix", "Test fix", "Release"),
    "Planting a tree": ("Pick a spot", "Dig a hole", "Place tree", "Fill soil", "Water", "Add mulch"),
}
SHOPS = ("Corner Market", "Blue Door Cafe", "Hill Street Books", "Green Grocer", "Station Kiosk")
ITEMS = ("Bread", "Milk", "Coffee", "Eggs", "Cheese", "Apples", "Tea", "Rice", "Juice", "Soap")


@functools.lru_cache(maxsize=None)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font, so rendering depends on no system font."""
    return ImageFont.load_default(size=size)


def render_document(kind: str, rng: np.random.Generator) -> tuple[Image.Image, list[tuple[str, str]]]:
    """A document of one type and its question-answer pairs.

    Args:
        kind (`str`): one of `DOCUMENT_TYPES`.
        rng (`np.random.Generator`): the only source of randomness.

    Returns:
        `tuple[PIL.Image.Image, list[tuple[str, str]]]`: the RGB image and (question, answer) pairs.
    """
    if kind not in RENDERERS:
        raise ValueError(f"kind must be one of {DOCUMENT_TYPES}, got {kind!r}")
    return RENDERERS[kind](rng)


def _canvas(height: int = HEIGHT) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    return image, ImageDraw.Draw(image)


def _centred(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, fill=INK) -> None:
    draw.text(xy, text, fill=fill, font=font(size), anchor="mm")


def _chart(rng: np.random.Generator) -> tuple[Image.Image, list[tuple[str, str]]]:
    title = str(rng.choice(list(CATEGORIES)))
    n = int(rng.integers(3, 7))
    names = [str(c) for c in rng.choice(CATEGORIES[title], size=n, replace=False)]
    values = [int(v) for v in rng.choice(np.arange(5, 100), size=n, replace=False)]  # distinct: one answer each
    image, draw = _canvas()
    _centred(draw, (WIDTH / 2, 14), title, 14)
    left, right, top, bottom = 30, WIDTH - 10, 40, HEIGHT - 28
    draw.line([(left, top - 5), (left, bottom), (right, bottom)], fill=INK, width=1)
    scale = (bottom - top - 14) / 100
    slot = (right - left) / n
    color = BAR_COLORS[int(rng.integers(len(BAR_COLORS)))]
    for index, (name, value) in enumerate(zip(names, values)):
        x0 = left + slot * index + slot * 0.2
        x1 = left + slot * (index + 1) - slot * 0.2
        draw.rectangle([x0, bottom - value * scale, x1, bottom - 1], fill=color)
        _centred(draw, ((x0 + x1) / 2, bottom - value * scale - 8), str(value), 11)
        _centred(draw, ((x0 + x1) / 2, bottom + 11), name, 11)
    best, worst = names[int(np.argmax(values))], names[int(np.argmin(values))]
    pick = int(rng.integers(n))
    qa = [
        (f"What is the value for {names[pick]}?", str(values[pick])),
        ("Which category has the highest value?", best),
        ("Which category has the lowest value?", worst),
        ("How many bars does the chart have?", str(n)),
        ("What is the title of the chart?", title),
    ]
    return image, qa


def _table(rng: np.random.Generator) -> tuple[Image.Image, list[tuple[str, str]]]:
    n_rows, n_cols = int(rng.integers(3, 7)), int(rng.integers(2, 4))
    people = [str(p) for p in rng.choice(PEOPLE, size=n_rows, replace=False)]
    columns = [str(c) for c in rng.choice(TABLE_COLUMNS, size=n_cols, replace=False)]
    cells = [[int(v) for v in rng.choice(np.arange(10, 200), size=n_rows, replace=False)] for _ in columns]
    row_height = 26
    height = max(HEIGHT, row_height * (n_rows + 1) + 20)
    image, draw = _canvas(height)
    col_width = (WIDTH - 20) / (n_cols + 1)
    header = ["Name"] + columns
    for r in range(n_rows + 1):
        y = 10 + r * row_height
        if r == 0:
            draw.rectangle([10, y, WIDTH - 10, y + row_height], fill=(220, 228, 240))
        texts = header if r == 0 else [people[r - 1]] + [str(cells[c][r - 1]) for c in range(n_cols)]
        for c, text in enumerate(texts):
            _centred(draw, (10 + col_width * (c + 0.5), y + row_height / 2), text, 13)
        draw.line([(10, y), (WIDTH - 10, y)], fill=INK)
    bottom = 10 + (n_rows + 1) * row_height
    draw.line([(10, bottom), (WIDTH - 10, bottom)], fill=INK)
    for c in range(n_cols + 2):
        x = 10 + col_width * c
        draw.line([(x, 10), (x, bottom)], fill=INK)
    col, row = int(rng.integers(n_cols)), int(rng.integers(n_rows))
    top = people[int(np.argmax(cells[col]))]
    qa = [
        (f"What value is in the {columns[col]} column for {people[row]}?", str(cells[col][row])),
        (f"Who has the highest {columns[col]}?", top),
        ("How many people are listed in the table?", str(n_rows)),
        (f"What is {people[row]}'s {columns[(col + 1) % n_cols]}?", str(cells[(col + 1) % n_cols][row])),
    ]
    return image, qa


def _diagram(rng: np.random.Generator) -> tuple[Image.Image, list[tuple[str, str]]]:
    title = str(rng.choice(list(FLOWS)))
    n = int(rng.integers(3, 6))
    start = int(rng.integers(0, len(FLOWS[title]) - n + 1))
    steps = list(FLOWS[title][start : start + n])
    image, draw = _canvas()
    _centred(draw, (WIDTH / 2, 14), title, 14)
    box_h, gap = 26, (HEIGHT - 40 - n * 26) / max(n - 1, 1)
    box_w = 150
    x0 = (WIDTH - box_w) / 2
    for index, step in enumerate(steps):
        y = 34 + index * (box_h + gap)
        draw.rounded_rectangle([x0, y, x0 + box_w, y + box_h], radius=6, outline=INK, fill=(236, 244, 252))
        _centred(draw, (WIDTH / 2, y + box_h / 2), step, 12)
        if index + 1 < n:
            y_end = y + box_h + gap
            draw.line([(WIDTH / 2, y + box_h), (WIDTH / 2, y_end - 1)], fill=INK, width=2)
            draw.polygon([(WIDTH / 2 - 5, y_end - 7), (WIDTH / 2 + 5, y_end - 7), (WIDTH / 2, y_end - 1)], fill=INK)
    pick = int(rng.integers(n - 1))
    qa = [
        (f"In the diagram, what step comes right after \"{steps[pick]}\"?", steps[pick + 1]),
        ("What is the first step?", steps[0]),
        ("What is the last step?", steps[-1]),
        ("How many steps does the flowchart show?", str(n)),
        ("What process does the diagram describe?", title),
    ]
    return image, qa


def _receipt(rng: np.random.Generator) -> tuple[Image.Image, list[tuple[str, str]]]:
    shop = str(rng.choice(SHOPS))
    n = int(rng.integers(2, 6))
    items = [str(i) for i in rng.choice(ITEMS, size=n, replace=False)]
    cents = [int(c) for c in rng.integers(50, 1500, size=n)]
    total = sum(cents)
    image, draw = _canvas()
    draw.rectangle([60, 6, WIDTH - 60, HEIGHT - 6], fill=(252, 250, 240), outline=(180, 180, 180))
    _centred(draw, (WIDTH / 2, 22), shop, 14)
    _centred(draw, (WIDTH / 2, 40), "RECEIPT", 11)
    y = 58
    for item, price in zip(items, cents):
        draw.text((72, y), item, fill=INK, font=font(12))
        draw.text((WIDTH - 72, y), _money(price), fill=INK, font=font(12), anchor="ra")
        y += 20
    draw.line([(72, y + 2), (WIDTH - 72, y + 2)], fill=INK)
    draw.text((72, y + 8), "TOTAL", fill=INK, font=font(13))
    draw.text((WIDTH - 72, y + 8), _money(total), fill=INK, font=font(13), anchor="ra")
    pick = int(rng.integers(n))
    qa = [
        ("What is the total on the receipt?", _money(total)),
        (f"How much did the {items[pick].lower()} cost?", _money(cents[pick])),
        ("What is the name of the shop?", shop),
        ("How many items were bought?", str(n)),
    ]
    return image, qa


def _money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


RENDERERS: dict[str, Callable] = {"charts": _chart, "diagrams": _diagram, "tables": _table, "other": _receipt}

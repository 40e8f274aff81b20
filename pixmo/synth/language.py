"""Captions, spoken-style transcripts and question-answer pairs that say only what a scene's objects make true."""

from collections.abc import Callable
from typing import Optional

import numpy as np

from .shapes import COLORS, SHAPES, Scene, SceneObject, plural

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
MAX_WORDED = len(NUMBER_WORDS) - 1


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n <= MAX_WORDED else str(n)


def with_article(phrase: str) -> str:
    """`"an orange star"`, `"a red circle"`."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def count_phrase(label: str, n: int) -> str:
    """`"three red circles"`, `"one blue square"`, `"no green stars"`."""
    return f"{number_word(n)} {plural(label, n)}"


def join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def place_of(obj: SceneObject, scene: Scene) -> Optional[str]:
    """Where an object is, in thirds of the image ("the top left"), or `None` near a border between thirds."""
    def third(value: float, extent: int, names: tuple[str, str, str]) -> Optional[str]:
        fraction = value / extent
        for bound, name in ((0.3, names[0]), (0.37, None), (0.63, names[1]), (0.7, None), (1.01, names[2])):
            if fraction < bound:
                return name
        return None

    row = third(obj.y, scene.height, ("top", "middle", "bottom"))
    column = third(obj.x, scene.width, ("left", "centre", "right"))
    if row is None or column is None:
        return None
    return "the centre" if (row, column) == ("middle", "centre") else f"the {row} {column}".replace("middle ", "")


def inventory(scene: Scene) -> str:
    return join_words([count_phrase(label, scene.count(label)) for label in scene.labels])


def caption(scene: Scene) -> str:
    """A dense caption: the background, every kind with its count, and where the single objects are."""
    total = len(scene.objects)
    if not total:
        return f"{with_article(scene.background).capitalize()} background with no shapes on it."
    sentences = [
        f"This image shows {number_word(total)} flat {plural('shape', total)} "
        f"on {with_article(scene.background)} background.",
        f"There {'is' if scene.count(scene.labels[0]) == 1 else 'are'} {inventory(scene)}.",
    ]
    for label in scene.labels:
        objects = scene.objects_of(label)
        place = place_of(objects[0], scene) if len(objects) == 1 else None
        if place:
            sentences.append(f"The {label} is in {place} of the image.")
    sentences.append("The shapes do not overlap.")
    return " ".join(sentences)


def transcripts(scene: Scene, rng: np.random.Generator) -> list[str]:
    """One or two spoken descriptions, the kind a person records before the caption is written from them."""
    openers = ("okay so this is", "so here we have", "um this picture is", "alright this image is")
    result = []
    for _ in range(int(rng.integers(1, 3))):
        opener = str(rng.choice(openers))
        body = f"{with_article(scene.background)} background"
        if scene.objects:
            body += f" and on it i can see {inventory(scene)}"
        result.append(f"{opener} {body}, and uh that's pretty much it, nothing overlaps")
    return result


# -- questions ------------------------------------------------------------------------------------------------

QuestionMaker = Callable[[Scene, np.random.Generator], Optional[tuple[str, str]]]


def _how_many(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    label = _some_label(scene, rng)
    n = scene.count(label)
    verb = "is" if n == 1 else "are"
    return f"How many {plural(label, 2)} are there in the image?", f"There {verb} {count_phrase(label, n)}."


def _is_there(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    label = _some_label(scene, rng)
    n = scene.count(label)
    answer = f"Yes, there {'is' if n == 1 else 'are'} {count_phrase(label, n)}." if n else f"No, there is no {label}."
    return f"Is there {with_article(label)} in this picture?", answer


def _total(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    n = len(scene.objects)
    return "How many shapes are there in total?", f"There {'is' if n == 1 else 'are'} {count_phrase('shape', n)} in total."


def _background_question(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    return "What does the background look like?", f"It is {with_article(scene.background)} background."


def _kinds(scene: Scene, rng: np.random.Generator) -> Optional[tuple[str, str]]:
    if not scene.objects:
        return None
    return "What shapes can you see, and how many of each?", f"I can see {inventory(scene)}."


def _colour_of(scene: Scene, rng: np.random.Generator) -> Optional[tuple[str, str]]:
    """The colour of a shape, asked only where every object of that shape has the same colour."""
    shapes = [s for s in SHAPES if len({o.color for o in scene.objects if o.shape == s}) == 1]
    if not shapes:
        return None
    shape = str(rng.choice(shapes))
    color = next(o.color for o in scene.objects if o.shape == shape)
    if sum(o.shape == shape for o in scene.objects) == 1:
        return f"What colour is the {shape}?", f"It is {color}."
    return f"What colour are the {shape}s?", f"They are all {color}."


def _where(scene: Scene, rng: np.random.Generator) -> Optional[tuple[str, str]]:
    singles = [label for label in scene.labels if scene.count(label) == 1 and place_of(scene.objects_of(label)[0], scene)]
    if not singles:
        return None
    label = str(rng.choice(singles))
    return f"Where is the {label}?", f"The {label} is in {place_of(scene.objects_of(label)[0], scene)} of the image."


def _most(scene: Scene, rng: np.random.Generator) -> Optional[tuple[str, str]]:
    counts = sorted(((scene.count(label), label) for label in scene.labels), reverse=True)
    if len(counts) < 2 or counts[0][0] == counts[1][0]:
        return None
    n, label = counts[0]
    return "Which kind of shape appears most often?", f"The {plural(label, n)}: there are {number_word(n)} of them."


QUESTIONS: tuple[QuestionMaker, ...] = (
    _how_many, _is_there, _total, _background_question, _kinds, _colour_of, _where, _most,
)


def _some_label(scene: Scene, rng: np.random.Generator) -> str:
    """A label in the scene, or now and then one that is not (its true count is zero)."""
    if scene.objects and rng.random() < 0.75:
        return str(rng.choice(scene.labels))
    return f"{rng.choice(list(COLORS))} {rng.choice(SHAPES)}"


def question_answer(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    """One true question-answer pair about a scene."""
    while True:
        pair = QUESTIONS[int(rng.integers(len(QUESTIONS)))](scene, rng)
        if pair:
            return pair


def conversation(scene: Scene, rng: np.random.Generator, max_turns: int = 3) -> list[str]:
    """Alternating user and assistant messages (user first), one to `max_turns` turns, no question repeated."""
    messages: list[str] = []
    for _ in range(int(rng.integers(1, max_turns + 1))):
        question, answer = question_answer(scene, rng)
        if question in messages[::2]:
            continue
        messages += [question, answer]
    return messages


def transcript_question(messages: list[str]) -> str:
    """pixmo-cap-qa's `question`: one `[USER] ... [ASSISTANT] ...` line per turn, the last ending at `[ASSISTANT]`."""
    lines = []
    for index in range(0, len(messages), 2):
        reply = f" {messages[index + 1]}" if index + 2 < len(messages) else ""
        lines.append(f"[USER] {messages[index]} [ASSISTANT]{reply}")
    return "\n".join(lines)

"""A tiny random Molmo2 and its processor, built offline, for the demo and the tests.

The tokenizer is a byte-level BPE trained with `tokenizers` on a small built-in corpus of this project's text and
its pointing and counting prompts about the synthetic kinds, digits split one per token (a 0-1000 coordinate is
three tokens). The image special tokens of Molmo2 are added after training, so their ids lie at or above the
text vocabulary (the language model's head covers only the text vocabulary; `additional_vocab_size` extends the
input embedding over the special ids).

Initialisation follows what was measured to let a model this small learn from images: the adapter's
`initializer_range` is raised to 0.1 and the vision position embeddings are scaled to std 0.4; with the
defaults (0.02) the image features reaching the language model are about 1e-4 of the token embeddings and the
model learns to ignore them. The position embeddings are the fixed-frequency 2D sine-cosine code of MAE (x in
one half of the channels, y in the other) rather than random vectors, so a patch's column and row can be read
linearly from its features from the first step: trained 600 steps on `make_square_examples`, the model points
at the square with a median error of 9% of the image side against 29% with random embeddings (always
answering the centre: 25%; measured with 14 px patches).

Images are 112 px with one crop, cut into 7 px patches (a 16 x 16 grid) pooled 4 x 4: 16 low-resolution plus 16
high-resolution tokens. A synthetic shape (mostly 10-28 px across once its image is resized to 112 px) then
spans several patches, so its outline reaches the vision tower; with 14 px patches it falls in one or two, and
the model is slow to tell the asked kind from shapes of its colour. Trained 800 steps on
`benchmarks/pointing_probe.py`'s default scenes (shapes of other kinds beside the asked one), pointing F1 is 0.195
with 7 px patches against 0.047 with 14 px patches (always the centre: 0.044), for 1.8x the time a step.
"""

import json
import logging
import math
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

IMAGE_SPECIAL_TOKENS = [
    "<|image|>",
    "<|video|>",
    "<im_patch>",
    "<im_col>",
    "<im_start>",
    "<low_res_im_start>",
    "<im_end>",
    "<im_low>",
    "<frame_start>",
    "<frame_end>",
]
# Tokens the language model must be able to predict (end of turn) stay inside the text vocabulary.
TEXT_SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<|image|>{% endif %}{% endfor %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

IMAGE_SIZE = 112
PATCH_SIZE = 7
POOLING_SIZE = 4
ADAPTER_INITIALIZER_RANGE = 0.1
POSITION_EMBEDDING_STD = 0.4

_CORPUS = """\
Point to the red car. Point to every person in the image. Point to the dog.
<points coords="1 1 245 378 2 911 800">red car</points>
Counting the <points coords="1 1 120 450">apples</points> shows a total of 1. There are none.
How many cars are in the image? How many people are there? How many birds can you see?
What time is shown on the clock? The clock shows 3:45 PM. It reads 11:57:04 PM. 12:09
Describe this image in detail. Write a short caption. Write a long caption.
The photo shows a small square in the middle of a white background. A blue square on the left.
A green square on the right. Is the square on the left or on the right? It is on the left.
What color is the square? The square is red. The square is green. The square is blue.
What is the title of this chart? What is the value for the year 2020? The table has three rows.
Answer the question about the document. The diagram shows the flow from input to output.
Ask the model anything about the picture. Question: Answer: yes no left right top bottom center
PixMo datasets: captions, points, counts, documents, caption questions, clocks. Molmo reads images.
The quick brown fox jumps over the lazy dog. A cat sits on a mat near a window with a plant.
0 1 2 3 4 5 6 7 8 9 10 11 12 100 250 500 750 1000 2024 3.14 0.5 x y
"""


def corpus_lines() -> list[str]:
    """The tokenizer's training text: the built-in corpus, and every pointing and counting prompt of this project
    asked about every synthetic kind ("purple triangle"), singular and plural.

    Without the second part, BPE never sees the synthetic colours and shapes and splits "purple triangles" into
    eight byte pieces; a two-layer model then spends its depth re-assembling the label it must find in the image.
    """
    from pixmo.points import format_count_answer, format_points
    from pixmo.prompts import COUNTING_PROMPTS, POINTING_PROMPTS
    from pixmo.synth.shapes import COLORS, SHAPES, plural

    labels = [plural(f"{color} {shape}", count) for color in COLORS for shape in SHAPES for count in (1, 2)]
    points = [(24.5, 37.8), (91.1, 80.0)]
    lines = [template.format(label=label) for template in POINTING_PROMPTS + COUNTING_PROMPTS for label in labels]
    lines += [format_points(points, label) for label in labels]
    lines += [format_count_answer(points, label) for label in labels]
    return _CORPUS.splitlines() * 4 + lines


def _train_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=TEXT_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus_lines(), trainer=trainer)
    return tokenizer


def make_tokenizer(vocab_size: int = 640):
    """A byte-level BPE tokenizer with Molmo2's image special tokens at ids above the text vocabulary.

    Args:
        vocab_size (`int`, *optional*, defaults to `640`): the most tokens BPE may learn (bytes, merges and the
            text special tokens); the image special tokens come on top.

    Returns:
        `tuple[PreTrainedTokenizerFast, int]`: the tokenizer and the size of its text vocabulary.
    """
    from transformers import PreTrainedTokenizerFast

    backend = _train_tokenizer(vocab_size)
    text_vocab_size = backend.get_vocab_size()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>"] + IMAGE_SPECIAL_TOKENS,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    for token in IMAGE_SPECIAL_TOKENS:
        if tokenizer.convert_tokens_to_ids(token) < text_vocab_size:
            raise AssertionError(f"image token {token} must lie above the text vocabulary ({text_vocab_size})")
    return tokenizer, text_vocab_size


def make_processor(tokenizer):
    """Molmo2's processor for 112 px images with one crop: a 16 x 16 grid of 7 px patches, pooled 4 x 4 into 16
    image tokens (the low-resolution image gives 16 more)."""
    from transformers import Molmo2ImageProcessor, Molmo2Processor, Molmo2VideoProcessor

    image_processor = Molmo2ImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        max_crops=1,
        overlap_margins=[2, 2],
        patch_size=PATCH_SIZE,
        pooling_size=[POOLING_SIZE, POOLING_SIZE],
    )
    video_processor = Molmo2VideoProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, patch_size=PATCH_SIZE,
        pooling_size=[POOLING_SIZE, POOLING_SIZE],
    )
    return Molmo2Processor(
        image_processor=image_processor,
        video_processor=video_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def make_config(tokenizer, text_vocab_size: int, hidden_size: int = 128, layers: int = 2):
    """A Molmo2Config of about a million parameters whose token ids match `tokenizer`."""
    from transformers import Molmo2Config

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in IMAGE_SPECIAL_TOKENS}
    additional = len(tokenizer) - text_vocab_size
    vision_hidden = hidden_size // 2
    return Molmo2Config(
        vision_config={
            "hidden_size": vision_hidden, "intermediate_size": 2 * hidden_size, "num_hidden_layers": layers,
            "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": vision_hidden // 4,
            "image_size": [IMAGE_SIZE, IMAGE_SIZE], "patch_size": PATCH_SIZE,
        },
        adapter_config={
            "vision_feature_layer": [-1, -2], "hidden_size": vision_hidden, "num_attention_heads": 4,
            "num_key_value_heads": 4, "head_dim": vision_hidden // 4, "intermediate_size": 2 * hidden_size,
            "text_hidden_size": hidden_size, "initializer_range": ADAPTER_INITIALIZER_RANGE,
        },
        text_config={
            "hidden_size": hidden_size, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": hidden_size // 4, "vocab_size": text_vocab_size, "additional_vocab_size": additional,
            "num_hidden_layers": layers, "intermediate_size": 3 * hidden_size, "max_position_embeddings": 2048,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        image_start_token_id=ids["<im_start>"],
        low_res_image_start_token_id=ids["<low_res_im_start>"],
        image_end_token_id=ids["<im_end>"],
        image_patch_id=ids["<im_patch>"],
        frame_start_token_id=ids["<frame_start>"],
        frame_end_token_id=ids["<frame_end>"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def sincos_position_embedding(grid_size: int, dim: int, std: float = POSITION_EMBEDDING_STD) -> torch.Tensor:
    """The 2D sine-cosine position code of a `grid_size` x `grid_size` patch grid, in row-major patch order.

    The first half of the `dim` channels encodes the column and the second half the row, each as sines and cosines
    of the index at `dim / 4` frequencies from 1 down to 1/10000 (as in MAE); the result is scaled to `std`.
    """
    if dim % 4:
        raise ValueError(f"the 2D sine-cosine code needs a width divisible by 4, got {dim}")
    rows, cols = torch.meshgrid(torch.arange(grid_size, dtype=torch.float64),
                                torch.arange(grid_size, dtype=torch.float64), indexing="ij")
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))

    def encode(index: torch.Tensor) -> torch.Tensor:
        angles = index.reshape(-1, 1) * frequencies[None]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    code = torch.cat([encode(cols), encode(rows)], dim=1)
    return (code / code.std() * std).float()


def _initialise_for_learning(model, generator: torch.Generator) -> None:
    """Raise the adapter's init std and set the vision position embeddings (see the module docstring)."""
    adapter = model.model.multi_modal_projector
    for module in adapter.modules():
        if isinstance(module, torch.nn.Linear):
            module.weight.data.normal_(0.0, ADAPTER_INITIALIZER_RANGE, generator=generator)
            if module.bias is not None:
                module.bias.data.zero_()
    embedding = model.model.vision_tower.positional_embedding
    grid_size = math.isqrt(embedding.shape[0])
    if grid_size * grid_size != embedding.shape[0]:
        raise ValueError(f"expected a square patch grid, got {embedding.shape[0]} position embeddings")
    embedding.data.copy_(sincos_position_embedding(grid_size, embedding.shape[1]))


def make_tiny_model(out_dir, seed: int = 0) -> Path:
    """Build a tiny random Molmo2 and its processor in `out_dir`, loadable with the Auto classes.

    Args:
        out_dir (`str` or `os.PathLike`): the folder to write (`config.json`, weights, tokenizer, processor).
        seed (`int`, *optional*, defaults to `0`): the seed of the random weights.

    Returns:
        `Path`: `out_dir`, for `AutoModelForImageTextToText.from_pretrained` and `AutoProcessor.from_pretrained`.
    """
    from transformers import AutoModelForImageTextToText

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer, text_vocab_size = make_tokenizer()
    processor = make_processor(tokenizer)
    config = make_config(tokenizer, text_vocab_size)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    _initialise_for_learning(model, torch.Generator().manual_seed(seed))
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    (out_dir / "tiny_model.json").write_text(
        json.dumps({"seed": seed, "parameters": model.num_parameters(), "text_vocab_size": text_vocab_size}) + "\n"
    )
    logger.info("tiny Molmo2 of %s parameters written to %s", f"{model.num_parameters():,}", out_dir)
    return out_dir


_COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}


def make_square_examples(count: int, seed: int = 0, image_size: int = IMAGE_SIZE) -> list:
    """Images of one coloured square on white, with one to three conversations each, for the demo and the tests.

    The questions ask the square's colour, its side (left or right) and where it is (a Molmo2 point, 0-1000).

    Args:
        count (`int`): how many examples.
        seed (`int`, *optional*, defaults to `0`): the seed of the colours, places and questions.
        image_size (`int`, *optional*, defaults to `112`): the side of the square images in pixels.

    Returns:
        `list[FormattedExample]`
    """
    import random

    from PIL import Image, ImageDraw

    from pixmo.conversation import Conversation, FormattedExample

    rng = random.Random(seed)
    examples = []
    for index in range(count):
        colour = rng.choice(sorted(_COLOURS))
        side = image_size // 4
        x, y = rng.randrange(0, image_size - side), rng.randrange(0, image_size - side)
        image = Image.new("RGB", (image_size, image_size), (255, 255, 255))
        ImageDraw.Draw(image).rectangle([x, y, x + side - 1, y + side - 1], fill=_COLOURS[colour])
        centre_x, centre_y = (x + side / 2) / image_size, (y + side / 2) / image_size
        where = "left" if centre_x < 0.5 else "right"
        point = f'<points coords="1 1 {round(centre_x * 1000):03d} {round(centre_y * 1000):03d}">square</points>'
        conversations = [
            Conversation([("What color is the square?", colour)], task="squares/colour"),
            Conversation([("Is the square on the left or on the right?", where)], task="squares/side"),
            Conversation([("Point to the square.", point)], task="squares/point"),
        ]
        rng.shuffle(conversations)
        examples.append(FormattedExample(image, conversations[: rng.randint(1, 3)], source=f"squares:{seed}:{index}"))
    return examples

"""Batches of `FormattedExample`s for a Molmo2 model: one processor call per batch, several conversations per image.

How several conversations of one image are laid out (after Molmo, which trains all the annotations of an image
over one encoding of it): a sequence is the shared prefix (BOS, the chat template's opening of the first user
turn and the image's tokens) followed by every conversation in turn. Each conversation attends to the prefix and
to itself only, never to the other conversations, and its position ids restart right after the prefix; so the
sequence trains exactly what the conversations would train one by one, for one pass of the vision tower and one
prefix. The image tokens attend to each other both ways (Molmo2's image block). The model gets this as a 4D
boolean attention mask (`True` = may attend), which the `sdpa` attention of transformers takes as it is;
`to_model_inputs(batch)` builds it from the batch's `segment_ids` where the batch lies (on the accelerator in
training), so the data loader never makes or copies a (batch, length, length) tensor.

Loss weights: every answer token of an example with `k` conversations carries the weight `1 / sqrt(k)` and the
loss is the weighted mean over the batch, so an image with many annotations counts `sqrt(k)` times one with a
single annotation instead of `k` times (a compromise between per-token and per-image averaging; Molmo scales the
loss of multi-annotation images for the same reason).

Nothing is ever cut through the image: an example whose prefix and first conversation do not fit in `max_length`
is skipped, and conversations that do not fit after the first are dropped from the end. Both are counted in
`collator.stats`.

Labels are `-100` on the prefix, the user turns, the template's wrapping of them, padding and every id at or
above the text vocabulary (the image tokens and any other id outside the language model's head).
"""

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

from pixmo.conversation import Conversation, FormattedExample

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
_SENTINELS = ("QQUSERZEROQQ", "QQANSWERZEROQQ", "QQUSERONEQQ", "QQANSWERONEQQ")


@dataclass
class ChatLayout:
    """The pieces a chat template wraps around the turns of a conversation, read once from the template.

    A conversation renders as `prefix + user_0 + generation + answer_0 + end_of_turn + next_user + user_1 +
    generation + answer_1 + end_of_turn`; `prefix` holds the image placeholder.
    """

    prefix: str
    generation: str
    end_of_turn: str
    next_user: str

    @classmethod
    def from_processor(cls, processor) -> "ChatLayout":
        """Render a probe conversation with the processor's chat template and cut it at the probe strings."""
        user0, answer0, user1, answer1 = _SENTINELS
        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user0}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer0}]},
            {"role": "user", "content": [{"type": "text", "text": user1}]},
            {"role": "assistant", "content": [{"type": "text", "text": answer1}]},
        ]
        text = processor.apply_chat_template(messages, tokenize=False)
        positions = [text.find(s) for s in _SENTINELS]
        if -1 in positions or positions != sorted(positions):
            raise ValueError(
                f"the chat template must render the turns in order with their text unchanged; got {text!r}. "
                "Use a processor whose chat template writes message text verbatim."
            )
        cuts = [(p, p + len(s)) for p, s in zip(positions, _SENTINELS)]
        prefix, generation = text[: cuts[0][0]], text[cuts[0][1] : cuts[1][0]]
        between, generation_1 = text[cuts[1][1] : cuts[2][0]], text[cuts[2][1] : cuts[3][0]]
        end_of_turn = text[cuts[3][1] :]
        image_token = getattr(processor, "image_token", "<|image|>")
        if image_token not in prefix:
            raise ValueError(
                f"the chat template must place the image {image_token!r} before the first user text so every "
                f"conversation can share it; the text before the first user turn is {prefix!r}"
            )
        if generation != generation_1 or not between.startswith(end_of_turn.rstrip()):
            raise ValueError(f"the chat template wraps turns differently from one turn to the next: {text!r}")
        end_of_turn = end_of_turn.rstrip()
        return cls(prefix, generation, end_of_turn, between[len(end_of_turn) :])


def _to_pil(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected a PIL image or a uint8 array (H, W, 3), got {array.dtype} {array.shape}")
    return Image.fromarray(array)


class MolmoCollator:
    """Turns a list of `FormattedExample`s into one batch for `Molmo2ForConditionalGeneration`.

    Args:
        processor (`Molmo2Processor`): the model's processor (tokenizer, image processor and chat template).
        text_vocab_size (`int`): the size of the language model's head (`config.text_config.vocab_size`);
            label ids at or above it are masked.
        max_length (`int`, *optional*, defaults to `2048`): the most tokens of one sequence.
        max_crops (`int`, *optional*): the most high-resolution crops per image (the processor's default if unset).
        pad_to_multiple_of (`int`, *optional*): pad the sequence length up to a multiple of this.
    """

    def __init__(
        self,
        processor,
        text_vocab_size: int,
        max_length: int = 2048,
        max_crops: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
    ):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.text_vocab_size = text_vocab_size
        self.max_length = max_length
        self.images_kwargs = {"max_crops": max_crops} if max_crops else {}
        self.pad_to_multiple_of = pad_to_multiple_of
        self.layout = ChatLayout.from_processor(processor)
        self.pad_token_id = self.tokenizer.pad_token_id
        if self.pad_token_id is None:
            self.pad_token_id = self.tokenizer.eos_token_id
        self._constant_ids = {
            piece: self._encode([piece])[0]
            for piece in (self.layout.generation, self.layout.end_of_turn, self.layout.next_user)
        }
        self._prefix_lengths: dict[tuple[int, int], int] = {}
        self.stats = Counter()

    # -- text ----------------------------------------------------------------------------------------

    def _encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _conversation_texts(self, conversation: Conversation) -> list[str]:
        if not conversation.turns:
            raise ValueError(f"a conversation needs at least one (user, assistant) turn, got {conversation!r}")
        return [text for turn in conversation.turns for text in turn]

    def _tokenize_conversations(self, examples: Sequence[FormattedExample]):
        """Token ids and label flags of every conversation, from one tokenizer call over all their texts."""
        texts = [t for ex in examples for conv in ex.conversations for t in self._conversation_texts(conv)]
        ids = iter(self._encode(texts))
        layout, const = self.layout, self._constant_ids
        tokenized = []
        for example in examples:
            conversations = []
            for conversation in example.conversations:
                tokens, flags = [], []
                for turn_index, _ in enumerate(conversation.turns):
                    pieces = [(const[layout.next_user], False)] if turn_index else []
                    pieces += [(next(ids), False), (const[layout.generation], False), (next(ids), True)]
                    pieces.append((const[layout.end_of_turn], True))
                    for piece, trained in pieces:
                        tokens += piece
                        flags += [trained] * len(piece)
                if flags:
                    flags[0] = False  # the first token of a conversation has nothing of its own to predict it from
                conversations.append((tokens, flags))
            tokenized.append(conversations)
        return tokenized

    # -- lengths -------------------------------------------------------------------------------------

    def prefix_length(self, image) -> int:
        """Tokens of the shared prefix for an image of this size: BOS, the template's opening and the image."""
        width, height = image.size if isinstance(image, Image.Image) else np.asarray(image).shape[1::-1]
        key = (height, width)
        if key not in self._prefix_lengths:
            data = self.processor._get_num_multimodal_tokens(image_sizes=[key], **self.images_kwargs)
            text = self.layout.prefix.replace(getattr(self.processor, "image_token", "<|image|>"), "")
            self._prefix_lengths[key] = 1 + data["num_image_tokens"][0] + len(self._encode([text])[0])
        return self._prefix_lengths[key]

    def _fit(self, prefix_length: int, conversation_lengths: list[int]) -> int:
        """How many leading conversations fit in `max_length` after the prefix (0: the example cannot be used)."""
        total, kept = prefix_length, 0
        for length in conversation_lengths:
            if total + length > self.max_length:
                break
            total, kept = total + length, kept + 1
        return kept

    def measure(self, example: FormattedExample) -> tuple[int, int]:
        """`(tokens, conversations kept)` of an example once collated alone; `(0, 0)` if it would be skipped."""
        conversations = self._tokenize_conversations([example])[0]
        prefix = self.prefix_length(example.image)
        kept = self._fit(prefix, [len(tokens) for tokens, _ in conversations])
        if not kept:
            return 0, 0
        return prefix + sum(len(tokens) for tokens, _ in conversations[:kept]), kept

    # -- batch ---------------------------------------------------------------------------------------

    def __call__(self, examples: Sequence[FormattedExample]) -> dict[str, torch.Tensor]:
        examples = [as_formatted(ex) for ex in examples]
        conversations = self._tokenize_conversations(examples)
        kept_examples, kept_conversations = [], []
        for example, convs in zip(examples, conversations):
            kept = self._fit(self.prefix_length(example.image), [len(tokens) for tokens, _ in convs])
            self.stats["examples"] += 1
            self.stats["conversations"] += len(convs)
            if not kept:
                self.stats["skipped_examples"] += 1
                self.stats["skipped_conversations"] += len(convs)
                logger.debug("skipped %s: the image and its first conversation exceed %d tokens", example.source,
                             self.max_length)
                continue
            self.stats["dropped_conversations"] += len(convs) - kept
            kept_examples.append(example)
            kept_conversations.append(convs[:kept])
        if not kept_examples:
            raise ValueError(
                f"every example of this batch is longer than max_length={self.max_length} with its image and first "
                "conversation; raise max_length or lower max_crops, or filter the data with `collator.measure`"
            )
        return self._assemble(kept_examples, kept_conversations)

    def _process_prefixes(self, examples: list[FormattedExample]) -> tuple[dict, list[list[int]], list[list[int]]]:
        """One processor call: the images and the prefix text of every example."""
        images = [_to_pil(ex.image) for ex in examples]
        outputs = self.processor(
            images=images, text=[self.layout.prefix] * len(examples), return_tensors="pt", padding=True,
            **self.images_kwargs,
        )
        keep = outputs["attention_mask"].bool()
        prefix_ids = [row[mask].tolist() for row, mask in zip(outputs["input_ids"], keep)]
        prefix_types = [row[mask].tolist() for row, mask in zip(outputs["mm_token_type_ids"], keep)]
        extra = {k: v for k, v in outputs.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
        return extra, prefix_ids, prefix_types

    def _assemble(self, examples, conversations) -> dict[str, torch.Tensor]:
        extra, prefix_ids, prefix_types = self._process_prefixes(examples)
        rows = []
        for ids, types, convs in zip(prefix_ids, prefix_types, conversations):
            rows.append(self._row(ids, types, convs))
        length = max(len(row["input_ids"]) for row in rows)
        if self.pad_to_multiple_of:
            length = math.ceil(length / self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = {key: self._pad([row[key] for row in rows], length, pad)
                 for key, pad in (("input_ids", self.pad_token_id), ("labels", IGNORE_INDEX),
                                  ("mm_token_type_ids", 0), ("position_ids", 0), ("segment_ids", -1))}
        batch["loss_weights"] = self._pad([row["loss_weights"] for row in rows], length, 0.0, torch.float32)
        batch["attention_mask"] = (batch["segment_ids"] >= 0).long()
        batch.update(extra)
        return batch

    def _row(self, prefix_ids: list[int], prefix_types: list[int], conversations) -> dict[str, list]:
        weight = 1.0 / math.sqrt(len(conversations))
        row = {
            "input_ids": list(prefix_ids),
            "labels": [IGNORE_INDEX] * len(prefix_ids),
            "mm_token_type_ids": list(prefix_types),
            "position_ids": list(range(len(prefix_ids))),
            "segment_ids": [0] * len(prefix_ids),
            "loss_weights": [0.0] * len(prefix_ids),
        }
        for index, (tokens, flags) in enumerate(conversations, start=1):
            labels = [t if f and t < self.text_vocab_size else IGNORE_INDEX for t, f in zip(tokens, flags)]
            row["input_ids"] += tokens
            row["labels"] += labels
            row["mm_token_type_ids"] += [0] * len(tokens)
            row["position_ids"] += range(len(prefix_ids), len(prefix_ids) + len(tokens))
            row["segment_ids"] += [index] * len(tokens)
            row["loss_weights"] += [weight if label != IGNORE_INDEX else 0.0 for label in labels]
        return row

    @staticmethod
    def _pad(rows: list[list], length: int, value, dtype=torch.long) -> torch.Tensor:
        out = torch.full((len(rows), length), value, dtype=dtype)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row, dtype=dtype)
        return out

    @staticmethod
    def attention_mask(segment_ids: torch.Tensor, mm_token_type_ids: torch.Tensor) -> torch.Tensor:
        """The 4D boolean mask `(batch, 1, query, key)` of the layout in the module docstring.

        Args:
            segment_ids (`torch.LongTensor` of shape `(batch, length)`): 0 on the shared prefix, `i` on the
                `i`-th conversation, -1 on padding.
            mm_token_type_ids (`torch.LongTensor` of shape `(batch, length)`): 1 on image tokens.
        """
        batch, length = segment_ids.shape
        index = torch.arange(length, device=segment_ids.device).expand(batch, length)
        valid = segment_ids >= 0
        # Segments are contiguous: a query sees keys up to itself that lie in the prefix or in its own segment.
        changed = torch.ones_like(valid)
        changed[:, 1:] = segment_ids[:, 1:] != segment_ids[:, :-1]
        segment_start = torch.where(changed, index, 0).cummax(dim=1).values
        prefix_end = torch.where(valid, (segment_ids == 0).sum(dim=1, keepdim=True), 0)
        # Image tokens (one contiguous run in the prefix) also see the image tokens after them.
        image = mm_token_type_ids.bool()
        last_image = torch.where(image, index, -1).max(dim=1, keepdim=True).values
        first_image = torch.where(image, index, length).min(dim=1, keepdim=True).values
        if ((last_image - first_image + 1).clamp(min=0).squeeze(1) != image.sum(dim=1)).any():
            raise ValueError("expected the image tokens of a sequence in one contiguous run in its prefix")
        upper = torch.where(image, last_image, index)
        segment_start = torch.where(valid, segment_start, index)  # padding attends to itself only
        key = index[:1, None, :]
        mask = (key <= upper[:, :, None]) & ((key < prefix_end[:, :, None]) | (key >= segment_start[:, :, None]))
        return mask[:, None]


def to_model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's keyword arguments from a collated batch: the 4D attention mask built where the batch lies.

    The collator keeps `segment_ids` (B x L) rather than the mask (B x L x L) so that the mask is built on the
    accelerator, not in the data loader and not copied to the device. `labels`, `loss_weights` and
    `segment_ids` are left out.
    """
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "loss_weights", "segment_ids")}
    inputs["attention_mask"] = MolmoCollator.attention_mask(batch["segment_ids"], batch["mm_token_type_ids"])
    return inputs


def loss_weighted(logits: torch.Tensor, labels: torch.Tensor, loss_weights: torch.Tensor) -> torch.Tensor:
    """The weighted mean next-token cross-entropy of a batch from `MolmoCollator`.

    Args:
        logits (`torch.FloatTensor` of shape `(batch, length, vocab)`): the model's logits.
        labels (`torch.LongTensor` of shape `(batch, length)`): aligned with the inputs, `-100` where untrained.
        loss_weights (`torch.FloatTensor` of shape `(batch, length)`): the weight of each label.
    """
    logits = logits[:, :-1].float()
    labels, weights = labels[:, 1:], loss_weights[:, 1:].to(logits.device)
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device),
        ignore_index=IGNORE_INDEX, reduction="none",
    )
    weights = weights.reshape(-1)
    return (losses * weights).sum() / weights.sum().clamp(min=1e-8)


def as_formatted(item) -> FormattedExample:
    """A `FormattedExample` from itself or from a row with its fields (`conversations` as dicts or objects)."""
    if isinstance(item, FormattedExample):
        return item
    if not isinstance(item, dict) or "image" not in item or "conversations" not in item:
        raise TypeError(
            f"expected a FormattedExample or a dict with 'image' and 'conversations', got {type(item).__name__}; "
            "map the dataset through its subset's `to_conversations` first"
        )
    conversations = [
        c if isinstance(c, Conversation) else Conversation(
            turns=[tuple(turn) for turn in c["turns"]], task=c.get("task", ""), metadata=c.get("metadata") or {}
        )
        for c in item["conversations"]
    ]
    return FormattedExample(image=item["image"], conversations=conversations, source=item.get("source"))


class FormattedDataset(torch.utils.data.Dataset):
    """`FormattedExample`s with the token count of each, for length-grouped batches.

    Examples whose image and first conversation exceed the collator's `max_length` are left out and counted in
    `skipped`.

    Args:
        examples (`Sequence` or `Iterable`): `FormattedExample`s, or rows with their fields (a `datasets.Dataset`);
            an iterable without `len` is read into a list.
        collator (`MolmoCollator`): measures each example as it will be collated.
        lengths (`list[int]`, *optional*): token counts already known (a `length` column); measured if unset.
        measure (`bool`, *optional*, defaults to `True`): measure the examples (reading every one) when `lengths`
            is unset; without lengths nothing is left out here (the collator still skips and counts) and
            `lengths` is `None`.
    """

    def __init__(self, examples, collator: MolmoCollator, lengths: Optional[list[int]] = None, measure: bool = True):
        from tqdm.auto import tqdm

        if not (hasattr(examples, "__getitem__") and hasattr(examples, "__len__")):
            examples = list(examples)
        self.examples = examples
        self.skipped = 0
        if lengths is None and not measure:
            self.indices, self.lengths = range(len(examples)), None
            return
        if lengths is None:
            lengths = [
                collator.measure(as_formatted(examples[i]))[0]
                for i in tqdm(range(len(examples)), desc="measuring examples", disable=len(examples) < 1000)
            ]
        self.indices = [i for i, length in enumerate(lengths) if length > 0]
        self.lengths = [lengths[i] for i in self.indices]
        self.skipped = len(lengths) - len(self.indices)
        if self.skipped:
            logger.warning("left out %d of %d examples longer than max_length=%d with their first conversation",
                           self.skipped, len(lengths), collator.max_length)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> FormattedExample:
        return as_formatted(self.examples[self.indices[index]])

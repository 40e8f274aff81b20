import pytest
import torch
from PIL import Image

from pixmo.conversation import Conversation, FormattedExample
from training.collator import IGNORE_INDEX, FormattedDataset, MolmoCollator, loss_weighted, to_model_inputs
from training.tiny_model import make_square_examples

pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, attn_implementation="sdpa").eval()
    return model, AutoProcessor.from_pretrained(tiny_model_dir)


def make_collator(tiny, **kwargs) -> MolmoCollator:
    model, processor = tiny
    return MolmoCollator(processor, model.config.text_config.vocab_size, **kwargs)


def square(colour=(200, 0, 0), size=(112, 112)) -> Image.Image:
    return Image.new("RGB", size, colour)


def two_conversations() -> FormattedExample:
    return FormattedExample(
        square(),
        [
            Conversation([("What color is the square?", "red")]),
            Conversation([("Is it on the left?", "yes"), ("And the count?", "1")]),
        ],
        source="test:0",
    )


def test_labels_are_the_answers_and_end_of_turn_only(tiny):
    collator = make_collator(tiny)
    batch = collator([two_conversations()])
    labels = batch["labels"][0]
    trained = labels[labels != IGNORE_INDEX].tolist()
    assert collator.tokenizer.decode(trained) == "red<|im_end|>yes<|im_end|>1<|im_end|>"
    # image and prompt positions are never trained
    assert (labels[batch["mm_token_type_ids"][0] == 1] == IGNORE_INDEX).all()
    assert (batch["loss_weights"][0][labels == IGNORE_INDEX] == 0).all()


def test_padding_and_ids_outside_the_text_vocabulary_are_masked(tiny):
    model, _ = tiny
    collator = make_collator(tiny)
    short = FormattedExample(square(), [Conversation([("Color?", "red")])])
    odd = FormattedExample(square(), [Conversation([("Say a patch token.", "here <im_patch> it is")])])
    batch = collator([two_conversations(), short, odd])
    vocab = model.config.text_config.vocab_size
    labels = batch["labels"]
    assert (labels[labels != IGNORE_INDEX] < vocab).all()
    assert (batch["input_ids"][2] == model.config.image_patch_id).sum() == 33  # 32 image patches + the answer's
    pad = batch["input_ids"][1] == collator.pad_token_id
    assert pad.sum() > 0 and (labels[1][pad] == IGNORE_INDEX).all()


def test_mm_token_type_ids_and_image_inputs_reach_the_model(tiny):
    model, _ = tiny
    small = FormattedExample(square(size=(60, 90)), [Conversation([("?", "a")])])
    batch = make_collator(tiny)([two_conversations(), small])
    for key in ("mm_token_type_ids", "pixel_values", "image_token_pooling", "image_grids", "image_num_crops"):
        assert key in batch
    assert (batch["mm_token_type_ids"].sum(dim=1) > 32).all()
    model.train()
    try:
        out = model(**to_model_inputs(batch))
    finally:
        model.eval()
    assert torch.isfinite(loss_weighted(out.logits, batch["labels"], batch["loss_weights"]))


def test_conversations_share_the_image_but_not_each_other(tiny):
    collator = make_collator(tiny)
    batch = collator([two_conversations()])
    mask = to_model_inputs(batch)["attention_mask"][0, 0]
    types = batch["mm_token_type_ids"][0]
    positions = batch["position_ids"][0]
    prefix = collator.prefix_length(square())
    assert types[:prefix].sum() > 32 and types[prefix:].sum() == 0
    restart = [i for i in range(1, len(positions)) if positions[i] <= positions[i - 1]]
    assert len(restart) == 1 and positions[restart[0]] == prefix  # the second conversation restarts after the image
    second = restart[0]
    assert mask[second, :prefix].all()  # it sees the whole prefix
    assert not mask[second, prefix:second].any()  # and nothing of the first conversation
    image = types.bool()
    assert mask[image][:, image].all()  # image tokens see each other both ways


def test_several_conversations_train_as_if_each_were_alone(tiny):
    model, _ = tiny
    collator = make_collator(tiny)
    example = two_conversations()
    packed = collator([example])
    alone = [collator([FormattedExample(example.image, [c])]) for c in example.conversations]

    def answer_logits(batch):
        with torch.no_grad():
            logits = model(**to_model_inputs(batch)).logits[0]
        labels = batch["labels"][0]
        keep = torch.nonzero(labels[1:] != IGNORE_INDEX).flatten()
        return logits[keep]

    expected = torch.cat([answer_logits(batch) for batch in alone])
    torch.testing.assert_close(answer_logits(packed), expected, atol=1e-4, rtol=1e-4)


def test_loss_weights_scale_with_the_root_of_the_conversation_count(tiny):
    batch = make_collator(tiny)([two_conversations(), FormattedExample(square(), [Conversation([("?", "red")])])])
    weights = batch["loss_weights"]
    first, second = weights[0][weights[0] > 0], weights[1][weights[1] > 0]
    assert len(first) == (batch["labels"][0] != IGNORE_INDEX).sum()
    assert torch.allclose(first, torch.full_like(first, 2**-0.5))
    assert len(second) == (batch["labels"][1] != IGNORE_INDEX).sum() and torch.allclose(second, torch.ones_like(second))


def test_overlong_examples_drop_trailing_conversations_and_never_cut_the_image(tiny):
    model, _ = tiny
    long_answer = " ".join(["square"] * 40)
    example = FormattedExample(
        square(), [Conversation([("Color?", "red")]), Conversation([("Describe it.", long_answer)]),
                   Conversation([("Side?", "left")])]
    )
    collator = make_collator(tiny)
    prefix = collator.prefix_length(example.image)
    first, _ = collator.measure(FormattedExample(example.image, example.conversations[:1]))
    collator = make_collator(tiny, max_length=first + 5)
    batch = collator([example])
    # the second no longer fits, and everything after it is dropped with it
    assert collator.stats["dropped_conversations"] == 2
    assert (batch["input_ids"][0] == model.config.image_patch_id).sum() == 32
    assert batch["input_ids"].shape[1] == first > prefix
    assert collator.measure(example) == (first, 1)


def test_examples_whose_image_and_first_conversation_do_not_fit_are_skipped(tiny):
    fits = FormattedExample(square(), [Conversation([("?", "a")])])
    collator = make_collator(tiny, max_length=make_collator(tiny).measure(fits)[0])
    too_long = FormattedExample(square(), [Conversation([("Describe the square in detail.", "a red square")])])
    batch = collator([too_long, fits])
    assert batch["input_ids"].shape[0] == 1
    assert collator.stats["skipped_examples"] == 1 and collator.stats["skipped_conversations"] == 1
    with pytest.raises(ValueError, match="max_length"):
        collator([too_long])


def test_dataset_measures_what_the_collator_makes_and_leaves_out_what_cannot_fit(tiny):
    collator = make_collator(tiny)
    examples = make_square_examples(12, seed=4)
    dataset = FormattedDataset(examples, collator)
    assert len(dataset) == 12 and dataset.skipped == 0
    for index in range(3):
        batch = collator([dataset[index]])
        assert batch["input_ids"].shape[1] == dataset.lengths[index]
    prefix = collator.prefix_length(examples[0].image)
    tight = make_collator(tiny, max_length=prefix + 10)
    assert FormattedDataset(examples, tight).skipped > 0


def test_numpy_images_and_row_dicts_are_accepted(tiny):
    import numpy as np

    collator = make_collator(tiny)
    row = {"image": np.zeros((80, 120, 3), dtype=np.uint8),
           "conversations": [{"turns": [["What is it?", "black"]], "task": "t"}]}
    batch = collator([row])
    assert collator.tokenizer.decode(batch["labels"][0][batch["labels"][0] != IGNORE_INDEX]) == "black<|im_end|>"
    with pytest.raises(TypeError, match="FormattedExample"):
        collator([{"text": "no image"}])


def test_length_grouped_batches_are_a_seeded_permutation_with_little_padding():
    import random

    from training.trainer import LengthGroupedSampler

    rng = random.Random(0)
    lengths = [rng.randint(40, 900) for _ in range(203)]
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=1)
    order = list(sampler)
    assert sorted(order) == list(range(203))
    assert order == list(LengthGroupedSampler(lengths, batch_size=8, seed=1))  # same seed and epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != order
    batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    assert max(lengths[i] for i in batches[0]) == max(lengths)  # the longest batch comes first
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)
    assert sum(lengths) / padded > 0.9
    assert len(batches[-1]) == 203 % 8  # the one partial batch is last, so every other batch is a sorted group

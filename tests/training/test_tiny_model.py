import time

import pytest
import torch

from pixmo.cli import main as pixmo_main
from training.collator import MolmoCollator, loss_weighted, to_model_inputs
from training.tiny_model import IMAGE_SPECIAL_TOKENS, make_square_examples

pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = tmp_path_factory.mktemp("tiny")
    assert pixmo_main(["make-tiny-model", str(out), "--seed", "3"]) == 0
    return AutoModelForImageTextToText.from_pretrained(out), AutoProcessor.from_pretrained(out)


def test_loads_through_the_auto_classes_as_molmo2(tiny):
    model, processor = tiny
    assert type(model).__name__ == "Molmo2ForConditionalGeneration"
    assert type(processor).__name__ == "Molmo2Processor"
    assert model.num_parameters() < 2_000_000


def test_image_tokens_lie_above_the_text_vocabulary_and_match_the_config(tiny):
    model, processor = tiny
    vocab = model.config.text_config.vocab_size
    ids = {token: processor.tokenizer.convert_tokens_to_ids(token) for token in IMAGE_SPECIAL_TOKENS}
    assert min(ids.values()) >= vocab
    assert max(ids.values()) < vocab + model.config.text_config.additional_vocab_size
    assert model.config.image_patch_id == ids["<im_patch>"]
    assert model.config.image_start_token_id == ids["<im_start>"]
    assert model.config.low_res_image_start_token_id == ids["<low_res_im_start>"]
    assert model.config.image_end_token_id == ids["<im_end>"]
    # end of turn must be predictable by the head
    assert processor.tokenizer.eos_token_id < vocab


def test_digits_are_one_token_each(tiny):
    _, processor = tiny
    for number in ("7", "245", "1000", "0908"):
        tokens = processor.tokenizer.tokenize(f"x {number} y")
        digits = [t.lstrip("Ġ") for t in tokens if any(ch.isdigit() for ch in t)]
        assert digits == list(number), tokens


def test_every_synthetic_kind_is_a_word_a_token_in_prompts_and_answers(tiny):
    from pixmo.points import format_points
    from pixmo.synth.shapes import COLORS, SHAPES

    _, processor = tiny
    for color in COLORS:
        for shape in SHAPES:
            prompt = processor.tokenizer.tokenize(f"How many {color} {shape}s are there?")
            assert prompt[2:4] == [f"Ġ{color}", f"Ġ{shape}s"], prompt
            answer = processor.tokenizer.tokenize(format_points([(10.0, 20.0)], f"{color} {shape}"))
            assert [color, f"Ġ{shape}"] == answer[answer.index('">') + 1:][:2], answer


def test_initialised_so_image_features_reach_the_language_model(tiny):
    model, _ = tiny
    adapter = model.model.multi_modal_projector.image_projector.gate_proj.weight
    assert adapter.std().item() == pytest.approx(0.1, rel=0.1)
    assert model.model.vision_tower.positional_embedding.std().item() == pytest.approx(0.4, rel=0.1)


def test_a_patch_column_and_row_are_linear_in_its_position_embedding(tiny):
    model, _ = tiny
    embedding = model.model.vision_tower.positional_embedding.detach().double()
    side = int(embedding.shape[0] ** 0.5)
    rows, cols = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    targets = torch.stack([cols.flatten(), rows.flatten()], dim=1).double()
    features = torch.cat([embedding, torch.ones(len(embedding), 1, dtype=torch.float64)], dim=1)
    # Fit on every other patch, read the rest: a code that only names each patch cannot do this.
    train, held_out = slice(0, None, 2), slice(1, None, 2)
    solution = torch.linalg.lstsq(features[train], targets[train]).solution
    error = (features[held_out] @ solution - targets[held_out]).abs().max().item()
    assert error < 1.0, f"a held-out patch's column or row is misread by {error:.2f} patches"


def test_one_crop_of_112_px_gives_32_image_tokens_and_a_step_is_fast(tiny):
    model, processor = tiny
    collator = MolmoCollator(processor, model.config.text_config.vocab_size, max_length=256)
    batch = collator(make_square_examples(8, seed=0))
    patches = (batch["input_ids"] == model.config.image_patch_id).sum(dim=1)
    assert patches.tolist() == [32] * 8
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    inputs = to_model_inputs(batch)
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        loss = loss_weighted(model(**inputs).logits, batch["labels"], batch["loss_weights"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        timings.append(time.perf_counter() - start)
    assert min(timings) < 1.0, timings


def test_same_seed_same_weights(tmp_path):
    from safetensors.torch import load_file

    from training.tiny_model import make_tiny_model

    first = load_file(make_tiny_model(tmp_path / "a", seed=1) / "model.safetensors")
    second = load_file(make_tiny_model(tmp_path / "b", seed=1) / "model.safetensors")
    other = load_file(make_tiny_model(tmp_path / "c", seed=2) / "model.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)

"""Format plus collate on one core: all annotations of an image in one length-grouped sequence, against random
batches of single annotations (each annotation with its own copy of the image), in one run.

    python benchmarks/collate.py [--images 300] [--batch-size 16] [--seed 0]

Rows are synthetic but shaped like the built subsets (pixmo-points with 1-10 labels per image and up to 20
points per label, pixmo-cap captions of 300-2,000 characters with 0-3 transcripts, pixmo-ask-model-anything
questions, pixmo-count) and go through the subsets' own `format_group`. The processor is the tiny Molmo2's
(`pixmo make-tiny-model`: 112 px, one crop, 32 image tokens), so the image share of a sequence is smaller than
with Molmo2-4B's up to 8 crops of 378 px; the ratio of useful tokens is what is compared.

The 4D attention mask is not part of the timing: it is built from the batch's `segment_ids` on the accelerator
(`training.collator.to_model_inputs`), not in the data loader.

Printed: examples/s and useful tokens/s of format plus collate (useful: the trained answer tokens, labels not
-100), the share of non-padding tokens in the batches, and the tokens the model has to run per useful token.
Targets: a non-padding share of at least 0.85, and at least 2x the baseline's useful tokens/s.
"""

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixmo.conversation import FormattedExample  # noqa: E402
from training.collator import IGNORE_INDEX, FormattedDataset, MolmoCollator  # noqa: E402
from training.tiny_model import make_tiny_model  # noqa: E402
from training.trainer import LengthGroupedSampler  # noqa: E402

WORDS = ("a red car parked near the old stone wall while two people walk a small brown dog past the shop "
         "window under a bright sky with clouds and a tall tree beside the road").split()


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def image_rows(rng: random.Random, index: int) -> tuple[str, list[dict]]:
    """One synthetic image and its rows in one subset's built schema."""
    size = (rng.randint(200, 900), rng.randint(200, 900))
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    url = f"https://example.com/{index}.jpg"
    sha = hashlib.sha256(url.encode()).hexdigest()
    kind = rng.choices(["pixmo_points", "pixmo_cap", "pixmo_ama", "pixmo_count"], weights=[4, 3, 2, 1])[0]
    base = {"image": image, "image_url": url, "image_sha256": sha}
    if kind == "pixmo_points":
        rows = []
        for _ in range(rng.randint(1, 10)):
            points = [{"x": rng.uniform(0, 100), "y": rng.uniform(0, 100)} for _ in range(rng.randint(1, 20))]
            rows.append({**base, "points": points, "count": len(points), "label": rng.choice(WORDS),
                         "collection_method": rng.choice(["pointing", "counting"])})
    elif kind == "pixmo_cap":
        caption = " ".join(sentence(rng, 8, 25) for _ in range(rng.randint(3, 12)))
        rows = [{**base, "caption": caption, "transcripts": [sentence(rng, 20, 60) for _ in range(rng.randint(0, 3))]}]
    elif kind == "pixmo_ama":
        rows = [{**base, "question": sentence(rng, 4, 15) + "?", "answer": sentence(rng, 3, 60)}
                for _ in range(rng.randint(1, 4))]
    else:
        xs = [rng.uniform(0, size[0]) for _ in range(rng.randint(0, 12))]
        rows = [{**base, "count": len(xs), "label": rng.choice(WORDS),
                 "points": {"x": xs, "y": [rng.uniform(0, size[1]) for _ in xs]}}]
    return kind, rows


def format_rows(kind: str, rows: list[dict], index: int) -> FormattedExample:
    import importlib

    formatter = importlib.import_module(f"{kind}.format")
    return formatter.format_group(rows, style="molmo2", seed=0, source=f"{kind}:{index}")


def run(batches, make_example, collator) -> dict:
    """Format and collate every batch; count examples, useful tokens, non-padding and total tokens."""
    totals = dict(examples=0, useful=0, real=0, total=0)
    start = time.perf_counter()
    for batch_items in batches:
        examples = [make_example(item) for item in batch_items]
        batch = collator(examples)
        real = int((batch["input_ids"] != collator.pad_token_id).sum())
        totals["examples"] += len(examples)
        totals["useful"] += int((batch["labels"] != IGNORE_INDEX).sum())
        totals["real"] += real
        totals["total"] += batch["input_ids"].numel()
    totals["seconds"] = time.perf_counter() - start
    return totals


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from transformers import AutoConfig, AutoProcessor

    with tempfile.TemporaryDirectory() as folder:
        make_tiny_model(folder)
        processor = AutoProcessor.from_pretrained(folder)
        vocab = AutoConfig.from_pretrained(folder).text_config.vocab_size
    rng = random.Random(args.seed)
    images = [image_rows(rng, i) for i in range(args.images)]
    collator = MolmoCollator(processor, vocab, max_length=args.max_length)

    # ours: one example per image with all its annotations, batches grouped by length
    start = time.perf_counter()
    dataset = FormattedDataset([format_rows(kind, rows, i) for i, (kind, rows) in enumerate(images)], collator)
    measuring = time.perf_counter() - start
    order = list(LengthGroupedSampler(dataset.lengths, args.batch_size, seed=args.seed))
    ours = run(chunks(order, args.batch_size), lambda i: format_rows(*images[i], i), collator)

    # baseline: every annotation alone (its own image encoding), in random order; each formatted from its own row
    singles = [(i, r, c) for i, (kind, rows) in enumerate(images) for r, row in enumerate(rows)
               for c in range(len(format_rows(kind, [row], i).conversations))]
    random.Random(args.seed).shuffle(singles)

    def single(item):
        kind, rows = images[item[0]]
        example = format_rows(kind, [rows[item[1]]], item[0])
        return FormattedExample(example.image, [example.conversations[item[2]]], example.source)

    baseline = run(chunks(singles, args.batch_size), single, collator)

    print(f"{args.images} images, {len(singles)} annotations, batch {args.batch_size}, one core")
    print("| batching | examples/s | useful tokens/s | non-padding share | tokens run per useful token |")
    print("|---|---|---|---|---|")
    for name, r in (("all annotations of an image, length-grouped", ours), ("single annotations, random", baseline)):
        print(f"| {name} | {r['examples'] / r['seconds']:.1f} | {r['useful'] / r['seconds']:,.0f} | "
              f"{r['real'] / r['total']:.3f} | {r['total'] / r['useful']:.2f} |")
    ratio = (ours["useful"] / ours["seconds"]) / (baseline["useful"] / baseline["seconds"])
    with_measuring = (ours["useful"] / (ours["seconds"] + measuring)) / (baseline["useful"] / baseline["seconds"])
    share = ours["real"] / ours["total"]
    print(f"\nuseful tokens/s: {ratio:.2f}x the baseline ({with_measuring:.2f}x counting the one-time measuring of "
          f"lengths, {measuring:.1f} s); tokens run per useful token: "
          f"{(baseline['total'] / baseline['useful']) / (ours['total'] / ours['useful']):.2f}x fewer")
    print(f"targets: non-padding share {share:.3f} >= 0.85: {'met' if share >= 0.85 else 'MISSED'}; "
          f"useful tokens/s {ratio:.2f}x >= 2x: {'met' if ratio >= 2 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`pixmo eval-captions`: score dense captions from a predictions file with CIDEr, ROUGE-L and a judge model.

The predictions file is a JSON list of objects, or JSON lines with one object a line:

```json
[
  {"image_url": "https://example.com/1.jpg", "prediction": "A red car ...", "reference": "A red car parked ..."},
  {"id": "cap-0002", "prediction": "Two dogs ...", "references": ["Two dogs run ...", "A pair of dogs ..."]}
]
```

Each object names its example by `id` or `image_url`, holds the model's caption in `prediction` and the
reference caption(s) in `reference` (a string) or `references` (a non-empty list of strings).

Exit status: 0 when every example was scored; 1 when the judge failed on some examples after its retries
(they are left out of the judge averages, counted as `judge_failed` and listed with their errors in the
metrics JSON; a rerun retries only them, since every successful judge call is cached); 2 for a bad
command line or predictions file.
"""

import argparse
import json
import logging
import textwrap
from pathlib import Path

logger = logging.getLogger(__name__)


class PredictionsFileError(ValueError):
    """A predictions file that is not a JSON list (or JSON lines) of prediction objects."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval-captions",
        help="score dense captions (CIDEr, ROUGE-L, judged statement F1) from a predictions file",
        description=_paragraphs(
            "Score dense captions against references. PREDICTIONS is a JSON list of objects, or JSON lines with "
            "one object a line: {\"id\" or \"image_url\", \"prediction\": str, \"reference\": str or "
            "\"references\": [str, ...]}. Prints a table of the means and writes everything to --out.\n\n"
            "The judge (statement precision, recall and F1) calls an OpenAI-compatible endpoint with the key in "
            "PIXMO_JUDGE_API_KEY or OPENAI_API_KEY; every usable reply is cached on disk, so a rerun sends only "
            "the calls it has not made yet."
        ),
        epilog=_paragraphs(
            "example: pixmo eval-captions preds.json --metrics all --judge-url http://127.0.0.1:8000/v1 "
            "--judge-model Qwen/Qwen2.5-72B-Instruct --out metrics.json\n\n"
            "exit status: 0 when every example was scored; 1 when the judge failed on some examples after its "
            "retries (left out of the judge averages, counted as judge_failed and listed in --out); 2 for a bad "
            "command line or predictions file."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("predictions", help="JSON list or JSON lines of {id or image_url, prediction, reference(s)}")
    parser.add_argument(
        "--metrics", default="all",
        help="'all' or a comma list of cider, rouge_l, judge (default: all; judge needs --judge-url and --judge-model)",
    )
    parser.add_argument("--judge-url", help="OpenAI-compatible base URL of the judge, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--judge-model", help="the judge model's name as the endpoint serves it")
    parser.add_argument(
        "--judge-cache", help="judge reply cache folder (default: $PIXMO_JUDGE_CACHE or ~/.cache/pixmo/judge)"
    )
    parser.add_argument("--no-judge-cache", action="store_true", help="neither read nor write the judge reply cache")
    parser.add_argument("--judge-timeout", type=float, default=60.0, help="seconds per judge request (default: 60)")
    parser.add_argument("--judge-retries", type=int, default=4, help="retries per judge request (default: 4)")
    parser.add_argument("--judge-concurrency", type=int, default=4, help="examples judged at once (default: 4)")
    parser.add_argument(
        "--judge-no-json-mode", action="store_true",
        help="do not send response_format=json_object (for servers that reject it)",
    )
    parser.add_argument("--out", help="write the metrics, per-example scores and judge failures to this JSON file")
    parser.set_defaults(func=run)


def _paragraphs(text: str) -> str:
    return "\n\n".join(textwrap.fill(p, width=100) for p in text.split("\n\n"))


def read_predictions(path) -> tuple[list[str], list[str], list[list[str]]]:
    """Read a predictions file (a JSON list, or JSON lines) into ids, predictions and references.

    Args:
        path (`str` or `Path`): the file; see the module docstring for its format.

    Returns:
        `tuple[list[str], list[str], list[list[str]]]`: the example ids, the predictions, and each example's
        references.

    Raises:
        `PredictionsFileError`: naming the entry and what is wrong with it.
    """
    text = Path(path).read_text(encoding="utf-8")
    entries = _parse_entries(text, path)
    if not entries:
        raise PredictionsFileError(f"{path}: no predictions. Expected a JSON list (or JSON lines) of objects.")
    ids, predictions, references = [], [], []
    for number, entry in entries:
        example_id, prediction, refs = _check_entry(entry, f"{path}: {number}")
        ids.append(example_id)
        predictions.append(prediction)
        references.append(refs)
    return ids, predictions, references


def _parse_entries(text: str, path) -> list[tuple[str, object]]:
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise PredictionsFileError(f"{path}: not valid JSON ({err}). Expected a JSON list of objects.") from err
        return [(f"entry {i}", entry) for i, entry in enumerate(data)]
    entries = []
    for line_number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append((f"line {line_number}", json.loads(line)))
        except json.JSONDecodeError as err:
            raise PredictionsFileError(
                f"{path}: line {line_number} is not JSON ({err.msg}). Expected a JSON list, or one JSON object a line."
            ) from err
    return entries


def _check_entry(entry, where: str) -> tuple[str, str, list[str]]:
    if not isinstance(entry, dict):
        raise PredictionsFileError(f"{where}: expected an object, got {type(entry).__name__}.")
    example_id = entry.get("id", entry.get("image_url"))
    if example_id is None:
        raise PredictionsFileError(f"{where}: needs an \"id\" or \"image_url\"; it has keys {sorted(entry)}.")
    prediction = entry.get("prediction")
    if not isinstance(prediction, str):
        raise PredictionsFileError(f"{where}: \"prediction\" must be a string, got {prediction!r:.80}.")
    refs = entry.get("references", entry.get("reference"))
    refs = [refs] if isinstance(refs, str) else refs
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise PredictionsFileError(
            f"{where}: needs \"reference\" (a non-empty string) or \"references\" (a non-empty list of non-empty "
            f"strings); got {refs!r:.80}."
        )
    return str(example_id), prediction, refs


def run(args: argparse.Namespace) -> int:
    from pixmo_cap.metrics import StatementJudge, parse_metric_names, score_captions

    try:
        names = parse_metric_names(args.metrics)
        ids, predictions, references = read_predictions(args.predictions)
    except (ValueError, OSError) as err:
        logger.error("%s", err)
        return 2
    judge = None
    if "judge" in names:
        if not args.judge_url or not args.judge_model:
            logger.error(
                "--metrics %s includes judge, which needs --judge-url (an OpenAI-compatible base URL such as "
                "http://127.0.0.1:8000/v1) and --judge-model. Pass both, or use --metrics cider,rouge_l.", args.metrics
            )
            return 2
        judge = StatementJudge(_make_client(args))
    result = score_captions(predictions, references, names, judge, ids, args.judge_concurrency)
    output = _output(args, names, judge, result)
    print(to_markdown(output))
    if args.out:
        Path(args.out).write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
        print(f"metrics written to {args.out}")
    failed = result["summary"].get("judge_failed", 0)
    if failed:
        logger.error(
            "The judge failed on %d of %d examples after retries; they are left out of the judge averages and "
            "listed under judge_failures%s. Rerun to retry them (successful calls are cached).",
            failed, len(predictions), f" in {args.out}" if args.out else "",
        )
        return 1
    return 0


def _make_client(args: argparse.Namespace):
    from ..judge import JudgeClient

    return JudgeClient(
        args.judge_url, args.judge_model, cache_dir=args.judge_cache, use_cache=not args.no_judge_cache,
        timeout=args.judge_timeout, max_retries=args.judge_retries, json_mode=not args.judge_no_json_mode,
    )


def _output(args: argparse.Namespace, names: list[str], judge, result: dict) -> dict:
    output = {"predictions": str(args.predictions), "metrics": names, "summary": result["summary"]}
    if judge is not None:
        client = judge.client
        output["judge"] = {
            "endpoint": client.endpoint, "model": client.model, "cache": client.cache_root,
            "requests_sent": client.requests_sent, "cache_hits": client.cache_hits,
        }
        output["judge_failures"] = result["judge_failures"]
    output["per_example"] = result["per_example"]
    return output


def to_markdown(output: dict) -> str:
    """The summary as a table a person reads, with the judge's request and cache counts."""
    lines = ["| metric | value |", "|---|---|"]
    for name, value in output["summary"].items():
        shown = "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else f"{value:,}"
        lines.append(f"| {name} | {shown} |")
    judge = output.get("judge")
    if judge:
        lines.append(
            f"\njudge {judge['model']} at {judge['endpoint']}: {judge['requests_sent']:,} requests sent, "
            f"{judge['cache_hits']:,} replies from the cache"
        )
    return "\n".join(lines)

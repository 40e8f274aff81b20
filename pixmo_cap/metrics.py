"""Dense-caption scores for pixmo-cap: judged statement precision, recall and F1, CIDEr and ROUGE-L.

This file is an `evaluate` module as well as a plain Python module (`evaluate` copies it to its cache
before importing it, so every import here is absolute):

```python
import evaluate

metric = evaluate.load("/abs/path/to/pixmo_cap/metrics.py")
metric.compute(
    predictions=["A red car is parked on a street."],
    references=[["A red car parked by the curb on a quiet street."]],
    metrics="all",                           # or "cider,rouge_l", "judge", ...
    judge_url="http://127.0.0.1:8000/v1",    # any OpenAI-compatible endpoint
    judge_model="Qwen/Qwen2.5-72B-Instruct",
)
```

The judge (as in the Molmo dense-caption evaluation): a judge model splits the reference and the
prediction into atomic statements, then says which prediction statements the reference supports
(precision) and which reference statements the prediction supports (recall); F1 is their harmonic mean.
With several references, the prediction's statements are judged against all references together, and
recall pools the statements of every reference. An empty prediction scores 0. An example whose judge
calls still fail after the client's retries is left out of the judge averages and counted in
`judge_failed`; it is never scored as a zero.

CIDEr (CIDEr-D, n-grams 1-4, sigma 6, as in the COCO caption evaluation) uses `pycocoevalcap`'s scorer;
its document frequencies come from the references of all examples scored together, so it is a corpus
score (one example alone always scores 0). ROUGE-L is `rouge-score`'s F-measure, the best over the
references. Both see text lower-cased with every run of characters other than a-z and 0-9 as a word
break (`rouge-score`'s tokenizer), in place of the Java PTB tokenizer of the COCO toolkit; scores can
differ from that toolkit's in the third decimal.
"""

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Optional, Union

import datasets
import evaluate
from pycocoevalcap.cider.cider_scorer import CiderScorer
from rouge_score import rouge_scorer, tokenizers
from tqdm.auto import tqdm

from pixmo.builder import MOLMO_CITATION
from pixmo.judge import JudgeClient, JudgeError, JudgeReplyError, parse_json_object

logger = logging.getLogger(__name__)

METRICS = ("cider", "rouge_l", "judge")

_DESCRIPTION = """\
Dense-caption scores: a judge model's statement precision, recall and F1 (through any OpenAI-compatible
endpoint, cached on disk), and the offline reference metrics CIDEr-D and ROUGE-L.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`): one caption per image.
    references (`list[list[str]]` or `list[str]`): the reference caption(s) of each image.
    metrics (`str` or `list[str]`, defaults to `"cider,rouge_l"`): `"all"` or a comma list of
        `cider`, `rouge_l`, `judge`.
    judge_url (`str`, *optional*): the OpenAI-compatible base URL of the judge; needed for `judge`.
    judge_model (`str`, *optional*): the judge model's name; needed for `judge`.
    judge_cache_dir (`str`, *optional*): where judge replies are cached; defaults to `$PIXMO_JUDGE_CACHE`
        or `~/.cache/pixmo/judge`.
    judge_timeout (`float`, defaults to `60.0`): seconds per judge request.
    judge_max_retries (`int`, defaults to `4`): retries per judge request.
    judge_concurrency (`int`, defaults to `4`): examples judged at once.
    judge_json_mode (`bool`, defaults to `True`): ask for `response_format={"type": "json_object"}`; turn off
        for a server that rejects it.
    ids (`list[str]`, *optional*): names of the examples, used in the failure list.
    return_per_example (`bool`, defaults to `False`): also return each example's scores.
Returns:
    `dict`: `cider`, `rouge_l`, `judge_precision`, `judge_recall`, `judge_f1` (each for the metrics asked),
    `judge_scored` and `judge_failed` (examples), `judge_failures` (`[{"id", "error"}]`), and
    `per_example` when asked.
"""

_CITATION = MOLMO_CITATION + """\
@inproceedings{vedantam2015cider,
  title={CIDEr: Consensus-based Image Description Evaluation},
  author={Vedantam, Ramakrishna and Zitnick, C. Lawrence and Parikh, Devi},
  booktitle={CVPR},
  year={2015}
}
@inproceedings{lin2004rouge,
  title={ROUGE: A Package for Automatic Evaluation of Summaries},
  author={Lin, Chin-Yew},
  booktitle={Text Summarization Branches Out},
  year={2004}
}
"""

# -- the judge's prompts ------------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You are a meticulous annotator who compares descriptions of images. You answer with one JSON object "
    "and nothing else."
)

SPLIT_PROMPT = """\
Break the image description below into atomic statements. An atomic statement is a short sentence that \
stands on its own and asserts exactly one fact about the image: an object, one of its attributes (colour, \
size, material, state), a count, a position or spatial relation, an action, or a piece of text visible \
in the image. Replace pronouns with what they refer to. Keep every fact the description asserts, add \
nothing, and leave out remarks that say nothing about the image.

Answer with one JSON object of the form {{"statements": ["...", "..."]}}.

<description>
{text}
</description>"""

SUPPORT_PROMPT = """\
Below is a description of an image, to be taken as true, and a numbered list of statements about the \
same image. For each statement, decide whether the description supports it: true when the description \
states it or clearly implies it; false when the description contradicts it or does not mention it.

Answer with one JSON object of the form {{"supported": [true, false, ...]}}: exactly {count} booleans, \
one per statement, in the order of the list.

<description>
{description}
</description>

<statements>
{statements}
</statements>"""


def _messages(prompt: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]


def parse_statements(reply: str) -> list[str]:
    """A split reply: `{"statements": [str, ...]}` with at least one non-empty statement."""
    statements = parse_json_object(reply, ("statements",))["statements"]
    if not isinstance(statements, list) or not all(isinstance(s, str) and s.strip() for s in statements):
        raise JudgeReplyError(f'"statements" must be a list of non-empty strings, got {statements!r:.200}')
    if not statements:
        raise JudgeReplyError("no statements for a non-empty description")
    return [s.strip() for s in statements]


def support_parser(count: int):
    """A parser for support replies: `{"supported": [bool, ...]}` with exactly `count` booleans."""

    def parse(reply: str) -> list[bool]:
        supported = parse_json_object(reply, ("supported",))["supported"]
        if not isinstance(supported, list) or not all(isinstance(s, bool) for s in supported):
            raise JudgeReplyError(f'"supported" must be a list of booleans, got {supported!r:.200}')
        if len(supported) != count:
            raise JudgeReplyError(f'"supported" has {len(supported)} booleans for {count} statements')
        return supported

    return parse


# -- the judge ----------------------------------------------------------------------------------------


@dataclass
class StatementScores:
    """One example's judged scores and the statement counts behind them."""

    precision: float
    recall: float
    f1: float
    prediction_statements: int
    supported_prediction_statements: int
    reference_statements: int
    supported_reference_statements: int


class StatementJudge:
    """Statement precision, recall and F1 of captions, from a judge model.

    Args:
        client (`JudgeClient`): the judge endpoint (retries, timeouts and the cache live there).
    """

    def __init__(self, client: JudgeClient):
        self.client = client

    def split(self, text: str) -> list[str]:
        """The atomic statements of `text` (none for an empty text, without asking the judge)."""
        if not text.strip():
            return []
        return self.client.complete(_messages(SPLIT_PROMPT.format(text=text.strip())), parse_statements)

    def supported(self, statements: list[str], description: str) -> list[bool]:
        """Which of `statements` `description` supports (none supported when the description is empty)."""
        if not statements or not description.strip():
            return [False] * len(statements)
        # One statement a line: a statement that spans lines would shift the numbering.
        numbered = "\n".join(f"{i}. {' '.join(s.split())}" for i, s in enumerate(statements, 1))
        prompt = SUPPORT_PROMPT.format(description=description.strip(), statements=numbered, count=len(statements))
        return self.client.complete(_messages(prompt), support_parser(len(statements)))

    def score(self, prediction: str, references: list[str]) -> StatementScores:
        """Judge one prediction against its references.

        Raises:
            `JudgeError`: when one of the judge calls failed for good.
        """
        prediction_statements = self.split(prediction)
        reference_statements = [s for reference in references for s in self.split(reference)]
        hits_prediction = sum(self.supported(prediction_statements, "\n\n".join(references)))
        hits_reference = sum(self.supported(reference_statements, prediction))
        precision = hits_prediction / len(prediction_statements) if prediction_statements else 0.0
        recall = hits_reference / len(reference_statements) if reference_statements else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return StatementScores(
            precision=precision,
            recall=recall,
            f1=f1,
            prediction_statements=len(prediction_statements),
            supported_prediction_statements=hits_prediction,
            reference_statements=len(reference_statements),
            supported_reference_statements=hits_reference,
        )


def judge_captions(
    predictions: Sequence[str],
    references: Sequence[list[str]],
    judge: StatementJudge,
    ids: Optional[Sequence[str]] = None,
    concurrency: int = 4,
    progress: bool = True,
) -> tuple[list[Optional[StatementScores]], list[dict]]:
    """Judge every example, `concurrency` at a time.

    Returns:
        `tuple[list[StatementScores | None], list[dict]]`: each example's scores (`None` where its judge calls
        failed for good) and the failures as `{"id", "error"}`.
    """
    ids = list(ids) if ids is not None else [str(i) for i in range(len(predictions))]

    def score_one(index: int) -> tuple[Optional[StatementScores], Optional[str]]:
        try:
            return judge.score(predictions[index], references[index]), None
        except JudgeError as err:
            logger.warning("Judge failed on example %s: %s", ids[index], err)
            return None, str(err)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(
            tqdm(pool.map(score_one, range(len(predictions))), total=len(predictions), desc="judging captions",
                 disable=not progress)
        )
    failures = [{"id": ids[i], "error": error} for i, (_, error) in enumerate(results) if error is not None]
    return [scores for scores, _ in results], failures


# -- reference metrics --------------------------------------------------------------------------------

_TOKENIZER = tokenizers.DefaultTokenizer(use_stemmer=False)


def normalize(text: str) -> str:
    """Lower-cased words of `text` joined by single spaces (`rouge-score`'s tokenizer)."""
    return " ".join(_TOKENIZER.tokenize(text))


def cider_scores(predictions: Sequence[str], references: Sequence[list[str]]) -> list[float]:
    """CIDEr-D of each example; document frequencies are taken over all the examples' references."""
    if len(predictions) < 2:
        logger.warning(
            "CIDEr weighs n-grams by their document frequency over the references of all examples; with %d "
            "example(s) every weight is zero and CIDEr is 0. Score the whole set together.", len(predictions)
        )
    scorer = CiderScorer(n=4, sigma=6.0)
    for prediction, refs in zip(predictions, references):
        scorer += (normalize(prediction), [normalize(r) for r in refs])
    if not any(ngrams for refs in scorer.crefs for ngrams in refs):
        return [0.0] * len(predictions)  # no words in any reference: the scorer cannot take a max of nothing
    _, scores = scorer.compute_score()
    return [float(s) for s in scores]


def rouge_l_scores(predictions: Sequence[str], references: Sequence[list[str]]) -> list[float]:
    """ROUGE-L F-measure of each example, the best over its references."""
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_TOKENIZER)
    return [scorer.score_multi(refs, pred)["rougeL"].fmeasure for pred, refs in zip(predictions, references)]


# -- everything together ------------------------------------------------------------------------------


def parse_metric_names(metrics: Union[str, Sequence[str]]) -> list[str]:
    """`"all"`, `"cider,rouge_l"` or `["judge"]` -> the metric names, in the order of `METRICS`."""
    names = [m.strip() for m in metrics.split(",")] if isinstance(metrics, str) else [m.strip() for m in metrics]
    names = [m for m in names if m]
    if "all" in names:
        return list(METRICS)
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f"metrics must be 'all' or a comma list of {', '.join(METRICS)}, got {metrics!r}")
    return [m for m in METRICS if m in names]


def _mean(values: list[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def score_captions(
    predictions: Sequence[str],
    references: Sequence[Union[str, list[str]]],
    metrics: Union[str, Sequence[str]] = "all",
    judge: Optional[StatementJudge] = None,
    ids: Optional[Sequence[str]] = None,
    judge_concurrency: int = 4,
    progress: bool = True,
) -> dict:
    """Score captions against references with the metrics asked for.

    Args:
        predictions (`Sequence[str]`): one caption per example.
        references (`Sequence[str | list[str]]`): each example's reference caption(s).
        metrics (`str` or `Sequence[str]`, defaults to `"all"`): `"all"` or names from `METRICS`.
        judge (`StatementJudge`, *optional*): needed when `judge` is among the metrics.
        ids (`Sequence[str]`, *optional*): example names for the failure list and per-example rows.
        judge_concurrency (`int`, defaults to `4`): examples judged at once.
        progress (`bool`, defaults to `True`): show a progress bar while judging.

    Returns:
        `dict`: `summary` (`num_examples` and the mean of each metric; for the judge also `judge_scored`
        and `judge_failed`, the means taken over scored examples only), `per_example` (one dict per
        example) and `judge_failures` (`[{"id", "error"}]`).
    """
    names = parse_metric_names(metrics)
    references = [[r] if isinstance(r, str) else list(r) for r in references]
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references; give one per example")
    if "judge" in names and judge is None:
        raise ValueError("the judge metric needs a judge: pass judge_url and judge_model (--judge-url, --judge-model)")
    ids = [str(i) for i in (ids if ids is not None else range(len(predictions)))]
    rows = [{"id": i} for i in ids]
    summary: dict = {"num_examples": len(predictions)}
    failures: list[dict] = []
    for name, scorer in (("cider", cider_scores), ("rouge_l", rouge_l_scores)):
        if name in names:
            values = scorer(predictions, references)
            summary[name] = _mean(values)
            for row, value in zip(rows, values):
                row[name] = value
    if "judge" in names:
        judged, failures = judge_captions(predictions, references, judge, ids, judge_concurrency, progress)
        _add_judge_scores(summary, rows, judged)
    return {"summary": summary, "per_example": rows, "judge_failures": failures}


def _add_judge_scores(summary: dict, rows: list[dict], judged: list[Optional[StatementScores]]) -> None:
    scored = [s for s in judged if s is not None]
    for field in ("precision", "recall", "f1"):
        summary[f"judge_{field}"] = _mean([getattr(s, field) for s in scored])
    summary["judge_scored"] = len(scored)
    summary["judge_failed"] = len(judged) - len(scored)
    for row, scores in zip(rows, judged):
        row["judge"] = asdict(scores) if scores is not None else None


# -- the evaluate module ------------------------------------------------------------------------------


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class PixMoCapMetrics(evaluate.Metric):
    """Dense-caption scores as an `evaluate` metric: see the module docstring."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.List(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
            reference_urls=["https://arxiv.org/abs/2409.17146", "https://github.com/salaniz/pycocoevalcap"],
        )

    def _compute(
        self,
        predictions,
        references,
        metrics: Union[str, Sequence[str]] = "cider,rouge_l",
        judge_url: Optional[str] = None,
        judge_model: Optional[str] = None,
        judge_cache_dir: Optional[str] = None,
        judge_timeout: float = 60.0,
        judge_max_retries: int = 4,
        judge_concurrency: int = 4,
        judge_json_mode: bool = True,
        ids: Optional[Sequence[str]] = None,
        return_per_example: bool = False,
    ) -> dict:
        judge = None
        if "judge" in parse_metric_names(metrics):
            if not judge_url or not judge_model:
                raise ValueError(
                    "the judge metric needs judge_url (an OpenAI-compatible base URL, http://host:port/v1) and "
                    f"judge_model; got judge_url={judge_url!r}, judge_model={judge_model!r}"
                )
            client = JudgeClient(judge_url, judge_model, cache_dir=judge_cache_dir, timeout=judge_timeout,
                                 max_retries=judge_max_retries, json_mode=judge_json_mode)
            judge = StatementJudge(client)
        result = score_captions(predictions, references, metrics, judge, ids, judge_concurrency)
        output = dict(result["summary"])
        if judge is not None:
            output["judge_failures"] = result["judge_failures"]
        if return_per_example:
            output["per_example"] = result["per_example"]
        return output

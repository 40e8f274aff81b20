"""Dense-caption metrics: CIDEr and ROUGE-L against hand-computed values, the judge against a local server."""

import math
from pathlib import Path

import evaluate
import pytest

import pixmo_cap.metrics
from pixmo.judge import JudgeClient, JudgeReplyError
from pixmo.testing.openai_server import OpenAICompatibleServer
from pixmo_cap.metrics import (
    StatementJudge,
    cider_scores,
    parse_metric_names,
    parse_statements,
    rouge_l_scores,
    score_captions,
    support_parser,
)

METRICS_PATH = str(Path(pixmo_cap.metrics.__file__).resolve())


@pytest.fixture
def server():
    with OpenAICompatibleServer() as running:
        yield running


@pytest.fixture
def judge(server, tmp_path):
    client = JudgeClient(server.url, "judge-model", cache_dir=tmp_path / "cache", backoff=0.01, max_retries=1)
    return StatementJudge(client)


# -- CIDEr --------------------------------------------------------------------------------------------


def test_cider_identical_scores_the_maximum_and_disjoint_scores_zero():
    references = [["a red car parked outside"], ["two small dogs playing"], ["an old stone bridge"]]
    assert cider_scores([r[0] for r in references], references) == pytest.approx([10.0, 10.0, 10.0])
    disjoint = ["green hills under clouds", "a wooden table top", "the night sky stars"]
    assert cider_scores(disjoint, references) == [0.0, 0.0, 0.0]


def test_cider_by_hand():
    # Two images, so every reference n-gram has idf log(2). Second image, n = 1..4: the prediction shares
    # 3 of 4 unigrams (its unseen "x" also weighs log 2), 2 of 3 bigrams, 1 of 2 trigrams, no 4-gram;
    # equal lengths, so no length penalty: 10 * mean(3/4, 2/3, 1/2, 0).
    scores = cider_scores(["a b c d", "e f g x"], [["a b c d"], ["e f g h"]])
    assert scores == pytest.approx([10.0, 10 * (3 / 4 + 2 / 3 + 1 / 2 + 0) / 4])


def test_cider_ignores_case_and_punctuation():
    references = [["A red car, parked outside."], ["Two small dogs playing!"]]
    predictions = ["a red car parked outside", "TWO small dogs playing"]
    assert cider_scores(predictions, references) == pytest.approx([10.0, 10.0])


def test_cider_of_one_example_is_zero_and_says_why(caplog):
    assert cider_scores(["a red car parked outside"], [["a red car parked outside"]]) == [0.0]
    assert "document frequency" in caplog.text


# -- ROUGE-L ------------------------------------------------------------------------------------------


def test_rouge_l_identical_disjoint_and_by_hand():
    assert rouge_l_scores(["the cat sat on the mat"], [["The cat sat on the mat."]]) == [pytest.approx(1.0)]
    assert rouge_l_scores(["green hills"], [["the cat sat on the mat"]]) == [0.0]
    # LCS 5 of a 5-word prediction and a 6-word reference: P = 1, R = 5/6, F = 10/11.
    assert rouge_l_scores(["the cat on the mat"], [["the cat sat on the mat"]]) == [pytest.approx(10 / 11)]


def test_rouge_l_takes_the_best_reference():
    scores = rouge_l_scores(["the cat on the mat"], [["green hills", "the cat sat on the mat"]])
    assert scores == [pytest.approx(10 / 11)]


# -- the judge ----------------------------------------------------------------------------------------


def test_judge_counts_supported_statements(judge, server):
    prediction = "A red car is parked on the street. A dog sleeps nearby."
    reference = "A red car is parked on the street. The sky is blue. Trees line the road."
    scores = judge.score(prediction, [reference])
    # The server supports a statement when half its content words are in the other text: the car only.
    assert (scores.prediction_statements, scores.supported_prediction_statements) == (2, 1)
    assert (scores.reference_statements, scores.supported_reference_statements) == (3, 1)
    assert scores.precision == pytest.approx(1 / 2)
    assert scores.recall == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert server.request_count == 4  # two splits, two support checks


def test_judge_identical_is_perfect_and_empty_prediction_is_zero(judge, server):
    text = "A red car is parked on the street. The sky is blue."
    perfect = judge.score(text, [text])
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    before = server.request_count
    empty = judge.score("  ", [text])
    assert (empty.precision, empty.recall, empty.f1, empty.prediction_statements) == (0.0, 0.0, 0.0, 0)
    assert server.request_count == before  # the reference split was cached; nothing to ask for the empty one


def test_judge_pools_reference_statements(judge):
    scores = judge.score("A red car is parked.", ["A red car is parked.", "The sky is blue."])
    assert (scores.reference_statements, scores.supported_reference_statements) == (2, 1)
    assert (scores.precision, scores.recall) == (1.0, 0.5)


def test_statements_that_span_lines_keep_the_numbering(judge):
    scores = judge.score("A red car is parked.", ["A red car\nis parked. The sky is blue."])
    assert (scores.reference_statements, scores.supported_reference_statements) == (2, 1)
    assert scores.precision == 1.0


def test_failed_examples_are_counted_not_scored_as_zero(judge, server):
    server.fail_matching("purple", "http_500")
    predictions = ["A red car is parked on the street.", "A purple bus drives by.", "The sky is blue."]
    references = ["A red car is parked on the street.", "A bus drives by.", "The sky is blue today."]
    result = score_captions(predictions, references, "judge", judge, ids=["a", "b", "c"], progress=False)
    summary = result["summary"]
    assert (summary["judge_scored"], summary["judge_failed"]) == (2, 1)
    assert summary["judge_precision"] == pytest.approx(1.0)  # the mean of a and c only: b is no zero
    assert [f["id"] for f in result["judge_failures"]] == ["b"]
    assert "HTTP 500" in result["judge_failures"][0]["error"]
    assert result["per_example"][1]["judge"] is None
    assert result["per_example"][0]["judge"]["f1"] == 1.0


def test_all_failed_gives_no_average(judge, server):
    server.fail_matching("description", "malformed_reply")
    result = score_captions(["A red car."], ["A red car."], "judge", judge, progress=False)
    assert result["summary"]["judge_failed"] == 1
    assert result["summary"]["judge_f1"] is None


def test_a_second_run_sends_nothing(judge, server, tmp_path):
    predictions = ["A red car is parked. A dog sleeps.", "Two dogs play in the park."]
    references = [["A red car is parked."], ["A cat sleeps on a sofa."]]
    first = score_captions(predictions, references, "judge", judge, progress=False)
    sent = server.request_count
    again = StatementJudge(JudgeClient(server.url, "judge-model", cache_dir=tmp_path / "cache"))
    second = score_captions(predictions, references, "judge", again, progress=False)
    assert sent == 8 and server.request_count == sent
    assert second == first


@pytest.mark.parametrize(
    "reply", ['{"statements": []}', '{"statements": ["ok", ""]}', '{"statements": "one"}', '{"statements": [1]}']
)
def test_statement_replies_are_checked(reply):
    with pytest.raises(JudgeReplyError):
        parse_statements(reply)


@pytest.mark.parametrize("reply", ['{"supported": [true]}', '{"supported": [true, "yes"]}', '{"supported": [1, 0]}'])
def test_support_replies_are_checked(reply):
    with pytest.raises(JudgeReplyError):
        support_parser(2)(reply)
    assert support_parser(2)('{"supported": [true, false]}') == [True, False]


# -- everything together and the evaluate module ------------------------------------------------------


def test_metric_names():
    assert parse_metric_names("all") == ["cider", "rouge_l", "judge"]
    assert parse_metric_names("rouge_l, cider") == ["cider", "rouge_l"]
    for bad in ("bleu", "", "cider,meteor"):
        with pytest.raises(ValueError, match="comma list of cider, rouge_l, judge"):
            parse_metric_names(bad)


def test_score_captions_needs_a_judge_for_judge():
    with pytest.raises(ValueError, match="--judge-url"):
        score_captions(["a"], ["a"], "all")


def test_evaluate_loads_the_module_from_its_path(server, tmp_path):
    metric = evaluate.load(METRICS_PATH)
    predictions = ["a red car parked outside", "green hills under clouds"]
    references = [["a red car parked outside"], ["two small dogs playing"]]
    result = metric.compute(predictions=predictions, references=references, return_per_example=True)
    assert result["cider"] == pytest.approx(5.0)
    assert result["rouge_l"] == pytest.approx(0.5)
    assert [row["rouge_l"] for row in result["per_example"]] == [pytest.approx(1.0), 0.0]

    judged = metric.compute(
        predictions=predictions, references=[r[0] for r in references], metrics="judge",
        judge_url=server.url, judge_model="judge-model", judge_cache_dir=str(tmp_path / "cache"),
    )
    assert judged["judge_precision"] == pytest.approx(0.5)
    assert (judged["judge_scored"], judged["judge_failed"], judged["judge_failures"]) == (2, 0, [])
    assert "cider" not in judged and not math.isnan(judged["judge_f1"])

    with pytest.raises(ValueError, match="judge_url"):
        metric.compute(predictions=predictions, references=references, metrics="all")

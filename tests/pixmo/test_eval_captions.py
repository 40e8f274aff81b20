"""`pixmo eval-captions` end to end: a predictions file in tmp_path, a judge server on 127.0.0.1."""

import json
import logging

import pytest

from pixmo.cli import main
from pixmo.commands.eval_captions import PredictionsFileError, read_predictions
from pixmo.testing.openai_server import OpenAICompatibleServer

ENTRIES = [
    {
        "image_url": "https://example.com/car.jpg",
        "prediction": "A red car is parked on the street. A dog sleeps nearby.",
        "reference": "A red car is parked on the street. The sky is blue.",
    },
    {
        "id": "bridge",
        "prediction": "An old stone bridge crosses a river.",
        "references": ["An old stone bridge crosses a wide river.", "A bridge made of stone spans the water."],
    },
    {"id": "dogs", "prediction": "Two dogs play in the park.", "reference": "A grey cat sleeps on a sofa."},
]


@pytest.fixture
def server():
    with OpenAICompatibleServer() as running:
        yield running


@pytest.fixture
def predictions_file(tmp_path):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(ENTRIES))
    return path


def judge_args(server, tmp_path) -> list[str]:
    return ["--judge-url", server.url, "--judge-model", "judge-model", "--judge-cache", str(tmp_path / "cache")]


def test_reference_metrics_table_and_json(predictions_file, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main(["eval-captions", str(predictions_file), "--metrics", "cider,rouge_l", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| rouge_l |" in printed and "| cider |" in printed and "judge" not in printed
    metrics = json.loads(out.read_text())
    assert metrics["metrics"] == ["cider", "rouge_l"]
    assert metrics["summary"]["num_examples"] == 3
    assert [row["id"] for row in metrics["per_example"]] == ["https://example.com/car.jpg", "bridge", "dogs"]
    assert metrics["per_example"][2]["rouge_l"] == 0.0  # no word in common
    assert 0 < metrics["summary"]["rouge_l"] < 1
    assert metrics["summary"]["cider"] == pytest.approx(sum(r["cider"] for r in metrics["per_example"]) / 3)


def test_all_metrics_with_the_judge_and_a_free_rerun(predictions_file, server, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    args = ["eval-captions", str(predictions_file), "--metrics", "all", "--out", str(out)]
    args += judge_args(server, tmp_path)
    assert main(args) == 0
    first = json.loads(out.read_text())
    summary = first["summary"]
    assert set(summary) >= {"cider", "rouge_l", "judge_precision", "judge_recall", "judge_f1"}
    assert (summary["judge_scored"], summary["judge_failed"], first["judge_failures"]) == (3, 0, [])
    assert first["per_example"][0]["judge"]["precision"] == 0.5
    assert first["per_example"][2]["judge"]["f1"] == 0.0
    sent = server.request_count
    assert first["judge"]["requests_sent"] == sent > 0

    assert main(args) == 0
    second = json.loads(out.read_text())
    assert server.request_count == sent, "a rerun must be answered from the cache"
    assert second["judge"]["requests_sent"] == 0 and second["judge"]["cache_hits"] == sent
    assert second["summary"] == summary
    assert "0 requests sent" in capsys.readouterr().out


def test_judge_failures_are_reported_and_exit_non_zero(predictions_file, server, tmp_path, caplog):
    server.fail_matching("bridge", "http_500")
    server.fail_next("http_429", times=2)  # transient: retried away
    out = tmp_path / "metrics.json"
    args = ["eval-captions", str(predictions_file), "--metrics", "judge", "--out", str(out), "--judge-retries", "2",
            *judge_args(server, tmp_path)]
    with caplog.at_level(logging.ERROR):
        assert main(args) == 1
    metrics = json.loads(out.read_text())
    assert (metrics["summary"]["judge_scored"], metrics["summary"]["judge_failed"]) == (2, 1)
    assert [f["id"] for f in metrics["judge_failures"]] == ["bridge"]
    assert metrics["per_example"][1]["judge"] is None
    scored = [metrics["per_example"][i]["judge"]["f1"] for i in (0, 2)]
    assert metrics["summary"]["judge_f1"] == pytest.approx(sum(scored) / 2)
    assert "judge failed on 1 of 3 examples" in caplog.text

    server.clear_failures()  # the judge is healthy again: the rerun asks only for what failed
    before = server.request_count
    assert main(args) == 0
    assert json.loads(out.read_text())["summary"]["judge_failed"] == 0
    assert server.request_count - before == 5  # bridge: three splits and two support checks


def test_judge_without_url_or_model_says_so(predictions_file, server, caplog):
    assert main(["eval-captions", str(predictions_file), "--metrics", "judge", "--judge-model", "m"]) == 2
    assert "needs --judge-url" in caplog.text
    assert main(["eval-captions", str(predictions_file)]) == 2  # all includes judge
    assert server.request_count == 0


def test_json_lines_are_accepted(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in ENTRIES) + "\n\n")
    ids, predictions, references = read_predictions(path)
    assert ids == ["https://example.com/car.jpg", "bridge", "dogs"]
    assert predictions[2] == "Two dogs play in the park."
    assert references[0] == ["A red car is parked on the street. The sky is blue."]
    assert len(references[1]) == 2


@pytest.mark.parametrize(
    "content, problem",
    [
        ('[{"prediction": "a", "reference": "b"}]', 'entry 0: needs an "id" or "image_url"'),
        ('[{"id": 1, "prediction": 3, "reference": "b"}]', '"prediction" must be a string'),
        ('[{"id": 1, "prediction": "a", "references": []}]', 'needs "reference"'),
        ('[{"id": 1, "prediction": "a", "reference": "  "}]', 'needs "reference"'),
        ('{"id": 1, "prediction": "a", "reference": "b"}\n{"id": 2,', "line 2 is not JSON"),
        ("[1, 2]", "entry 0: expected an object"),
        ("[]", "no predictions"),
        ('[{"id": 1,', "not valid JSON"),
    ],
)
def test_bad_predictions_files_name_the_problem(tmp_path, content, problem, caplog):
    path = tmp_path / "predictions.json"
    path.write_text(content)
    with pytest.raises(PredictionsFileError, match=problem):
        read_predictions(path)
    assert main(["eval-captions", str(path), "--metrics", "rouge_l"]) == 2
    assert problem.split(":")[-1].strip() in caplog.text

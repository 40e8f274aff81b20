"""The judge client against a real OpenAI-compatible server on 127.0.0.1: retries, timeouts, cache and key."""

import logging
import time

import pytest

from pixmo.judge import JudgeClient, JudgeError, JudgeReplyError, chat_completions_url, parse_json_object
from pixmo.testing.openai_server import OpenAICompatibleServer

SPLIT = [{"role": "user", "content": "<description>\nA red car. A blue sky.\n</description>"}]


def statements(reply: str) -> list[str]:
    return parse_json_object(reply, ("statements",))["statements"]


@pytest.fixture
def server():
    with OpenAICompatibleServer() as running:
        yield running


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch):
    monkeypatch.delenv("PIXMO_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def make_client(server, tmp_path, **kwargs) -> JudgeClient:
    options = {"cache_dir": tmp_path / "cache", "backoff": 0.01, "timeout": 5.0}
    return JudgeClient(server.url, "judge-model", **{**options, **kwargs})


def cached_files(tmp_path) -> list:
    return sorted((tmp_path / "cache").rglob("*.json"))


def test_reply_parsed_and_second_client_served_from_disk(server, tmp_path):
    first = make_client(server, tmp_path)
    assert first.complete(SPLIT, statements) == ["A red car.", "A blue sky."]
    assert server.request_count == 1 and first.requests_sent == 1

    second = make_client(server, tmp_path)  # a new process would see the same files
    assert second.complete(SPLIT, statements) == ["A red car.", "A blue sky."]
    assert server.request_count == 1
    assert (second.requests_sent, second.cache_hits) == (0, 1)
    assert len(cached_files(tmp_path)) == 1


def test_cache_is_keyed_by_model_and_prompt(server, tmp_path):
    make_client(server, tmp_path).complete(SPLIT, statements)
    other_model = JudgeClient(server.url, "another-model", cache_dir=tmp_path / "cache")
    other_model.complete(SPLIT, statements)
    other_prompt = [{"role": "user", "content": "<description>\nA green tree.\n</description>"}]
    assert make_client(server, tmp_path).complete(other_prompt, statements) == ["A green tree."]
    assert server.request_count == 3
    assert len(cached_files(tmp_path)) == 3


def test_no_cache_sends_every_time(server, tmp_path):
    client = make_client(server, tmp_path, use_cache=False)
    client.complete(SPLIT, statements)
    client.complete(SPLIT, statements)
    assert server.request_count == 2
    assert not cached_files(tmp_path)


def test_500s_are_retried(server, tmp_path):
    server.fail_next("http_500", times=2)
    assert make_client(server, tmp_path, max_retries=2).complete(SPLIT, statements) == ["A red car.", "A blue sky."]
    assert [r.answered_with for r in server.requests] == ["http_500", "http_500", "ok"]


def test_persistent_500s_fail_after_the_retries(server, tmp_path):
    server.fail_matching("red car", "http_500")
    with pytest.raises(JudgeError, match="after 3 attempts.*HTTP 500"):
        make_client(server, tmp_path, max_retries=2).complete(SPLIT, statements)
    assert server.request_count == 3
    assert not cached_files(tmp_path)


def test_429_waits_for_retry_after(tmp_path):
    with OpenAICompatibleServer(retry_after="1") as server:
        server.fail_next("http_429")
        start = time.monotonic()
        make_client(server, tmp_path).complete(SPLIT, statements)
        elapsed = time.monotonic() - start
    assert elapsed >= 0.9, "the client must wait the Retry-After the server asked for"
    assert [r.answered_with for r in server.requests] == ["http_429", "ok"]


def test_far_future_retry_after_is_cut(tmp_path, caplog):
    with OpenAICompatibleServer(retry_after="86400") as server:
        server.fail_next("http_429")
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="pixmo.judge"):
            make_client(server, tmp_path, max_retry_after=0.2).complete(SPLIT, statements)
        assert time.monotonic() - start < 5
    assert "asked to wait 86400 s" in caplog.text


def test_timeouts_are_retried_then_reported(tmp_path):
    with OpenAICompatibleServer(delay=1.5) as server:
        server.fail_matching("red car", "timeout")
        with pytest.raises(JudgeError, match="no reply within 0.2 s"):
            make_client(server, tmp_path, timeout=0.2, max_retries=1).complete(SPLIT, statements)
        assert server.request_count == 2


def test_a_timeout_then_a_reply(tmp_path):
    with OpenAICompatibleServer(delay=1.5) as server:
        server.fail_next("timeout")
        assert make_client(server, tmp_path, timeout=0.3).complete(SPLIT, statements) == ["A red car.", "A blue sky."]
        assert server.request_count == 2


def test_malformed_bodies_and_replies_are_retried_and_never_cached(server, tmp_path):
    server.fail_next("malformed_body")
    server.fail_next("malformed_reply")
    client = make_client(server, tmp_path, max_retries=2)
    assert client.complete(SPLIT, statements) == ["A red car.", "A blue sky."]
    assert server.request_count == 3
    assert len(cached_files(tmp_path)) == 1  # only the good reply

    server.fail_matching("green", "malformed_reply")
    with pytest.raises(JudgeError, match="unusable reply: not JSON"):
        client.complete([{"role": "user", "content": "<description>\ngreen\n</description>"}], statements)
    assert len(cached_files(tmp_path)) == 1


def test_wrong_key_is_not_retried_and_never_logged(tmp_path, monkeypatch, caplog):
    with OpenAICompatibleServer(api_key="sk-right-0123") as server:
        monkeypatch.setenv("PIXMO_JUDGE_API_KEY", "sk-wrong-4567")
        client = make_client(server, tmp_path)
        with caplog.at_level(logging.DEBUG), pytest.raises(JudgeError, match="HTTP 401.*PIXMO_JUDGE_API_KEY") as err:
            client.complete(SPLIT, statements)
        assert server.request_count == 1  # a 401 does not get better by asking again
        assert "sk-wrong" not in caplog.text + str(err.value) + repr(client)

        monkeypatch.setenv("PIXMO_JUDGE_API_KEY", "sk-right-0123")
        assert make_client(server, tmp_path).complete(SPLIT, statements) == ["A red car.", "A blue sky."]
        assert server.requests[-1].authorization == "Bearer sk-right-0123"
    assert not any("sk-" in path.read_text() for path in cached_files(tmp_path))


def test_openai_key_is_the_fallback(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    make_client(server, tmp_path).complete(SPLIT, statements)
    assert server.requests[-1].authorization == "Bearer sk-openai"
    assert server.requests[-1].model == "judge-model"


def test_request_body_and_json_mode(server, tmp_path):
    make_client(server, tmp_path, temperature=0.0, max_tokens=64).complete(SPLIT, statements)
    body = server.requests[-1].body
    assert (body["model"], body["messages"], body["temperature"], body["max_tokens"]) == ("judge-model", SPLIT, 0.0, 64)
    assert body["response_format"] == {"type": "json_object"}
    make_client(server, tmp_path, max_tokens=64, json_mode=False).complete(SPLIT, statements)
    assert "response_format" not in server.requests[-1].body
    assert server.request_count == 2  # json mode is part of the request, so part of the cache key


def test_unreachable_server_is_reported(tmp_path):
    with OpenAICompatibleServer() as server:
        url = server.url
    client = JudgeClient(url, "judge-model", cache_dir=tmp_path / "cache", backoff=0.01, max_retries=1)
    with pytest.raises(JudgeError, match="cannot connect"):
        client.complete(SPLIT, statements)


def test_endpoint_url_forms():
    assert chat_completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"
    with pytest.raises(ValueError, match="endpoint URL and a model"):
        JudgeClient("http://h:1/v1", "")


@pytest.mark.parametrize(
    "reply, expected",
    [
        ('{"statements": ["a"]}', {"statements": ["a"]}),
        ('```json\n{"statements": ["a"]}\n```', {"statements": ["a"]}),
        ('  {"statements": []}\n', {"statements": []}),
    ],
)
def test_parse_json_object_accepts(reply, expected):
    assert parse_json_object(reply, ("statements",)) == expected


@pytest.mark.parametrize(
    "reply, problem",
    [
        ('Here you go: {"statements": ["a"]}', "not JSON"),
        ('{"statements": ["a"]} Hope this helps!', "not JSON"),
        ('["a", "b"]', "expected a JSON object"),
        ('{"facts": ["a"]}', "lacks"),
        ('```json\n{"statements": ["a"]}', "unclosed code fence"),
    ],
)
def test_parse_json_object_is_strict(reply, problem):
    with pytest.raises(JudgeReplyError, match=problem):
        parse_json_object(reply, ("statements",))

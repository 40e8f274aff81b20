"""Fixtures shared by the tests of the Hub paths."""

import logging

import pytest


@pytest.fixture()
def captured(caplog, capsys, request):
    """Everything a user could see (logs at every level, stdout and stderr), as a function that returns it so far;
    at the end, neither of the test module's tokens (`WRITE_TOKEN`, `READ_TOKEN`) may appear in it."""
    caplog.set_level(logging.DEBUG)
    texts = []

    def read():
        out, err = capsys.readouterr()
        texts.extend([out, err])
        return "".join(texts) + caplog.text

    yield read
    everything = read()
    for token in (request.module.WRITE_TOKEN, request.module.READ_TOKEN):
        assert token not in everything

"""A request body the API cannot read is a 422 naming the problem (and its path), never a 500."""
from __future__ import annotations

import pytest

from halyard.api.server import create_app

from .test_api import FakeBackend, call


@pytest.fixture
def api():
    return create_app(FakeBackend())


@pytest.mark.parametrize("body, problem", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply (more than 100 levels of lists and mappings)"),  # was a 500
    (b'{"id": "/x", "cmd": "y", "cpus": NaN}', "cpus: NaN is not a number JSON allows (not a finite number)"),
    (b'{"id": "/x", "cmd": "y", "mem": 1e309}', "mem: number out of range (not a finite number)"),
    (b'{"id": "/x", "cmd": "\\ud800"}', "cmd: '\\ud800' holds a lone UTF-16 surrogate (not valid Unicode)"),
    (b'{"id": "/caf\xe9"}', "not UTF-8 text: byte 0xe9 at line 1, column 13 (expected UTF-8)"),
])
def test_an_unreadable_body_is_a_422_naming_the_problem(api, body, problem):
    status, answer = call(api, "POST", "/v2/apps", body)
    assert status == 422 and answer["problems"] == [problem]
    assert call(api, "GET", "/v2/apps")[1]["apps"] == []


def test_a_key_given_twice_counts_once_with_its_last_value_as_marathon_reads_it(api):
    status, answer = call(api, "POST", "/v2/apps", b'{"id": "/x", "cmd": "y", "cpus": 7, "cpus": 0.1, "mem": 32}')
    assert status == 201 and answer["cpus"] == 0.1

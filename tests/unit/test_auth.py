"""Who may call the API: bearer tokens, read-write or read-only."""
from __future__ import annotations

import pytest

from halyard.api.auth import check_token

TOKENS = {"rw-token": "rw", "ro-token": "ro"}


@pytest.mark.parametrize("method, path, header, auth_reads, expected", [
    ("POST", "/v2/apps", None, False, 401),
    ("POST", "/v2/apps", "Bearer nope", False, 401),
    ("POST", "/v2/apps", "Basic rw-token", False, 401),
    ("POST", "/v2/apps", "Bearer ro-token", False, 403),
    ("DELETE", "/v2/apps/x", "Bearer ro-token", False, 403),
    ("POST", "/v2/apps", "Bearer rw-token", False, None),
    ("POST", "/v2/apps", "token=rw-token", False, None),     # DC/OS's scheme (marathon-python's auth_token)
    ("POST", "/v2/apps", "token=ro-token", False, 403),
    ("POST", "/v2/apps", "token=", False, 401),
    ("GET", "/v2/apps", None, False, None),
    ("GET", "/v2/apps", None, True, 401),
    ("GET", "/v2/apps", "Bearer ro-token", True, None),
    ("GET", "/ping", None, True, None),
    ("GET", "/v1/executor/0123abcd/halyard-executor.pyz", None, True, None),  # agents fetch it without a token
    ("POST", "/v1/jobs/etl/runs", "Bearer ro-token", False, 403),
    ("DELETE", "/v1/jobs/etl/runs/r1", None, False, 401),
    ("GET", "/v1/jobs/etl/runs/r1/stdout", None, True, 401),
])
def test_tokens(method, path, header, auth_reads, expected):
    refused = check_token(method, path, header, TOKENS, auth_reads)
    assert (refused.status_code if refused is not None else None) == expected


def test_no_tokens_configured_means_no_auth():
    assert check_token("POST", "/v2/apps", None, {}, True) is None

"""Checking fetched files against the sha256 their URI carries (``...?sha256=HEX`` or
``...#sha256:HEX``) before the task's command starts.

Mesos' fetcher checks no content hash, so the check runs in the task itself: a shell prefix that
compares ``sha256sum`` of each fetched file (in the sandbox, the command's working directory) with
its expected hash and exits 97 naming the file on a mismatch, so the task fails (and its
deployment with it) instead of running an artifact that is not the one released.
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from urllib.parse import urlparse

from ..releases.images import uri_checksum
from ..spec.app import FetchUri

MISMATCH_EXIT = 97


def fetched_name(fetch: FetchUri) -> str:
    """The file the fetcher writes in the sandbox (``destPath``, else the URI path's last part)."""
    return fetch.dest_path or os.path.basename(urlparse(fetch.uri).path) or "download"


def output_file(fetch: FetchUri) -> str | None:
    """The ``output_file`` to give Mesos' fetcher: ``destPath``, or for a URI carrying a checksum its
    plain name (Mesos' fetcher names files after the URI as if it were a path, query and fragment
    included; the check must find the file under the name it expects)."""
    if fetch.dest_path:
        return fetch.dest_path
    return fetched_name(fetch) if uri_checksum(fetch.uri) else None


def check_prefix(fetches: Sequence[FetchUri]) -> str | None:
    """The shell that checks every fetched file carrying a sha256 (None: nothing to check)."""
    checks = []
    for fetch in fetches:
        expected = uri_checksum(fetch.uri)
        if expected is None:
            continue
        name = shlex.quote(fetched_name(fetch))
        message = shlex.quote(f"{fetched_name(fetch)}: sha256 mismatch (expected {expected}); not starting")
        checks.append(f'[ "$(sha256sum {name} | cut -d" " -f1)" = {expected} ] '
                      f'|| {{ echo {message} >&2; exit {MISMATCH_EXIT}; }}')
    return "; ".join(checks) if checks else None


def checked_command(cmd: str, fetches: Sequence[FetchUri]) -> str:
    """``cmd`` run only once every fetched file with a sha256 matches it."""
    prefix = check_prefix(fetches)
    return f"{prefix}; {cmd}" if prefix else cmd

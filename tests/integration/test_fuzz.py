"""No request can crash the server: schemathesis fuzzes a live scheduler against its OpenAPI document."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .harness import SchedulerProc, clean_shutdown, unique
from .v1client import until

pytestmark = pytest.mark.integration
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def test_fuzzing_the_openapi_document_finds_no_server_error(cluster, tmp_path):
    name = unique("halyard-test")
    s = SchedulerProc(cluster, unique("halyard-test"), name, tmp_path).start()
    try:
        until(s.leading, 30, what="leader")
        proc = subprocess.run(
            [SCHEMATHESIS, "run", s.url + "/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "25", "--generation-deterministic", "--request-timeout", "20",
             # the event stream never ends; abdication would hand the API to nobody mid-run
             "--exclude-path", "/v2/events", "--exclude-path", "/v2/leader"],
            capture_output=True, text=True, timeout=600)
        summary = proc.stdout[-1500:]
        assert proc.returncode == 0, summary
        assert "passed" in summary and "generated" in summary
        print("\n" + summary.split("Test cases:")[-1].strip().splitlines()[0])
    finally:
        clean_shutdown(cluster, name, [s])

"""The README's run command: `make run` (scripts/run-local.sh) on the real cluster, end to end
(`make run HA=1`: test_make_run_ha.py)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .harness import framework, free_port, teardown, unique
from .v1client import until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_run_local_deploys_the_app_runs_the_job_and_cleans_up(cluster):
    name = unique("halyard-make-run")
    listen = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "HALYARD_LISTEN": listen, "HALYARD_CHROOT": name, "HALYARD_NAME": name}
    try:
        proc = subprocess.run([str(ROOT / "scripts" / "run-local.sh"), "--once"], capture_output=True, text=True,
                              timeout=300, env=env, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        lines = proc.stdout.splitlines()  # the dashboard's URL first, once the scheduler leads
        dashboard = f"Dashboard:     http://{listen}/ui/"
        assert dashboard in lines and lines.index(dashboard) < lines.index("Halyard is running on a local Mesos cluster.")
        assert proc.stdout.count("-> hello from 127.0.0.") == 2  # both instances answered
        assert "report done on" in proc.stdout and "greeting: hello" in proc.stdout  # the job's own output
        assert "FINISHED (exited with status 0)" in proc.stderr
        fw = framework(cluster, name)
        assert fw is not None and fw["tasks"] == []  # the app was removed; the job ended
    finally:
        teardown(cluster, name)
        until(lambda: framework(cluster, name) is None, 30, what="framework torn down")


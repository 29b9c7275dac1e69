"""The chaos soak (bench/soak.py) for 3 minutes with a fixed seed: no violation, at least 5
faults, and nothing of its private cluster left behind -- even when it fails."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .harness import processes_mentioning

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PORT = 15450   # the soak's private cluster (its default ports): never the shared one's


def _listening(port: int) -> bool:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    return f":{port} " in out


def run_soak(work: Path, *args: str) -> tuple[int, int, str]:
    """bench/soak.py with ``args`` in ``work``: (faults, violations, its output without log lines);
    asserts it ended with its summary line and exit status 0. Its private cluster is down after
    it, whatever happened."""
    argv = [sys.executable, str(ROOT / "bench" / "soak.py"), *args, "--work-dir", str(work), "--keep"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ})
    try:
        out, _ = proc.communicate(timeout=15 * 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)   # the soak stops its schedulers and its cluster on SIGTERM
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        # Whatever happened: the private cluster is down (down is idempotent on a stopped cluster).
        subprocess.run([str(ROOT / "minimesos" / "down")], env={**os.environ, "MINIMESOS_RUN_DIR": str(work / "run")},
                       capture_output=True, timeout=300)
    tail = "\n".join(out.splitlines()[-60:])
    last = out.strip().splitlines()[-1]
    match = re.fullmatch(r"soak: (\d+) faults, (\d+) violations", last)
    assert match, tail
    assert proc.returncode == 0 and match.group(2) == "0", tail
    return int(match.group(1)), int(match.group(2)), "\n".join(line for line in out.splitlines()
                                                                if not re.match(r"^\d{4}-", line))


def assert_nothing_left(work: Path, *ports: int) -> None:
    for port in ports:
        assert not _listening(port), port
    deadline = time.monotonic() + 30   # executors the agents' shutdown signalled may take a moment
    while processes_mentioning(str(work)) and time.monotonic() < deadline:
        time.sleep(1)
    assert processes_mentioning(str(work)) == []


def test_a_three_minute_soak_with_seed_7_finds_no_violation(tmp_path):
    work = tmp_path / "soak"
    faults, _, table = run_soak(work, "--minutes", "3", "--seed", "7")
    assert faults >= 5, table
    print("\n" + table)
    assert_nothing_left(work, PORT, 12581)

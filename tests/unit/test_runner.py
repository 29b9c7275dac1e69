"""The job runner, without Mesos: exit codes, signals, timeouts, kills that reach the whole group."""
from __future__ import annotations

import os
import signal
import threading
import time

from halyard_executor.runner import JobRunner


def run(command, **kw):
    runner = JobRunner(command, **kw)
    runner.start()
    return runner, runner.wait()


def test_exit_codes_and_output_in_files(tmp_path):
    _, ok = run("echo hello; echo oops >&2", stdout=str(tmp_path / "stdout"), stderr=str(tmp_path / "stderr"))
    assert ok.succeeded and ok.exit_code == 0 and ok.message() == "exited with status 0"
    assert (tmp_path / "stdout").read_text() == "hello\n" and (tmp_path / "stderr").read_text() == "oops\n"
    _, three = run("exit 3")
    assert not three.succeeded and three.exit_code == 3 and three.message() == "exited with status 3"
    _, argv = run(["sh", "-c", "exit 4"])
    assert argv.exit_code == 4


def test_env_and_cwd(tmp_path):
    _, outcome = run('test "$GREETING" = hi && test "$(pwd)" = "$EXPECTED"', env={"GREETING": "hi",
                     "EXPECTED": str(tmp_path), "PATH": os.environ["PATH"]}, cwd=str(tmp_path))
    assert outcome.succeeded


def test_a_signal_is_reported():
    _, outcome = run("kill -9 $$")
    assert outcome.signal == signal.SIGKILL and outcome.message() == "killed by signal 9 (SIGKILL)"


def test_timeout_fails_the_job_and_ends_it_with_sigterm_then_sigkill():
    t0 = time.monotonic()
    _, outcome = run("trap '' TERM; sleep 30", timeout=0.5, grace=0.5)
    assert outcome.timed_out and not outcome.succeeded and outcome.message(0.5) == "timed out after 0.5s"
    assert outcome.signal == signal.SIGKILL and time.monotonic() - t0 < 5  # SIGTERM was ignored


def test_kill_reaches_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child"
    runner = JobRunner(f"sleep 60 & echo $! > {pidfile}; wait")
    runner.start()
    deadline = time.monotonic() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    threading.Timer(0.1, runner.kill, kwargs={"grace": 1}).start()
    outcome = runner.wait()
    assert outcome.killed and outcome.signal == signal.SIGTERM
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        stat = open(f"/proc/{child}/stat").read()
        if stat[stat.rindex(")") + 2] == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the job's child survived the kill")

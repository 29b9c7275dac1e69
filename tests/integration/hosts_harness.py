"""Schedulers on the hosts of a ``minimesos/up --hosts`` cluster (see minimesos/README.md)."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from .conftest import MINIMESOS, minimesos, read_env
from .harness import HALYARD, STARTED, SchedulerProc
from .v1client import until


class HostedScheduler(SchedulerProc):
    """A ``halyard scheduler`` on a host of the cluster, through ``minimesos/host exec`` (the
    process is Halyard's own: ``host exec`` and nsenter exec it)."""

    def __init__(self, cluster: dict, chroot: str, name: str, log_dir, *extra: str, host: str = "",
                 address: str = "", port: int | None = None):
        """``host`` and ``address``: where it runs (default: ``cluster['SCHED_HOST']`` and
        ``cluster['SCHED_ADDRESS']``); ``cluster['env']``: the environment minimesos runs with;
        ``port``: the API's (default: a free one)."""
        super().__init__(cluster, chroot, name, log_dir, *extra, port=port)
        self.host = host or cluster["SCHED_HOST"]
        self.address = address or cluster["SCHED_ADDRESS"]
        self.url = f"http://{self.address}:{self.port}"

    def start(self) -> HostedScheduler:
        argv = [str(MINIMESOS / "host"), "exec", self.host, "--", HALYARD, "scheduler",
                "--master", self.cluster["MESOS_MASTER"], "--zk", f"{self.cluster['ZK']}/{self.chroot}",
                "--listen", f"{self.address}:{self.port}", "--name", self.name,
                "--unreachable-grace", "2s", "--zk-session-timeout", "4s", *self.extra]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **self.cluster["env"]})
        STARTED.append(self)
        until(lambda: requests.get(self.url + "/ping", timeout=1).ok, 30, what=f"scheduler {self.url} API")
        return self


@contextmanager
def hosted_cluster(run: Path, up: Sequence[str], added: Sequence[str] = (), **env: str) -> Iterator[dict]:
    """``minimesos/up --hosts ...`` (``up``) in the run dir ``run``, with the hosts ``added`` made
    for schedulers: cluster.env's values, ``env`` (what minimesos was run with) and ``added`` (host
    -> address). Healed and brought down after (also when ``up`` fails half way)."""
    env = {"MINIMESOS_RUN_DIR": str(run), **env}

    def down() -> None:
        subprocess.run([str(MINIMESOS / "net"), "heal"], env={**os.environ, **env}, capture_output=True)
        subprocess.run([str(MINIMESOS / "down")], env={**os.environ, **env}, capture_output=True, timeout=300)
    try:
        minimesos(*up, env=env, timeout=600)
    except AssertionError:
        down()
        raise
    try:
        hosts = dict(minimesos("host", "add", name, env=env).stdout.split() for name in added)
        yield {**read_env(run / "cluster.env"), "env": env, "added": hosts}
    finally:
        down()


def says_it_leads(s: HostedScheduler) -> bool | None:
    """What ``/v1/stats`` answers (None: no answer within 5 s, which says nothing)."""
    try:
        return bool(s.stats()["leader"])
    except (requests.RequestException, ValueError):
        return None

"""`deploy` through the pipeline on the local cluster and its registry (minimesos/up first).
Not a test: prints figures.

    .venv/bin/python bench/deploy.py [--rounds 20]

Prints the time a deploy spends on digest resolution (the scheduler's HEAD to the registry, as
recorded in the release, and the same request timed from here over --rounds), and the wall time
of `deploy hello 1 dev`, `deploy hello 1 staging` and `promote hello staging production` for
examples/services/hello.yaml (production: 3 instances, UNIQUE hostname, health-checked).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from halyard.releases.digests import RegistryResolver  # noqa: E402
from halyard.releases.images import parse_image  # noqa: E402
from tests.integration.conftest import MINIMESOS, read_env  # noqa: E402
from tests.integration.harness import SchedulerProc, clean_shutdown, unique  # noqa: E402
from tests.integration.v1client import until  # noqa: E402

LOGS = Path("/tmp/halyard-bench")
LOGS.mkdir(exist_ok=True)
BIN = Path(sys.executable).parent
SERVICES = ROOT / "examples" / "services"


def timed(*argv: str) -> float:
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HALYARD_SERVICES": str(SERVICES)})
    took = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return took


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args(argv)
    cluster = read_env(MINIMESOS / ".run" / "cluster.env")
    if "REGISTRY" not in cluster:
        raise SystemExit("no REGISTRY in cluster.env: minimesos/registry start")
    resolver, ref = RegistryResolver(), parse_image(f"{cluster['REGISTRY']}/busybox:1")
    heads = [resolver.resolve(ref).seconds * 1000 for _ in range(args.rounds)]
    print(f"digest resolution (HEAD {ref}), from here: median {statistics.median(heads):.1f} ms, "
          f"max {max(heads):.1f} ms over {args.rounds}")
    name = unique("halyard-bench-deploy")
    s = SchedulerProc(cluster, unique("halyard-bench-deploy"), name, LOGS).start()
    try:
        until(s.leading, 30)
        api = ["--api", s.url]
        steps = [("deploy hello 1 dev", timed("halyard", "deploy", "hello", "1", "dev", *api)),
                 ("deploy hello 1 staging", timed("halyard", "deploy", "hello", "1", "staging", *api)),
                 ("promote hello staging production", timed("halyard", "promote", "hello", "staging", "production",
                                                            *api))]
        for what, took in steps:
            print(f"{what:<34} {took:6.1f} s")
        print(f"{'dev -> staging -> production':<34} {sum(t for _, t in steps):6.1f} s")
        recorded = [r["resolveSeconds"] for r in requests.get(s.url + "/v1/releases?service=hello", timeout=5)
                    .json()["releases"] if r["resolveSeconds"] is not None]
        print(f"digest resolution in the scheduler (per release that resolved a tag): "
              f"{', '.join(f'{x * 1000:.1f} ms' for x in recorded)} (a promotion reuses staging's digest: none)")
    finally:
        clean_shutdown(cluster, name, [s])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

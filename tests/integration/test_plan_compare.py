"""``POST /v1/plan?compare=`` and ``halyard plan --compare --master`` against the live cluster:
the same apps under each strategy, one row each; a dry run, nothing changes."""
from __future__ import annotations

import json
import subprocess

import pytest
import requests

from .harness import HALYARD, sleep_app, unique

pytestmark = pytest.mark.integration

KEYS = ["strategy", "placed", "unplaced", "agents_used", "lower_bound", "max_min_per_agent", "max_min_per_zone",
        "largest_fit", "seconds"]


def test_compare_strategies_on_the_live_cluster(sched, cluster, tmp_path):
    app_id = unique("/compare/web")
    body = sleep_app(app_id, 3, cpus=0.1, mem=32)
    resp = requests.post(sched.url + "/v1/plan", params={"compare": "binpack,spread,random"}, json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    rows = {r["strategy"]: r for r in resp.json()["strategies"]}
    assert list(rows) == ["binpack", "spread", "random"] and all(list(r) == KEYS for r in rows.values())
    assert all(r["placed"] == 3 and r["unplaced"] == 0 and r["lower_bound"] == 1 for r in rows.values())
    assert rows["spread"]["agents_used"] == 3 and rows["spread"]["max_min_per_agent"] == 0
    assert rows["binpack"]["agents_used"] <= rows["spread"]["agents_used"]
    assert set(rows["binpack"]["largest_fit"]) == {"cpus", "mem"}
    bad = requests.post(sched.url + "/v1/plan", params={"compare": "binpack,nope"}, json=body, timeout=30)
    assert bad.status_code == 422 and "unknown strategy 'nope'" in bad.json()["problems"][0]
    assert requests.get(sched.url + f"/v2/apps{app_id}", timeout=10).status_code == 404  # a dry run

    app_file = tmp_path / "app.json"
    app_file.write_text(json.dumps(body))
    strategies = tmp_path / "strategies.yaml"
    strategies.write_text("zonal: {name: weighted, args: {scorers: [{name: binpack, weight: 1},"
                          " {name: spread, weight: 100}]}}\n")
    proc = subprocess.run([HALYARD, "plan", str(app_file), "--master", cluster["MESOS_MASTER"], "--compare",
                           "binpack,zonal", "--strategies", str(strategies), "-o", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    cli_rows = {r["strategy"]: r for r in json.loads(proc.stdout)["strategies"]}
    assert cli_rows["zonal"]["agents_used"] == 3 and cli_rows["binpack"]["placed"] == 3

"""``halyard plan --compare`` and ``POST /v1/plan?compare=``: the same apps under each strategy."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from halyard.cli.main import main
from halyard.placement import PlacementRequest, Planner, StrategyRegistry
from halyard.placement.compare import compare, lower_bound
from halyard.spec.app import StrategyRef

from .builders import agent, app

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["strategy", "placed", "unplaced", "agents_used", "lower_bound", "max_min_per_agent", "max_min_per_zone",
        "largest_fit", "seconds"]


def _agents():
    return [agent(f"a{i}", cpus=4, mem=4096, zone=f"z{i % 2}") for i in range(4)]


def test_each_strategy_gets_its_row_of_figures():
    spec = app("/w", instances=4, cpus=1, mem=512)
    rows = compare(Planner(StrategyRegistry()), _agents(), [PlacementRequest(spec.workload(), 4)],
                   [("binpack", StrategyRef(name="binpack")), ("spread", StrategyRef(name="spread"))])
    binpack, spread = rows
    assert (binpack.placed, binpack.unplaced, binpack.agents_used, binpack.lower_bound) == (4, 0, 1, 1)
    assert (binpack.max_min_per_agent, binpack.max_min_per_zone) == (4, 4)
    assert binpack.largest_fit == (4.0, 4096.0)  # three agents stay empty
    assert (spread.agents_used, spread.max_min_per_agent, spread.max_min_per_zone) == (4, 0, 0)
    assert spread.largest_fit == (3.0, 3584.0)  # every agent lost a task's worth
    assert list(binpack.to_json()) == KEYS and binpack.to_json()["largest_fit"] == {"cpus": 4.0, "mem": 4096.0}
    assert binpack.seconds >= 0


def test_unplaced_running_instances_and_static_constraints_count():
    agents = [agent("a0", cpus=1, mem=1024, tasks={"/w": 1}, attrs={"rack": "r1"}),
              agent("a1", cpus=1, mem=1024, attrs={"rack": "r1"}), agent("a2", cpus=8, mem=8192, attrs={"rack": "r2"})]
    spec = app("/w", instances=4, cpus=1, mem=512, constraints=[["rack", "IS", "r1"]])
    [row] = compare(Planner(StrategyRegistry()), agents, [PlacementRequest(spec.workload(), 3)],
                    [("spread", StrategyRef(name="spread"))])
    # a0 runs one (its 1 CPU still free here) and takes one more, a1 one; a2 is not allowed, so
    # one waits. Max - min per agent is over a0 and a1 only: 2 - 1.
    assert (row.placed, row.unplaced, row.agents_used, row.max_min_per_agent) == (2, 1, 2, 1)
    assert lower_bound(agents, [PlacementRequest(spec.workload(), 3)]) == 1  # 4 cpus fit on the 8-CPU agent


def test_cli_compare_prints_a_row_per_strategy_and_json(tmp_path, capsys):
    cluster = str(ROOT / "examples" / "cluster.yaml")
    app_file = tmp_path / "app.yaml"
    app_file.write_text("id: /w\ncmd: x\ncpus: 0.5\nmem: 256\ninstances: 3\n")
    assert main(["plan", str(app_file), "--cluster", cluster, "--compare", "binpack,spread,random"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["STRATEGY", "PLACED", "UNPLACED"] and [l.split()[0] for l in out[1:]] == [
        "binpack", "spread", "random"]
    assert main(["plan", str(app_file), "--cluster", cluster, "--compare", "binpack,spread", "-o", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [list(s) for s in body["strategies"]] == [KEYS, KEYS]
    assert [(s["strategy"], s["placed"], s["agents_used"]) for s in body["strategies"]] == [("binpack", 3, 2),
                                                                                           ("spread", 3, 3)]


def test_cli_compare_takes_a_strategy_by_name_from_a_file(tmp_path, capsys):
    cluster = str(ROOT / "examples" / "cluster.yaml")
    app_file = tmp_path / "app.yaml"
    app_file.write_text("id: /w\ncmd: x\ncpus: 0.1\nmem: 32\ninstances: 3\n")
    strategies = tmp_path / "strategies.yaml"
    strategies.write_text("zonal: {name: weighted, args: {scorers: [{name: binpack, weight: 1},"
                          " {name: spread, weight: 100, by: '@zone'}]}}\npacked: binpack\n")
    assert main(["plan", str(app_file), "--cluster", cluster, "--compare", "packed,zonal",
                 "--strategies", str(strategies), "-o", "json"]) == 0
    rows = {s["strategy"]: s for s in json.loads(capsys.readouterr().out)["strategies"]}
    assert rows["packed"]["agents_used"] == 1 and rows["zonal"]["max_min_per_zone"] == 0
    strategies.write_text("zonal: {name: weighted, args: {scorers: [{name: binpack, weight: 0}]}}\n")
    assert main(["plan", str(app_file), "--cluster", cluster, "--compare", "zonal", "--strategies",
                 str(strategies)]) == 1
    assert "zonal.strategy.args.scorers[0].weight" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--compare", "binpack,nope"], "unknown strategy 'nope'"),
    (["--compare", "binpack,binpack"], "listed twice"),
    (["--compare", "binpack", "--strategy", "spread"], "not both"),
    (["--strategies", "x.yaml"], "goes with --compare"),
])
def test_cli_compare_refuses_bad_input(tmp_path, capsys, argv, message):
    app_file = tmp_path / "app.yaml"
    app_file.write_text("id: /w\ncmd: x\n")
    assert main(["plan", str(app_file), "--cluster", str(ROOT / "examples" / "cluster.yaml"), *argv]) != 0
    captured = capsys.readouterr()
    assert message in captured.err + captured.out


def test_api_compare(monkeypatch):
    from halyard.api.server import create_app

    from .test_api import MASTER_STATE, FakeBackend, call

    backend = FakeBackend()
    monkeypatch.setattr(backend, "state", lambda: json.loads(MASTER_STATE.read_text()))
    api = create_app(backend)
    body = {"id": "/w", "cmd": "y", "cpus": 0.1, "mem": 16, "instances": 3}
    status, result = call(api, "POST", "/v1/plan", body, query="compare=binpack,spread")
    assert status == 200, result
    assert [s["strategy"] for s in result["strategies"]] == ["binpack", "spread"]
    assert [list(s) for s in result["strategies"]] == [KEYS, KEYS]
    assert result["strategies"][0]["placed"] == result["strategies"][1]["placed"]
    status, result = call(api, "POST", "/v1/plan", body, query="compare=binpack,nope")
    assert status == 422 and "unknown strategy 'nope'" in result["problems"][0]
    status, result = call(api, "POST", "/v1/plan", body, query="compare=binpack&strategy=spread")
    assert status == 422 and "not both" in result["problems"][0]

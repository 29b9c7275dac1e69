"""The local registry piece of minimesos (no process started): its config, cluster.env line and
place in the cluster's process list."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

MINIMESOS = Path(__file__).resolve().parents[2] / "minimesos"
sys.path.insert(0, str(MINIMESOS))

import registry_proc  # noqa: E402
from cluster import Cluster, Config, default_agents  # noqa: E402


def test_cluster_env_names_the_registry_and_up_down_know_its_process(tmp_path):
    config = Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", []))
    assert "REGISTRY=127.0.0.1:5000" in config.env_lines()
    assert "REGISTRY=127.0.0.1:5000" not in Config(run_dir=str(tmp_path), docker=False).env_lines()
    names = [p.name for p in Cluster(config).all_procs()]
    assert names.index("registry") < names.index("dockerd")  # stopped before dockerd, after the agents
    proc = registry_proc.proc(tmp_path)
    assert proc.argv == ["/usr/bin/docker-registry", "serve", str(tmp_path / "registry" / "config.yml")]


def test_registry_start_adds_its_line_to_cluster_env_once(tmp_path):
    env = tmp_path / "cluster.env"
    env.write_text("MESOS_MASTER=http://127.0.0.1:5050\nREGISTRY=old\n")
    registry_proc.add_env_line(env)
    registry_proc.add_env_line(env)
    assert env.read_text() == "MESOS_MASTER=http://127.0.0.1:5050\nREGISTRY=127.0.0.1:5000\n"
    assert 'addr: "127.0.0.1:5000"' in registry_proc.CONFIG.format(root="/r", address=registry_proc.address())


def test_a_cluster_on_another_master_port_has_its_registry_beside_it(tmp_path):
    config = Config(run_dir=str(tmp_path), master_port=15050)
    assert config.registry_port == 15000 and "REGISTRY=127.0.0.1:15000" in config.env_lines()


def test_down_finds_and_stops_executors_no_agent_owns_any_more(tmp_path):
    """Found by the chaos soak: an executor an agent recovered after `agent restart` is
    re-parented to init, so stopping the agents left it (and its task) running after `down`."""
    import subprocess

    config = Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", []), docker=False)
    cluster = Cluster(config)
    sandbox = Path(cluster.run) / "agent1" / "sandbox"
    sandbox.mkdir(parents=True)
    stray = subprocess.Popen(["sleep", "60"], cwd=sandbox)   # as a recovered executor's task works in its sandbox
    try:
        assert cluster.strays() == [stray.pid]
        assert f"process {stray.pid} working in {cluster.run}" in cluster.leftovers()
        left = cluster.down()   # (ports of the shared cluster on the default ports may be listening: not ours)
        assert not [line for line in left if "process" in line] and stray.wait(10) == -9
    finally:
        if stray.poll() is None:
            stray.kill()


def test_an_agent_whose_recovery_failed_is_started_again(tmp_path, monkeypatch):
    """Mesos' Docker recovery lists containers, then inspects each: one removed in between makes the
    agent exit ("Failed to perform recovery"); `agent start` starts it again, and says so. Any other
    exit is reported with the agent's own reason. (A script stands in for the agent.)"""
    starts = tmp_path / "starts"
    launcher = tmp_path / "agent.sh"
    launcher.write_text("#!/bin/sh\necho x >> %s\nif [ $(wc -l < %s) -eq 1 ]; then\n"
                        "  echo 'E1202 slave.cpp:8355] EXIT with status 1: Failed to perform recovery: Docker ps batch failed'\n"
                        "  exit 1\nfi\nexec sleep 30\n" % (starts, starts))
    launcher.chmod(0o755)
    config = Config(run_dir=str(tmp_path / "run"), agents=default_agents(1, 5050, "cpus:1", []), docker=False,
                    launcher=str(launcher))
    cluster = Cluster(config)
    monkeypatch.setattr(Cluster, "registered_agents",
                        lambda self: {"127.0.0.1": {}} if cluster.agent(1).alive() and starts.exists()
                        and len(starts.read_text().split()) == 2 else {})
    try:
        cluster.start_agent(1)
        assert len(starts.read_text().split()) == 2
    finally:
        cluster.agent(1).stop(timeout=5)


def test_an_agent_that_exits_for_another_reason_is_not_started_again(tmp_path, monkeypatch):
    launcher = tmp_path / "agent.sh"
    launcher.write_text("#!/bin/sh\necho 'E1202 slave.cpp:1] EXIT with status 1: bad flag'\nexit 1\n")
    launcher.chmod(0o755)
    config = Config(run_dir=str(tmp_path / "run"), agents=default_agents(1, 5050, "cpus:1", []), docker=False,
                    launcher=str(launcher))
    monkeypatch.setattr(Cluster, "registered_agents", lambda self: {})
    with pytest.raises(SystemExit, match="agent 1 exited: .*bad flag"):
        Cluster(config).start_agent(1)

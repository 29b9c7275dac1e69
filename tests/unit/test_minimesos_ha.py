"""The HA pieces of minimesos (no process started): ports of the members, zoo.cfg, what
ZooKeeper's ``srvr`` says, cluster.env, the process list and the member a command names."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

MINIMESOS = Path(__file__).resolve().parents[2] / "minimesos"
sys.path.insert(0, str(MINIMESOS))

import cli  # noqa: E402
import members  # noqa: E402
from cluster import Cluster, Config, default_agents  # noqa: E402

ZK3 = "127.0.0.1:12281,127.0.0.1:12282,127.0.0.1:12283"


def ha_config(tmp_path: Path, **kw) -> Config:
    return Config(run_dir=str(tmp_path), master_port=16050, zk_port=12281, masters=3, zookeepers=3,
                  agents=default_agents(2, 16050, "cpus:1", [], 41000), **kw)


def test_member_ports_never_meet_the_agents_the_registry_or_each_other():
    assert members.master_ports(5050, 3) == [5050, 5150, 5250]
    assert members.master_ports(5050, 1) == [5050]
    servers = members.zk_servers(2181, 3)
    assert [(s.client_port, s.peer_port, s.election_port) for s in servers] == [
        (2181, 3181, 4181), (2182, 3182, 4182), (2183, 3183, 4183)]
    assert members.zk_hosts(servers) == "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183"
    assert servers[0].ports(ensemble=False) == {2181}
    agents = {5050 + k for k in range(1, 21)}
    ports = set(members.master_ports(5050, 7)) | {p for s in members.zk_servers(2181, 7) for p in s.ports(True)}
    assert len(ports) == 7 + 21 and not ports & (agents | {5000})
    assert [members.quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_zoo_cfg_of_a_standalone_server_is_unchanged_and_an_ensemble_lists_every_member(tmp_path):
    single = members.zk_servers(2181, 1)
    assert members.zoo_cfg(single[0], single, tmp_path / "data") == "\n".join([
        "tickTime=1000", "initLimit=10", "syncLimit=5", f"dataDir={tmp_path / 'data'}",
        "clientPort=2181", "clientPortAddress=127.0.0.1", "admin.enableServer=false",
        "4lw.commands.whitelist=ruok,stat,srvr,mntr,cons", "maxClientCnxns=0",
        "minSessionTimeout=2000", "maxSessionTimeout=60000", ""])
    servers = members.zk_servers(12281, 3)
    cfg = members.zoo_cfg(servers[1], servers, tmp_path / "zk2" / "data").splitlines()
    assert "clientPort=12282" in cfg and f"dataDir={tmp_path / 'zk2' / 'data'}" in cfg
    assert cfg[-3:] == ["server.1=127.0.0.1:13281:14281", "server.2=127.0.0.1:13282:14282",
                        "server.3=127.0.0.1:13283:14283"]
    assert "4lw.commands.whitelist=ruok,stat,srvr,mntr,cons" in cfg  # srvr tells the mode


def test_the_cluster_writes_each_server_its_own_data_dir_config_and_myid(tmp_path):
    cluster = Cluster(ha_config(tmp_path))
    procs = cluster.zks()
    assert [p.name for p in procs] == ["zk1", "zk2", "zk3"]
    for i in (1, 2, 3):
        assert (tmp_path / f"zk{i}" / "data" / "myid").read_text() == f"{i}\n"
        assert f"clientPort={12280 + i}" in (tmp_path / f"zk{i}" / "zoo.cfg").read_text()
    assert procs[2].argv[-1] == str(tmp_path / "zk3" / "zoo.cfg")
    single = Cluster(Config(run_dir=str(tmp_path / "single")))
    assert single.zk().name == "zk" and not (tmp_path / "single" / "zk" / "data" / "myid").exists()


SRVR_LEADER = """Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-06-16 11:19 UTC
Latency min/avg/max: 0/0.4/3
Received: 46
Sent: 45
Connections: 3
Outstanding: 0
Zxid: 0x100000012
Mode: leader
Node count: 12
Proposal sizes last/min/max: 48/48/189
"""


def test_srvr_mode_leader_and_quorum_state():
    assert members.srvr_mode(SRVR_LEADER) == "leader"
    assert members.srvr_mode("This ZooKeeper instance is not currently serving requests\n") is None
    assert members.srvr_mode("") is None
    three = {1: "follower", 2: "leader", 3: "follower"}
    assert members.zk_leader(three) == 2
    assert members.quorum_state(three) == (
        "quorum: 3 of 3 servers serving (a quorum is 2); leader zk2, followers zk1, zk3")
    two = {1: "follower", 2: None, 3: "leader"}
    assert members.zk_leader(two) == 3 and "2 of 3 servers serving" in members.quorum_state(two)
    lost = {1: None, 2: None, 3: None}
    assert members.zk_leader(lost) is None and "NO QUORUM" in members.quorum_state(lost)
    assert members.zk_leader({1: "standalone"}) == 1
    assert members.quorum_state({1: "standalone"}) == "quorum: standalone server serving"
    asked = []
    modes = members.zk_modes(members.zk_servers(12281, 2),
                             ask=lambda host, port, word: asked.append((host, port, word)) or SRVR_LEADER)
    assert modes == {1: "leader", 2: "leader"} and asked[1] == ("127.0.0.1", 12282, "srvr")


def test_ha_cluster_env_names_the_ensemble_and_every_member(tmp_path):
    lines = ha_config(tmp_path).env_lines()
    assert lines[:5] == [f"MESOS_MASTER=zk://{ZK3}/mesos", f"ZK=zk://{ZK3}", f"MESOS_MASTER_ZK=zk://{ZK3}/mesos",
                         "MASTERS=http://127.0.0.1:16050,http://127.0.0.1:16150,http://127.0.0.1:16250",
                         f"ZOOKEEPERS={ZK3}"]
    assert "MESOS_AGENT1=http://127.0.0.1:16051" in lines and "MESOS_AGENT2=http://127.0.0.2:16052" in lines
    assert "REGISTRY=127.0.0.1:16000" in lines and "DOCKER_HOST=unix:///run/minimesos-16050/docker.sock" in lines


def test_the_default_cluster_env_is_as_before(tmp_path):
    config = Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", []))
    assert not config.ha
    assert config.env_lines() == ["MESOS_MASTER=http://127.0.0.1:5050", "ZK=zk://127.0.0.1:2181",
                                  "MESOS_MASTER_ZK=zk://127.0.0.1:2181/mesos",
                                  "DOCKER_HOST=unix:///run/minimesos-5050/docker.sock",
                                  "MESOS_AGENT1=http://127.0.0.1:5051", "REGISTRY=127.0.0.1:5000"]
    names = [p.name for p in Cluster(config).all_procs()]
    assert names == ["announcer", "agent1", "master", "registry", "dockerd", "zk"]


def test_ha_masters_and_agents_are_started_on_zookeeper(tmp_path):
    cluster = Cluster(ha_config(tmp_path, docker=False, launcher="/bin/launcher"))
    names = [p.name for p in cluster.all_procs()]
    assert names == ["agent2", "agent1", "master3", "master2", "master1", "zk3", "zk2", "zk1"]  # no announcer
    master2 = cluster.master(2)
    assert master2.argv == ["/bin/launcher", "--mode=master", "--ip=127.0.0.1", "--port=16150",
                            f"--work_dir={tmp_path / 'master2'}", f"--zk=zk://{ZK3}/mesos", "--quorum=2"]
    assert master2.env["MESOS_WORK_DIR"] == str(tmp_path / "master2")
    assert master2.env["MESOS_REGISTRY"] == "replicated_log" and master2.env["MESOS_ZK_SESSION_TIMEOUT"] == "5secs"
    agent = cluster.agent(1)
    assert f"--master=zk://{ZK3}/mesos" in agent.argv and agent.env["MESOS_ZK_SESSION_TIMEOUT"] == "5secs"
    assert set(cluster.planned_ports()) >= {("127.0.0.1", 16250), ("127.0.0.1", 14283), ("127.0.0.2", 16052)}


def test_an_old_cluster_json_loads_as_a_single_master_cluster(tmp_path):
    config = Config(run_dir=str(tmp_path))
    config.save()
    data = (tmp_path / "cluster.json").read_text()
    for key in ('"masters": 1,', '"zookeepers": 1,', '"zk_session_timeout": "5secs",'):
        data = data.replace(key, "")  # a cluster.json written before HA
    (tmp_path / "cluster.json").write_text(data)
    loaded = Config.load(tmp_path)
    assert loaded is not None and loaded.masters == 1 and loaded.zookeepers == 1 and not loaded.ha


@pytest.mark.parametrize("text, count, expected", [(None, 3, None), ("", 3, None), ("1", 3, 1), ("3", 3, 3),
                                                     ("1", 1, 1)])
def test_parse_member(text, count, expected):
    assert members.parse_member(text, count, "master") == expected


@pytest.mark.parametrize("text, message", [("0", "no master 0 (masters 1..3)"), ("4", "no master 4 (masters 1..3)"),
                                           ("two", "master number must be an integer 1..3, not 'two'")])
def test_parse_member_refuses(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        members.parse_member(text, 3, "master")


def test_which_members_a_command_acts_on():
    alive = {1: True, 2: False, 3: True}.get
    assert cli._members("kill", None, 3, "master", alive, lambda: 3) == [3]  # the leading one
    assert cli._members("stop", "2", 3, "master", alive, lambda: 3) == [2]
    assert cli._members("start", None, 3, "master", alive, lambda: 3) == [2]  # every stopped one
    assert cli._members("restart", None, 1, "master", alive, lambda: None) == [1]  # the only one
    with pytest.raises(SystemExit, match="no leading zookeeper now; name one: minimesos/zk stop K"):
        cli._members("stop", None, 3, "zookeeper", alive, lambda: None)
    with pytest.raises(SystemExit, match="no master 5"):
        cli._members("stop", "5", 3, "master", alive, lambda: 1)


def test_cli_flags_are_checked():
    for argv in (["up", "--masters", "0"], ["up", "--zookeepers", "8"], ["master", "leader", "2"],
                 ["master", "bounce"]):
        with pytest.raises(SystemExit) as err:
            cli.main(argv)
        assert err.value.code == 2

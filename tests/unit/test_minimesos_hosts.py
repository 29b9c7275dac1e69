"""The pure parts of ``minimesos/up --hosts`` (nothing is started): the address plan, interface
names, what ``net cut A B`` expands to and the rules it writes, the members' addresses and
cluster.env with hosts, and the argument errors of ``minimesos/host`` and ``minimesos/net``."""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import pytest

MINIMESOS = Path(__file__).resolve().parents[2] / "minimesos"
sys.path.insert(0, str(MINIMESOS))

import cli  # noqa: E402
import members  # noqa: E402
import netplan  # noqa: E402
from cluster import Cluster, Config, default_agents  # noqa: E402


def hosts_config(tmp_path: Path, masters: int = 1, zookeepers: int = 1, agents: int = 2, **kw) -> Config:
    addresses = [h.address for h in netplan.plan(10050, masters, zookeepers, agents) if h.role == "agent"]
    return Config(run_dir=str(tmp_path), master_port=10050, zk_port=2681, masters=masters, zookeepers=zookeepers,
                  agents=default_agents(agents, 10050, "cpus:1", [], 24000, addresses), hosts=True, **kw)


def test_each_cluster_takes_its_own_slash_24_of_the_test_bed_range():
    supernet = ipaddress.ip_network("198.18.0.0/15")
    nets = {port: netplan.subnet(port) for port in (5050, 10050, 16550, 16650)}
    assert all(net.prefixlen == 24 and net.subnet_of(supernet) for net in nets.values())
    assert len(set(nets.values())) == len(nets)
    assert str(netplan.subnet(0)) == "198.18.0.0/24" and str(netplan.subnet(511)) == "198.19.255.0/24"
    assert netplan.subnet(512) == netplan.subnet(0)
    assert netplan.gateway(10050) == "198.19.66.1"


def test_plan_numbers_each_role_from_one_with_distinct_addresses_and_veths():
    plan = netplan.plan(10050, 3, 3, 20)
    assert [h.name for h in plan[:7]] == ["master1", "master2", "master3", "zk1", "zk2", "zk3", "agent1"]
    assert plan[0].address == "198.19.66.11" and plan[3].address == "198.19.66.21"
    assert plan[6].address == "198.19.66.101" and plan[-1].address == "198.19.66.120"
    assert len({h.address for h in plan}) == len(plan) == 26
    assert sorted(h.ordinal for h in plan) == list(range(1, 27))
    assert all(len(netplan.veth(65535, h.ordinal)) <= 15 for h in plan)
    assert netplan.netns(10050, "agent2") == "mm10050-agent2" and netplan.bridge(10050) == "mm10050br"
    with pytest.raises(ValueError, match="too many members"):
        netplan.plan(10050, 1, 1, 100)


def test_added_hosts_take_free_addresses_from_200_and_need_a_free_unreserved_name():
    plan = netplan.plan(10050, 1, 1, 2)
    sched = netplan.extra(10050, "sched1", plan)
    assert (sched.address, sched.role, sched.ordinal) == ("198.19.66.200", "extra", 5)
    assert netplan.extra(10050, "sched2", plan + [sched]).address == "198.19.66.201"
    for bad, why in (("agent7", "reserved"), ("masters", "reserved"), ("all", "reserved"), ("Sched", "a-z"),
                     ("1st", "a-z"), ("x" * 21, "at most 20"), ("sched1", "exists")):
        with pytest.raises(ValueError, match=why):
            netplan.extra(10050, bad, plan + [sched])


def test_cut_expands_roles_and_all_into_pairs_never_a_host_with_itself():
    plan = netplan.plan(10050, 3, 3, 2) + [netplan.Host("sched", "extra", "198.19.66.200", 9)]
    assert netplan.expand("masters", plan) == ["master1", "master2", "master3"]
    assert netplan.expand("zks", plan) == ["zk1", "zk2", "zk3"]
    assert netplan.expand("agents", plan) == ["agent1", "agent2"]
    assert len(netplan.expand("all", plan)) == 9 and netplan.expand("sched", plan) == ["sched"]
    assert netplan.pairs("agent1", "masters", plan) == {("agent1", "master1"), ("agent1", "master2"),
                                                       ("agent1", "master3")}
    assert netplan.pairs("masters", "agent1", plan) == netplan.pairs("agent1", "masters", plan)
    assert netplan.pairs("masters", "masters", plan) == {("master1", "master2"), ("master1", "master3"),
                                                         ("master2", "master3")}
    assert len(netplan.pairs("all", "all", plan)) == 9 * 8 // 2
    assert netplan.pairs("master1", "all", plan) == {tuple(sorted(("master1", h.name))) for h in plan[1:]}
    with pytest.raises(ValueError, match="no host or role 'agent3'"):
        netplan.pairs("agent3", "masters", plan)
    with pytest.raises(ValueError, match="nothing to cut"):
        netplan.pairs("zk1", "zk1", plan)


def test_each_side_drops_both_directions_and_restore_input_rewrites_only_its_chain():
    plan = netplan.plan(10050, 1, 1, 2)
    addresses = {h.name: h.address for h in plan}
    cut = netplan.pairs("agent1", "all", plan)
    assert netplan.rules("agent1", cut, addresses) == [
        ["-A", "MINIMESOS", flag, f"198.19.66.{n}/32", "-j", "DROP"] for n in (11, 21, 102) for flag in ("-s", "-d")]
    assert netplan.rules("master1", cut, addresses) == [["-A", "MINIMESOS", "-s", "198.19.66.101/32", "-j", "DROP"],
                                                        ["-A", "MINIMESOS", "-d", "198.19.66.101/32", "-j", "DROP"]]
    assert netplan.rules("master1", set(), addresses) == []
    text = netplan.restore_input(netplan.rules("master1", cut, addresses))
    assert text.splitlines() == ["*filter", "-F MINIMESOS", "-A MINIMESOS -s 198.19.66.101/32 -j DROP",
                                 "-A MINIMESOS -d 198.19.66.101/32 -j DROP", "COMMIT"]


def test_for_takes_a_positive_number_of_seconds():
    assert netplan.parse_seconds(None) is None and netplan.parse_seconds("2.5") == 2.5
    for bad in ("0", "-1", "soon", "100000"):
        with pytest.raises(ValueError, match="--for"):
            netplan.parse_seconds(bad)


def test_members_listen_on_their_hosts_and_cluster_env_names_those_addresses(tmp_path):
    config = hosts_config(tmp_path, masters=3, zookeepers=3)
    env = dict(line.split("=", 1) for line in config.env_lines())
    zks = "198.19.66.21:2681,198.19.66.22:2682,198.19.66.23:2683"
    assert env["MESOS_MASTER"] == f"zk://{zks}/mesos" and env["ZK"] == f"zk://{zks}" and env["ZOOKEEPERS"] == zks
    assert env["MASTERS"] == "http://198.19.66.11:10050,http://198.19.66.12:10150,http://198.19.66.13:10250"
    assert env["MESOS_AGENT2"] == "http://198.19.66.102:10052"
    assert env["DOCKER_HOST"] == "unix:///run/minimesos-10050/agent1/docker.sock"
    assert env["REGISTRY"] == "198.19.66.1:10000"
    cfg = members.zoo_cfg(config.zk_servers[1], config.zk_servers, tmp_path)
    assert "clientPortAddress=198.19.66.22" in cfg and "server.3=198.19.66.23:3683:4683" in cfg
    single = hosts_config(tmp_path)
    assert dict(line.split("=", 1) for line in single.env_lines())["MESOS_MASTER"] == "http://198.19.66.11:10050"


def test_every_member_runs_in_its_hosts_namespace_and_each_agent_has_its_own_dockerd(tmp_path):
    cluster = Cluster(hosts_config(tmp_path, masters=3, zookeepers=3, launcher="/bin/launcher"))
    for proc, host in ((cluster.master(2), "master2"), (cluster.zk(3), "zk3"), (cluster.agent(1), "agent1"),
                       (cluster.dockerd(2), "agent2")):
        assert proc.argv[:3] == ["nsenter", f"--net=/run/netns/mm10050-{host}", "--"], proc.name
    assert "--ip=198.19.66.12" in cluster.master(2).argv and "--ip=198.19.66.101" in cluster.agent(1).argv
    assert cluster.agent(2).env["MESOS_DOCKER_SOCKET"] == "/run/minimesos-10050/agent2/docker.sock"
    dockerd = cluster.dockerd(2).argv
    assert f"--data-root={tmp_path}/agent2-docker" in " ".join(dockerd).replace("--data-root ", "--data-root=")
    assert "--insecure-registry=198.19.66.1:10000" in dockerd and "--bridge=none" in dockerd
    assert [p.name for p in cluster.dockerds()] == ["dockerd-agent1", "dockerd-agent2"]
    assert cluster.planned_ports() == {("198.19.66.1", 10000): "registry"}


def test_without_hosts_nothing_changes(tmp_path):
    config = Config(run_dir=str(tmp_path), agents=default_agents(2, 5050, "cpus:1", []), launcher="/bin/launcher")
    cluster = Cluster(config)
    assert cluster.hostnet is None and config.host_plan == []
    assert cluster.master().argv[0] == "/bin/launcher" and "--ip=127.0.0.1" in cluster.master().argv
    assert config.env_lines()[:3] == ["MESOS_MASTER=http://127.0.0.1:5050", "ZK=zk://127.0.0.1:2181",
                                      "MESOS_MASTER_ZK=zk://127.0.0.1:2181/mesos"]
    assert [p.name for p in cluster.dockerds()] == ["dockerd"] and cluster.hosts_status() == []


@pytest.mark.parametrize("argv, message", [
    (["net", "cut", "agent1"], "net cut needs two hosts or roles"),
    (["net", "cut", "agent1", "masters", "--for", "never"], "--for must be a number"),
    (["net", "heal", "agent1"], "net heal takes no argument"),
    (["net", "heal", "--for", "3"], "--for is for net cut"),
    (["net", "show", "all"], "net show takes no arguments"),
    (["host", "add"], "host add needs a host name"),
    (["host", "add", "a", "b"], "host add takes one name"),
    (["host", "list", "x"], "host list takes no arguments"),
    (["host", "exec"], "host exec needs a host name"),
])
def test_argument_errors_say_what_is_wrong_before_any_cluster_is_looked_at(argv, message, monkeypatch, tmp_path):
    monkeypatch.setenv("MINIMESOS_RUN_DIR", str(tmp_path / "none"))
    with pytest.raises(SystemExit, match=message):
        cli.main(argv)


def test_host_and_net_on_a_cluster_without_hosts_say_so(monkeypatch, tmp_path):
    Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", [])).save()
    monkeypatch.setenv("MINIMESOS_RUN_DIR", str(tmp_path))
    for argv in (["host", "list"], ["net", "show"]):
        with pytest.raises(SystemExit, match="no hosts: start it with minimesos/up --hosts"):
            cli.main(argv)


def test_a_timer_ends_only_its_own_cut_and_heal_a_b_takes_the_pair_from_every_cut(monkeypatch, tmp_path):
    import hosts as hostnet

    applied: list[set[str]] = []
    monkeypatch.setattr(hostnet.Hosts, "_apply", lambda self, state, touched: applied.append(set(touched)))
    net = hostnet.Hosts(tmp_path, 10050)
    with net._locked() as state:
        state["bridge"] = "mm10050br"
        state["hosts"] = [h.__dict__ for h in netplan.plan(10050, 1, 1, 2)]
    assert net.cut("agent1", "masters", None) == [("agent1", "master1")]
    net.cut("agents", "masters", None)
    timed = net.cuts()[1]["id"]
    assert net.heal(cut_id=timed) == [("agent2", "master1")]  # agent1-master1 is still held by the first cut
    assert [c["pairs"] for c in net.cuts()] == [[["agent1", "master1"]]]
    net.cut("all", "zk1", None)
    assert net.heal("agent1", "all") == [("agent1", "master1"), ("agent1", "zk1")]
    assert [c["pairs"] for c in net.cuts()] == [[["agent2", "zk1"], ["master1", "zk1"]]]
    assert net.heal() == [("agent2", "zk1"), ("master1", "zk1")] and net.cuts() == []
    assert applied[-1] == {"agent2", "master1", "zk1"}
    with pytest.raises(SystemExit, match="no host or role 'agent9'"):
        net.cut("agent9", "all", None)


def test_two_cuts_in_the_same_millisecond_have_their_own_ids(monkeypatch, tmp_path):
    import hosts as hostnet

    monkeypatch.setattr(hostnet.Hosts, "_apply", lambda self, state, touched: None)
    monkeypatch.setattr(hostnet.time, "time", lambda: 1_700_000_000.0)
    net = hostnet.Hosts(tmp_path, 10050)
    with net._locked() as state:
        state["bridge"] = "mm10050br"
        state["hosts"] = [h.__dict__ for h in netplan.plan(10050, 1, 1, 2)]
    net.cut("agent1", "masters", None)
    net.cut("agent2", "masters", None)
    first, second = (c["id"] for c in net.cuts())
    assert first != second
    assert net.heal(cut_id=second) == [("agent2", "master1")]
    assert [c["pairs"] for c in net.cuts()] == [[["agent1", "master1"]]]


def test_up_hosts_installs_ip_iptables_and_nsenter_through_the_package_path(monkeypatch):
    import install

    asked: list[list[str]] = []
    monkeypatch.setattr(install, "apt_install", asked.append)
    install.apt_packages(docker=False, hosts=True)
    install.apt_packages(docker=False)
    assert {"iproute2", "iptables", "util-linux"} <= set(asked[0])
    assert not {"iptables", "util-linux"} & set(asked[1])  # without --hosts: as before

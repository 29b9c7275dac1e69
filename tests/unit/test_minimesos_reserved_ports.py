"""minimesos keeps the agents' task ports out of the kernel's ephemeral range (a file stands in for
the sysctl; tests/integration/test_minimesos.py reads the real one of a running cluster)."""
from __future__ import annotations

import sys
from pathlib import Path

MINIMESOS = Path(__file__).resolve().parents[2] / "minimesos"
sys.path.insert(0, str(MINIMESOS))

import reserved_ports  # noqa: E402
from cluster import default_agents  # noqa: E402


def test_the_agents_ranges_are_read_from_their_resources():
    agents = default_agents(3, 5050, "cpus:2;mem:2048", [], task_ports=41000)
    ports = reserved_ports.task_port_ranges(a.resources for a in agents)
    assert reserved_ports.render(ports) == "41000-43999"
    assert reserved_ports.task_port_ranges(["cpus:1;ports(web):[80-81,443]"]) == {80, 81, 443}


def test_reserve_merges_with_what_is_reserved(tmp_path):
    sysctl = tmp_path / "ip_local_reserved_ports"
    sysctl.write_text("8080,9000-9001\n")
    assert reserved_ports.reserve(set(range(31000, 34000)), sysctl) == ""
    assert sysctl.read_text() == "8080,9000-9001,31000-33999\n"
    assert reserved_ports.reserve({41000, 33999}, sysctl) == ""
    assert sysctl.read_text() == "8080,9000-9001,31000-33999,41000\n"
    assert reserved_ports.parse("") == set() and reserved_ports.render(set()) == ""


def test_without_the_sysctl_up_is_told_why(tmp_path):
    problem = reserved_ports.reserve({31000}, tmp_path / "missing")
    assert problem.startswith("cannot read") and "missing" in problem


def test_a_port_a_socket_holds_is_named():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert reserved_ports.held({port, 1}) == [port]
    assert reserved_ports.held({1}) == []

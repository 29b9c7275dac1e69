"""The hosts of ``minimesos/up --hosts``, made real: a bridge in the root namespace, one network
namespace per host joined to it by a veth pair, and the cuts of ``minimesos/net`` as iptables rules
inside the namespaces (see ``netplan.py`` for names and addresses). Standard library only.

Everything made is recorded in ``<run>/hosts.json`` *before* it is made, so that ``down`` removes
exactly that (and a half-made cluster too): the bridge, the namespaces (deleting a namespace
deletes its veth pair and its rules), and the timers of ``net cut --for``. Nothing in the root
namespace's firewall is touched: a namespace has its own tables, and the bridge has
``nf_call_iptables 0`` so that the root's FORWARD rules (br_netfilter) never see its traffic.
The hosts have no default route: their only route is the /24 on the bridge, so nothing leaves
the machine.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import netplan
from procs import start_time, wait_for

HERE = Path(__file__).resolve().parent


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


class Hosts:
    """The hosts of one cluster, from its run dir's ``hosts.json``."""

    def __init__(self, run: Path, port: int):
        self.run, self.port = run, port
        self.file = run / "hosts.json"

    # --- the record ---------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[dict]:
        """The record, read and written under a lock (a ``--for`` timer may heal meanwhile)."""
        self.run.mkdir(parents=True, exist_ok=True)
        with open(self.run / "hosts.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read()
            yield state
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2))
            os.replace(tmp, self.file)

    def _read(self) -> dict:
        try:
            return json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {"port": self.port, "bridge": None, "hosts": [], "cuts": []}

    def list(self) -> list[netplan.Host]:
        return [netplan.Host(**h) for h in self._read()["hosts"]]

    def addresses(self) -> dict[str, str]:
        return {h.name: h.address for h in self.list()}

    def get(self, name: str) -> netplan.Host:
        for h in self.list():
            if h.name == name:
                return h
        raise SystemExit(f"no host {name!r} (hosts: {', '.join(h.name for h in self.list()) or 'none'})")

    def netns_path(self, name: str) -> str:
        return f"/run/netns/{netplan.netns(self.port, name)}"

    def wrap(self, name: str, argv: list[str]) -> list[str]:
        """``argv`` run inside host ``name``'s network namespace (and nothing else changed: same
        mounts, same /proc, same PID: nsenter execs it)."""
        return ["nsenter", f"--net={self.netns_path(name)}", "--", *argv]

    # --- making and removing ------------------------------------------------------------------

    def create(self, planned: list[netplan.Host]) -> None:
        """The bridge and every planned host. Refuses a subnet some interface has already (another
        cluster on a port that maps to the same /24)."""
        net, gw, br = netplan.subnet(self.port), netplan.gateway(self.port), netplan.bridge(self.port)
        state = self._read()
        if state["bridge"] is None:
            used = _run("ip", "-4", "-o", "addr", "show").stdout
            if f" {gw}/" in used or any(f" {h.address}/" in used for h in planned):
                raise SystemExit(f"subnet {net} is in use on this machine (another cluster whose --port maps "
                                 f"to the same /24?); choose another --port")
            if _run("ip", "link", "show", br, check=False).returncode == 0:
                raise SystemExit(f"interface {br} exists and is not this run's; choose another --port")
            with self._locked() as s:
                s["bridge"] = br
                s["subnet"], s["gateway"] = str(net), gw
            _run("ip", "link", "add", br, "type", "bridge")
            _run("ip", "link", "set", br, "type", "bridge", "nf_call_iptables", "0", check=False)
            _run("ip", "addr", "add", f"{gw}/24", "dev", br)
            _run("ip", "link", "set", br, "up")
        have = {h.name for h in self.list()}
        for host in planned:
            if host.name not in have:
                self._make(host)

    def add(self, name: str) -> netplan.Host:
        """``host add NAME``: an extra host on the bridge."""
        if self._read()["bridge"] is None:
            raise SystemExit("this cluster has no hosts (start it with minimesos/up --hosts)")
        try:
            host = netplan.extra(self.port, name, self.list())
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        self._make(host)
        return host

    def _make(self, host: netplan.Host) -> None:
        ns, vname = netplan.netns(self.port, host.name), netplan.veth(self.port, host.ordinal)
        with self._locked() as s:
            s["hosts"].append(host.__dict__)
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", vname, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "link", "set", vname, "master", netplan.bridge(self.port), "up")
        inside = ["ip", "netns", "exec", ns]
        _run(*inside, "ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
        _run(*inside, "ip", "link", "set", "eth0", "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "iptables", "-w", "-N", netplan.CHAIN)
        _run(*inside, "iptables", "-w", "-A", "INPUT", "-j", netplan.CHAIN)
        _run(*inside, "iptables", "-w", "-A", "OUTPUT", "-j", netplan.CHAIN)

    def destroy(self) -> list[str]:
        """Remove every timer, namespace and the bridge this run made; return what is left."""
        state = self._read()
        for cut in state["cuts"]:
            _stop_timer(cut.get("timer"))
        left = []
        for h in state["hosts"]:
            ns = netplan.netns(self.port, h["name"])
            if Path(f"/run/netns/{ns}").exists():
                _run("ip", "netns", "del", ns, check=False)
            if Path(f"/run/netns/{ns}").exists():
                left.append(f"namespace {ns}")
            vname = netplan.veth(self.port, h["ordinal"])
            if _run("ip", "link", "show", vname, check=False).returncode == 0:
                _run("ip", "link", "del", vname, check=False)
        if state["bridge"]:
            _run("ip", "link", "del", state["bridge"], check=False)
            if _run("ip", "link", "show", state["bridge"], check=False).returncode == 0:
                left.append(f"bridge {state['bridge']}")
        if not left:
            self.file.unlink(missing_ok=True)
        return left

    def processes(self) -> list[str]:
        """Processes still running on this run's hosts (``host exec`` ones: a scheduler), named."""
        found = []
        for h in self.list():
            ns = netplan.netns(self.port, h.name)
            if Path(f"/run/netns/{ns}").exists():
                pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
                found += [f"process {pid} on host {h.name} ({_cmdline(pid)})" for pid in pids]
        return found

    def leftovers(self) -> list[str]:
        """What of this run's hosts still exists (namespaces, veths, the bridge)."""
        state, left = self._read(), []
        for h in state["hosts"]:
            if Path(self.netns_path(h["name"])).exists():
                left.append(f"namespace {netplan.netns(self.port, h['name'])}")
        if state["bridge"] and _run("ip", "link", "show", state["bridge"], check=False).returncode == 0:
            left.append(f"bridge {state['bridge']}")
        return left

    def reserve_ports(self, name: str, ranges: str) -> None:
        """Reserve ``ranges`` (``a-b,c-d``) in host ``name``'s ``ip_local_reserved_ports`` (the
        setting is per network namespace): no outgoing connection there takes a task's port."""
        _run(*self.wrap(name, ["sh", "-c", f"echo {ranges} > /proc/sys/net/ipv4/ip_local_reserved_ports"]))

    # --- cuts ---------------------------------------------------------------------------------

    def cut(self, a: str, b: str, seconds: float | None) -> list[tuple[str, str]]:
        """Drop all traffic between A and B (both ways) until healed, or for ``seconds``: then a
        detached timer (recorded with the cut) heals it, whether or not the caller still runs."""
        try:
            found = sorted(netplan.pairs(a, b, self.list()))
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        with self._locked() as s:
            serial = s["serial"] = s.get("serial", 0) + 1  # two cuts in one millisecond differ too
            cut_id = f"{int(time.time() * 1000)}-{os.getpid()}-{serial}"
            entry = {"id": cut_id, "a": a, "b": b, "pairs": [list(p) for p in found],
                     "until": time.time() + seconds if seconds else None, "timer": None}
            s["cuts"].append(entry)
            self._apply(s, {x for p in found for x in p})
            if seconds:
                entry["timer"] = _start_timer(self.run, cut_id, seconds)
        return found

    def heal(self, a: str | None = None, b: str | None = None, cut_id: str | None = None) -> list[tuple[str, str]]:
        """Restore traffic between A and B (every pair of theirs, whichever cut made it), or with no
        arguments everywhere. A ``--for`` timer passes its ``cut_id``: only that cut ends, so a pair
        that another cut also holds stays cut. Returns the pairs healed."""
        hosts = self.list()
        with self._locked() as s:
            before = self._pairs(s)
            if cut_id is not None:
                s["cuts"] = [c for c in s["cuts"] if c["id"] != cut_id]
            else:
                if a is None:
                    wanted = before
                else:
                    try:
                        wanted = netplan.pairs(a, b or a, hosts)
                    except ValueError as exc:
                        raise SystemExit(str(exc)) from None
                kept = []
                for c in s["cuts"]:
                    c["pairs"] = [p for p in c["pairs"] if tuple(p) not in wanted]
                    if c["pairs"]:
                        kept.append(c)
                    else:
                        _stop_timer(c.get("timer"))
                s["cuts"] = kept
            healed = before - self._pairs(s)
            self._apply(s, {x for p in healed for x in p})
        return sorted(healed)

    def cuts(self) -> list[dict]:
        """The cuts in force: each with its pairs and, for ``--for``, when it heals."""
        return self._read()["cuts"]

    @staticmethod
    def _pairs(state: dict) -> set[tuple[str, str]]:
        return {tuple(p) for c in state["cuts"] for p in c["pairs"]}  # type: ignore[misc]

    def _apply(self, state: dict, touched: set[str]) -> None:
        """Rewrite the MINIMESOS chain of every host touched from the cuts recorded."""
        addresses = {h["name"]: h["address"] for h in state["hosts"]}
        in_force = self._pairs(state)
        for name in sorted(touched):  # one atomic iptables-restore per host (its other chains kept)
            text = netplan.restore_input(netplan.rules(name, in_force, addresses))
            proc = subprocess.run(["ip", "netns", "exec", netplan.netns(self.port, name), "iptables-restore", "-w",
                                   "--noflush"], input=text, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"iptables-restore in host {name} failed: {proc.stderr.strip()}")

    def chain(self, name: str) -> list[str]:
        """Host ``name``'s MINIMESOS rules as iptables prints them (for ``net show`` and tests)."""
        out = _run("ip", "netns", "exec", netplan.netns(self.port, name), "iptables", "-w", "-S", netplan.CHAIN).stdout
        return [line for line in out.splitlines() if line.startswith("-A")]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "gone"


def recorded_port(run: Path) -> int | None:
    """The master port of the hosts recorded in ``run`` (None when none are)."""
    try:
        return int(json.loads((run / "hosts.json").read_text())["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _start_timer(run: Path, cut_id: str, seconds: float) -> dict:
    """A detached process (its own session, stdio to the run dir's log) that heals cut ``cut_id``
    after ``seconds``: ``cli.py net heal --cut ID --after SECONDS``."""
    log = run / "logs" / "net-timers.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(HERE / "cli.py"), "net", "heal", "--cut", cut_id,
                                 "--after", str(seconds)],
                                env={**os.environ, "MINIMESOS_RUN_DIR": str(run)}, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started = None
    wait_for(lambda: start_time(proc.pid) is not None, 2, 0.01)
    started = start_time(proc.pid)
    return {"pid": proc.pid, "start": started}


def _stop_timer(timer: dict | None) -> None:
    """Stop a cut's timer, if it is still the process recorded (never a recycled PID)."""
    if not timer or timer.get("pid") in (None, os.getpid()):
        return
    if start_time(timer["pid"]) == timer.get("start"):
        try:
            os.kill(timer["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass

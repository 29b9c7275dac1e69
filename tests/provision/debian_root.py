"""A Debian 12 root filesystem to provision, and network namespaces to run its services in, as machines.

* ``rootfs_tarball()``: ``debootstrap --variant=minbase bookworm``, once; the tarball is cached in
  ``$XDG_CACHE_HOME/halyard/provision/`` (``HALYARD_DEBIAN_MIRROR`` names the mirror).
* ``DebianRoot``: the tarball unpacked in a temporary directory; ``run``/``start`` a command in it
  (chroot) with a clean environment, optionally inside a network namespace. Each command gets its
  own private mount namespace (``unshare -m``) holding its /proc, /sys, /dev and bind mounts, so
  that they vanish with it. ``close()`` stops every process started and any other whose root is
  the directory, unmounts whatever is still mounted below it, deletes the namespaces and the tree.
* ``Network``: network namespaces joined by veth pairs, addresses from 198.18.0.0/15 (benchmarking
  addresses, never routed), no route out.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MIRROR = os.environ.get("HALYARD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "halyard" / "provision"


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()).rstrip("/") + "/"
    found = []
    for line in Path("/proc/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if (target + "/").startswith(prefix):
            found.append(target)
    return found


def unmount_below(path: Path) -> None:
    for target in sorted(mounts_below(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def rootfs_tarball(log: Callable[[str], None] = print) -> Path:
    """A minimal Debian 12 root filesystem as a tarball, made with debootstrap once and cached."""
    cache = cache_dir()
    tarball = cache / f"debian-{SUITE}-minbase.tar"
    if tarball.exists():
        return tarball
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=cache))
    try:
        log(f"debootstrap --variant=minbase {SUITE} from {MIRROR} (cached in {tarball})")
        done = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(work / "root"), MIRROR],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"debootstrap failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        unmount_below(work)
        subprocess.run(["tar", "-C", str(work / "root"), "--numeric-owner", "-cf", str(work / "root.tar"), "."],
                       check=True)
        os.replace(work / "root.tar", tarball)
    finally:
        unmount_below(work)
        shutil.rmtree(work, ignore_errors=True)
    return tarball


class Network:
    """Named network namespaces, each with ``lo`` up; ``link`` joins two with a veth pair."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.names: list[str] = []

    def add(self, role: str) -> str:
        name = f"halyard-{role}-{self.tag}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.names.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        return name

    def link(self, a: str, a_addr: str, b: str, b_addr: str) -> None:
        """A veth pair between namespaces ``a`` and ``b``, with addresses such as ``198.18.0.10/24``."""
        n = len(self.names)
        ends = (f"hv{self.tag}{n}a", f"hv{self.tag}{n}b")
        subprocess.run(["ip", "link", "add", ends[0], "netns", a, "type", "veth", "peer", "name", ends[1], "netns", b],
                       check=True)
        for ns, end, addr in ((a, ends[0], a_addr), (b, ends[1], b_addr)):
            subprocess.run(["ip", "-n", ns, "addr", "add", addr, "dev", end], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", end, "up"], check=True)

    def pids(self) -> list[int]:
        found = []
        for name in self.names:
            out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
            found += [int(p) for p in out.split()]
        return found

    def close(self) -> list[str]:
        left = []
        for name in self.names:
            if subprocess.run(["ip", "netns", "del", name], capture_output=True).returncode != 0:
                left.append(f"network namespace {name}")
        self.names = []
        return left


class DebianRoot:
    """A root filesystem unpacked from ``tarball`` below ``parent``; commands run in it by chroot."""

    def __init__(self, tarball: Path, parent: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="debian-root-", dir=parent)).resolve()
        self.path = self.dir / "root"
        self.logs = self.dir / "logs"
        self.path.mkdir()
        self.logs.mkdir()
        self.procs: list[tuple[str, subprocess.Popen]] = []
        subprocess.run(["tar", "-C", str(self.path), "--numeric-owner", "-xf", str(tarball)], check=True)
        shutil.copyfile("/etc/resolv.conf", self.path / "etc" / "resolv.conf")
        # Packages' scripts must not start services in here (Debian's convention for chroots).
        policy = self.path / "usr" / "sbin" / "policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)

    def _argv(self, cmd: Sequence[str], netns: str | None, binds: Sequence[tuple[Path, str, bool]],
              env: dict[str, str]) -> list[str]:
        r = shlex.quote(str(self.path))
        setup = [f"mount -t proc proc {r}/proc",
                 f"mount -t sysfs sysfs {r}/sys",            # this network namespace's /sys/class/net
                 f"mount --rbind /sys/fs/cgroup {r}/sys/fs/cgroup",
                 f"mount --rbind /dev {r}/dev"]
        for src, dst, writable in binds:
            target = f"{r}/{dst.lstrip('/')}"
            setup += [f"mkdir -p {shlex.quote(target)}", f"mount --bind {shlex.quote(str(src))} {shlex.quote(target)}"]
            if not writable:
                setup.append(f"mount -o remount,bind,ro {shlex.quote(target)}")
        clean_env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **env}
        inner = ["chroot", str(self.path), "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in clean_env.items()), *cmd]
        script = " && ".join(setup) + " && exec " + " ".join(shlex.quote(a) for a in inner)
        argv = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script]
        if netns:
            argv = ["nsenter", f"--net=/run/netns/{netns}", "--", *argv]
        return argv

    def run(self, cmd: Sequence[str], netns: str | None = None, binds: Sequence[tuple[Path, str, bool]] = (),
            env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run ``cmd`` to its end in the root; output captured."""
        proc = subprocess.Popen(self._argv(cmd, netns, binds, env or {}), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.procs.append((cmd[0], proc))
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(proc, 5)
            out, err = proc.communicate()
            raise AssertionError(f"{' '.join(cmd)} did not finish in {timeout:.0f}s:\n{out[-3000:]}\n{err[-3000:]}")
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def start(self, name: str, cmd: Sequence[str], netns: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a daemon in the root; its output goes to ``logs/NAME.log``."""
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(self._argv(cmd, netns, (), env or {}), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def inside(self) -> list[int]:
        """Processes whose root directory is this root (whatever started them)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "root") == str(self.path):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to each process group started here, newest first, then SIGKILL to what remains."""
        for _, proc in reversed(self.procs):
            _stop_group(proc, timeout)
        for pid in self.inside():
            _kill(pid, signal.SIGKILL)
        try:
            wait_until(lambda: not self.inside(), 10, "the root's processes to end", interval=0.2)
        except AssertionError:
            pass

    def close(self, network: Network | None = None) -> list[str]:
        """Stop everything, unmount, remove; what could not be cleaned."""
        self.stop()
        if network is not None:
            for pid in network.pids():
                _kill(pid, signal.SIGKILL)
        left = [f"process {pid} in {self.path}" for pid in self.inside()]
        unmount_below(self.dir)
        left += [f"mount {m}" for m in mounts_below(self.dir)]
        if network is not None:
            left += network.close()
        if not left:
            shutil.rmtree(self.dir, ignore_errors=True)
        return left


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _stop_group(proc: subprocess.Popen, timeout: float) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

"""Install what the local cluster needs, once; later runs find it cached.

* Debian packages: libmesos' runtime libraries, g++ and patchelf to prepare it, ZooKeeper (with a
  Java runtime), python3-kazoo (the master announcer), and for Docker: docker.io and a static
  busybox to build the local image from; and haproxy, for `halyard lb`'s integration tests.
* The real Apache Mesos 1.11 master and agent: the PyPI package ``mesos.scheduler`` 1.11.0 ships
  ``_scheduler.so`` with all of libmesos linked in. It is fetched through pip's own configured
  index (``pip download`` refuses the artifact), checked against a pinned sha256, patched by
  ``native/elfprep.py`` (libcurl version need, OpenSSL 1.0 stubs that abort if ever called, RPATH)
  and driven by ``native/mesos-local-launcher.cpp``.

Built files live in ``$XDG_CACHE_HOME/halyard/minimesos`` (default ``~/.cache/...``), keyed by the
artifact's hash and the sources' hashes, so a fresh checkout on the same machine is warm.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NATIVE = HERE / "native"
ARTIFACT = "mesos.scheduler-1.11.0.linux-x86_64.tar.gz"
ARTIFACT_VERSION = "1.11.0.linux-x86_64"
ARTIFACT_SHA256 = "1d376f20bca6d05ee8b90c1c123a452b28753497ccc2f1c80ea3ac94c12e8f6e"
SO_MEMBER = "./usr/local/lib/python2.7/dist-packages/mesos/scheduler/_scheduler.so"

# A Mesos node (libmesos' runtime libraries, g++ and patchelf to prepare it, python3 for the
# executors), ZooKeeper and the master's announcer, Docker: also what minimesos/provision.py
# installs on a VM, by role.
MESOS_PACKAGES = ["libsvn1", "libapr1", "libsasl2-2", "libcurl4", "zlib1g", "patchelf", "g++", "curl",
                  "ca-certificates", "python3", "procps"]
ZK_PACKAGES = ["zookeeper", "python3-kazoo"]
BASE_PACKAGES = MESOS_PACKAGES + ZK_PACKAGES + [
    "haproxy"]  # not the cluster's: `halyard lb`'s integration tests run a real HAProxy
DOCKER_PACKAGES = ["docker.io", "busybox-static", "docker-registry"]
# `up --hosts`: network namespaces, veth pairs and a bridge (ip), the cuts (iptables, inside each
# namespace), and nsenter to run a member in its namespace.
HOSTS_PACKAGES = ["iproute2", "iptables", "util-linux"]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "halyard" / "minimesos"


def log(msg: str) -> None:
    print(f"[minimesos install] {msg}", flush=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def apt_packages(docker: bool, hosts: bool = False) -> None:
    apt_install(BASE_PACKAGES + (DOCKER_PACKAGES if docker else []) + (HOSTS_PACKAGES if hosts else []))


def apt_install(wanted: list[str]) -> None:
    """apt-get install those of ``wanted`` that are missing (and pip for this python3, which fetches libmesos)."""
    missing = [p for p in wanted
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        missing.append("python3-pip")
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing Debian packages {' '.join(missing)}; run as root or install them")
    log(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


_DOWNLOAD = r'''
import hashlib, os, sys
from pip._internal.commands import create_command
version, dest, sha = sys.argv[1:4]
cmd = create_command("download")
options, _ = cmd.parse_args(["--no-deps", "mesos.scheduler"])
with cmd.main_context():
    session = cmd.get_default_session(options)
    finder = cmd._build_package_finder(options=options, session=session, ignore_requires_python=True)
    found = [c for c in finder.find_all_candidates("mesos.scheduler") if str(c.version) == version]
    if not found:
        sys.exit("mesos.scheduler %s not found on pip's index" % version)
    h = hashlib.sha256()
    with session.get(found[0].link.url_without_fragment, stream=True) as r:
        r.raise_for_status()
        with open(dest + ".part", "wb") as f:
            for chunk in r.iter_content(1 << 20):
                f.write(chunk)
                h.update(chunk)
    if h.hexdigest() != sha:
        sys.exit("sha256 mismatch: %s" % h.hexdigest())
    os.replace(dest + ".part", dest)
'''


def artifact(cache: Path) -> Path:
    """The mesos.scheduler tarball, downloaded through pip's configured index if not cached."""
    tgz = cache / ARTIFACT
    given = os.environ.get("MESOS_SCHEDULER_TGZ")
    if given and _sha256(Path(given)) == ARTIFACT_SHA256:
        shutil.copyfile(given, tgz)
    if tgz.exists() and _sha256(tgz) == ARTIFACT_SHA256:
        return tgz
    log("downloading mesos.scheduler==1.11.0 through pip's configured index")
    subprocess.run([sys.executable, "-c", _DOWNLOAD, ARTIFACT_VERSION, str(tgz), ARTIFACT_SHA256], check=True)
    return tgz


def libmesos(cache: Path, tgz: Path) -> Path:
    """libmesos extracted from the artifact and patched; rebuilt when elfprep.py changes."""
    lib = cache / "lib" / "libmesos-1.11.0.so"
    stamp = cache / "lib" / ".stamp"
    want = f"{ARTIFACT_SHA256} {_sha256(NATIVE / 'elfprep.py')}"
    if lib.exists() and stamp.exists() and stamp.read_text() == want:
        return lib
    log("extracting and patching libmesos")
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        with tarfile.open(tgz) as tar:
            member = tar.getmember(SO_MEMBER)
            with tar.extractfile(member) as src, open(tmpdir / "libmesos.so", "wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst)
        subprocess.run([sys.executable, str(NATIVE / "elfprep.py"), str(tmpdir / "libmesos.so"), str(tmpdir / "stubs")],
                       check=True)
        for name in ("libssl", "libcrypto"):
            subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(lib.parent / f"{name}.so.1.0.0"),
                            f"-Wl,-soname,{name}.so.1.0.0",
                            f"-Wl,--version-script={tmpdir / 'stubs' / (name + '-stub.map')}",
                            str(tmpdir / "stubs" / f"{name}-stub.c")], check=True)
        subprocess.run(["patchelf", "--set-rpath", "$ORIGIN", str(tmpdir / "libmesos.so")], check=True)
        shutil.move(str(tmpdir / "libmesos.so"), lib)
    stamp.write_text(want)
    return lib


def launcher(cache: Path) -> Path:
    """The launcher binary, named by its source's hash: a checkout with another launcher source
    (another branch, another worktree) builds its own beside it and never overwrites a binary that a
    running cluster executes."""
    src = NATIVE / "mesos-local-launcher.cpp"
    binary = cache / "bin" / f"mesos-local-launcher-{_sha256(src)[:16]}"
    if binary.exists():
        return binary
    log("building mesos-local-launcher")
    binary.parent.mkdir(parents=True, exist_ok=True)
    part = binary.with_name(f"{binary.name}.{os.getpid()}.part")
    subprocess.run(["g++", "-std=c++14", "-O1", "-Wall", "-rdynamic", "-o", str(part), str(src), "-ldl", "-pthread"],
                   check=True)
    os.replace(part, binary)
    return binary


def ensure(docker: bool, hosts: bool = False) -> Path:
    """Install whatever is missing; return the launcher path (its ../lib holds libmesos).

    Two clusters brought up at once (the test suite's workers each start their own) install under
    one lock, held for the whole step: apt and the launcher's build run once, and the second finds
    them done. ``hosts``: also what ``up --hosts`` needs (HOSTS_PACKAGES)."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        apt_packages(docker, hosts)
        libmesos(cache, artifact(cache))
        binary = launcher(cache)
    subprocess.run([str(binary), "--mode=check"], check=True, stdout=subprocess.DEVNULL)
    return binary


if __name__ == "__main__":  # `make test` runs it once before the test workers start their clusters
    print(ensure(docker="--no-docker" not in sys.argv[1:], hosts="--hosts" in sys.argv[1:]))

"""build-support/system-packages.sh: what `make` installs on a fresh Debian machine, and what it says.

Nothing is installed here: dpkg-query, apt-get and sudo are fakes on a PATH of their own (beside
the few real tools the script uses), and HALYARD_EUID pretends a user other than root.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "build-support" / "system-packages.sh"
REAL_TOOLS = ("bash", "awk", "grep", "id", "env", "cat", "true")

# What .ci/run installed with apt-get before `make test` did it itself.
CI_RUN_USED_TO_INSTALL = ("make gcc g++ python3 python3-venv python3-dev python3-pip ruby iproute2 procps tzdata "
                          "haproxy chromium chromium-driver").split()

FAKE_DPKG_QUERY = r"""#!/bin/bash
# dpkg-query -W -f=FORMAT PKG...: "PKG STATUS" for each package in $FAKE_DPKG_DB ("PKG STATUS" lines)
echo "$@" >> "$FAKE_LOG.dpkg-query"
[ "$1" = -W ] || exit 9
case $2 in "-f=\${Package} \${Status}\n") ;; *) echo "unexpected format $2" >&2; exit 9 ;; esac
shift 2
rc=0
for p in "$@"; do
  line=$(grep "^$p " "$FAKE_DPKG_DB") && echo "$line" || { echo "dpkg-query: no packages found matching $p" >&2; rc=1; }
done
exit $rc
"""
FAKE_APT_GET = r"""#!/bin/bash
echo "apt-get $* [DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} as ${FAKE_AS:-direct}]" >> "$FAKE_LOG.apt-get"
exit ${FAKE_APT_RC:-0}
"""
FAKE_SUDO_OK = r"""#!/bin/bash
echo "sudo $*" >> "$FAKE_LOG.sudo"
[ "$1" = -n ] || exit 9
shift
FAKE_AS=sudo exec "$@"
"""
FAKE_SUDO_NEEDS_PASSWORD = r"""#!/bin/bash
echo "sudo $*" >> "$FAKE_LOG.sudo"
echo "sudo: a password is required" >&2
exit 1
"""


def packages(*groups: str) -> list[str]:
    out = subprocess.run(["bash", str(SCRIPT), "--list", *groups], capture_output=True, text=True, check=True)
    return out.stdout.split()


class Machine:
    """A fake Debian machine: the packages dpkg knows, and logs of what was run."""

    def __init__(self, tmp: Path, installed: list[str], sudo: str | None = FAKE_SUDO_NEEDS_PASSWORD,
                 dpkg: bool = True, states: dict[str, str] | None = None):
        self.tmp, self.bin = tmp, tmp / "bin"
        self.bin.mkdir()
        for tool in REAL_TOOLS:
            os.symlink(shutil.which(tool), self.bin / tool)
        fakes = {"apt-get": FAKE_APT_GET}
        if dpkg:
            fakes["dpkg-query"] = FAKE_DPKG_QUERY
        if sudo is not None:
            fakes["sudo"] = sudo
        for name, text in fakes.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        lines = [f"{p} install ok installed" for p in installed]
        lines += [f"{p} {state}" for p, state in (states or {}).items()]
        (tmp / "dpkg.db").write_text("".join(line + "\n" for line in lines))

    def run(self, *groups: str, euid: int = 0, apt_rc: int = 0) -> subprocess.CompletedProcess:
        env = {"PATH": str(self.bin), "FAKE_DPKG_DB": str(self.tmp / "dpkg.db"), "FAKE_LOG": str(self.tmp / "log"),
               "HALYARD_EUID": str(euid), "FAKE_APT_RC": str(apt_rc), "DEBIAN_FRONTEND": ""}
        return subprocess.run([str(self.bin / "bash"), str(SCRIPT), *groups], capture_output=True, text=True, env=env,
                              timeout=30)

    def log(self, tool: str) -> list[str]:
        path = self.tmp / f"log.{tool}"
        return path.read_text().splitlines() if path.exists() else []


def test_the_groups_hold_what_the_venv_the_run_and_the_tests_need():
    run, test = packages("run"), packages("test")
    assert {"make", "gcc", "g++", "python3", "python3-dev", "python3-venv", "python3-pip", "curl"} <= set(run)
    assert set(CI_RUN_USED_TO_INSTALL) <= set(test) and set(run) <= set(test)
    assert {"haproxy", "chromium", "chromium-driver", "ruby"}.isdisjoint(run)  # `make run` needs none of them
    assert {"debootstrap", "iproute2"} <= set(packages("provision"))
    assert len(test) == len(set(test))
    # The local cluster's own packages stay with minimesos/up.
    assert {"zookeeper", "docker.io", "libsvn1", "docker-registry"}.isdisjoint(packages("run", "test", "provision"))


def test_nothing_missing_installs_nothing_and_says_nothing(tmp_path):
    machine = Machine(tmp_path, packages("test"))
    done = machine.run("test")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert machine.log("apt-get") == [] and machine.log("sudo") == []
    assert len(machine.log("dpkg-query")) == 1  # one query for all the packages


def test_the_check_gives_the_same_answer_every_time(tmp_path):
    """An earlier `printf "$installed" | grep -q` under pipefail called a present package missing about once
    in 50 runs (grep's early exit failed the pipe): no pipe into a grep that stops early, and 20 runs agree."""
    code = [line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if re.search(r"\|\s*grep\s+(-\w*[qm]|--quiet)", line)]
    machine = Machine(tmp_path, packages("test"))
    (machine.bin / "seq").symlink_to(shutil.which("seq"))
    env = {"PATH": str(machine.bin), "FAKE_DPKG_DB": str(tmp_path / "dpkg.db"), "FAKE_LOG": str(tmp_path / "log"),
           "HALYARD_EUID": "1000"}
    loop = f"for i in $(seq 20); do bash {SCRIPT} test || echo failed; done"
    done = subprocess.run([str(machine.bin / "bash"), "-c", loop], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout == "" and done.stderr == ""
    assert machine.log("apt-get") == [] and len(machine.log("dpkg-query")) == 20


def test_as_root_installs_only_what_is_missing_and_names_it_in_one_line(tmp_path):
    want = packages("test")
    missing = ["python3-venv", "chromium", "chromium-driver"]
    machine = Machine(tmp_path, [p for p in want if p not in missing])
    done = machine.run("test", euid=0)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"system-packages.sh: installing Debian packages: {' '.join(missing)}"]
    assert machine.log("apt-get") == [
        "apt-get update -qq [DEBIAN_FRONTEND=noninteractive as direct]",
        f"apt-get install -y -qq --no-install-recommends {' '.join(missing)} [DEBIAN_FRONTEND=noninteractive as direct]"]
    assert machine.log("sudo") == []


def test_removed_packages_whose_config_files_remain_count_as_missing(tmp_path):
    want = packages("run")
    machine = Machine(tmp_path, [p for p in want if p != "gcc"], states={"gcc": "deinstall ok config-files"})
    done = machine.run("run")
    assert done.returncode == 0, done.stderr
    assert machine.log("apt-get")[-1].startswith("apt-get install -y -qq --no-install-recommends gcc [")


def test_without_root_or_sudo_names_the_missing_packages_and_the_apt_line_and_fails(tmp_path):
    want = packages("test")
    machine = Machine(tmp_path, [p for p in want if p not in ("ruby", "haproxy")])
    done = machine.run("test", euid=1000)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "missing Debian packages: ruby haproxy" in done.stderr
    lines = [line.strip() for line in done.stderr.splitlines()]
    assert "apt-get update && apt-get install -y --no-install-recommends ruby haproxy" in lines
    assert machine.log("apt-get") == []


def test_without_root_a_passwordless_sudo_installs(tmp_path):
    want = packages("run")
    machine = Machine(tmp_path, [p for p in want if p != "python3-dev"], sudo=FAKE_SUDO_OK)
    done = machine.run("run", euid=1000)
    assert done.returncode == 0, done.stderr
    assert "installing Debian packages: python3-dev" in done.stdout
    assert machine.log("apt-get")[-1] == ("apt-get install -y -qq --no-install-recommends python3-dev "
                                          "[DEBIAN_FRONTEND=noninteractive as sudo]")


def test_a_failing_apt_get_fails_the_make(tmp_path):
    machine = Machine(tmp_path, [])
    done = machine.run("run", apt_rc=100)
    assert done.returncode != 0


def test_not_debian_warns_and_goes_on(tmp_path):
    machine = Machine(tmp_path, [], dpkg=False)
    done = machine.run("run")
    assert done.returncode == 0 and "not a Debian/Ubuntu system" in done.stderr
    assert machine.log("apt-get") == []


def test_an_unknown_group_is_refused(tmp_path):
    done = Machine(tmp_path, []).run("everything")
    assert done.returncode == 2 and "unknown group" in done.stderr


def _make_dry_run(target: str) -> list[str]:
    """The commands `make -n TARGET` would run on a machine without a venv (a copy of the tree's Makefile)."""
    done = subprocess.run(["make", "-n", "-C", str(ROOT), target, "VENV=/nonexistent/venv"], capture_output=True,
                          text=True, check=True)
    return done.stdout.splitlines()


@pytest.mark.parametrize("target, group", [("install", "run"), ("run", "run"), ("test", "test")])
def test_make_installs_the_packages_before_it_builds_the_venv(target, group):
    lines = _make_dry_run(target)
    check = next(i for i, line in enumerate(lines) if "build-support/system-packages.sh" in line)
    venv = next(i for i, line in enumerate(lines) if re.search(r"-m venv ", line))
    assert check < venv
    assert any(re.search(rf"system-packages\.sh( \w+)* {group}\b", line) for line in lines[:venv])


def test_ci_runs_the_readme_s_commands_only():
    text = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[:2] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."']
    assert all(line.startswith("make ") for line in commands[2:]) and "make test" in commands
    assert "apt-get" not in text


def test_the_provisioning_test_has_its_own_target_which_ci_runs_too():
    test, provision = _make_dry_run("test"), _make_dry_run("test-provision")
    assert any("pytest" in line and "--ignore=tests/provision" in line for line in test)
    assert any("system-packages.sh provision" in line for line in provision)
    assert any("pytest" in line and line.rstrip().endswith("tests/provision") for line in provision)
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert commands == ["make test", "make test-provision"]

"""vagrant/Vagrantfile stays valid Ruby; minimesos/minimesosFile matches minimesos/up's topology."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def require_tool(name: str) -> str:
    """The tool's path; skipped on a developer's machine without it, a failure in CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (`make test` must install it: build-support/system-packages.sh)")
        pytest.skip(f"{name} not installed")
    return path


def test_vagrantfile_is_valid_ruby():
    ruby = require_tool("ruby")
    proc = subprocess.run([ruby, "-c", str(ROOT / "vagrant" / "Vagrantfile")], capture_output=True, text=True)
    assert proc.returncode == 0 and "Syntax OK" in proc.stdout, proc.stderr


def test_minimesosfile_has_the_same_agents_as_up():
    text = (ROOT / "minimesos" / "minimesosFile").read_text()
    assert text.count("{") == text.count("}")
    sys.path.insert(0, str(ROOT / "minimesos"))
    try:
        from cluster import default_agents
    finally:
        sys.path.pop(0)
    agents = default_agents(3, 5050, "cpus:2;mem:2048;disk:4096", [])
    ports = re.findall(r'ports \{ role = "\*"; value = "\[(\d+-\d+)\]" \}', text)
    attrs = re.findall(r'attributes = "([^"]+)"', text)
    assert ports == [re.search(r"ports:\[(\d+-\d+)\]", a.resources).group(1) for a in agents]
    assert attrs == [";".join(f"{k}:{v}" for k, v in a.attributes.items()) for a in agents]

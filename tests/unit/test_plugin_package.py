"""A plugin in another installed package is found through the entry-point group and used by name."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "halyard-maintenance-policy"

CLUSTER = {"agents": [
    {"id": "a1", "hostname": "h1", "resources": {"cpus": 4, "mem": 4096, "ports": [[31000, 31009]]},
     "attributes": {"maintenance": "true"}, "domain": {"zone": "zone-a"}},
    {"id": "a2", "hostname": "h2", "resources": {"cpus": 4, "mem": 4096, "ports": [[31000, 31009]]},
     "domain": {"zone": "zone-b"}},
    {"id": "a3", "hostname": "h3", "resources": {"cpus": 4, "mem": 4096, "ports": [[31000, 31009]]},
     "domain": {"zone": "zone-a"}},
]}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """Install the example plugin package (for real, with pip) into a private directory."""
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(PLUGIN)], check=True)
    return target


def _halyard(plugin_path, *argv):
    # Keep what PYTHONPATH held (a checkout's import shim, say) after the plugin's directory.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(plugin_path), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "halyard.cli.main", *argv], capture_output=True,
                          text=True, env=env, check=False)


def test_plugin_is_discovered_and_places_with_its_own_reasons(plugin_path, tmp_path):
    (tmp_path / "cluster.json").write_text(json.dumps(CLUSTER))
    (tmp_path / "app.yaml").write_text(
        "id: api\ncmd: x\ncpus: 3\nmem: 64\ninstances: 3\n"
        "strategy: {name: avoid-maintenance, args: {prefer_zones: [zone-a]}}\n")
    proc = _halyard(plugin_path, "plan", "--cluster", str(tmp_path / "cluster.json"), str(tmp_path / "app.yaml"),
                    "-o", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # a1 is in maintenance; a3 (zone-a) is preferred over a2; each agent fits one 3-CPU task.
    assert [p["agent_id"] for p in doc["placements"]] == ["a3", "a2"]
    assert "agent is in maintenance (maintenance=true) on 1 of 3 agents" in doc["unplaced"][0]["reasons"]


def test_plugin_validates_its_own_args(plugin_path, tmp_path):
    (tmp_path / "app.yaml").write_text("id: api\ncmd: x\nstrategy: {name: avoid-maintenance, args: {then: pack}}\n")
    proc = _halyard(plugin_path, "validate", str(tmp_path / "app.yaml"))
    assert proc.returncode == 1 and "strategy.args.then: expected binpack or spread, got 'pack'" in proc.stderr


def test_without_the_package_the_name_is_unknown(tmp_path):
    (tmp_path / "app.yaml").write_text("id: api\ncmd: x\nstrategy: avoid-maintenance\n")
    proc = subprocess.run([sys.executable, "-m", "halyard.cli.main", "validate", str(tmp_path / "app.yaml")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "unknown strategy 'avoid-maintenance'" in proc.stderr

"""vagrant/Vagrantfile: Debian 12 VMs provisioned by vagrant/provision.sh with arguments it accepts.

The Vagrantfile is evaluated by Ruby with a stand-in for Vagrant that records each VM's box,
synced folders, addresses and provisioning commands; the commands are then parsed by
minimesos/provision.py's own argument parser. (tests/provision/ runs the provisioning itself.)
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from .test_cluster_files import require_tool

ROOT = Path(__file__).resolve().parents[2]

FAKE_VAGRANT = r'''
require "json"
$vms = {}
class Anything
  def method_missing(*args, **opts, &blk); self; end
  def respond_to_missing?(*args); true; end
end
class VM
  attr_reader :data
  def initialize; @data = {"networks" => [], "provision" => [], "synced" => []}; end
  def box=(value); @data["box"] = value; end
  def hostname=(value); @data["hostname"] = value; end
  def network(kind, **opts); @data["networks"] << [kind, opts[:ip]]; end
  def provision(kind, **opts); @data["provision"] << [kind, opts[:inline]]; end
  def provider(*args); yield Anything.new if block_given?; end
  def synced_folder(src, dst, **opts); @data["synced"] << [src, dst, opts[:disabled] ? "disabled" : opts[:type].to_s]; end
  def define(name, **opts); node = Node.new; yield node; $vms[name] = node.vm.data; end
end
class Node
  attr_reader :vm
  def initialize; @vm = VM.new; end
end
module Vagrant
  def self.configure(version); top = Node.new; yield top; $vms["*"] = top.vm.data; end
end
load ARGV[0]
puts JSON.generate($vms)
'''


def vagrant_machines() -> dict:
    ruby = require_tool("ruby")
    done = subprocess.run([ruby, "-e", FAKE_VAGRANT, str(ROOT / "vagrant" / "Vagrantfile")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def provision_module():
    sys.path.insert(0, str(ROOT / "minimesos"))
    try:
        import provision
    finally:
        sys.path.pop(0)
    return provision


def test_the_vms_are_debian_12_with_the_repository_synced():
    vms = vagrant_machines()
    top = vms["*"]
    assert top["box"] == "debian/bookworm64"
    assert ["..", "/halyard", "rsync"] in top["synced"]  # the repository, where provision.sh is
    assert set(vms) == {"*", "master", "agent1", "agent2"}
    text = (ROOT / "vagrant" / "Vagrantfile").read_text()
    assert "mesosphere" not in text and "apt-key" not in text  # the package repository that is gone


def test_each_vm_runs_provision_sh_with_arguments_it_accepts():
    vms, provision = vagrant_machines(), provision_module()
    parsed = {}
    for name in ("master", "agent1", "agent2"):
        (kind, inline), = vms[name]["provision"]
        argv = shlex.split(inline)
        assert kind == "shell" and argv[0] == "/halyard/vagrant/provision.sh"
        assert (ROOT / "vagrant" / "provision.sh").stat().st_mode & 0o111
        args = provision.parse_args(argv[1:])
        (_, ip), = vms[name]["networks"]
        assert args.ip == ip
        parsed[name] = args
    assert parsed["master"].role == "master" and parsed["master"].port == 5050
    for name in ("agent1", "agent2"):
        agent = parsed[name]
        assert agent.role == "agent" and agent.master == f"{parsed['master'].ip}:5050" and agent.docker
        assert f"zone:{agent.zone}" in agent.attributes and agent.attributes.startswith("rack_id:rack-")
    assert parsed["agent1"].ip != parsed["agent2"].ip


def test_provision_installs_a_master_and_an_agent_from_the_local_cluster_s_lists():
    provision = provision_module()
    install = sys.modules["install"]
    master, agent = provision.packages("master"), provision.packages("agent")
    assert set(install.MESOS_PACKAGES) <= set(master) and set(install.MESOS_PACKAGES) <= set(agent)
    assert "zookeeper" in master and "python3-kazoo" in master and "docker.io" not in master
    assert "docker.io" in agent and "zookeeper" not in agent
    assert "haproxy" not in master + agent  # the local cluster's tests' package, not a node's

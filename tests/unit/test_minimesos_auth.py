"""``minimesos/up --auth`` without starting anything: the credentials and ACL files, the master's
flags and the cluster.env lines."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

MINIMESOS = Path(__file__).resolve().parents[2] / "minimesos"
sys.path.insert(0, str(MINIMESOS))

import auth  # noqa: E402
import cli as minimesos_cli  # noqa: E402
from cluster import Cluster, Config, default_agents  # noqa: E402
from procs import Proc  # noqa: E402


def test_credentials_name_the_principal_with_its_secret():
    assert auth.credentials("halyard", "s3cret") == {"credentials": [{"principal": "halyard", "secret": "s3cret"}]}


def test_acls_let_only_the_principal_register_and_only_in_role_star():
    acls = auth.acls("halyard")
    allow, deny = acls["register_frameworks"]  # matched in order: the first that matches decides
    assert allow == {"principals": {"values": ["halyard"]}, "roles": {"values": ["*"]}}
    assert deny == {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
    assert list(acls) == ["register_frameworks"]  # every other action stays permissive (agents register)


def test_ensure_writes_private_files_and_keeps_the_secret_of_a_running_cluster(tmp_path):
    found = auth.ensure(tmp_path)
    secret = found.secret_file.read_text().strip()
    assert found.secret_file == tmp_path / "halyard.secret" and len(secret) >= 24
    for path in (found.secret_file, found.credentials_file):
        assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(found.credentials_file.read_text()) == auth.credentials("halyard", secret)
    assert json.loads(found.acls_file.read_text()) == auth.acls("halyard")
    found.credentials_file.chmod(0o644)
    assert auth.ensure(tmp_path).secret_file.read_text().strip() == secret  # generated once
    assert found.credentials_file.stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other"
    assert auth.ensure(other).secret_file.read_text().strip() != secret  # each cluster its own


def test_an_auth_cluster_gives_the_master_the_flags_and_cluster_env_the_principal(tmp_path):
    agents = default_agents(1, 15350, "cpus:1", [], 44000)
    config = Config(run_dir=str(tmp_path), master_port=15350, agents=agents, auth=True)
    assert config.env_lines()[-2:] == ["MESOS_PRINCIPAL=halyard", f"MESOS_SECRET_FILE={tmp_path / 'halyard.secret'}"]
    cluster = Cluster(config)
    master = cluster.master().env
    assert master["MESOS_AUTHENTICATE_HTTP_FRAMEWORKS"] == "true"
    assert master["MESOS_HTTP_FRAMEWORK_AUTHENTICATORS"] == "basic"
    assert master["MESOS_CREDENTIALS"] == str(tmp_path / "credentials.json")
    assert master["MESOS_ACLS"] == f"file://{tmp_path / 'acls.json'}"
    agent = cluster.agent(1).env  # agents are not authenticated, and need none of it
    assert not {"MESOS_CREDENTIALS", "MESOS_ACLS", "MESOS_AUTHENTICATE_HTTP_FRAMEWORKS"} & set(agent)


def test_a_cluster_without_auth_is_as_before_also_when_loaded_from_an_older_cluster_json(tmp_path):
    config = Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", []))
    assert not [line for line in config.env_lines() if "PRINCIPAL" in line or "SECRET" in line]
    assert "MESOS_AUTHENTICATE_HTTP_FRAMEWORKS" not in Cluster(config).master().env
    config.save()
    data = json.loads((tmp_path / "cluster.json").read_text())
    del data["auth"]  # written before --auth existed
    (tmp_path / "cluster.json").write_text(json.dumps(data))
    assert Config.load(tmp_path).auth is False


def test_up_refuses_to_turn_auth_on_for_a_cluster_that_runs_without_it(tmp_path, monkeypatch):
    config = Config(run_dir=str(tmp_path), agents=default_agents(1, 5050, "cpus:1", []))
    config.save()
    monkeypatch.setenv("MINIMESOS_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(Proc, "alive", lambda self: True)  # as if its processes ran
    with pytest.raises(SystemExit) as refused:
        minimesos_cli.main(["up", "--agents", "1", "--auth"])
    assert "auth False" in str(refused.value) and "minimesos/down" in str(refused.value)

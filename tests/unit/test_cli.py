"""``halyard validate`` and ``halyard plan`` as a user runs them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from halyard.cli.main import main
from halyard.placement import Scope, Scorer, Strategy, StrategyRegistry
from halyard.placement.registry import BUILTINS

ROOT = Path(__file__).resolve().parents[2]
HELLO = str(ROOT / "examples" / "hello.yaml")
CLUSTER = str(ROOT / "examples" / "cluster.yaml")
STATE = str(Path(__file__).parent / "data" / "master_state.json")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_prints_the_resolved_app(capsys):
    code, out, _ = run(capsys, "validate", HELLO, "--env", "production")
    app = yaml.safe_load(out)
    assert code == 0 and app["instances"] == 3 and app["cpus"] == 0.25
    code, out, _ = run(capsys, "validate", HELLO, "-o", "json")
    assert code == 0 and json.loads(out)["instances"] == 2


def test_validate_lists_every_problem_and_exits_non_zero(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: web\ncmd: x\nconstraints: [[hostname, UNIQUE], [rack_id, UNIQ]]\ncpus: many\n"
                   "strategy: {name: spread, args: {width: 2}}\n")
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 1 and out == ""
    assert "constraints[1][1]: unknown operator 'UNIQ'" in err and "cpus: expected a number" in err
    bad.write_text("id: web\ncmd: x\nstrategy: {name: spread, args: {width: 2}}\n")
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 1 and "strategy.args.width: unknown argument for spread" in err


def test_validate_unknown_env(capsys):
    code, _, err = run(capsys, "validate", HELLO, "--env", "staging")
    assert code == 1 and "no environment 'staging' (defined: dev, production)" in err


def test_plan_json_shape(capsys):
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, HELLO, "--env", "production", "-o", "json")
    doc = json.loads(out)
    assert code == 0 and set(doc) == {"placements", "unplaced"}
    assert len(doc["placements"]) == 3 and doc["unplaced"] == []
    first = doc["placements"][0]
    assert set(first) == {"app", "instance", "agent_id", "hostname", "resources", "ports", "scores"}
    assert first["app"] == "/examples/hello" and set(first["resources"]) == {"cpus", "mem", "disk", "gpus"}
    assert len({p["hostname"] for p in doc["placements"]}) == 3  # UNIQUE hostname


def test_plan_table_explains_unplaced(capsys, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("id: big\ncmd: x\ncpus: 1.5\nmem: 64\ninstances: 4\n")
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, str(big))
    assert code == 0 and "Placed 2 of 4 new instance(s) on 2 agent(s)." in out
    assert "Not placed: 2 instance(s) of /big" in out and "insufficient cpus (needs 1.5) on 3 of 3 agents" in out


def test_plan_reads_master_state_and_counts_running_tasks(capsys):
    code, out, _ = run(capsys, "plan", "--cluster", STATE, HELLO, "-o", "json")
    doc = json.loads(out)
    # 2 instances wanted, 1 already runs on S0 (127.0.0.1): one more, on another host (UNIQUE).
    assert code == 0 and [(p["instance"], p["hostname"]) for p in doc["placements"]] == [(1, "127.0.0.2")]


def test_plan_strategy_override_and_seed(capsys, tmp_path):
    many = tmp_path / "many.yaml"
    many.write_text("id: many\ncmd: x\ncpus: 0.1\nmem: 8\ninstances: 6\n")
    _, out, _ = run(capsys, "plan", "--cluster", CLUSTER, str(many), "--strategy", "spread", "-o", "json")
    assert len({p["agent_id"] for p in json.loads(out)["placements"]}) == 3
    _, out, _ = run(capsys, "plan", "--cluster", CLUSTER, str(many), "--strategy", "binpack", "-o", "json")
    assert len({p["agent_id"] for p in json.loads(out)["placements"]}) == 1
    code, _, err = run(capsys, "plan", "--cluster", CLUSTER, str(many), "--strategy", "nope")
    assert code == 1 and "unknown strategy 'nope'" in err


def test_plan_needs_exactly_one_cluster_source(capsys):
    code, _, err = run(capsys, "plan", HELLO)
    assert code == 2 and "exactly one of --cluster FILE or --master URL" in err


def test_plan_from_an_unreachable_master_says_so(capsys):
    code, _, err = run(capsys, "plan", "--master", "http://127.0.0.1:9", HELLO)
    assert code == 1 and "cannot reach the master at http://127.0.0.1:9" in err


def test_plan_bad_cluster_file(capsys, tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("agents:\n  - {id: a}\n")
    code, _, err = run(capsys, "plan", "--cluster", str(bad), HELLO)
    assert code == 1 and "agents[0].hostname: required" in err


def test_console_script_is_installed():
    import subprocess
    import sys

    script = Path(sys.executable).parent / "halyard"
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "halyard" in proc.stdout


def test_job_validate_resolves_environments_masks_secrets_and_names_problems(capsys, tmp_path):
    report = str(Path(__file__).parents[2] / "examples" / "jobs" / "report.yaml")
    code, out, _ = run(capsys, "job", "validate", report, "--env", "production")
    job = yaml.safe_load(out)
    assert code == 0 and job["cpus"] == 0.5 and job["env"]["API_TOKEN"] == {"secret": True}
    assert "not-a-real-token" not in out and "environments" not in job
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Nightly\ncmd: x\nschedule: {cron: '0 3 * *', timezone: Mars/Olympus}\n"
                   "strategy: {name: spread, args: {width: 2}}\n")
    code, out, err = run(capsys, "job", "validate", str(bad))
    assert code == 1 and out == ""
    assert "schedule.cron: expected 5 fields" in err and "schedule.timezone: unknown time zone 'Mars/Olympus'" in err
    assert "id: use lowercase" in err


def test_the_advertised_address_defaults_to_listen_with_a_wildcard_host_named():
    import socket

    from halyard.runtime.config import ServiceConfig

    assert ServiceConfig("m", "zk://z", listen="127.0.0.1:8080").advertised == "127.0.0.1:8080"
    assert ServiceConfig("m", "zk://z", listen="0.0.0.0:8080").advertised == f"{socket.getfqdn()}:8080"
    assert ServiceConfig("m", "zk://z", listen="0.0.0.0:8080", advertise="lb.example:80").advertised == "lb.example:80"


def test_a_malformed_advertise_address_is_refused_naming_the_flag():
    from click.testing import CliRunner

    from halyard.cli.main import cli

    result = CliRunner().invoke(cli, ["scheduler", "--master", "http://m:5050", "--zk", "zk://z:2181/h",
                                      "--advertise", "no-port"])
    assert result.exit_code == 2 and "--advertise" in result.output and "HOST:PORT" in result.output


def test_deploy_submits_min_ready_seconds_unless_the_service_sets_it():
    from halyard.cli.deploy import DEFAULT_MIN_READY_SECONDS, with_min_ready
    from halyard.spec.validation import load_apps, parse_app

    assert with_min_ready(parse_app({"id": "/w", "cmd": "serve"})).min_ready_seconds == DEFAULT_MIN_READY_SECONDS == 3
    assert with_min_ready(parse_app({"id": "/w", "cmd": "serve", "minReadySeconds": 0})).min_ready_seconds == 0
    for path in (HELLO, str(ROOT / "examples" / "services" / "hello.yaml")):
        [spec] = load_apps(path, "production")
        assert spec.min_ready_seconds == 3 and spec.to_json()["minReadySeconds"] == 3


class Raises(Scorer):
    name = "raises"
    scope = Scope.AGENT

    def score(self, ctx, agent):
        raise RuntimeError("boom")


@pytest.fixture
def broken_plugins(monkeypatch):
    """Installed plugins, as discovered: ``raises`` (its scorer raises) and ``crashes`` (its factory)."""
    plugins = {"raises": lambda args: Strategy("raises", scorers=((Raises(), 1.0),)), "crashes": lambda args: 1 / 0}
    monkeypatch.setattr(StrategyRegistry, "discover", classmethod(lambda cls: cls({**BUILTINS, **plugins})))


def test_plan_shows_a_broken_strategy_as_the_reason_and_places_the_other_apps(capsys, tmp_path, broken_plugins):
    apps = tmp_path / "apps.yaml"
    apps.write_text("apps:\n"
                    "  - {id: ok, cmd: x, cpus: 0.1, mem: 8}\n"
                    "  - {id: bad, cmd: x, cpus: 0.1, mem: 8, instances: 2, strategy: raises}\n"
                    "  - {id: worse, cmd: x, cpus: 0.1, mem: 8, strategy: crashes}\n")
    code, out, err = run(capsys, "plan", "--cluster", CLUSTER, str(apps), "-o", "json")
    doc = json.loads(out)
    assert code == 0 and err == "" and [p["app"] for p in doc["placements"]] == ["/ok"]
    assert doc["unplaced"] == [
        {"app": "/bad", "count": 2,
         "reasons": ["strategy 'raises' failed: scorer 'raises' raised RuntimeError('boom')"]},
        {"app": "/worse", "count": 1, "reasons": [
            "strategy 'crashes' failed: strategy 'crashes' failed to start: ZeroDivisionError('division by zero')"]}]
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, str(apps))
    assert code == 0 and "Not placed: 2 instance(s) of /bad\n  - strategy 'raises' failed: scorer 'raises'" in out
    # validate still refuses a plugin that cannot start
    code, _, err = run(capsys, "validate", str(apps))
    assert code == 1 and "strategy 'crashes' failed to start" in err


SERVICES = ROOT / "examples" / "services"


def test_validate_and_plan_resolve_the_environments_namespace(capsys):
    code, out, _ = run(capsys, "validate", str(SERVICES / "hello.yaml"), "--env", "production", "-o", "json")
    assert code == 0 and json.loads(out)["id"] == "/production/examples/hello-service"
    code, out, _ = run(capsys, "validate", str(SERVICES / "hello.yaml"))
    assert code == 0 and yaml.safe_load(out)["id"] == "/examples/hello-service"   # no environment: no namespace
    code, out, _ = run(capsys, "plan", "--cluster", CLUSTER, str(SERVICES / "hello.yaml"), "--env", "dev", "-o", "json")
    assert code == 0 and json.loads(out)["placements"][0]["app"] == "/dev/examples/hello-service"
    code, _, err = run(capsys, "validate", str(SERVICES / "hello.yaml"), "--env", "qa")
    assert code == 1 and "no environment 'qa'" in err


def test_an_environment_token_comes_from_its_variable_and_must_be_set(tmp_path, monkeypatch):
    from halyard.cli.pipeline import Pipeline
    (tmp_path / "environments.yaml").write_text("environments:\n  prod: {api: 'http://prod:8080', tokenEnv: PROD_T}\n")
    pipeline = Pipeline(str(tmp_path), "http://default:8080")
    monkeypatch.setenv("PROD_T", "s3cret")
    client = pipeline.client(pipeline.env("prod"))
    assert (client.base, client.token) == ("http://prod:8080", "s3cret")
    monkeypatch.delenv("PROD_T")
    with pytest.raises(Exception, match=r"\$PROD_T is not set"):
        pipeline.client(pipeline.env("prod"))


def test_a_deployed_app_is_labelled_with_its_version_and_environment(tmp_path):
    """DiscoveryInfo names them (``version``, ``environment``) from these labels."""
    from halyard.cli.pipeline import Pipeline
    (tmp_path / "environments.yaml").write_text("environments:\n  dev: {namespace: /dev}\n")
    (tmp_path / "web.yaml").write_text("id: /shop/web\ncmd: serve {version}\ncpus: 0.1\nmem: 16\nenvironments: {dev: {}}\n")
    pipeline = Pipeline(str(tmp_path), "http://default:8080")
    spec = pipeline.spec("web", "v7", pipeline.env("dev"))
    assert spec.id == "/dev/shop/web" and spec.cmd == "serve v7"
    assert {k: spec.labels[k] for k in ("HALYARD_VERSION", "HALYARD_ENVIRONMENT")} == {
        "HALYARD_VERSION": "v7", "HALYARD_ENVIRONMENT": "dev"}


def test_deploy_refuses_a_promotion_with_exit_4_before_anything_is_sent(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from halyard.cli import pipeline as pipeline_module
    from halyard.cli.deploy import deploy
    (tmp_path / "environments.yaml").write_text("environments:\n  staging: {}\n  production: {promoteFrom: staging}\n")
    (tmp_path / "web.yaml").write_text("id: /web\ncmd: serve\nenvironments: {staging: {}, production: {}}\n")
    sent = []
    monkeypatch.setattr(pipeline_module.Pipeline, "history", lambda self, service, env: [])
    monkeypatch.setattr(pipeline_module.Client, "request", lambda self, *a, **k: sent.append(a))
    result = CliRunner().invoke(deploy, ["web", "v2", "production", "--services", str(tmp_path)])
    assert result.exit_code == 4 and "v2 has no successful release in staging (nothing runs in staging)" in result.output
    assert sent == []
    result = CliRunner().invoke(deploy, ["web", "v2", "nowhere", "--services", str(tmp_path)])
    assert result.exit_code == 3 and "no environment 'nowhere'" in result.output


def test_releases_prints_a_table_with_the_current_release_marked(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from halyard.cli import releases as releases_module

    def shown(version, result, digest=None, **extra):
        return {"id": f"id-{version}-{result}", "service": "hello", "environment": "dev", "version": version,
                "appId": "/hello", "deploymentId": "d", "at": "2026-12-02T01:00:00.000Z", "who": "ci",
                "image": "r/hello@" + digest if digest else None, "digest": digest, "pinned": bool(digest),
                "result": result, **extra}
    answer = {"releases": [shown("2", "failed"), shown("1", "succeeded", "sha256:" + "ab" * 32, forced=True)]}
    monkeypatch.setattr(releases_module.Client, "get", lambda self, path, **params: answer)
    result = CliRunner().invoke(releases_module.releases, ["hello", "--services", str(tmp_path)])
    lines = result.output.splitlines()
    assert result.exit_code == 0, result.output
    assert lines[0].split() == ["VERSION", "DIGEST", "ENVIRONMENT", "WHEN", "RESULT", "CURRENT", "WHO", "NOTE"]
    assert lines[1].split() == ["2", "-", "dev", "2026-12-02T01:00:00.000Z", "failed", "ci", "-"]
    assert lines[2].split() == ["1", "sha256:abababababab", "dev", "2026-12-02T01:00:00.000Z", "succeeded", "*", "ci",
                                "forced"]


def test_help_lists_every_command_with_its_own_summary_without_importing_it():
    import importlib

    import click

    from halyard.cli.main import COMMANDS

    for name, (module, attr, summary) in COMMANDS.items():
        command = getattr(importlib.import_module(f"halyard.cli.{module}"), attr)
        assert isinstance(command, click.Command) and command.get_short_help_str(500) == summary, name


def test_help_imports_neither_pydantic_nor_requests():
    import subprocess
    import sys

    code = ("import sys; from halyard.cli.main import main; rc = main(['--help']);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'requests', 'croniter', 'yaml')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "plan" in out and "scheduler" in out and out.strip().splitlines()[-1] == "[]"


def test_cluster_and_app_files_read_as_yaml_safe_load_reads_them(tmp_path):
    import json

    import yaml

    from halyard.errors import ValidationError
    from halyard.spec.validation import load_document

    doc = {"agents": [{"id": "a", "hostname": "h", "resources": {"cpus": 2.5, "mem": 1024, "ports": [[1, 2]]},
                       "attributes": {"rack": "r1", "ok": True, "none": None}}]}
    for name, text in [("c.json", json.dumps(doc)), ("c.yaml", yaml.safe_dump(doc)),
                       ("flow.yaml", "{agents: [{id: a, hostname: h}]}"), ("list.json", "[1, 2.5, \"x\"]")]:
        (tmp_path / name).write_text(text)
        assert load_document(tmp_path / name) == yaml.safe_load(text), name
    (tmp_path / "bad.json").write_text('{"agents": [\n  {"id": "a",,}]}')
    with pytest.raises(ValidationError) as err:
        load_document(tmp_path / "bad.json")
    assert "not valid YAML/JSON: line 2" in str(err.value)


def test_a_drain_s_progress_per_app_says_moved_waiting_with_the_reasons_and_done():
    from halyard.cli.agents import progress_lines

    drain = {"apps": [
        {"app": "/a", "initial": 3, "left": 3, "status": "moving", "reasons": []},
        {"app": "/b", "initial": 2, "left": 1, "status": "waiting",
         "reasons": ["insufficient cpus (needs 1.5) on 2 of 2 agents", "UNIQUE hostname on 1 of 2 agents"]},
        {"app": "/c", "initial": 4, "left": 0, "status": "done", "reasons": []}]}
    assert progress_lines(drain) == [
        "/a: moving, 0/3 moved",
        "/b: waiting, 1/2 moved: insufficient cpus (needs 1.5) on 2 of 2 agents; UNIQUE hostname on 1 of 2 agents",
        "/c: done (4 moved)"]

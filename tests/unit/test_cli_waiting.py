"""The CLI says why it waits: the placement reasons after a few seconds without progress (again
when they change), and, for a change refused because a deployment holds the app (409), which
deployment and the ``--force`` that supersedes it. The commands run against the API in-process."""
from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from halyard.api.server import create_app
from halyard.cli import progress
from halyard.cli.main import COMMANDS, main
from halyard.engine.messages import Offers, Subscribed

from .asgi_requests import route_cli_to
from .test_api import FakeBackend, call
from .test_engine import offer
from .test_releases import FixedResolver, MemoryReleases

BIG = "id: /big\ncmd: serve\ncpus: 64\nmem: 16\ninstances: 2\n"
REASON = "insufficient cpus (needs 64) on 3 of 3 agents"


class OfferingBackend(FakeBackend):
    """After each command, the cluster's three agents offer 2 cpus each: what cannot be placed
    waits, with its reasons."""

    def submit(self, command: Any) -> None:
        super().submit(command)
        self.engine.handle(Subscribed("F1"))
        self.engine.handle(Offers((offer(1), offer(2), offer(3))))


@pytest.fixture
def cli(monkeypatch):
    """(the backend, the API, the --api URL the CLI's requests reach it at)"""
    backend = OfferingBackend()
    api = create_app(backend)
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.3)
    return backend, api, route_cli_to(monkeypatch, api)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- the waiting lines --------------------------------------------------------------------------

def test_apps_create_names_why_its_instances_wait(cli, capsys, tmp_path):
    _, _, url = cli
    (tmp_path / "big.yaml").write_text(BIG)
    code, _, err = run(capsys, "apps", "create", str(tmp_path / "big.yaml"), "--timeout", "1.5", "--api", url)
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0] == "0/2 running" and f"0/2 running (waiting: {REASON})" in lines, lines


@pytest.mark.parametrize("argv", [["scale", "/big", "3"], ["restart", "/big"]])
def test_apps_scale_and_restart_name_why_they_wait(cli, capsys, argv):
    _, api, url = cli
    call(api, "POST", "/v2/apps", {"id": "/big", "cmd": "serve", "cpus": 64, "mem": 16, "instances": 2})
    code, _, err = run(capsys, "apps", *argv, "--force", "--timeout", "1", "--api", url)
    assert code == 2 and f"(waiting: {REASON})" in err, err


def test_the_reasons_are_told_after_a_quiet_spell_and_again_when_they_change():
    now = [0.0]
    watch = progress.WaitingWatch(quiet=3.0, clock=lambda: now[0])
    table = [  # (seconds, progress, reasons) -> what is told
        (0.0, (0, 0), ["no offer"], None),          # too early
        (2.0, (0, 0), ["no offer"], None),
        (3.5, (0, 0), ["no offer"], ["no offer"]),  # quiet for 3 s: told
        (4.0, (0, 0), ["no offer"], ["no offer"]),  # still what waits
        (5.0, (0, 0), ["short of cpus"], ["short of cpus"]),  # changed: told at once
        (6.0, (1, 0), ["short of cpus"], None),     # progress: quiet again
        (8.0, (1, 0), ["short of cpus"], None),
        (9.5, (1, 0), ["short of cpus"], ["short of cpus"]),
        (10.0, (1, 0), [], None),                   # nothing waits
    ]
    for at, made, reasons, told in table:
        now[0] = at
        assert watch.waiting(made, reasons) == told, at


# --- a locked app: which deployment, and --force ------------------------------------------------

def locked(api: Any) -> str:
    """Create /big (its deployment cannot end: it cannot be placed); the deployment's id."""
    status, body = call(api, "POST", "/v2/apps", {"id": "/big", "cmd": "serve", "cpus": 64, "mem": 16, "instances": 2})
    assert status == 201
    return body["deployments"][0]["id"]


@pytest.mark.parametrize("argv", [["scale", "/big", "1"], ["restart", "/big"], ["update", "FILE"], ["destroy", "/big"]])
def test_a_change_of_a_locked_app_names_the_deployment_and_offers_force(cli, capsys, tmp_path, argv):
    _, api, url = cli
    deployment = locked(api)
    (tmp_path / "big.yaml").write_text(BIG.replace("instances: 2", "instances: 1"))
    argv = [str(tmp_path / "big.yaml") if a == "FILE" else a for a in argv]
    code, _, err = run(capsys, "apps", *argv, "--api", url)
    assert code == 1
    assert f"/big is locked by deployment {deployment} (start of /big, running since " in err, err
    assert f"halyard apps {argv[0]}" in err and "--force" in err, err
    wait = [] if argv[0] == "destroy" else ["--no-wait"]
    code, _, err = run(capsys, "apps", *argv, "--force", *wait, "--api", url)
    assert code == 0, err


def test_deploy_of_a_locked_app_names_the_deployment_and_offers_force(monkeypatch, tmp_path):
    from halyard.releases.desk import ReleaseDesk

    backend = OfferingBackend()
    desk = ReleaseDesk(backend, MemoryReleases(), FixedResolver(), {}, clock=lambda: 1_700_000_000.0)
    api = create_app(backend, release_desk=desk)
    url = route_cli_to(monkeypatch, api)
    (tmp_path / "big.yaml").write_text(BIG.replace("id: /big", "id: /shop/big"))
    (tmp_path / "environments.yaml").write_text("environments:\n  dev: {pinDigest: false}\n")
    status, body = call(api, "POST", "/v2/apps", {"id": "/shop/big", "cmd": "serve", "cpus": 64, "mem": 16})
    deployment = body["deployments"][0]["id"]
    from halyard.cli.deploy import deploy
    result = CliRunner().invoke(deploy, ["big", "v1", "dev", "--services", str(tmp_path), "--api", url])
    assert result.exit_code == 3
    assert f"/shop/big is locked by deployment {deployment} (start of /shop/big" in result.output, result.output
    assert "deploy" in result.output and "--force" in result.output


def test_rebalance_of_a_locked_app_names_the_deployment_and_offers_force(monkeypatch, capsys):
    from halyard.cli.client import ApiError, Client

    backend = OfferingBackend()
    api = create_app(backend)
    url = route_cli_to(monkeypatch, api)
    deployment = locked(api)
    sent: list = []
    real = Client.request

    def request(self, method, path, json=None, **kwargs):
        if path == "/v1/rebalance":  # a race: the app got a deployment after the plan was made
            sent.append(json)
            raise ApiError("HTTP 409: App is locked by one or more deployments.", 409,
                           {"message": "App is locked", "deployments": [{"id": deployment}]}, self)
        return real(self, method, path, json=json, **kwargs)
    monkeypatch.setattr(Client, "request", request)
    code, _, err = run(capsys, "rebalance", "/big", "--api", url)
    assert code == 1 and f"locked by deployment {deployment}" in err
    assert "halyard rebalance" in err and "--force" in err
    run(capsys, "rebalance", "/big", "--force", "--api", url)
    assert sent[-1]["force"] is True


def test_every_command_that_waits_for_a_deployment_has_force():
    import importlib

    from halyard.cli.apps import apps
    commands = [apps.commands[name] for name in ("create", "update", "scale", "restart", "destroy")]
    commands += [getattr(importlib.import_module(f"halyard.cli.{COMMANDS[n][0]}"), COMMANDS[n][1])
                 for n in ("deploy", "rebalance", "promote")]
    for command in commands:
        assert "--force" in [o for p in command.params for o in p.opts], command.name


def test_the_rebalance_api_takes_force(monkeypatch):
    from halyard.api.rebalance import parse_request
    assert parse_request({"force": True})[-1] is True and parse_request({})[-1] is False

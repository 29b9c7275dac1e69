"""Scoped tokens, the audit log and a SIGHUP revocation against a real scheduler, driven through
marathon-python (its ``auth_token`` sends DC/OS's ``Authorization: token=...``)."""
from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from pathlib import Path

import pytest
import requests
from marathon import MarathonClient, MarathonHttpError
from marathon.models import MarathonApp

from .harness import SchedulerProc, clean_shutdown, sleep_app, unique
from .v1client import until

pytestmark = pytest.mark.integration
TOP = f"/tok{uuid.uuid4().hex[:6]}"
ADMIN, TEAM_A, TEAM_B = (f"{who}-{uuid.uuid4().hex}" for who in ("admin", "a", "b"))


def tokens_text(with_b: bool = True) -> str:
    text = f"{ADMIN} rw name=admin\n{TEAM_A} rw {TOP}/a/ name=ci-team-a\n"
    return text + (f"{TEAM_B} rw {TOP}/b/ name=ci-team-b\n" if with_b else "")


class Events:
    """A /v2/events stream read on a thread: the frames' JSON, as they come."""

    def __init__(self, url: str, token: str):
        self.events: list[dict] = []
        self.response = requests.get(url + "/v2/events", stream=True, timeout=(5, 120),
                                     headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}"})
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):
                    self.events.append(json.loads(line[6:]))
        except (requests.RequestException, AttributeError, ValueError):
            return  # closed by close()

    def close(self) -> None:
        self.response.close()


@pytest.fixture(scope="module")
def setup(cluster, tmp_path_factory):
    work = tmp_path_factory.mktemp("auth_scopes")
    tokens, audit = work / "tokens", work / "audit.log"
    tokens.write_text(tokens_text())
    name = unique("halyard-test")
    s = SchedulerProc(cluster, unique("halyard-test"), name, work, "--tokens-file", str(tokens),
                      "--audit-log", str(audit), "--auth-reads").start()
    try:
        until(s.leading, 30, what="leader")
        admin = MarathonClient(s.url, auth_token=ADMIN)
        for app_id in (f"{TOP}/a/web", f"{TOP}/b/web"):
            admin.create_app(app_id, MarathonApp.from_json(sleep_app(app_id, 0)))
        yield s, tokens, audit
    finally:
        clean_shutdown(cluster, name, [s])


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_scoped_token_scales_its_app_not_another_teams_and_is_audited(setup):
    s, _, audit = setup
    stream = Events(s.url, ADMIN)
    try:
        until(lambda: any(e["eventType"] == "event_stream_attached" for e in stream.events), 10,
              what="the event stream attached")
        team_a = MarathonClient(s.url, auth_token=TEAM_A)
        with pytest.raises(MarathonHttpError) as refused:   # scale_app's PUT (its GET is refused too: --auth-reads)
            team_a.update_app(f"{TOP}/b/web", MarathonApp(instances=1))
        assert refused.value.status_code == 403
        assert f"may change only ids under {TOP}/a/" in refused.value.error_message
        assert MarathonClient(s.url, auth_token=ADMIN).get_app(f"{TOP}/b/web").instances == 0   # nothing changed

        scaled = team_a.scale_app(f"{TOP}/a/web", instances=1)
        until(lambda: [t for t in s.running(f"{TOP}/a/web")], 60, what="team a's task running")

        # The audit file: one line per write, naming the token, never showing it.
        def mine() -> list[dict]:
            return [line for line in audit_lines(audit) if line["token"] == "ci-team-a"]
        until(lambda: len(mine()) == 2, 10, what="two audit lines of ci-team-a")
        refused_line, scaled_line = mine()
        assert (refused_line["method"], refused_line["status"]) == ("PUT", 403)
        assert refused_line["path"].startswith("/v2/apps/") and f"{TOP}/b/web?force=" in refused_line["path"]
        assert (scaled_line["status"], scaled_line["deploymentId"]) == (200, scaled["deploymentId"])
        assert scaled_line["remoteAddress"] == "127.0.0.1" and scaled_line["time"].endswith("Z")
        text = audit.read_text()
        assert ADMIN not in text and TEAM_A not in text and TEAM_B not in text

        # The same records on the event stream, as api_post_event.
        until(lambda: len([e for e in stream.events if e.get("token") == "ci-team-a"]) == 2, 15,
              what="two api_post_events of ci-team-a")
        refused_event, scaled_event = [e for e in stream.events if e.get("token") == "ci-team-a"]
        assert refused_event["status"] == 403 and refused_event["uri"].endswith(f"{TOP}/b/web")
        assert scaled_event["appDefinition"]["instances"] == 1 and scaled_event["clientIp"] == "127.0.0.1"
        assert scaled_event["deploymentId"] == scaled["deploymentId"]
    finally:
        stream.close()


def test_sighup_revokes_a_token_for_the_next_request_and_a_bad_file_keeps_the_old_tokens(setup):
    s, tokens, _ = setup
    team_b = MarathonClient(s.url, auth_token=TEAM_B)
    assert team_b.scale_app(f"{TOP}/b/web", instances=0, force=True)["deploymentId"]
    log = Path(s.log)

    def hup_and_wait(what: str) -> None:
        seen = log.read_text().count(what)
        os.kill(s.proc.pid, signal.SIGHUP)  # type: ignore[union-attr]
        until(lambda: log.read_text().count(what) > seen, 10, what=f"the scheduler logged {what!r}")

    tokens.write_text(tokens_text(with_b=False))
    hup_and_wait("reloaded: 2 token(s)")
    with pytest.raises(MarathonHttpError) as revoked:
        team_b.scale_app(f"{TOP}/b/web", instances=0, force=True)
    assert revoked.value.status_code == 401

    tokens.write_text(tokens_text() + "oops rx\n")   # a bad file: the tokens in force stay
    hup_and_wait("tokens file not reloaded")
    assert "line 4: expected 'rw' or 'ro'" in log.read_text()
    with pytest.raises(MarathonHttpError) as still:
        team_b.scale_app(f"{TOP}/b/web", instances=0, force=True)
    assert still.value.status_code == 401
    resp = requests.delete(s.url + f"/v2/queue{TOP}/a/web/delay", headers={"Authorization": f"Bearer {TEAM_A}"},
                           timeout=10)
    assert resp.status_code == 204


def test_with_auth_reads_a_scoped_token_sees_only_its_apps(setup):
    s, _, _ = setup
    team_a = MarathonClient(s.url, auth_token=TEAM_A)
    assert [a.id for a in team_a.list_apps() if a.id.startswith(TOP)] == [f"{TOP}/a/web"]
    assert {a.id for a in MarathonClient(s.url, auth_token=ADMIN).list_apps()} >= {f"{TOP}/a/web", f"{TOP}/b/web"}
    with pytest.raises(MarathonHttpError) as refused:
        team_a.get_app(f"{TOP}/b/web")
    assert refused.value.status_code == 403 and f"{TOP}/a/" in refused.value.error_message
    assert all(t.app_id.startswith(f"{TOP}/a/") for t in team_a.list_tasks())
    with pytest.raises(MarathonHttpError) as anonymous:
        MarathonClient(s.url).list_apps()
    assert anonymous.value.status_code == 401

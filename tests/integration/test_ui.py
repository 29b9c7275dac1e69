"""The dashboard in a real browser (Debian's chromium + chromedriver through Selenium, headless)
against a real scheduler on the local cluster: the cluster picture matches the master's state,
changes arrive live through the page's event stream, actions work from the UI, tokens are asked
for, a read-only token hides the actions, and a standby serves the dashboard too.

Each test saves a screenshot to ``$HALYARD_ARTIFACTS`` (or its tmp dir) and to /work/notes/ui-shots/
when that directory's parent exists.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from .harness import SchedulerProc, docker_container_of, leading_scheduler, mesos_tasks, sleep_app, unique
from .v1client import until
from .webui import dialog_open, press

pytestmark = pytest.mark.integration
CHROMEDRIVER, CHROMIUM = "/usr/bin/chromedriver", "/usr/bin/chromium"
NOTES_SHOTS = Path("/work/notes/ui-shots")
RW, RO = "ui-rw-7c1", "ui-ro-3d9"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1400, 900)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    where = Path(os.environ.get("HALYARD_ARTIFACTS") or tmp_path_factory.mktemp("ui-shots")) / "ui"
    where.mkdir(parents=True, exist_ok=True)

    def shoot(driver, name: str) -> Path:
        path = where / f"{name}.png"
        driver.save_screenshot(str(path))
        if NOTES_SHOTS.parent.is_dir():
            NOTES_SHOTS.mkdir(exist_ok=True)
            shutil.copy(path, NOTES_SHOTS / path.name)
        return path
    return shoot


@pytest.fixture(scope="module")
def sched(cluster, tmp_path_factory):
    with leading_scheduler(cluster, tmp_path_factory.mktemp("ui")) as s:
        yield s


@pytest.fixture(scope="module")
def app_id(sched):
    """A Docker app of 3 instances (killable with docker kill), running; destroyed by a test (or after)."""
    app = unique("/ui/web")
    assert sched.post_app(sleep_app(app, 3, docker=True, cpus=0.1, mem=32)).status_code == 201
    until(lambda: len(sched.running(app)) == 3, 120, what="3 tasks running")
    yield app
    requests.delete(sched.url + "/v2/apps" + app, params={"force": "true"}, timeout=30)


def js(driver, script: str, *args):
    return driver.execute_script(script, *args)


def open_view(driver, url: str, route: str, view: str) -> None:
    driver.get(f"{url}/ui/#{route}")
    until(lambda: js(driver, f"return !!document.querySelector('[data-view={view}][data-ready=\"1\"]')"), 30,
          what=f"the {view} view drawn")


def marks(driver, app: str) -> dict[str, dict]:
    """The cluster view's task marks of ``app``: task id -> {agent (its box), state}."""
    return {m["task"]: m for m in js(driver, """
        return [...document.querySelectorAll('[data-view=cluster] [data-task-id]')]
          .filter((m) => m.dataset.appId === arguments[0])
          .map((m) => ({task: m.dataset.taskId, state: m.dataset.state,
                        agent: m.closest('[data-agent-id]')?.dataset.agentId}));""", app)}


def stream_live(driver) -> bool:
    return js(driver, "return document.querySelector('[data-role=stream-status]').dataset.live === '1'")


def test_cluster_view_draws_each_task_inside_the_box_of_the_agent_the_master_names(sched, app_id, browser, shots):
    open_view(browser, sched.url, "/cluster", "cluster")
    master = mesos_tasks(sched.cluster, sched.name)
    until(lambda: len(marks(browser, app_id)) == 3, 20, what="3 task marks")
    drawn = marks(browser, app_id)
    assert {t: m["agent"] for t, m in drawn.items()} == {t: master[t]["slave_id"] for t in drawn}
    assert set(drawn) == {t for t, task in master.items()}
    boxes = js(browser, "return [...document.querySelectorAll('[data-agent-id]')].map((b) => b.dataset.agentId)")
    agents = requests.get(sched.cluster["MESOS_MASTER"] + "/master/slaves", timeout=10).json()["slaves"]
    assert {a["id"] for a in agents} <= set(boxes)
    # hover shows the app, host:port and state; the click opens the app
    from selenium.webdriver.common.action_chains import ActionChains
    mark = browser.find_element("css selector", f'[data-view=cluster] [data-task-id="{next(iter(drawn))}"]')
    tooltip = "const t = document.querySelector('[data-role=tooltip]'); return t.hidden ? '' : t.textContent"
    ActionChains(browser).move_to_element(mark.find_element("css selector", "rect")).perform()
    tip = until(lambda: js(browser, tooltip), 10, what="the tooltip on hover")
    task = sched.tasks(app_id)[0]
    host_port = f"{master[mark.get_attribute('data-task-id')]['statuses'][-1]['container_status']['network_infos'][0]['ip_addresses'][0]['ip_address']}"
    assert app_id in tip and host_port in tip and ("running" in tip or "staging" in tip), tip
    ActionChains(browser).move_by_offset(0, 300).perform()
    until(lambda: not js(browser, tooltip), 5, what="the tooltip hidden")
    js(browser, "arguments[0].focus()", mark)   # keyboard: focus shows it too
    assert app_id in until(lambda: js(browser, tooltip), 5, what="the tooltip on focus")
    shots(browser, "cluster-3-tasks")
    from selenium.webdriver.common.keys import Keys
    mark.send_keys(Keys.ENTER)   # the focused mark opens its app from the keyboard
    until(lambda: js(browser, "return location.hash") == f"#/apps/{quote(app_id, safe='')}", 10, what="app opened (Enter)")
    browser.back()
    until(lambda: len(marks(browser, app_id)) == 3, 20, what="the cluster again")
    press(browser, f'[data-view=cluster] [data-task-id="{next(iter(drawn))}"] rect', "the task's mark")
    until(lambda: js(browser, "return location.hash") == f"#/apps/{quote(app_id, safe='')}", 10, what="app opened")
    until(lambda: js(browser, "return !!document.querySelector('[data-view=app][data-ready=\"1\"]')"), 20,
          what="the app view")
    assert task["id"] in browser.page_source


def test_scale_from_the_ui_shows_the_fourth_mark_live(sched, app_id, browser, shots):
    open_view(browser, sched.url, "/cluster", "cluster")
    cluster_window = browser.current_window_handle
    until(lambda: stream_live(browser), 20, what="the event stream")
    before = set(marks(browser, app_id))
    assert len(before) == 3
    browser.switch_to.new_window("window")
    open_view(browser, sched.url, f"/apps/{quote(app_id, safe='')}", "app")
    box = browser.find_element("css selector", '[data-role="scale-to"]')
    box.clear()
    box.send_keys("4")
    clicked = time.monotonic()
    press(browser, '[data-action="scale"]', "Scale")
    until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).json()["app"]["instances"] == 4, 20,
          what="instances 4")
    browser.close()
    browser.switch_to.window(cluster_window)
    until(lambda: len(marks(browser, app_id)) == 4, 60, what="the 4th mark, without a reload")
    seen = time.monotonic() - clicked
    new = (set(marks(browser, app_id)) - before).pop()
    trace = js(browser, "return window.__halyardTrace")
    drawn = next(e for e in trace if e["kind"] == "render" and new in e["ids"])
    assert drawn["causeAt"] is not None, trace   # drawn because an event came, not by a reload or a poll
    latency = drawn["at"] - drawn["causeAt"]
    print(f"\nscale 3 -> 4 from the UI: event-to-screen {latency:.0f} ms ({drawn['causeType']} in, the 4th mark "
          f"drawn); click-to-screen {seen:.1f} s (includes the Mesos offer and launch)")
    assert js(browser, "return performance.getEntriesByType('navigation').length") == 1  # never reloaded
    assert latency < 5000
    shots(browser, "cluster-scaled-to-4")


def test_a_docker_killed_task_changes_colour_then_is_replaced(sched, app_id, browser, shots):
    open_view(browser, sched.url, "/cluster", "cluster")
    until(lambda: len(marks(browser, app_id)) == 4 and stream_live(browser), 30, what="4 marks, stream live")
    until(lambda: all(m["state"] != "staging" for m in marks(browser, app_id).values()), 60, what="all running")
    victim, mark = next(iter(marks(browser, app_id).items()))
    colour = mark["state"]
    container = until(lambda: docker_container_of(sched.cluster, victim), 20, what="the task's container")
    subprocess.run(["/usr/bin/docker", "-H", sched.cluster["DOCKER_HOST"], "kill", container], check=True,
                   capture_output=True)
    changed = until(lambda: (marks(browser, app_id).get(victim) or {}).get("state") not in (None, colour)
                    and marks(browser, app_id)[victim]["state"], 30, what="the killed task's mark changed colour")
    assert changed == "ended"
    shots(browser, "cluster-task-killed")
    until(lambda: victim not in marks(browser, app_id) and len(marks(browser, app_id)) == 4, 90,
          what="the killed task replaced")
    shots(browser, "cluster-task-replaced")


def test_destroy_from_the_ui_asks_for_confirmation(sched, app_id, browser, shots):
    open_view(browser, sched.url, f"/apps/{quote(app_id, safe='')}", "app")
    press(browser, '[data-action="destroy"]', "Destroy")
    until(lambda: dialog_open(browser), 5, what="the confirm dialog")
    shots(browser, "app-destroy-confirm")
    press(browser, '[data-action="confirm-no"]', "No")
    until(lambda: not dialog_open(browser), 5, what="the dialog closed")
    assert requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 200   # nothing happened
    press(browser, '[data-action="destroy"]', "Destroy again")
    until(lambda: dialog_open(browser), 5, what="the confirm dialog")
    press(browser, '[data-action="confirm-yes"]', "Yes")
    until(lambda: js(browser, "return location.hash") == "#/apps", 20, what="back to the apps")
    until(lambda: requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60, what="app gone")
    until(lambda: js(browser, "return !!document.querySelector('[data-view=apps][data-ready=\"1\"]') && "
                              "!document.querySelector(`tr[data-app-id=\"${arguments[0]}\"]`)", app_id), 20,
          what="the row gone")
    shots(browser, "apps-after-destroy")


def test_apps_list_shows_counts_status_and_filters(sched, browser, shots):
    waiting = unique("/ui/huge")
    small = unique("/ui/small")
    assert sched.post_app(sleep_app(waiting, 1, cpus=64, labels={"tier": "big"})).status_code == 201
    assert sched.post_app(sleep_app(small, 0, labels={"tier": "small"})).status_code == 201
    try:
        open_view(browser, sched.url, "/apps", "apps")
        row = f'tr[data-app-id="{waiting}"]'
        until(lambda: js(browser, f"return document.querySelector('{row} [data-role=status]')?.textContent") == "Waiting",
              40, what="the huge app waiting")
        reason = js(browser, f"return document.querySelector('{row} [data-role=reason]').textContent")
        assert "cpus" in reason, reason
        assert js(browser, f"return document.querySelector('tr[data-app-id=\"{small}\"] [data-role=status]').textContent") == "Suspended"
        label = browser.find_element("css selector", '[data-filter="label"]')
        label.send_keys("tier=small")
        ids = js(browser, "return [...document.querySelectorAll('tr[data-app-id]')].map((r) => r.dataset.appId)")
        assert ids == [small]
        shots(browser, "apps-filtered")
        label.clear()
        label.send_keys(" ")   # an input event: the filter back to none
        open_view(browser, sched.url, f"/apps/{quote(waiting, safe='')}", "app")
        placement = js(browser, "return document.querySelector('[data-role=placement]').textContent")
        assert "cpus" in placement
        assert "cpus: 64" in js(browser, "return document.querySelector('[data-role=definition]').textContent")
        shots(browser, "app-waiting-detail")
    finally:
        js(browser, "sessionStorage.removeItem('halyard.appFilters')")
        for a in (waiting, small):
            requests.delete(sched.url + "/v2/apps" + a, params={"force": "true"}, timeout=30)


def test_a_standby_serves_the_dashboard_and_relays_the_stream(sched, browser, tmp_path):
    standby = SchedulerProc(sched.cluster, sched.chroot, sched.name, tmp_path).start()
    try:
        assert not standby.leading()
        assert requests.get(standby.url + "/", allow_redirects=False, timeout=5).headers["location"] == "/ui/"
        open_view(browser, standby.url, "/cluster", "cluster")
        until(lambda: stream_live(browser), 20, what="the relayed event stream")
        app = unique("/ui/via-standby")
        assert sched.post_app(sleep_app(app, 0)).status_code == 201   # an event through the leader's stream
        until(lambda: js(browser, "return (window.__halyardLastEvent || {}).type") in ("api_post_event", "deployment_info",
                                                                                       "deployment_success"), 20,
              what="an event through the standby")
        assert js(browser, "return document.querySelector('[data-view=cluster]').dataset.ready") == "1"  # /v1/cluster forwarded
        # a forwarded read keeps every value of a repeated parameter (the UI's embeds)
        query = [("embed", "apps.counts"), ("embed", "apps.deployments")]
        via_standby = requests.get(standby.url + "/v2/apps", params=query, timeout=10).json()["apps"]
        direct = requests.get(sched.url + "/v2/apps", params=query, timeout=10).json()["apps"]
        assert via_standby and sorted(via_standby[0]) == sorted(direct[0]) and "tasksRunning" in direct[0]
        requests.delete(sched.url + "/v2/apps" + app, params={"force": "true"}, timeout=30)
    finally:
        standby.stop()


@pytest.fixture(scope="module")
def guarded(cluster, tmp_path_factory):
    """A scheduler with --tokens-file (reads open), and an app of 0 instances on it."""
    tokens = tmp_path_factory.mktemp("ui-tokens") / "tokens"
    tokens.write_text(f"{RW} rw\n{RO} ro\n")
    with leading_scheduler(cluster, tmp_path_factory.mktemp("ui-guarded"), "--tokens-file", str(tokens)) as s:
        app = unique("/ui/guarded")
        assert s.post_app(sleep_app(app, 0)).status_code == 201
        yield s, app


def token_dialog_open(driver) -> bool:
    return js(driver, "return document.querySelector('[data-role=token-dialog]').open")


def test_with_tokens_an_action_asks_for_one_and_works_after(guarded, browser, shots):
    s, app = guarded
    open_view(browser, s.url, f"/apps/{quote(app, safe='')}", "app")
    js(browser, "sessionStorage.clear()")
    scale = lambda n: (browser.find_element("css selector", '[data-role="scale-to"]').clear(),  # noqa: E731
                       browser.find_element("css selector", '[data-role="scale-to"]').send_keys(str(n)),
                       press(browser, '[data-action="scale"]', "Scale"))
    scale(1)
    until(lambda: token_dialog_open(browser), 10, what="the token dialog")
    shots(browser, "token-dialog")
    press(browser, '[data-action="token-cancel"]', "Cancel")
    until(lambda: js(browser, "return [...document.querySelectorAll('[data-role=toast]')].some((t) => /token/.test(t.textContent))"),
          10, what="refused without a token")
    assert requests.get(s.url + "/v2/apps" + app, timeout=5).json()["app"]["instances"] == 0
    scale(1)
    until(lambda: token_dialog_open(browser), 10, what="the token dialog")
    browser.find_element("css selector", '[data-role="token-input"]').send_keys(RW)
    press(browser, '[data-action="token-save"]', "Save")
    until(lambda: requests.get(s.url + "/v2/apps" + app, timeout=5).json()["app"]["instances"] == 1, 20,
          what="scaled with the token")
    assert js(browser, "return sessionStorage.getItem('halyard.token')") == RW
    assert js(browser, "return localStorage.getItem('halyard.token')") is None


def test_a_read_only_token_hides_the_actions(guarded, browser, shots):
    s, app = guarded
    open_view(browser, s.url, f"/apps/{quote(app, safe='')}", "app")
    js(browser, f"sessionStorage.setItem('halyard.token', '{RO}')")
    open_view(browser, s.url, "/cluster", "cluster")
    browser.refresh()
    open_view(browser, s.url, f"/apps/{quote(app, safe='')}", "app")
    until(lambda: js(browser, "return !!document.querySelector('[data-view=app] [data-role=read-only]')"), 10,
          what="read-only note")
    visible = js(browser, "return [...document.querySelectorAll('[data-action]')].filter((b) => b.offsetParent !== null)"
                          ".map((b) => b.dataset.action)")
    assert not set(visible) & {"scale", "restart", "destroy", "reset-delay", "rollback"}, visible
    assert "token" in visible
    shots(browser, "app-read-only")
    js(browser, "sessionStorage.clear()")


def test_rollback_and_restart_from_the_app_view(sched, browser, shots):
    app = unique("/ui/versions")
    assert sched.post_app(sleep_app(app, 0, cmd="sleep 100")).status_code == 201
    until(lambda: not requests.get(sched.url + "/v2/deployments", timeout=5).json(), 30, what="created")
    assert sched.put_app(app, {"cmd": "sleep 200"}).status_code == 200
    until(lambda: len(requests.get(sched.url + f"/v2/apps{app}/versions", timeout=5).json()["versions"]) == 2, 30,
          what="2 versions")
    try:
        open_view(browser, sched.url, f"/apps/{quote(app, safe='')}", "app")
        until(lambda: js(browser, "return document.querySelectorAll('[data-action=rollback]').length") == 1, 20,
              what="a rollback button for the older version")
        press(browser, '[data-action="rollback"]', "Rollback")
        until(lambda: js(browser, "return document.querySelector('[data-role=confirm-dialog]').open"), 5,
              what="the confirm dialog")
        press(browser, '[data-action="confirm-yes"]', "Yes")
        until(lambda: requests.get(sched.url + "/v2/apps" + app, timeout=5).json()["app"]["cmd"] == "sleep 100", 30,
              what="rolled back to the first definition")
        until(lambda: "sleep 100" in js(browser, "return document.querySelector('[data-role=definition]').textContent"),
              20, what="the definition shown live")
        versions = len(requests.get(sched.url + f"/v2/apps{app}/versions", timeout=5).json()["versions"])
        press(browser, '[data-action="restart"]', "Restart")
        until(lambda: len(requests.get(sched.url + f"/v2/apps{app}/versions", timeout=5).json()["versions"]) > versions
              or js(browser, "return [...document.querySelectorAll('[data-role=toast]')].some((t) => /Restart: done/.test(t.textContent))"),
              20, what="restarted")
        shots(browser, "app-rolled-back")
    finally:
        requests.delete(sched.url + "/v2/apps" + app, params={"force": "true"}, timeout=30)


def test_reset_delay_shows_when_delayed_and_relaunches_at_once(sched, browser, shots):
    app = unique("/ui/crashing")
    assert sched.post_app(sleep_app(app, 1, cmd="exit 1", backoffSeconds=120, maxLaunchDelaySeconds=600)).status_code == 201
    first = until(lambda: (requests.get(sched.url + "/v2/apps" + app, timeout=5).json()["app"].get("lastTaskFailure")
                           or {}).get("taskId"), 60, what="a first failure")
    try:
        open_view(browser, sched.url, f"/apps/{quote(app, safe='')}", "app")
        until(lambda: js(browser, "return !!document.querySelector('[data-action=reset-delay]')"), 20,
              what="the Reset delay button")
        assert js(browser, "return document.querySelector('[data-view=app] [data-role=status]').textContent") == "Delayed"
        shots(browser, "app-delayed")
        press(browser, '[data-action="reset-delay"]', "Reset delay")
        # without the reset, the next launch would wait 120 s
        until(lambda: (requests.get(sched.url + "/v2/apps" + app, timeout=5).json()["app"].get("lastTaskFailure")
                       or {}).get("taskId") not in (None, first), 60, what="relaunched (and failed) at once")
    finally:
        requests.delete(sched.url + "/v2/apps" + app, params={"force": "true"}, timeout=30)


def agent_box(driver, host: str) -> dict | None:
    """The cluster view's box of agent ``host``: its state, the words in it, its frame's dash pattern."""
    return js(driver, """
        const g = [...document.querySelectorAll('[data-view=cluster] [data-agent-host]')]
          .find((b) => b.dataset.agentHost === arguments[0]);
        return g ? {state: g.dataset.agentState, text: [...g.querySelectorAll('text')].map((t) => t.textContent).join(' '),
                    dash: g.querySelector('rect.frame').getAttribute('stroke-dasharray'),
                    reachable: g.dataset.reachable} : null;""", host)


def test_drain_and_reactivate_an_agent_by_click(sched, browser, shots):
    """Drain and Reactivate from the cluster view, by clicks in Chromium, on the shared cluster (its
    agent is reactivated whatever happens): Esc on the confirmation changes nothing; confirmed, the
    agent's box goes draining then drained (word and frame pattern), the master drains it; clicked
    again, Reactivate makes it active at the master and in the box."""
    from selenium.webdriver.common.keys import Keys

    agents = requests.get(sched.url + "/v1/agents", timeout=5).json()["agents"]
    host = min((a for a in agents if a["state"] == "active"), key=lambda a: (len(a["tasks"]), a["host"]))["host"]
    name = f'[data-view=cluster] g[data-agent-host="{host}"] > text:first-of-type'   # its hostname: not a task mark
    master = sched.cluster["MESOS_MASTER"]

    def at_master() -> dict:
        return next(a for a in requests.get(master + "/master/slaves", timeout=5).json()["slaves"]
                    if a["hostname"] == host)

    def state() -> str:
        return requests.get(f"{sched.url}/v1/agents/{host}", timeout=5).json()["state"]

    def asked(text: str) -> str:   # the confirmation open, saying ``text`` (read by selector: never stale)
        return until(lambda: dialog_open(browser) and text in js(
            browser, "return document.querySelector('[data-role=confirm-text]').textContent") and text, 5,
            what=f"the confirmation {text!r}")

    open_view(browser, sched.url, "/cluster", "cluster")
    until(lambda: (agent_box(browser, host) or {}).get("state") == "active", 20, what=f"{host}'s box, active")
    try:
        press(browser, name, f"{host}'s box")
        asked(f"Drain {host}?")
        press(browser, '[data-action="confirm-no"]', "Esc on the confirmation", key=Keys.ESCAPE)
        until(lambda: not dialog_open(browser), 5, what="the confirmation closed")
        assert state() == "active" and not at_master().get("deactivated")   # Esc: nothing asked

        press(browser, name, f"{host}'s box")
        asked(f"Drain {host}?")
        press(browser, '[data-action="confirm-yes"]', "Yes")
        until(lambda: state() in ("draining", "drained"), 10, what=f"{host} draining")
        box = until(lambda: (lambda b: b if b and b["state"] == "drained" else None)(agent_box(browser, host)), 60,
                    what=f"{host}'s box drained")
        assert "drained" in box["text"] and box["dash"] == "1 0", box   # the word and the frame's pattern
        assert box["reachable"] == "1", box   # connected: not drawn as unreachable (a red dashed frame)
        assert at_master()["deactivated"] is True and at_master().get("drain_info"), at_master()
        shots(browser, "cluster-agent-drained")

        press(browser, name, f"{host}'s box")
        asked(f"Reactivate {host}?")
        press(browser, '[data-action="confirm-yes"]', "Yes")
        until(lambda: state() == "active", 10, what=f"{host} active")
        box = until(lambda: (lambda b: b if b and b["state"] == "active" else None)(agent_box(browser, host)), 30,
                    what=f"{host}'s box active again")
        assert "drain" not in box["text"], box
    finally:
        if state() != "active":
            requests.post(f"{sched.url}/v1/agents/{host}/reactivate", json={}, timeout=10)
        until(lambda: at_master()["active"] and not at_master().get("deactivated") and not at_master().get("drain_info"),
              30, what=f"{host} active at the master again")

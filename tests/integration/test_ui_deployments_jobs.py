"""The dashboard's Deployments and Jobs views in a real browser (Debian's chromium, headless, driven
by Selenium) against the real local cluster and a scheduler of this module's own.

* A deployment that fails (a new app whose command exits before its minReadySeconds) is shown
  failed, with its failures quoted as the API records them, the step it failed at, and the
  rollback that followed it -- live, without a reload.
* A running deployment shows its current step and its readiness check (not ready, with the
  answer's HTTP status) until it succeeds.
* Rollback and Stop from the UI: Esc on the confirmation changes nothing; confirmed, Rollback
  cancels the deployment and removes the new app (its rollback is listed), Stop cancels it and
  leaves the app as it is.
* With --tokens-file: Run now without a token asks for one first (then runs); a read-only
  token hides Run now, Kill, Rollback and Stop.
* The job list shows each job's schedule (cron, zone, policy) and next run. Run now from the
  list opens the job and shows the run's output tail; a long run's output
  is tailed while it runs, and Kill (confirmed) kills it.

Each test saves a screenshot in its tmp_path and, when the directory exists or can be made, in
``$HALYARD_UI_SHOTS`` (default /work/notes/ui-shots).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest
import requests

from .harness import SchedulerProc, clean_shutdown, unique
from .v1client import until
from .webui import press

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                                 reason="needs Debian's chromium and chromium-driver")]
SHOTS = Path(os.environ.get("HALYARD_UI_SHOTS", "/work/notes/ui-shots"))
SMALL = {"cpus": 0.01, "mem": 8}
SMALL_JOB = {"cpus": 0.05, "mem": 16}
NOWHERE = [["hostname", "LIKE", "no-such-host"]]  # a deployment that never ends by itself


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def token_sched(cluster, tmp_path_factory) -> Iterator[SchedulerProc]:
    """A scheduler with --tokens-file (rw token w-ui2, ro token r-ui2): reads open, writes need a token."""
    logs = tmp_path_factory.mktemp("ui2-tokens")
    (logs / "tokens").write_text("w-ui2 rw\nr-ui2 ro\n")
    name = unique("halyard-test")
    s = SchedulerProc(cluster, unique("halyard-test"), name, logs, "--tokens-file", str(logs / "tokens")).start()
    try:
        until(s.leading, 30, what="leader")
        yield s
    finally:
        clean_shutdown(cluster, name, [s])


def shot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path)), name
    try:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
    except OSError:
        pass  # a machine without the notes directory: the test's own copy is enough
    return path


def script_errors(driver: webdriver.Chrome) -> list[str]:
    """The page's script errors (an answer's HTTP status, e.g. 404 before a run has output, is not one)."""
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


def open_view(driver: webdriver.Chrome, s: SchedulerProc, hash_: str, view: str) -> None:
    driver.get(f"{s.url}/ui/{hash_}")
    until(lambda: driver.find_element(By.CSS_SELECTOR, f'[data-view="{view}"][data-ready="1"]'), 30,
          what=f"the {view} view drawn")
    until(lambda: driver.find_element(By.CSS_SELECTOR, '[data-role="stream-status"]').text == "live", 30,
          what="the event stream live")


def css(driver: webdriver.Chrome, selector: str):
    return driver.find_element(By.CSS_SELECTOR, selector)


def read(driver: webdriver.Chrome, selector: str, what: str, fn=lambda e: e.text, timeout: float = 15) -> list:
    """``fn`` of every element matching ``selector`` (at least one), read again when a redraw
    replaced them meanwhile (a stale element)."""
    return until(lambda: [fn(e) for e in driver.find_elements(By.CSS_SELECTOR, selector)] or None, timeout,
                 what=what)


def confirm(driver: webdriver.Chrome, yes: bool) -> None:
    """Answer the open confirmation: its Confirm button, or Esc (the keyboard's way out)."""
    dialog = until(lambda: css(driver, '[data-role="confirm-dialog"][open]'), 10, what="the confirmation")
    if yes:
        dialog.find_element(By.CSS_SELECTOR, '[data-action="confirm-yes"]').click()
    else:
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    until(lambda: not css(driver, '[data-role="confirm-dialog"]').get_attribute("open"), 10,
          what="the confirmation closed")


def delete_app(s: SchedulerProc, app_id: str) -> None:
    requests.delete(s.url + "/v2/apps" + app_id, params={"force": "true"}, timeout=30)
    until(lambda: requests.get(s.url + "/v2/apps" + app_id, timeout=5).status_code == 404, 60,
          what=f"{app_id} gone")


def test_a_failed_deployment_shows_its_failure_quoted_and_the_rollback(sched, browser, tmp_path):
    open_view(browser, sched, "#/deployments", "deployments")
    app_id = "/" + unique("ui2-fails")
    # minReadySeconds: a task that exits at once never counts, so the deployment cannot succeed
    created = sched.post_app({"id": app_id, "cmd": "echo starting; exit 3", "instances": 1, "backoffSeconds": 0.5,
                              "minReadySeconds": 30, **SMALL})
    assert created.status_code == 201, created.text
    deployment_id = created.json()["deployments"][0]["id"]
    try:
        row = f'li[data-deployment-id="{deployment_id}"]'
        until(lambda: css(browser, row), 15, what="the deployment listed live")
        failed = f'{row}[data-status="failed"]'
        until(lambda: css(browser, failed), 90, what="the deployment failed")
        recorded = requests.get(f"{sched.url}/v2/deployments/{deployment_id}", timeout=5).json()
        assert recorded["status"] == "failed" and len(recorded["failures"]) == 3, recorded  # 3 faults fail it
        quoted = read(browser, f'{failed} [data-role="failure"]', "the failures quoted")
        assert quoted == recorded["failures"] and "TASK_FAILED: Command exited with status 3" in quoted[0], quoted
        assert "Failed" in read(browser, f"{failed} header .ops-badge", "its badge")[0]  # a word, not only colour
        assert read(browser, f"{failed} .ops-step", "its step", lambda e: e.get_attribute("data-step-state")) == \
            ["failed"]
        assert read(browser, f"{failed} header a", "its app") == [app_id]
        [rollback_id] = read(browser, f'{failed} [data-role="rolled-back-by"]', "the rollback shown",
                             lambda e: e.get_attribute("data-rollback-id"), timeout=30)
        listed = requests.get(f"{sched.url}/v1/deployments", timeout=5).json()
        assert next(d for d in listed if d["id"] == rollback_id)["kind"] == "rollback"
        until(lambda: css(browser, f'li[data-deployment-id="{rollback_id}"][data-status="succeeded"]'), 60,
              what="the rollback (the new app removed) succeeded")
        assert not browser.find_elements(By.CSS_SELECTOR, f"{failed} [data-action]")  # ended: no actions
        shot(browser, tmp_path, "deployments-failed-and-rolled-back")
        assert script_errors(browser) == []
    finally:
        if requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code != 404:
            delete_app(sched, app_id)


def test_a_running_deployment_shows_its_step_and_readiness_until_it_succeeds(sched, browser, tmp_path):
    """The task serves 404 on /ready for a few seconds, then 200: the current step shows the
    check not ready (with the answer's status), then the deployment succeeds, live."""
    app_id = "/" + unique("ui2-ready")
    resp = sched.post_app({"id": app_id, "cpus": 0.05, "mem": 32, "instances": 1,
                           "cmd": "(sleep 8; touch ready) & exec python3 -m http.server $PORT0",
                           "portDefinitions": [{"port": 0, "name": "http-api"}],
                           "readinessChecks": [{"path": "/ready", "intervalSeconds": 1, "timeoutSeconds": 2,
                                                "preserveLastResponse": True}]})
    assert resp.status_code == 201, resp.text
    deployment_id = resp.json()["deployments"][0]["id"]
    try:
        open_view(browser, sched, "#/deployments", "deployments")
        row = f'li[data-deployment-id="{deployment_id}"]'
        checks = f'{row}[data-status="running"] [data-step-state="current"] .ops-readiness [data-task-id]'
        # (the first check may find no server yet: then it has no answer to show)
        check = until(lambda: next((e.text for e in browser.find_elements(By.CSS_SELECTOR, checks)
                                    if "(HTTP 404)" in e.text), None), 60, what="the readiness check's 404 shown")
        assert "Not ready" in check and "readinessCheck" in check, check
        assert read(browser, f'{row} [data-role="progress"]', "its progress") == ["Step 1 of 1"]
        shot(browser, tmp_path, "deployments-readiness")
        until(lambda: css(browser, f'{row}[data-status="succeeded"] [data-step-state="done"]'), 60,
              what="the deployment succeeded once ready")
        assert not browser.find_elements(By.CSS_SELECTOR, f"{row} [data-action]")
        assert script_errors(browser) == []
    finally:
        delete_app(sched, app_id)


def test_rollback_and_stop_from_the_ui(sched, browser, tmp_path):
    back, stay = "/" + unique("ui2-back"), "/" + unique("ui2-stay")
    ids = {}
    for app_id in (back, stay):
        resp = sched.post_app({"id": app_id, "cmd": "sleep 3600", "instances": 1, "constraints": NOWHERE, **SMALL})
        assert resp.status_code == 201, resp.text
        ids[app_id] = resp.json()["deployments"][0]["id"]
    try:
        open_view(browser, sched, "#/deployments", "deployments")
        row = f'li[data-deployment-id="{ids[back]}"]'
        assert read(browser, f'{row} [data-role="progress"]', "its progress") == ["Step 1 of 1"]
        press(browser, f'{row}[data-status="running"] [data-action="deployment-rollback"]', "Rollback, by keyboard",
              Keys.ENTER)
        confirm(browser, yes=False)
        assert requests.get(f"{sched.url}/v2/deployments/{ids[back]}", timeout=5).json()["status"] == "running"
        press(browser, f'{row} [data-action="deployment-rollback"]', "Rollback")
        confirm(browser, yes=True)
        until(lambda: css(browser, f'{row}[data-status="cancelled"]'), 20, what="cancelled in the UI")
        assert read(browser, f'{row}[data-status="cancelled"] [data-role="failure"]', "why") == \
            ["cancelled: rolled back"]
        rollback = read(browser, f'li[data-deployment-id] [data-rollback-of="{ids[back]}"]', "the rollback listed",
                        timeout=20)
        assert "Rolls back deployment" in rollback[0]
        until(lambda: requests.get(sched.url + "/v2/apps" + back, timeout=5).status_code == 404, 30,
              what="the new app rolled back: removed")

        row = f'li[data-deployment-id="{ids[stay]}"]'
        press(browser, f'{row} [data-action="deployment-stop"]', "Stop")
        confirm(browser, yes=True)
        until(lambda: css(browser, f'{row}[data-status="cancelled"]'), 20, what="stopped in the UI")
        app = requests.get(sched.url + "/v2/apps" + stay, timeout=5).json()["app"]
        assert app["deployments"] == [] and app["instances"] == 1  # stopped: left as it is, not rolled back
        shot(browser, tmp_path, "deployments-rollback-and-stop")
        assert script_errors(browser) == []
    finally:
        for app_id in (back, stay):
            if requests.get(sched.url + "/v2/apps" + app_id, timeout=5).status_code != 404:
                delete_app(sched, app_id)


def test_run_now_shows_the_output_tail_and_kill_kills_a_run(sched, browser, tmp_path):
    echo, long = f"ui2.echo-{unique('j')[2:]}", f"ui2.long-{unique('j')[2:]}"
    marker = unique("marker")
    for job_id, cmd in ((echo, f"echo {marker}; echo to-stderr >&2"), (long, f"echo started-{marker}; sleep 300")):
        resp = requests.post(sched.url + "/v1/jobs", json={"id": job_id, "cmd": cmd, **SMALL_JOB}, timeout=30)
        assert resp.status_code == 201, resp.text

    yearly = f"ui2.yearly-{unique('j')[2:]}"  # scheduled, never due during the test
    schedule = {"cron": "0 0 1 1 *", "timezone": "Europe/Paris", "concurrencyPolicy": "FORBID"}
    resp = requests.post(sched.url + "/v1/jobs", json={"id": yearly, "cmd": "true", "schedule": schedule, **SMALL_JOB},
                         timeout=30)
    assert resp.status_code == 201, resp.text

    open_view(browser, sched, "#/jobs", "jobs")
    [scheduled] = read(browser, f'tr[data-job-id="{yearly}"]', "the scheduled job listed")
    assert "0 0 1 1 * (Europe/Paris), one at a time" in scheduled and " in " in scheduled  # its next run
    [row] = read(browser, f'tr[data-job-id="{echo}"]', "the job listed")
    assert "on demand" in row and "never ran" in row
    shot(browser, tmp_path, "jobs-list")
    press(browser, f'tr[data-job-id="{echo}"] [data-action="run-now"]', "Run now")
    until(lambda: css(browser, f'[data-view="job"][data-job-id="{echo}"][data-ready="1"]'), 15,
          what="the job's page opened")
    until(lambda: marker in css(browser, '[data-role="stdout"]').text, 90, what="the run's output tail")
    finished = 'tr[data-run-id][data-status="FINISHED"]'
    [run_id] = read(browser, finished, "the run finished", lambda e: e.get_attribute("data-run-id"), timeout=60)
    assert read(browser, f'{finished} [data-role="exit-code"]', "its exit code") == ["0"]
    assert "Finished" in read(browser, finished, "its row")[0]  # a word as well as a colour
    until(lambda: "to-stderr" in css(browser, '[data-role="stderr"]').text, 15, what="its stderr tail")
    runs = requests.get(f"{sched.url}/v1/jobs/{echo}/runs", params={"embed": "halyard"}, timeout=5).json()
    assert [(r["id"], r["halyard"]["status"], r["halyard"]["exitCode"]) for r in runs] == [(run_id, "FINISHED", 0)]
    shot(browser, tmp_path, "job-run-now-output")

    press(browser, '[data-view="job"] nav a[href="#/jobs"]', "back to the list, by keyboard", Keys.ENTER)
    press(browser, f'[data-view="jobs"][data-ready="1"] tr[data-job-id="{long}"] a', "the job, by keyboard",
          Keys.ENTER)
    until(lambda: css(browser, f'[data-view="job"][data-job-id="{long}"][data-ready="1"]'), 15,
          what="the long job opened from the keyboard")
    press(browser, '[data-view="job"] [data-action="run-now"]', "Run now")
    until(lambda: f"started-{marker}" in css(browser, '[data-role="stdout"]').text, 90,
          what="the running run's output, tailed while it runs")
    running = 'tr[data-run-id][aria-current="true"][data-status="RUNNING"]'
    [run_id] = read(browser, running, "the run shown, running", lambda e: e.get_attribute("data-run-id"))
    press(browser, f'{running} [data-action="kill-run"]', "Kill")
    confirm(browser, yes=True)
    until(lambda: css(browser, f'tr[data-run-id="{run_id}"][data-status="KILLED"]'), 60, what="killed in the UI")
    assert requests.get(f"{sched.url}/v1/jobs/{long}/runs/{run_id}", params={"embed": "halyard"},
                        timeout=5).json()["halyard"]["status"] == "KILLED"
    shot(browser, tmp_path, "job-killed")
    assert script_errors(browser) == []


def give_token(driver: webdriver.Chrome, token: str) -> None:
    """Type ``token`` in the shell's token dialog (already open) and press Enter."""
    dialog = until(lambda: css(driver, '[data-role="token-dialog"][open]'), 10, what="the token dialog")
    dialog.find_element(By.CSS_SELECTOR, '[data-role="token-input"]').send_keys(token, Keys.ENTER)
    until(lambda: not css(driver, '[data-role="token-dialog"]').get_attribute("open"), 10, what="the dialog closed")


def test_with_tokens_run_now_asks_for_one_and_a_read_only_token_hides_the_actions(token_sched, browser, tmp_path):
    s = token_sched
    job_id, app_id = f"ui2.tok-{unique('j')[2:]}", "/" + unique("ui2-tok")
    assert requests.post(s.url + "/v1/jobs", json={"id": job_id, "cmd": "echo tok", **SMALL_JOB}, headers=s.headers,
                         timeout=30).status_code == 201
    resp = requests.post(s.url + "/v2/apps", json={"id": app_id, "cmd": "sleep 3600", "instances": 1,
                                                   "constraints": NOWHERE, **SMALL}, headers=s.headers, timeout=30)
    assert resp.status_code == 201, resp.text
    deployment_id = resp.json()["deployments"][0]["id"]
    try:
        browser.get(f"{s.url}/ui/#/jobs/{job_id}")
        browser.execute_script("sessionStorage.clear()")  # this tab holds no token
        browser.refresh()
        until(lambda: css(browser, f'[data-view="job"][data-job-id="{job_id}"][data-ready="1"]'), 30,
              what="the job view")
        press(browser, '[data-action="run-now"]', "Run now")  # without a token: the dialog asks for one first
        give_token(browser, "w-ui2")
        until(lambda: len(requests.get(f"{s.url}/v1/jobs/{job_id}/runs", params={"embed": "halyard"},
                                       timeout=5).json()) == 1, 30,
              what="the run started once the token was given")
        until(lambda: css(browser, '[data-view="job"][data-ready="1"] tr[data-run-id]'), 30, what="the run shown")

        browser.execute_script("document.querySelector('[data-view=\"job\"]').dataset.before = '1'")
        press(browser, 'header [data-action="token"]', "the token button")  # the shell's: now a read-only token
        give_token(browser, "r-ui2")
        until(lambda: css(browser, 'body[data-access="ro"]'), 15, what="the shell knows the token reads only")
        until(lambda: css(browser, '[data-view="job"]:not([data-before])[data-ready="1"] tr[data-run-id]'), 30,
              what="the view mounted again with the read-only token")
        assert not browser.find_elements(By.CSS_SELECTOR, '[data-action="run-now"], [data-action="kill-run"]')
        browser.get(f"{s.url}/ui/#/deployments")
        until(lambda: css(browser, f'[data-view="deployments"] li[data-deployment-id="{deployment_id}"]'
                                   '[data-status="running"]'), 30, what="the deployment shown")
        assert not browser.find_elements(By.CSS_SELECTOR, '[data-view="deployments"] [data-action]')  # read-only
        shot(browser, tmp_path, "deployments-read-only-token")
        assert script_errors(browser) == []
    finally:
        browser.execute_script("sessionStorage.clear()")
        requests.delete(s.url + "/v2/apps" + app_id, params={"force": "true"}, headers=s.headers, timeout=30)

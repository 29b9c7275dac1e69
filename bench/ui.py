"""Dashboard figures with a synthetic 1,000-agent, 10,000-task cluster. Not a test: prints numbers.

    .venv/bin/python bench/ui.py [--agents 1000] [--tasks 10000] [--shots DIR] [--serve]
    .venv/bin/python bench/ui.py --hello --shots DIR    # the local cluster (minimesos/up first)

A small server (no scheduler, no Mesos) serves the same API shapes the dashboard reads
(``/v1/cluster``, ``/v2/apps``, ``/v1/whoami``, ``/v2/events``, placement and queue) and the
dashboard's own files; headless Chromium (Debian's chromium + chromedriver, through Selenium)
opens the cluster view in normal and in dense mode and reports, for each: the first render time
(navigation start -> the view's ``data-ready``), the render's own time, and the JS heap
(``Performance.getMetrics``: JSHeapUsedSize). ``--serve`` only serves, for a person to look. ``--hello``: a real scheduler on the local cluster
with examples/hello.yaml deployed; screenshots of its cluster view, normal and dense, and its app.
"""
from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".shim"))

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import RedirectResponse, StreamingResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402

from halyard.ui import STATIC_DIR  # noqa: E402

STATES = ["TASK_RUNNING"] * 90 + ["TASK_STAGING"] * 4 + ["TASK_STARTING"] * 2 + ["TASK_UNREACHABLE"] * 1 + \
         ["TASK_KILLING"] * 3


def synthetic(agents: int, tasks: int, apps: int = 200, seed: int = 7) -> dict[str, Any]:
    """A cluster: ``agents`` in 5 zones of racks of 20, ``tasks`` of ``apps`` apps spread over them."""
    rnd = random.Random(seed)
    out_agents = []
    for n in range(agents):
        out_agents.append({"id": f"agent-{n:04d}-S{n}", "hostname": f"10.{n // 250}.{(n // 20) % 250}.{n % 250}",
                           "zone": f"zone-{'abcde'[n % 5]}", "region": "bench", "rack": f"rack-{n // 100:02d}",
                           "reachable": rnd.random() > 0.005, "resources": {"cpus": 16.0, "mem": 65536.0, "disk": 1e6},
                           "used": {"cpus": 0.0, "mem": 0.0, "disk": 0.0}})
    app_ids = [f"/bench/team-{a % 12}/svc-{a:03d}" for a in range(apps)]
    sizes = {app: (rnd.choice([0.1, 0.25, 0.5, 1.0]), rnd.choice([128, 256, 512, 1024])) for app in app_ids}
    out_tasks = []
    for n in range(tasks):
        app = app_ids[n % apps]
        agent = out_agents[rnd.randrange(agents)]
        cpus, mem = sizes[app]
        if agent["used"]["cpus"] + cpus > agent["resources"]["cpus"]:
            agent = min(out_agents, key=lambda a: a["used"]["cpus"])
        agent["used"]["cpus"] += cpus
        agent["used"]["mem"] += mem
        state = rnd.choice(STATES)
        out_tasks.append({"id": f"{app.strip('/').replace('/', '_')}.{n:06d}", "appId": app, "agentId": agent["id"],
                          "host": agent["hostname"], "ports": [31000 + n % 1000], "cpus": cpus, "mem": mem,
                          "state": "TASK_RUNNING" if state == "TASK_KILLING" else state,
                          "health": rnd.choice(["healthy"] * 8 + ["unhealthy", "unknown"]),
                          "draining": state == "TASK_KILLING", "unreachable": state == "TASK_UNREACHABLE",
                          "version": 1.7e9})
    app_list = [{"id": app, "instances": tasks // apps, "tasksRunning": tasks // apps, "tasksHealthy": tasks // apps,
                 "tasksStaged": 0, "tasksUnhealthy": 0, "cpus": sizes[app][0], "mem": sizes[app][1],
                 "labels": {"team": app.split("/")[2]}, "version": "2026-12-01T00:00:00.000Z",
                 "container": {"type": "DOCKER", "docker": {"image": f"registry.local/{app.rsplit('/', 1)[1]}:1.0"}},
                 "deployments": [], "healthChecks": [{"protocol": "HTTP", "path": "/"}]} for app in app_ids]
    return {"agents": out_agents, "tasks": out_tasks, "apps": app_list}


def server(state: dict[str, Any]) -> FastAPI:
    """The dashboard's reads over ``state``, and its files."""
    api = FastAPI()

    @api.get("/")
    def root() -> Any:
        return RedirectResponse("/ui/", status_code=302)

    @api.get("/v1/cluster")
    def cluster() -> Any:
        return {"agents": state["agents"], "tasks": state["tasks"]}

    @api.get("/v2/apps")
    def apps() -> Any:
        return {"apps": state["apps"]}

    @api.get("/v2/queue")
    def queue() -> Any:
        return {"queue": []}

    @api.get("/v2/deployments")
    def deployments() -> Any:
        return []

    @api.get("/v1/whoami")
    def whoami() -> Any:
        return {"authenticated": False, "access": None, "tokensRequired": False, "readsOpen": True}

    @api.get("/v2/events")
    async def events() -> Any:
        async def keepalive() -> Any:
            import asyncio
            while True:
                yield ":\n\n"
                await asyncio.sleep(10)
        return StreamingResponse(keepalive(), media_type="text/event-stream")

    api.mount("/ui/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    return api


def serve(state: dict[str, Any], port: int) -> uvicorn.Server:
    config = uvicorn.Config(server(state), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the bench server did not start")
        time.sleep(0.05)
    return srv


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900",
                "--enable-precise-memory-info"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def measure(driver: Any, url: str, dense: bool, shot: Path | None) -> dict[str, float]:
    """Open the cluster view fresh in ``dense`` or normal mode; its figures."""
    driver.get(url + "/ui/#/apps")   # any page of the origin, to set the mode
    driver.execute_script(f"localStorage.setItem('halyard.dense', '{1 if dense else 0}')")
    driver.get("about:blank")
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    driver.get(url + "/ui/#/cluster")
    deadline = time.monotonic() + 120
    ready = None
    while ready is None:
        ready = driver.execute_script(
            "const v = document.querySelector('[data-view=cluster][data-ready=\"1\"]'); "
            "return v ? [Number(v.dataset.readyAt), Number(v.dataset.renderMs), "
            "v.querySelectorAll('[data-task-id]').length, v.querySelectorAll('[data-agent-id]').length] : null")
        if ready is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster view never became ready")
            time.sleep(0.05)
    driver.execute_cdp_cmd("Performance.enable", {})
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    if shot is not None:
        driver.save_screenshot(str(shot))
    return {"first_render_ms": ready[0], "render_ms": ready[1], "task_marks": ready[2], "agent_boxes": ready[3],
            "js_heap_mb": metrics.get("JSHeapUsedSize", 0) / 2**20, "dom_nodes": metrics.get("Nodes", 0)}


def hello(shots: Path) -> None:
    """examples/hello.yaml on a scheduler of its own on the local cluster: screenshots."""
    import json
    import subprocess
    import tempfile

    import requests

    from tests.integration.conftest import MINIMESOS, read_env
    from tests.integration.harness import HALYARD, leading_scheduler
    from tests.integration.v1client import until

    cluster = read_env(MINIMESOS / ".run" / "cluster.env")
    app = json.loads(subprocess.run([HALYARD, "validate", str(ROOT / "examples" / "hello.yaml"), "-o", "json"],
                                    capture_output=True, text=True, check=True).stdout)
    shots.mkdir(parents=True, exist_ok=True)
    with leading_scheduler(cluster, Path(tempfile.mkdtemp(prefix="halyard-ui-bench-"))) as s:
        assert s.post_app(app).status_code == 201
        until(lambda: sum(1 for t in s.tasks(app["id"]) if t.get("healthCheckResults", [{}])[0].get("alive")) == 2,
              120, what="hello healthy")
        driver = browser()
        try:
            for dense in (False, True):
                driver.get(s.url + "/ui/#/apps")
                driver.execute_script(f"localStorage.setItem('halyard.dense', '{1 if dense else 0}')")
                driver.get(s.url + "/ui/#/cluster")
                until(lambda: driver.execute_script("return document.querySelectorAll('[data-view=cluster] "
                                                    "[data-task-id]').length") == 2, 30, what="2 marks")
                driver.save_screenshot(str(shots / f"hello-cluster-{'dense' if dense else 'normal'}.png"))
            driver.execute_script("localStorage.removeItem('halyard.dense')")
            driver.get(s.url + "/ui/#/apps/" + requests.utils.quote(app["id"], safe=""))
            until(lambda: driver.execute_script("return !!document.querySelector('[data-view=app][data-ready]')"), 30,
                  what="the app view")
            driver.save_screenshot(str(shots / "hello-app.png"))
            print(f"screenshots in {shots}")
        finally:
            driver.quit()
            requests.delete(s.url + "/v2/apps" + app["id"], params={"force": "true"}, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serve", action="store_true", help="serve the synthetic state until Ctrl-C")
    parser.add_argument("--shots", type=Path, default=None, help="save a screenshot per mode here")
    parser.add_argument("--hello", action="store_true", help="screenshots of examples/hello.yaml on the local cluster")
    args = parser.parse_args()
    if args.hello:
        hello(args.shots or Path("/tmp/halyard-ui-shots"))
        return
    from tests.integration.harness import free_port  # noqa: E402 (the repository root is on sys.path)

    port = args.port or free_port()
    state = synthetic(args.agents, args.tasks)
    srv = serve(state, port)
    url = f"http://127.0.0.1:{port}"
    if args.serve:
        print(f"Dashboard: {url}/ui/  (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return
    driver = browser()
    try:
        if args.shots:
            args.shots.mkdir(parents=True, exist_ok=True)
        print(f"{args.agents} agents, {args.tasks} tasks (Chromium headless, 1400x900)")
        for dense in (False, True):
            shot = args.shots / f"bench-{'dense' if dense else 'normal'}.png" if args.shots else None
            runs = [measure(driver, url, dense, shot) for _ in range(3)]
            best = min(runs, key=lambda r: r["first_render_ms"])
            print(f"  {'dense ' if dense else 'normal'}: first render {best['first_render_ms']:.0f} ms "
                  f"(best of 3; render itself {best['render_ms']:.0f} ms), JS heap {best['js_heap_mb']:.1f} MB, "
                  f"{best['dom_nodes']:.0f} DOM nodes, {best['agent_boxes']} agent boxes, {best['task_marks']} task marks")
    finally:
        driver.quit()
        srv.should_exit = True


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

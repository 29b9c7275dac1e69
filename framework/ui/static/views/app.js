// One app: tasks (host:port links, health), the last failure, why instances wait (placement),
// service discovery's endpoints, versions and releases per environment, the definition as YAML;
// actions Scale, Restart, Destroy (confirmed), Reset delay (when delayed), Rollback to a version.
// The definition is read with embed=app.halyard: Halyard's own fields (strategy, minReadySeconds,
// drainSeconds, pinDigest, environments), which Marathon's v2 answers leave out, are shown too.
import { appPath, escapeHtml, reloader } from "../app.js";
import { toYaml } from "../yaml.js";
import { barHtml, imageOf, statusOf } from "./apps.js";
import { STATES, categoryOf } from "./task_states.js";

const READ_ONLY = ["tasks", "deployments", "lastTaskFailure", "tasksRunning", "tasksStaged", "tasksHealthy",
  "tasksUnhealthy", "taskStats", "readinessCheckResults", "versionInfo", "version"];

function taskHealth(task) {
  const results = task.healthCheckResults || [];
  if (!results.length) return "unknown";
  return results.every((r) => r.alive) ? "healthy" : "unhealthy";
}

export function mount(el, ctx) {
  const id = ctx.route.params.id;
  const enc = appPath(id);
  el.dataset.view = "app";
  el.dataset.appId = id;
  el.innerHTML = `<p class="empty">Loading ${escapeHtml(id)}…</p>`;
  let last = null;
  const reload = reloader(load, 150);

  async function load() {
    try {
      const get = (path, fallback) => ctx.api("GET", path).catch((err) => {
        if (fallback !== undefined && err.status !== 401) return fallback;
        throw err;
      });
      const [appBody, placement, endpoints, versions, releases, queue] = await Promise.all([
        ctx.api("GET", `/v2/apps${enc}?embed=app.tasks&embed=app.counts&embed=app.deployments&embed=app.lastTaskFailure&embed=app.halyard`),
        get(`/v1/apps${enc}/placement`, null), get(`/v1/apps${enc}/endpoints`, null),
        get(`/v2/apps${enc}/versions`, { versions: [] }), get("/v1/releases", { releases: [] }),
        get("/v2/queue", { queue: [] }),
      ]);
      if (!reload.alive) return;
      last = { app: appBody.app, placement, endpoints, versions: versions.versions || [],
        releases: (releases.releases || []).filter((r) => r.appId === id),
        queued: (queue.queue || []).find((q) => q.app.id === id) };
      draw();
    } catch (err) {
      if (!reload.alive) return;
      if (err.status === 404) {
        el.innerHTML = `<h1>${escapeHtml(id)}</h1><p class="empty" data-role="gone">There is no app ${escapeHtml(id)} (any more). <a href="#/apps">All apps</a></p>`;
        el.dataset.ready = "1";
        el.dataset.gone = "1";
      } else {
        ctx.toast(`Cannot read ${id}: ${err.message}`, "error");
      }
    }
  }

  function draw() {
    const { app, placement, endpoints, versions, releases, queued } = last;
    const { status, reason } = statusOf(app, queued, placement);
    const write = ctx.canWrite();
    const delayed = placement && placement.delaySeconds > 0;
    const focused = document.activeElement && el.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const scaleValue = el.querySelector('[data-role="scale-to"]')?.value;
    const tasks = [...(app.tasks || [])].sort((a, b) => a.id.localeCompare(b.id));
    const definition = Object.fromEntries(Object.entries(app).filter(([k]) => !READ_ONLY.includes(k)));
    const envs = new Map();
    for (const r of releases) {
      if (!envs.has(r.environment)) envs.set(r.environment, []);
      envs.get(r.environment).push(r);
    }
    el.innerHTML = `
      <div class="toolbar"><h1 style="margin:0">${escapeHtml(app.id)}</h1>
        <span class="badge ${status}" data-role="status">${status}</span>
        <span class="muted" data-role="reason">${escapeHtml(reason)}</span></div>
      <div class="panel">
        <div>${barHtml(app)} &nbsp; <code>${escapeHtml(imageOf(app))}</code> &nbsp; version <code>${escapeHtml(app.version)}</code>
          &nbsp; ${app.cpus} cpus, ${app.mem} MB</div>
        ${write ? `<div class="actions" style="margin-top:8px" data-write>
          <label>Instances <input type="number" min="0" data-role="scale-to" value="${escapeHtml(scaleValue ?? app.instances)}" style="width:5em"></label>
          <button type="button" data-action="scale">Scale</button>
          <button type="button" data-action="restart">Restart</button>
          ${delayed ? `<button type="button" data-action="reset-delay">Reset delay (${Math.ceil(placement.delaySeconds)} s)</button>` : ""}
          <button type="button" data-action="destroy" class="danger">Destroy</button>
        </div>` : `<p class="muted" data-role="read-only">This token may only read: no actions.</p>`}
      </div>
      <h2>Tasks (${tasks.length})</h2>
      <table data-role="tasks"><thead><tr><th>Task</th><th>Endpoint</th><th>State</th><th>Health</th><th>Started</th><th>Version</th></tr></thead><tbody>
      ${tasks.map((t) => {
        const cat = categoryOf({ state: t.state, health: taskHealth(t), draining: false });
        const links = (t.ports || []).map((p) => `<a href="http://${escapeHtml(t.host)}:${p}/" target="_blank" rel="noopener">${escapeHtml(t.host)}:${p}</a>`).join(" ") || escapeHtml(t.host);
        return `<tr data-task-id="${escapeHtml(t.id)}" data-app-id="${escapeHtml(app.id)}"><td><code>${escapeHtml(t.id)}</code></td><td>${links}</td>
          <td>${escapeHtml(t.state)}</td><td><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${STATES[cat].color}"/></svg> ${escapeHtml(taskHealth(t))}</td>
          <td>${escapeHtml(t.startedAt || "")}</td><td><code>${escapeHtml(t.version)}</code></td></tr>`;
      }).join("") || `<tr><td colspan="6" class="empty">No tasks.</td></tr>`}
      </tbody></table>
      <div class="grid2">
        <div>
          <h2>Last failure</h2>
          <div class="panel" data-role="last-failure">${app.lastTaskFailure ? `<code>${escapeHtml(app.lastTaskFailure.state)}</code> on ${escapeHtml(app.lastTaskFailure.host)} at ${escapeHtml(app.lastTaskFailure.timestamp)}<br><q>${escapeHtml(app.lastTaskFailure.message)}</q><br><span class="muted">${escapeHtml(app.lastTaskFailure.taskId)}</span>` : `<span class="muted">None.</span>`}</div>
          <h2>Placement</h2>
          <div class="panel" data-role="placement">${placement ? `${placement.pending} of ${placement.instances} waiting to launch${placement.delaySeconds > 0 ? `, delayed ${Math.ceil(placement.delaySeconds)} s` : ""}.
            ${placement.reasons.length ? `<ul class="reasons">${placement.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>` : ""}` : `<span class="muted">Unknown.</span>`}</div>
          <h2>Endpoints</h2>
          <div class="panel" data-role="endpoints">${endpoints ? (endpoints.discovery ? `${endpoints.announced} announced<ul class="reasons">${endpoints.endpoints.map((e) => `<li>${e.announced ? `<code>${escapeHtml(e.serviceEndpoint.host)}:${e.serviceEndpoint.port}</code>` : `<code>${escapeHtml(e.host)}</code> not announced: ${escapeHtml(e.reason || "")}`}</li>`).join("")}</ul>` : `<span class="muted">Service discovery is off for this app.</span>`) : `<span class="muted">Unknown.</span>`}</div>
        </div>
        <div>
          <h2>Versions</h2>
          <table data-role="versions"><tbody>${versions.map((v) => `<tr data-version="${escapeHtml(v)}"><td><code>${escapeHtml(v)}</code>${v === app.version ? " <span class='muted'>(current)</span>" : ""}</td>
            <td>${write && v !== app.version ? `<button type="button" data-action="rollback" data-version="${escapeHtml(v)}" data-write>Roll back to this</button>` : ""}</td></tr>`).join("") || `<tr><td class="empty">None kept.</td></tr>`}</tbody></table>
          <h2>Releases</h2>
          <div data-role="releases">${envs.size ? [...envs.entries()].map(([env, list]) => `<div class="panel"><b>${escapeHtml(env)}</b>
            <ul class="reasons">${list.map((r) => `<li>${r.current ? "<b>current</b> " : ""}${escapeHtml(r.service)} <code>${escapeHtml(r.version)}</code> ${escapeHtml(r.result || "")} by ${escapeHtml(r.who || "?")} at ${escapeHtml(r.at)}${r.rollback ? " (rollback)" : ""}${r.failures?.length ? `<br><q>${escapeHtml(r.failures.join("; "))}</q>` : ""}</li>`).join("")}</ul></div>`).join("") : `<p class="muted">No releases of this app.</p>`}</div>
        </div>
      </div>
      <h2>Definition</h2>
      <pre data-role="definition">${escapeHtml(toYaml(definition))}</pre>`;
    el.dataset.ready = "1";
    if (focused) el.querySelector(`[data-action="${focused}"]`)?.focus();
  }

  async function act(label, fn) {
    if (!(await ctx.ensureToken())) { ctx.toast(`${label}: a token is needed`, "error"); return; }
    try {
      await fn(false);
    } catch (err) {
      if (err.status === 409 && await ctx.confirm(`${err.message} Force it (supersede the deployment under way)?`)) {
        try { await fn(true); } catch (err2) { ctx.toast(`${label}: ${err2.message}`, "error"); return; }
      } else {
        ctx.toast(`${label}: ${err.message}`, "error");
        return;
      }
    }
    ctx.toast(`${label}: done`, "ok");
    reload.run();
  }

  el.addEventListener("click", async (e) => {
    const button = e.target.closest("[data-action]");
    if (!button || !last) return;
    const force = (f) => (f ? "?force=true" : "");
    switch (button.dataset.action) {
      case "scale": {
        const n = Number(el.querySelector('[data-role="scale-to"]').value);
        if (!Number.isInteger(n) || n < 0) { ctx.toast("Instances: a whole number, 0 or more", "error"); return; }
        await act(`Scale to ${n}`, (f) => ctx.api("PUT", `/v2/apps${enc}${force(f)}`, { instances: n }));
        break;
      }
      case "restart":
        await act("Restart", (f) => ctx.api("POST", `/v2/apps${enc}/restart${force(f)}`));
        break;
      case "reset-delay":
        await act("Reset delay", () => ctx.api("DELETE", `/v2/queue${enc}/delay`));
        break;
      case "rollback": {
        const v = button.dataset.version;
        if (!(await ctx.confirm(`Roll ${id} back to version ${v}?`))) return;
        await act(`Roll back to ${v}`, (f) => ctx.api("PUT", `/v2/apps${enc}${force(f)}`, { version: v }));
        break;
      }
      case "destroy": {
        if (!(await ctx.confirm(`Destroy ${id}? Its ${last.app.tasksRunning} running task(s) will be killed.`))) return;
        if (!(await ctx.ensureToken())) return;
        try {
          await ctx.api("DELETE", `/v2/apps${enc}?force=true`);
          ctx.toast(`${id} destroyed`, "ok");
          ctx.go("#/apps");
        } catch (err) { ctx.toast(`Destroy: ${err.message}`, "error"); }
        break;
      }
      default:
    }
  });
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.dataset.role === "scale-to") { e.preventDefault(); el.querySelector('[data-action="scale"]').click(); }
  });

  reload.run();
  return {
    update(event) {
      const about = event.appId || event.id;
      const mine = about === id || (event.plan && JSON.stringify(event.plan.steps || []).includes(`"${id}"`)) ||
        (event.eventType || "").startsWith("deployment_") || event.eventType === "api_post_event";
      if (mine) reload.schedule();
    },
    unmount() { reload.stop(); },
  };
}

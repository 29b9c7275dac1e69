// The apps: instances / running / healthy as a bar, status (Running, Deploying, Waiting or
// Delayed with the reason /v1/apps/{id}/placement gives, Suspended), image and version; filters by id, label,
// status and health. Live: re-fetched (once, debounced) when an app event arrives.
import { appPath, escapeHtml, reloader } from "../app.js";

const REFRESH = new Set(["status_update_event", "health_status_changed_event", "instance_health_changed_event",
  "app_terminated_event", "api_post_event", "deployment_info", "deployment_success", "deployment_failed",
  "deployment_step_success", "deployment_step_failure", "group_change_success", "placement_failed_event",
  "scheduler_registered_event", "scheduler_reregistered_event"]);
export const STATUSES = ["Running", "Deploying", "Waiting", "Delayed", "Suspended"];

/** An app's status from its JSON, its queue entry (if it waits) and its placement answer
 * (``/v1/apps/{id}/placement``: why it waits, and its backoff), read for waiting apps only. */
export function statusOf(app, queued, placement) {
  const reasons = (placement && placement.reasons) || (queued && queued.reasons) || [];
  const delay = placement ? placement.delaySeconds : (queued && !queued.delay?.overdue ? queued.delay?.timeLeftSeconds : 0);
  if (queued && delay > 0) {
    return { status: "Delayed", reason: `backing off: ${Math.ceil(delay)} s left` + (reasons.length ? `; ${reasons[0]}` : "") };
  }
  if (queued && queued.count > 0 && reasons.length) return { status: "Waiting", reason: reasons.join("; ") };
  if ((app.deployments || []).length) return { status: "Deploying", reason: queued?.count ? `${queued.count} to launch` : "" };
  if (app.instances === 0) return { status: "Suspended", reason: "" };
  return { status: "Running", reason: "" };
}

/** healthy | unhealthy | unknown (no health checks, or no answer yet) for a filter. */
export function healthOf(app) {
  if (!(app.healthChecks || []).length) return "unknown";
  if (app.tasksUnhealthy > 0) return "unhealthy";
  return app.tasksHealthy >= app.instances && app.instances > 0 ? "healthy" : "unknown";
}

export function imageOf(app) {
  const c = app.container || {};
  return (c.docker && c.docker.image) || (c.appc && c.appc.image) || (app.cmd ? `cmd: ${app.cmd}` : "");
}

/** "key", "key=value" or "key!=value" (comma: all must hold) against an app's labels. */
export function labelsMatch(labels, filter) {
  const parts = (filter || "").split(",").map((p) => p.trim()).filter(Boolean);
  return parts.every((p) => {
    const m = p.match(/^([^=!]+?)\s*(!=|==|=)\s*(.*)$/);
    if (!m) return Object.prototype.hasOwnProperty.call(labels || {}, p);
    const has = (labels || {})[m[1].trim()];
    return m[2] === "!=" ? has !== m[3] : has === m[3];
  });
}

export function barHtml(app) {
  const n = Math.max(app.instances, app.tasksRunning + app.tasksStaged, 1);
  const healthy = app.tasksHealthy || 0;
  const running = Math.max(0, (app.tasksRunning || 0) - healthy);
  const staged = app.tasksStaged || 0;
  const pct = (k) => `${(100 * k) / n}%`;
  return `<span class="bar" role="img" aria-label="${app.tasksRunning} of ${app.instances} running, ${healthy} healthy">` +
    `<span class="healthy" style="width:${pct(healthy)}"></span><span class="running" style="width:${pct(running)}"></span>` +
    `<span class="staging" style="width:${pct(staged)}"></span></span> ` +
    `<span data-role="counts">${app.tasksRunning}/${app.instances}${(app.healthChecks || []).length ? ` · ${healthy} healthy` : ""}${staged ? ` · ${staged} staged` : ""}</span>`;
}

export function mount(el, ctx) {
  el.dataset.view = "apps";
  const saved = JSON.parse(sessionStorage.getItem("halyard.appFilters") || "{}");
  el.innerHTML = `
    <h1>Apps</h1>
    <form class="toolbar" data-role="filters" onsubmit="return false">
      <label>Id <input type="search" data-filter="id" size="18" placeholder="/group/app"></label>
      <label>Label <input type="search" data-filter="label" size="18" placeholder="key or key=value"></label>
      <label>Status <select data-filter="status"><option value="">any</option>${STATUSES.map((s) => `<option>${s}</option>`).join("")}</select></label>
      <label>Health <select data-filter="health"><option value="">any</option><option>healthy</option><option>unhealthy</option><option>unknown</option></select></label>
      <span class="muted" data-role="shown"></span>
    </form>
    <table>
      <thead><tr><th scope="col">App</th><th scope="col">Tasks</th><th scope="col">Status</th><th scope="col">Image</th><th scope="col">Version</th><th scope="col">Labels</th></tr></thead>
      <tbody data-role="rows"><tr><td colspan="6" class="empty">Loading…</td></tr></tbody>
    </table>`;
  const rows = el.querySelector('[data-role="rows"]');
  const inputs = [...el.querySelectorAll("[data-filter]")];
  for (const i of inputs) {
    if (saved[i.dataset.filter]) i.value = saved[i.dataset.filter];
    i.addEventListener("input", () => { remember(); draw(); });
  }
  let apps = null, queue = new Map(), placements = new Map();
  const reload = reloader(load, 150);

  function remember() {
    sessionStorage.setItem("halyard.appFilters", JSON.stringify(Object.fromEntries(inputs.map((i) => [i.dataset.filter, i.value]))));
  }

  async function load() {
    try {
      const [a, q] = await Promise.all([
        ctx.api("GET", "/v2/apps?embed=apps.counts&embed=apps.deployments"),
        ctx.api("GET", "/v2/queue").catch(() => ({ queue: [] })),
      ]);
      if (!reload.alive) return;
      // why each waiting app waits: its placement answer (only the apps the queue holds)
      const waiting = (q.queue || []).map((e) => e.app.id);
      const answers = await Promise.all(waiting.map((id) => ctx.api("GET", `/v1/apps${appPath(id)}/placement`)
        .catch(() => null)));
      if (!reload.alive) return;
      apps = a.apps;
      queue = new Map((q.queue || []).map((e) => [e.app.id, e]));
      placements = new Map(waiting.map((id, i) => [id, answers[i]]));
      draw();
    } catch (err) {
      if (reload.alive) rows.innerHTML = `<tr><td colspan="6" class="empty" role="alert">Cannot read the apps: ${escapeHtml(err.message)}</td></tr>`;
    }
  }

  function draw() {
    if (!apps) return;
    const f = Object.fromEntries(inputs.map((i) => [i.dataset.filter, i.value.trim()]));
    const shown = apps.filter((app) => {
      const st = statusOf(app, queue.get(app.id), placements.get(app.id)).status;
      return (!f.id || app.id.includes(f.id)) && labelsMatch(app.labels, f.label) &&
        (!f.status || st === f.status) && (!f.health || healthOf(app) === f.health);
    }).sort((x, y) => x.id.localeCompare(y.id));
    el.querySelector('[data-role="shown"]').textContent = `${shown.length} of ${apps.length}`;
    rows.innerHTML = shown.length ? shown.map((app) => {
      const { status, reason } = statusOf(app, queue.get(app.id), placements.get(app.id));
      const labels = Object.entries(app.labels || {}).map(([k, v]) => `<code>${escapeHtml(k)}=${escapeHtml(v)}</code>`).join(" ");
      return `<tr data-app-id="${escapeHtml(app.id)}" data-status="${status}" tabindex="0">
        <td><a href="#/apps/${encodeURIComponent(app.id)}">${escapeHtml(app.id)}</a></td>
        <td>${barHtml(app)}</td>
        <td><span class="badge ${status}" data-role="status">${status}</span>${reason ? `<div class="muted" data-role="reason">${escapeHtml(reason)}</div>` : ""}</td>
        <td><code>${escapeHtml(imageOf(app))}</code></td>
        <td><code>${escapeHtml(app.version || "")}</code></td>
        <td>${labels}</td></tr>`;
    }).join("") : `<tr><td colspan="6" class="empty">${apps.length ? "No app matches the filters." : "No apps yet."}</td></tr>`;
    el.dataset.ready = "1";
  }

  rows.addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-app-id]");
    if (row && !e.target.closest("a")) ctx.go(`#/apps/${encodeURIComponent(row.dataset.appId)}`);
  });
  rows.addEventListener("keydown", (e) => {
    const row = e.target.closest("tr[data-app-id]");
    if (row && e.key === "Enter" && e.target === row) ctx.go(`#/apps/${encodeURIComponent(row.dataset.appId)}`);
  });

  reload.run();
  return {
    update(event) {
      if (REFRESH.has(event.eventType)) reload.schedule();
    },
    unmount() { reload.stop(); },
  };
}

// The cluster view (first cut): agents and their tasks as a list; the picture follows.
import { escapeHtml } from "../app.js";

export function mount(el, ctx) {
  el.dataset.view = "cluster";
  el.innerHTML = `<h1>Cluster</h1><div data-role="body" class="panel">Loading…</div>`;
  let alive = true;
  async function load() {
    const data = await ctx.api("GET", "/v1/cluster");
    if (!alive) return;
    const body = el.querySelector('[data-role="body"]');
    body.innerHTML = data.agents.map((a) => `<div data-agent-id="${escapeHtml(a.id)}"><b>${escapeHtml(a.hostname)}</b> ${escapeHtml(a.zone || "")}
      ${data.tasks.filter((t) => t.agentId === a.id).map((t) => `<span data-task-id="${escapeHtml(t.id)}" data-app-id="${escapeHtml(t.appId)}">${escapeHtml(t.appId)}</span>`).join(" ")}</div>`).join("");
    el.dataset.ready = "1";
  }
  load().catch((err) => ctx.toast(err.message, "error"));
  return {
    update(event) { if (event.eventType === "status_update_event") load().catch(() => {}); },
    unmount() { alive = false; },
  };
}

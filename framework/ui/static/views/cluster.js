// The cluster as a picture (SVG): every agent a box, grouped by zone (and rack); two bars per
// agent (cpus, mem), one segment per task in proportion to what it takes. A task's state and
// health are told by colour AND pattern; unreachable agents have a dashed red frame and a mark.
// Dense mode (no names, boxes sized to the screen) keeps 1,000 agents on one screen.
import { canWrite, confirm, escapeHtml, reloader, toast } from "../app.js";
import { ORDER, STATES, categoryOf, legendHtml, patternDefs } from "./task_states.js";

const REFRESH = new Set(["status_update_event", "health_status_changed_event", "instance_health_changed_event",
  "unhealthy_task_kill_event", "app_terminated_event", "deployment_success", "deployment_failed",
  "deployment_info", "scheduler_registered_event", "scheduler_reregistered_event", "instance_changed_event"]);
// An agent's state (halyard agents'): told by the frame's colour AND its dash pattern AND a word.
const AGENT_STATES = {
  draining: { stroke: "#d98c1f", dash: "6 3", word: "draining" },
  drained: { stroke: "#5b6578", dash: "1 0", word: "drained", width: 2.5 },
  maintenance: { stroke: "#7b4fb3", dash: "2 2", word: "maintenance" },
  deactivated: { stroke: "#5b6578", dash: "6 3", word: "deactivated" },
};
const TERMINAL = new Set(["TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_FINISHED", "TASK_GONE",
  "TASK_DROPPED", "TASK_GONE_BY_OPERATOR"]);
const DENSE_AT = 60;          // agents: dense mode by default from here on
const ENDED_MS = 6000;        // an ended task stays drawn (as ended) this long
const MIN_SEG = 3;            // px: the smallest task segment in normal mode

export function mount(el, ctx) {
  el.dataset.view = "cluster";
  el.innerHTML = `
    <div class="toolbar">
      <h1 style="margin:0">Cluster</h1>
      <span data-role="summary" class="muted"></span>
      <span class="spacer" style="flex:1"></span>
      <button type="button" data-action="dense" aria-pressed="false">Dense mode</button>
    </div>
    <div class="legend" data-role="legend">${legendHtml()}</div>
    <div data-role="picture" style="margin-top:8px"></div>
    <div class="tooltip" data-role="tooltip" hidden></div>`;
  const picture = el.querySelector('[data-role="picture"]');
  const tooltip = el.querySelector('[data-role="tooltip"]');
  const denseButton = el.querySelector('[data-action="dense"]');
  let data = null;
  const stored = localStorage.getItem("halyard.dense");
  let dense = stored === null ? null : stored === "1";   // null: automatic (dense from DENSE_AT agents)
  const reload = reloader(load, 80);
  let cause = null;              // the first event since the last fetch started (for the trace)
  const ended = new Map();       // task id -> {task, until}
  let drainPoll = null;          // while an agent drains: the next read of the cluster
  const trace = (window.__halyardTrace = window.__halyardTrace || []);

  function isDense() { return dense ?? (data ? data.agents.length >= DENSE_AT : false); }

  async function load() {
    const why = cause;
    cause = null;
    try {
      const fresh = await ctx.api("GET", "/v1/cluster");
      if (!reload.alive) return;
      // tasks that left since the last answer: drawn as ended for a while
      if (data) {
        const now = Date.now(), ids = new Set(fresh.tasks.map((t) => t.id));
        for (const t of data.tasks) if (!ids.has(t.id) && !ended.has(t.id)) ended.set(t.id, { task: t, until: now + ENDED_MS });
      }
      data = fresh;
      // A drain moves on without a task event (an agent with none of Halyard's tasks; the master's
      // DRAINED): while an agent is draining, the cluster is read again every 2 s.
      clearTimeout(drainPoll);
      if (fresh.agents.some((a) => a.state === "draining")) drainPoll = setTimeout(() => reload.alive && reload.run(), 2000);
      render(why);
    } catch (err) {
      if (reload.alive) picture.innerHTML = `<p class="empty" role="alert">Cannot read the cluster: ${escapeHtml(err.message)}</p>`;
    }
  }

  function render(why = null) {
    if (!data) return;
    const t0 = performance.now();
    const now = Date.now();
    for (const [id, e] of ended) if (e.until <= now) ended.delete(id);
    const tasks = data.tasks.map((t) => (ended.has(t.id) ? { ...t, ended: true } : t));
    const present = new Set(tasks.map((t) => t.id));
    for (const [id, e] of ended) if (!present.has(id)) tasks.push({ ...e.task, ended: true });
    const byAgent = new Map();
    for (const t of tasks) {
      if (!byAgent.has(t.agentId)) byAgent.set(t.agentId, []);
      byAgent.get(t.agentId).push(t);
    }
    const width = Math.max(400, picture.clientWidth || el.clientWidth || 1200);
    const svg = isDense() ? denseSvg(data.agents, byAgent, width) : normalSvg(data.agents, byAgent, width);
    picture.innerHTML = svg;
    denseButton.setAttribute("aria-pressed", String(isDense()));
    const counts = {};
    for (const t of tasks) counts[categoryOf(t)] = (counts[categoryOf(t)] || 0) + 1;
    const unreachable = data.agents.filter((a) => !a.reachable).length;
    el.querySelector('[data-role="summary"]').textContent =
      `${data.agents.length} agents${unreachable ? ` (${unreachable} unreachable)` : ""}, ${data.tasks.length} tasks` +
      (Object.keys(counts).length ? ": " + ORDER.filter((k) => counts[k]).map((k) => `${counts[k]} ${STATES[k].label}`).join(", ") : "");
    if (!el.dataset.ready) el.dataset.readyAt = String(Math.round(performance.now()));
    el.dataset.ready = "1";
    el.dataset.renderMs = String(Math.round(performance.now() - t0));
    // the trace: what an event brought to the screen, and when (tests and figures read it)
    trace.push({ kind: "render", at: performance.now(), tasks: data.tasks.length, ids: data.tasks.map((t) => t.id).slice(0, 50),
      causeAt: why ? why.at : null, causeType: why ? why.type : null });
    if (trace.length > 200) trace.splice(0, trace.length - 200);
    if (ended.size) setTimeout(() => reload.alive && render(), 1000);
  }

  // --- interaction ---------------------------------------------------------------------------
  function markOf(target) { return target.closest && target.closest("[data-task-id]"); }

  function showTip(mark, x, y) {
    const t = findTask(mark.dataset.taskId);
    if (!t) return;
    tooltip.textContent = `${t.appId}\n${t.host}${t.ports.length ? ":" + t.ports.join(",") : ""}\n` +
      `${t.ended ? "ended" : t.state.replace("TASK_", "").toLowerCase()}, health ${t.health}${t.draining ? ", draining" : ""}`;
    tooltip.hidden = false;
    tooltip.style.left = `${Math.min(x + 14, window.innerWidth - 260)}px`;
    tooltip.style.top = `${y + 14}px`;
  }

  function findTask(id) {
    return data?.tasks.find((t) => t.id === id) || ended.get(id)?.task;
  }

  picture.addEventListener("mousemove", (e) => {
    const mark = markOf(e.target);
    if (mark) showTip(mark, e.clientX, e.clientY); else tooltip.hidden = true;
  });
  picture.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  picture.addEventListener("focusin", (e) => {
    const mark = markOf(e.target);
    if (!mark) return;
    const r = mark.getBoundingClientRect();
    showTip(mark, r.left, r.bottom);
  });
  picture.addEventListener("focusout", () => { tooltip.hidden = true; });
  picture.addEventListener("click", async (e) => {
    const mark = markOf(e.target);
    if (mark) { ctx.go(`#/apps/${encodeURIComponent(mark.dataset.appId)}`); return; }
    const box = e.target.closest && e.target.closest("[data-agent-host]");
    if (box && canWrite()) await agentAction(box.dataset.agentHost, box.dataset.agentState);
  });

  // Drain an active agent, reactivate one drained, draining or deactivated (halyard agents drain|reactivate).
  async function agentAction(host, state) {
    const back = ["draining", "drained", "deactivated"].includes(state);
    const verb = back ? "Reactivate" : "Drain";
    if (!(await confirm(`${verb} ${host}?${back ? "" : " Halyard's apps move elsewhere within their upgradeStrategy, then the master drains it."}`))) return;
    try {
      await ctx.api("POST", `/v1/agents/${encodeURIComponent(host)}/${back ? "reactivate" : "drain"}`, back ? undefined : {});
      toast(`${verb} ${host}: asked`);
    } catch (err) {
      toast(`${verb} ${host}: ${err.message}`, "error");
    }
    reload.schedule();
  }
  picture.addEventListener("keydown", (e) => {
    const mark = markOf(e.target);
    if (mark && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); ctx.go(`#/apps/${encodeURIComponent(mark.dataset.appId)}`); }
    if (e.key === "Escape") tooltip.hidden = true;
  });
  denseButton.addEventListener("click", () => {
    dense = !isDense();
    localStorage.setItem("halyard.dense", dense ? "1" : "0");
    render();
  });
  const onResize = () => { if (data) render(); };
  window.addEventListener("resize", onResize);

  reload.run();
  return {
    update(event) {
      if (!REFRESH.has(event.eventType)) return;
      const entry = { kind: "event", type: event.eventType, at: performance.now(), taskId: event.taskId, status: event.taskStatus };
      trace.push(entry);
      if (!cause) cause = entry;
      if (event.eventType === "status_update_event" && TERMINAL.has(event.taskStatus) && data) {
        const t = data.tasks.find((x) => x.id === event.taskId);
        if (t) { ended.set(t.id, { task: t, until: Date.now() + ENDED_MS }); render(); }
      }
      reload.schedule();
    },
    unmount() { reload.stop(); clearTimeout(drainPoll); window.removeEventListener("resize", onResize); },
  };
}

// --- layout ----------------------------------------------------------------------------------

/** Agents grouped: zone -> rack -> agents (sorted by hostname). */
function groups(agents) {
  const zones = new Map();
  for (const a of [...agents].sort((x, y) => (x.hostname || "").localeCompare(y.hostname || "", undefined, { numeric: true }))) {
    const zone = a.zone || "no zone", rack = a.rack || "";
    if (!zones.has(zone)) zones.set(zone, new Map());
    const racks = zones.get(zone);
    if (!racks.has(rack)) racks.set(rack, []);
    racks.get(rack).push(a);
  }
  return [...zones.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function markAttrs(t) {
  const cat = categoryOf(t);
  const label = `${t.appId} on ${t.host}${t.ports.length ? ":" + t.ports[0] : ""}, ${STATES[cat].label}`;
  return `class="mark ${cat}" data-task-id="${escapeHtml(t.id)}" data-app-id="${escapeHtml(t.appId)}" data-state="${cat}" ` +
    `tabindex="0" role="link" aria-label="${escapeHtml(label)}"`;
}

/** One bar's segments: [{task, x, w}] in a bar of width ``w`` for resource ``key``. */
function segments(agent, tasks, key, w, minSeg) {
  const total = agent.resources[key] || tasks.reduce((s, t) => s + (t[key] || 0), 0) || 1;
  let x = 0;
  const out = [];
  for (const t of tasks) {
    const sw = Math.max(minSeg, (w * (t[key] || 0)) / total);
    if (x + sw > w + 0.01) { out.push({ task: t, x: Math.max(0, w - sw), w: sw, over: true }); continue; }
    out.push({ task: t, x, w: sw });
    x += sw;
  }
  const ours = tasks.filter((t) => !t.ended).reduce((s, t) => s + (t[key] || 0), 0);
  const others = Math.max(0, (agent.used[key] || 0) - ours);
  return { out, used: x, others: Math.min(w - x, (w * others) / total) };
}

function agentBox(a, tasks, x, y, w, h, opts) {
  const { names, pad, barH, gap } = opts;
  const sorted = [...tasks].sort((p, q) => (p.appId + p.id).localeCompare(q.appId + q.id));
  const bw = w - 2 * pad;
  const top = names ? y + 18 : y + pad;
  const bars = [["cpus", top], ["mem", top + barH + gap]].map(([key, by]) => ({ key, by, ...segments(a, sorted, key, bw, names ? MIN_SEG : 1) }));
  const st = AGENT_STATES[a.state];
  let s = `<g class="agent${a.reachable ? "" : " unreachable"}" data-agent-id="${escapeHtml(a.id)}" data-agent-host="${escapeHtml(a.hostname)}" data-agent-state="${escapeHtml(a.state || "active")}" data-reachable="${a.reachable ? 1 : 0}">`;
  s += st
    ? `<rect class="frame" x="${x}" y="${y}" width="${w}" height="${h}" rx="3" fill="#fff" stroke="${st.stroke}" stroke-width="${st.width || 2}" stroke-dasharray="${st.dash}"/>`
    : `<rect class="frame" x="${x}" y="${y}" width="${w}" height="${h}" rx="3" fill="#fff" stroke="#b9c1cf"/>`;
  if (names) {
    const word = st ? ` · ${st.word}${a.state === "maintenance" && a.maintenanceStart ? " from " + a.maintenanceStart.slice(0, 16) : ""}` : "";
    s += `<text x="${x + pad}" y="${y + 13}" font-size="11" fill="#1d2330">${escapeHtml(a.hostname)}${a.reachable || st ? "" : " ⚠ unreachable"}${escapeHtml(word)}</text>`;
    if (a.reachable) s += `<text x="${x + w - pad}" y="${y + 13}" font-size="10" fill="#5b6578" text-anchor="end">${Math.round(100 * (a.used.cpus / (a.resources.cpus || 1)))}% cpu · ${Math.round(100 * (a.used.mem / (a.resources.mem || 1)))}% mem</text>`;
  } else if (!a.reachable) {
    s += `<line x1="${x}" y1="${y}" x2="${x + w}" y2="${y + h}" stroke="#d1495b" stroke-width="1.5"/>`;
  }
  for (const b of bars) {
    s += `<rect x="${x + pad}" y="${b.by}" width="${bw}" height="${barH}" fill="#eceff4"/>`;
    if (b.others > 0.5) s += `<rect x="${x + pad + b.used}" y="${b.by}" width="${b.others}" height="${barH}" fill="url(#p-other)"><title>other frameworks</title></rect>`;
  }
  // one mark per task: its segment in each bar
  const per = new Map();
  for (const b of bars) for (const seg of b.out) {
    if (!per.has(seg.task.id)) per.set(seg.task.id, { task: seg.task, rects: "" });
    per.get(seg.task.id).rects += `<rect x="${(x + pad + seg.x).toFixed(1)}" y="${b.by}" width="${seg.w.toFixed(1)}" height="${barH}" fill="url(#p-${categoryOf(seg.task)})" stroke="#fff" stroke-width="${names ? 0.8 : 0.3}"/>`;
  }
  for (const { task, rects } of per.values()) s += `<g ${markAttrs(task)}>${rects}</g>`;
  return s + "</g>";
}

function normalSvg(agents, byAgent, width) {
  const W = 230, H = 58, GAP = 10, LEFT = 8, ZGAP = 24;
  const opts = { names: true, pad: 8, barH: 13, gap: 5 };
  const maxPerRow = Math.max(1, Math.floor((width - LEFT * 2 + GAP) / (W + GAP)));
  // each zone is a block (its racks one under the other); blocks flow left to right, wrapping
  const blocks = groups(agents).map(([zone, racks]) => {
    const perRow = Math.min(maxPerRow, Math.max(...[...racks.values()].map((l) => l.length)));
    const bw = perRow * (W + GAP) - GAP;
    let y = 22, body = `<text x="0" y="14" font-size="13" font-weight="600" fill="#1d2330">${escapeHtml(zone)}</text>`;
    for (const [rack, list] of racks) {
      if (rack) { body += `<text x="4" y="${y + 11}" font-size="11" fill="#5b6578">${escapeHtml(rack)}</text>`; y += 15; }
      list.forEach((a, i) => {
        const col = i % perRow, row = Math.floor(i / perRow);
        body += agentBox(a, byAgent.get(a.id) || [], col * (W + GAP), y + row * (H + GAP), W, H, opts);
      });
      y += Math.ceil(list.length / perRow) * (H + GAP);
    }
    return { zone, body, w: bw, h: y };
  });
  let x = LEFT, y = 8, rowH = 0, out = "";
  for (const b of blocks) {
    if (x > LEFT && x + b.w > width - LEFT) { x = LEFT; y += rowH + 8; rowH = 0; }
    out += `<g class="zone" data-zone="${escapeHtml(b.zone)}" transform="translate(${x},${y})">${b.body}</g>`;
    x += b.w + ZGAP;
    rowH = Math.max(rowH, b.h);
  }
  return `<svg class="cluster-svg" data-mode="normal" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + rowH + 4}" role="img" aria-label="Cluster: agents by zone, tasks by state">${patternDefs()}${out}</svg>`;
}

function denseSvg(agents, byAgent, width) {
  const zones = groups(agents);
  const height = Math.max(300, window.innerHeight - 170);
  const n = Math.max(1, agents.length);
  const labelH = 14 * zones.length;
  // the biggest cell that fits every agent on the screen (approximately: rows rounded per zone)
  let cell = Math.floor(Math.sqrt(((width - 8) * (height - labelH)) / n));
  const fits = (c) => {
    const perRow = Math.max(1, Math.floor((width - 8) / c));
    let rows = 0;
    for (const [, racks] of zones) rows += Math.ceil([...racks.values()].reduce((s, l) => s + l.length, 0) / perRow);
    return rows * c + labelH <= height;
  };
  while (cell > 6 && !fits(cell)) cell -= 1;
  cell = Math.max(6, Math.min(cell, 60));
  const gap = cell >= 14 ? 2 : 1;
  const box = cell - gap;
  const barH = Math.max(2, Math.floor((box - 3) / 2));
  const opts = { names: false, pad: 1, barH, gap: 1 };
  const perRow = Math.max(1, Math.floor((width - 8) / cell));
  let y = 2, body = "";
  for (const [zone, racks] of zones) {
    body += `<text x="4" y="${y + 11}" font-size="10" fill="#5b6578">${escapeHtml(zone)}</text>`;
    y += 14;
    const list = [...racks.values()].flat();   // racks stay together, in order
    list.forEach((a, i) => {
      const col = i % perRow, row = Math.floor(i / perRow);
      body += agentBox(a, byAgent.get(a.id) || [], 4 + col * cell, y + row * cell, box, box, opts);
    });
    y += Math.ceil(list.length / perRow) * cell;
  }
  return `<svg class="cluster-svg" data-mode="dense" data-cell="${cell}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${Math.max(y + 2, 50)}" role="img" aria-label="Cluster (dense): agents by zone, tasks by state">${patternDefs()}${body}</svg>`;
}

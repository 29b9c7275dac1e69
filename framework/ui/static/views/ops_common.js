// Helpers shared by the Deployments and Jobs views: element building, state badges (a shape and a
// word as well as a colour), times, actions guarded by a token and a confirmation, and the views'
// own styles (kept here so that style.css, the shell's, needs nothing from them).

/** An element: h("td", {class: "x", dataset: {runId: "r"}, onclick: fn}, "text", child...). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// state -> [glyph, word, tone]: the tone picks the colour; glyph and word say it without colour.
const STATES = {
  running: ["\u25D4", "Running", "busy"],          // ◔
  succeeded: ["\u2714", "Succeeded", "ok"],        // ✔
  failed: ["\u2716", "Failed", "bad"],             // ✖
  cancelled: ["\u2298", "Cancelled", "off"],       // ⊘
  QUEUED: ["\u2026", "Queued", "wait"],            // …
  STARTING: ["\u25B7", "Starting", "busy"],        // ▷
  RUNNING: ["\u25D4", "Running", "busy"],
  FINISHED: ["\u2714", "Finished", "ok"],
  FAILED: ["\u2716", "Failed", "bad"],
  KILLED: ["\u2298", "Killed", "off"],
  done: ["\u2714", "Done", "ok"],
  current: ["\u25B6", "Current", "busy"],          // ▶
  pending: ["\u25CB", "Pending", "wait"],          // ○
  "not-started": ["\u25CB", "Not started", "off"],
  ready: ["\u2714", "Ready", "ok"],
  "not-ready": ["\u25CC", "Not ready", "wait"],    // ◌
};

/** A badge for a state: glyph + word (+ colour); data-state carries the raw state for tests. */
export function badge(state, extra = "") {
  const [glyph, word, tone] = STATES[state] || ["?", String(state), "off"];
  return h("span", {class: `ops-badge tone-${tone}`, dataset: {state}},
    h("span", {class: "ops-glyph", "aria-hidden": "true"}, glyph), " ", word + extra);
}

/** "12 s ago" / "in 3 min" for an ISO time; "" for none. */
export function when(iso) {
  if (!iso) return "";
  const seconds = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const size = Math.abs(seconds);
  const text = size < 60 ? `${size} s` : size < 3600 ? `${Math.round(size / 60)} min`
    : size < 86400 ? `${Math.round(size / 3600)} h` : `${Math.round(size / 86400)} d`;
  return seconds > 1 ? `in ${text}` : `${text} ago`;
}

/** A <time> showing when(iso), with the exact time as its title. */
export function time(iso) {
  return iso ? h("time", {datetime: iso, title: iso}, when(iso)) : "\u2014";
}

/** Run an action from `button`: a token first (when needed), then the confirmation (if
 *  `question`), then `work()`; the button is busy meanwhile; errors become a toast. */
export async function act(ctx, button, question, work) {
  if (button.disabled) return;
  button.disabled = true;
  try {
    if (!(await ctx.ensureToken())) return;
    if (question && !(await ctx.confirm(question))) return;
    await work();
  } catch (error) {
    ctx.toast(`${button.textContent.trim()} failed: ${error.message || error}`, "error");
  } finally {
    button.disabled = false;
  }
}

/** Coalesce calls per key: run(key) at most once per `ms`, with the last key's arguments. */
export function coalescer(ms, run) {
  const waiting = new Map();
  const fire = (key) => { waiting.delete(key); run(key); };
  const call = (key) => { if (!waiting.has(key)) waiting.set(key, setTimeout(() => fire(key), ms)); };
  call.cancel = () => { for (const timer of waiting.values()) clearTimeout(timer); waiting.clear(); };
  return call;
}

/** Replace `old` by `fresh` in place, keeping the keyboard focus on the same control. */
export function swap(old, fresh) {
  const focused = document.activeElement;
  const inside = focused && old.contains(focused);
  const action = inside && focused.dataset ? focused.dataset.action : null;
  old.replaceWith(fresh);
  if (!inside) return;
  const again = action ? fresh.querySelector(`[data-action="${action}"]`) : null;
  (again || (fresh.tabIndex >= 0 ? fresh : null))?.focus();
}

/** Show each <time datetime> under `root` relative to now again (no redraw of its row). */
export function retime(root) {
  for (const node of root.querySelectorAll("time[datetime]")) node.textContent = when(node.getAttribute("datetime"));
}

/** Put `items` in `container` in order, one row each, kept in `rows` (id -> {node, key}): a row
 *  is drawn again (`render(item)`) only when its `keyOf(item)` changed, so that focus and the
 *  elements themselves survive unrelated redraws; rows of items gone are removed. */
export function placeRows(container, rows, items, idOf, keyOf, render) {
  const wanted = new Set(items.map(idOf));
  for (const [id, entry] of rows) if (!wanted.has(id)) { entry.node.remove(); rows.delete(id); }
  let previous = null;
  for (const item of items) {
    const id = idOf(item);
    const key = keyOf(item);
    let entry = rows.get(id);
    if (!entry || entry.key !== key) {
      const fresh = render(item);
      if (entry) swap(entry.node, fresh);
      entry = {node: fresh, key};
      rows.set(id, entry);
    }
    const place = previous ? previous.nextSibling : container.firstChild;
    if (place !== entry.node) container.insertBefore(entry.node, place);
    previous = entry.node;
  }
  retime(container);
}

/** An app's link in the dashboard (#/apps/<id>, the id URL-encoded with its leading slash). */
export function appLink(appId) {
  return h("a", {href: `#/apps/${encodeURIComponent(appId)}`, class: "ops-app"}, appId);
}

const CSS = `
[data-view="deployments"], [data-view="jobs"], [data-view="job"] { --ops-ok:#1a7f37; --ops-bad:#c62828; --ops-busy:#0b5cad;
  --ops-wait:#8a6100; --ops-off:#555; --ops-line:#d0d7de; }
.ops-badge { display:inline-flex; gap:.25em; align-items:center; padding:0 .45em; border:1px solid currentColor;
  border-radius:.8em; font-size:.9em; white-space:nowrap; }
.ops-badge.tone-ok { color:var(--ops-ok); } .ops-badge.tone-bad { color:var(--ops-bad); border-style:double;
  border-width:3px; } .ops-badge.tone-busy { color:var(--ops-busy); border-style:dashed; }
.ops-badge.tone-wait { color:var(--ops-wait); border-style:dotted; } .ops-badge.tone-off { color:var(--ops-off); }
.ops-list { list-style:none; padding:0; margin:0; display:grid; gap:.6em; }
.ops-card { border:1px solid var(--ops-line); border-left-width:6px; border-radius:4px; padding:.5em .8em; }
.ops-card[data-status="failed"] { border-left-color:var(--ops-bad); border-left-style:double; }
.ops-card[data-status="running"] { border-left-color:var(--ops-busy); border-left-style:dashed; }
.ops-card[data-status="succeeded"] { border-left-color:var(--ops-ok); }
.ops-card header { display:flex; flex-wrap:wrap; gap:.6em; align-items:baseline; }
.ops-id { font-family:monospace; font-size:.85em; color:var(--ops-off); }
.ops-steps { display:flex; flex-wrap:wrap; gap:.4em; margin:.5em 0; padding:0; list-style:none; }
.ops-step { border:1px solid var(--ops-line); border-radius:3px; padding:.25em .5em; min-width:10em; }
.ops-step[data-step-state="current"] { border:2px dashed var(--ops-busy); }
.ops-step[data-step-state="failed"] { border:3px double var(--ops-bad); }
.ops-step[data-step-state="cancelled"], .ops-step[data-step-state="not-started"] { border-style:dotted; }
.ops-step[data-step-state="done"] { background:repeating-linear-gradient(135deg,#e8f5e9 0 6px,#fff 6px 10px); }
.ops-step ul { margin:.2em 0 0; padding-left:1.1em; }
.ops-progress { display:flex; align-items:center; gap:.5em; }
.ops-failure { margin:.4em 0; padding:.3em .6em; border-left:4px double var(--ops-bad); background:#fdecea;
  font-family:monospace; white-space:pre-wrap; }
.ops-actions { display:flex; gap:.5em; margin-top:.4em; }
.ops-actions button, .ops-run-now { font:inherit; padding:.2em .8em; }
[data-view="deployments"] :focus-visible, [data-view="jobs"] :focus-visible, [data-view="job"] :focus-visible { outline:3px solid #f9a825;
  outline-offset:2px; }
.ops-table { border-collapse:collapse; width:100%; }
.ops-table th, .ops-table td { text-align:left; padding:.3em .5em; border-bottom:1px solid var(--ops-line);
  vertical-align:top; }
.ops-table tr[aria-current="true"] { background:#e3f2fd; box-shadow:inset 4px 0 0 var(--ops-busy); }
.ops-table tr[data-run-id] { cursor:pointer; }
.ops-output { background:#111; color:#eee; padding:.5em; max-height:22em; overflow:auto; white-space:pre-wrap;
  font-size:.85em; margin:.2em 0 .8em; }
.ops-def { display:grid; grid-template-columns:max-content 1fr; gap:.2em 1em; }
.ops-def dt { font-weight:bold; } .ops-def dd { margin:0; font-family:monospace; }
.ops-muted { color:var(--ops-off); }
`;

/** Add the views' styles to the page once. */
export function installStyle() {
  if (document.getElementById("ops-style")) return;
  document.head.append(h("style", {id: "ops-style"}, CSS));
}

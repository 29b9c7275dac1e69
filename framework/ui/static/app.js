// Halyard's dashboard shell: router, API client, the page's one event stream, token and confirm
// dialogs, toasts. Views are ES modules (views/NAME.js) exporting mount(el, ctx) ->
// {update(event), unmount()}; the shell re-mounts the view on every route change.

const TOKEN_KEY = "halyard.token";
// The one stream per page asks for these types (Halyard's own, job_*, only come when named).
export const EVENT_TYPES = [
  "status_update_event", "health_status_changed_event", "instance_health_changed_event",
  "failed_health_check_event", "unhealthy_task_kill_event", "app_terminated_event", "api_post_event",
  "deployment_info", "deployment_step_success", "deployment_step_failure", "deployment_success",
  "deployment_failed", "group_change_success", "group_change_failed", "instance_changed_event",
  "scheduler_registered_event", "scheduler_reregistered_event", "scheduler_disconnected_event",
  "placement_failed_event", "job_created", "job_updated", "job_deleted", "job_run_status_event",
  "job_run_skipped",
];

const $ = (sel, root = document) => root.querySelector(sel);

// ---- token & identity -------------------------------------------------------------------------

let whoami = { authenticated: false, access: null, tokensRequired: false, readsOpen: true };

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}

async function refreshWhoami() {
  try {
    const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
    const resp = await fetch("/v1/whoami", { headers });
    if (resp.ok) whoami = await resp.json();
  } catch (err) { /* the scheduler is away: keep what we knew, the stream status tells */ }
  document.body.classList.toggle("read-only", !canWrite());
  document.body.dataset.access = whoami.access || (whoami.tokensRequired ? "none" : "open");
  $('[data-action="token"]').textContent = token() ? `Token (${whoami.access || "invalid"})` : "Token";
  $('[data-action="token"]').hidden = !whoami.tokensRequired;
  return whoami;
}

/** False when tokens are on and the token held may only read. */
export function canWrite() {
  return !(whoami.tokensRequired && whoami.authenticated && whoami.access !== "rw");
}

let tokenAsking = null;

/** Ask for a token in a dialog; resolves true when one was given. */
function askToken(why) {
  if (tokenAsking) return tokenAsking;
  const dialog = $('[data-role="token-dialog"]');
  const input = $('[data-role="token-input"]', dialog);
  $('[data-role="token-why"]', dialog).textContent = why;
  input.value = "";
  tokenAsking = new Promise((resolve) => {
    const onKey = (e) => { if (e.key === "Enter") { e.preventDefault(); dialog.close("save"); } };
    input.addEventListener("keydown", onKey);
    dialog.addEventListener("close", async function done() {
      dialog.removeEventListener("close", done);
      input.removeEventListener("keydown", onKey);
      tokenAsking = null;
      const choice = dialog.returnValue;
      if (choice === "save" && input.value.trim()) {
        setToken(input.value.trim());
      } else if (choice === "forget") {
        setToken(null);
      }
      const before = whoami.access;
      await refreshWhoami();
      if (whoami.access !== before || choice !== "cancel") tokenChanged();
      resolve(choice === "save" && whoami.authenticated);
    });
    dialog.returnValue = "cancel";
    dialog.showModal();
    input.focus();
  });
  return tokenAsking;
}

/** When tokens are required and none is held, ask for one. True when the caller may go on. */
export async function ensureToken() {
  await refreshWhoami();
  if (!whoami.tokensRequired || (token() && whoami.authenticated)) return true;
  return askToken("This scheduler requires a token for changes. Enter one to go on.");
}

function tokenChanged() {
  restartStream();
  remount();
}

// ---- API client -------------------------------------------------------------------------------

/** fetch against this scheduler; JSON (or text) back; throws Error with .status and .message. */
export async function api(method, path, body, retried = false) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401 && !retried) {
    setToken(null);
    if (await askToken("The scheduler refused the request without a valid token.")) {
      return api(method, path, body, true);
    }
  }
  const text = await resp.text();
  let data = text;
  try { data = text ? JSON.parse(text) : null; } catch (err) { /* text answer */ }
  if (!resp.ok) {
    const message = (data && typeof data === "object" && data.message) || `${resp.status} ${resp.statusText}`;
    const error = new Error(message);
    error.status = resp.status;
    error.body = data;
    throw error;
  }
  return data;
}

// ---- confirm & toast --------------------------------------------------------------------------

/** An accessible confirmation dialog; resolves true on "Confirm" (Esc or Cancel: false). */
export function confirm(text) {
  const dialog = $('[data-role="confirm-dialog"]');
  $('[data-role="confirm-text"]', dialog).textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      resolve(dialog.returnValue === "yes");
    });
    dialog.returnValue = "no";
    dialog.showModal();
    $('[data-action="confirm-no"]', dialog).focus();
  });
}

export function toast(text, kind = "info") {
  const box = document.createElement("div");
  box.className = `toast ${kind}`;
  box.dataset.role = "toast";
  box.dataset.kind = kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.textContent = text;
  $('[data-role="toasts"]').append(box);
  setTimeout(() => box.remove(), kind === "error" ? 8000 : 4000);
}

// ---- the event stream -------------------------------------------------------------------------

let stream = null;      // {controller}
let streamDelay = 500;

function setStreamStatus(text, live) {
  const el = $('[data-role="stream-status"]');
  el.textContent = text;
  el.dataset.live = live ? "1" : "0";
}

/** One /v2/events stream (fetch, so that it can carry the token; a standby relays it). */
async function openStream() {
  const controller = new AbortController();
  stream = { controller };
  const params = new URLSearchParams(EVENT_TYPES.map((t) => ["event_type", t]));
  params.set("plan-format", "light");
  const headers = { Accept: "text/event-stream", "X-Halyard-Stream": "proxy" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  try {
    const resp = await fetch(`/v2/events?${params}`, { headers, signal: controller.signal, cache: "no-store" });
    if (resp.status === 401) {
      setStreamStatus("needs a token", false);
      return;  // the next action (or the token button) asks for one, and restarts the stream
    }
    if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
    setStreamStatus("live", true);
    streamDelay = 500;
    window.dispatchEvent(new CustomEvent("halyard:stream-open"));
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (!data) continue;
        let event;
        try { event = JSON.parse(data); } catch (err) { continue; }
        dispatch(event);
      }
    }
  } catch (err) {
    if (controller.signal.aborted) return;
  }
  if (controller.signal.aborted || stream?.controller !== controller) return;
  setStreamStatus("reconnecting…", false);
  setTimeout(() => { if (stream?.controller === controller) openStream(); }, streamDelay);
  streamDelay = Math.min(streamDelay * 2, 10000);
}

function restartStream() {
  if (stream) stream.controller.abort();
  stream = null;
  openStream();
}

function dispatch(event) {
  window.__halyardLastEvent = { type: event.eventType, at: performance.now() };
  if (current?.view?.update) {
    try { current.view.update(event); } catch (err) { console.error("view update failed", err); }
  }
}

// ---- router -----------------------------------------------------------------------------------

/** #/cluster, #/apps, #/apps/<id>, #/deployments, #/jobs, #/jobs/<id> -> {name, params}. */
export function parseRoute(hash) {
  const path = (hash || "").replace(/^#\/?/, "");
  const [head, ...rest] = path.split("/");
  const id = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  switch (head) {
    case "apps": return id ? { name: "app", params: { id } } : { name: "apps", params: {} };
    case "jobs": return id ? { name: "job", params: { id } } : { name: "jobs", params: {} };
    case "deployments": return { name: "deployments", params: {} };
    case "cluster": case "": return { name: "cluster", params: {} };
    default: return { name: "unknown", params: { path } };
  }
}

export function go(hash) { if (location.hash === hash) remount(); else location.hash = hash; }

let current = null;   // {route, view, el}

async function mountRoute() {
  const route = parseRoute(location.hash);
  const main = $('[data-role="main"]');
  if (current?.view?.unmount) { try { current.view.unmount(); } catch (err) { console.error(err); } }
  current = null;
  const section = route.name === "app" ? "apps" : route.name === "job" ? "jobs" : route.name;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const el = document.createElement("section");
  el.className = "view";
  main.replaceChildren(el);
  const me = { route, view: null, el };
  current = me;
  let module;
  try {
    module = await import(`./views/${route.name}.js`);
  } catch (err) {
    el.dataset.view = route.name;
    el.innerHTML = `<p class="empty">There is no such page (${escapeHtml(route.name)}).</p>`;
    return;
  }
  if (current !== me) return;
  const ctx = { api, route, go, canWrite, ensureToken, confirm, toast };
  try {
    me.view = module.mount(el, ctx) || {};
  } catch (err) {
    console.error(err);
    el.textContent = `This view failed: ${err.message}`;
  }
}

function remount() { mountRoute(); }

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

/** An app id as a URL path (`/a b/c` -> `/a%20b/c`): each segment encoded, the slashes kept. */
export function appPath(id) {
  return id.split("/").map(encodeURIComponent).join("/");
}

/** A view's reads: `run()` loads now, `schedule()` loads `ms` after its first call (the calls
 *  meanwhile join it), a load asked for while one runs runs once more after it, and `stop()`
 *  (the view unmounted) ends it all; `alive` is false from then on (check it after each await). */
export function reloader(load, ms) {
  let alive = true, timer = null, loading = false, again = false;
  async function run() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      await load();
    } finally {
      loading = false;
      if (again && alive) { again = false; run(); }
    }
  }
  return {
    run,
    schedule() { if (!timer && alive) timer = setTimeout(() => { timer = null; run(); }, ms); },
    stop() { alive = false; clearTimeout(timer); timer = null; },
    get alive() { return alive; },
  };
}

// ---- start ------------------------------------------------------------------------------------

async function start() {
  $('[data-action="token"]').addEventListener("click", () => askToken(
    token() ? "Replace or forget the token this tab holds." : "Enter a token for this tab's session."));
  window.addEventListener("hashchange", mountRoute);
  await refreshWhoami();
  if (!location.hash) history.replaceState(null, "", "#/cluster");
  mountRoute();
  openStream();
}

start();

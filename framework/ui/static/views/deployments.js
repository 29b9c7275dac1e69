// The Deployments view (#/deployments): the recent deployments (GET /v1/deployments: running and
// ended, newest first), each with its progress per step (its actions, the current step's
// readiness), its failures quoted, the rollback that followed a failure, and Rollback / Stop
// (DELETE /v2/deployments/ID, with ?force=true to stop). Live: each deployment event re-fetches
// only that deployment (GET /v2/deployments/ID); a task or health change of an app under
// deployment re-fetches only that app's deployment (its readiness may have changed); readiness
// results have no event, so running deployments are also re-read every RUNNING_MS; the whole
// list is read again only when the event stream (re)opens.
import {act, appLink, badge, coalescer, h, installStyle, placeRows, retime, time} from "./ops_common.js";

const LIMIT = 50;
const RUNNING_MS = 3000;
const PLAN_EVENTS = new Set(["deployment_info", "deployment_success", "deployment_failed",
  "deployment_step_success", "deployment_step_failure"]);
const TASK_EVENTS = new Set(["status_update_event", "instance_health_changed_event", "health_status_changed_event"]);
const ACTION_WORDS = {StartApplication: "Start", RestartApplication: "Restart", ScaleApplication: "Scale",
  StopApplication: "Stop", ResolveArtifacts: "Resolve artifacts"};

/** Mount the view in `root`; see the dashboard contract for `ctx`. */
export function mount(root, ctx) {
  installStyle();
  root.dataset.view = "deployments";
  const deployments = new Map();   // id -> deployment (GET /v1/deployments' shape)
  const rollbackOf = new Map();    // rollback deployment id -> the id it rolled back (from our own DELETEs)
  const rows = new Map();          // id -> {node: its <li>, key: what it shows}
  let gone = false;

  const summary = h("p", {class: "ops-muted", "aria-live": "polite", "data-role": "summary"}, "Loading\u2026");
  const list = h("ol", {class: "ops-list", "aria-label": "Deployments, newest first"});
  root.replaceChildren(h("h1", {}, "Deployments"), summary, list);

  const refresh = coalescer(150, async (id) => {
    try {
      const fresh = await ctx.api("GET", `/v2/deployments/${encodeURIComponent(id)}`);
      if (gone) return;
      deployments.set(id, fresh);
    } catch (error) {
      if (gone) return;
      if (error.status !== 404) { ctx.toast(`Deployment ${id}: ${error.message}`, "error"); return; }
      deployments.delete(id);
    }
    draw();
  });

  function ordered() {
    return [...deployments.values()].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  }

  /** The rollback that followed `d` (a failed or cancelled deployment), if listed. */
  function rollbackAfter(d) {
    if (d.status !== "failed" && d.status !== "cancelled") return null;
    for (const [rollback, original] of rollbackOf) if (original === d.id && deployments.has(rollback)) {
      return deployments.get(rollback);
    }
    if (!d.endedAt) return null;
    const ended = Date.parse(d.endedAt);
    return ordered().reverse().find((r) => r.id !== d.id && (r.kind === "rollback" || r.kind === "plan")
      && Date.parse(r.startedAt) >= ended - 1 && Date.parse(r.startedAt) - ended < 2000
      && r.affectedApps.some((app) => d.affectedApps.includes(app))) || null;
  }

  function rolledBack(r) {
    const original = rollbackOf.get(r.id);
    if (original) return deployments.get(original) || {id: original};
    if (r.kind !== "rollback") return null;
    return ordered().find((d) => rollbackAfter(d) === r) || null;
  }

  /** done, current or pending while it runs; once ended, done, the status it ended with (at
   *  currentStep: the step it failed or was cancelled at) or not-started. */
  function stepState(d, index) {
    if (d.status === "succeeded") return "done";
    const at = d.currentStep - 1;
    if (d.status !== "running") return index < at ? "done" : index === at ? d.status : "not-started";
    return index < at ? "done" : index === at ? "current" : "pending";
  }

  function readiness(d, app) {
    const action = (d.currentActions || []).find((a) => a.app === app);
    const results = action ? action.readinessCheckResults || [] : [];
    if (!results.length) return null;
    return h("ul", {class: "ops-readiness", "aria-label": `Readiness of ${app}`}, results.map((r) =>
      h("li", {dataset: {taskId: r.taskId}}, badge(r.ready ? "ready" : "not-ready"), " ", r.name, " ",
        h("span", {class: "ops-id"}, r.taskId),
        r.lastResponse ? h("span", {class: "ops-muted"}, ` (HTTP ${r.lastResponse.status})`) : null)));
  }

  function steps(d) {
    return h("ol", {class: "ops-steps", "aria-label": "Steps"}, d.steps.map((step, index) => {
      const state = stepState(d, index);
      return h("li", {class: "ops-step", dataset: {stepState: state}},
        h("div", {}, badge(state), ` Step ${index + 1}`),
        h("ul", {}, step.actions.map((a) => h("li", {}, `${ACTION_WORDS[a.action] || a.action} `, appLink(a.app),
          state === "current" ? readiness(d, a.app) : null))));
    }));
  }

  function actions(d) {
    if (d.status !== "running" || !ctx.canWrite()) return null;
    const rollback = h("button", {type: "button", dataset: {action: "deployment-rollback"},
      title: "Cancel this deployment and put its apps back as they were"}, "Rollback");
    rollback.addEventListener("click", () => act(ctx, rollback,
      `Roll back deployment ${d.id}? ${d.affectedApps.join(", ")} go back to the definition before it.`,
      async () => {
        const answer = await ctx.api("DELETE", `/v2/deployments/${encodeURIComponent(d.id)}`);
        rollbackOf.set(answer.deploymentId, d.id);
        ctx.toast(`Rolling back ${d.id}: deployment ${answer.deploymentId}`, "info");
        refresh(d.id); refresh(answer.deploymentId);
      }));
    const stop = h("button", {type: "button", dataset: {action: "deployment-stop"},
      title: "Cancel this deployment and leave its apps as they are now"}, "Stop");
    stop.addEventListener("click", () => act(ctx, stop,
      `Stop deployment ${d.id}? ${d.affectedApps.join(", ")} stay as they are now, partly deployed; nothing is rolled back.`,
      async () => {
        await ctx.api("DELETE", `/v2/deployments/${encodeURIComponent(d.id)}?force=true`);
        ctx.toast(`Stopped deployment ${d.id}`, "info");
        refresh(d.id);
      }));
    // A destroy cannot be rolled back (the API refuses): only Stop is offered for one.
    const destroys = d.steps.some((step) => step.actions.some((a) => a.action === "StopApplication"));
    return h("div", {class: "ops-actions"}, destroys ? h("span", {class: "ops-muted"}, "A destroy cannot be rolled back.")
      : rollback, stop);
  }

  function row(d) {
    const progress = d.status === "running" ? `Step ${d.currentStep} of ${d.totalSteps}` : `${d.totalSteps} step${d.totalSteps === 1 ? "" : "s"}`;
    const after = rollbackAfter(d);
    const before = rolledBack(d);
    return h("li", {class: "ops-card", dataset: {deploymentId: d.id, status: d.status}, "aria-label":
        `Deployment ${d.id}: ${d.status}`},
      h("header", {},
        badge(d.status), h("strong", {}, d.kind === "plan" ? "Plan" : d.kind[0].toUpperCase() + d.kind.slice(1)),
        h("span", {}, d.affectedApps.map((app, i) => [i ? ", " : "", appLink(app)])),
        h("span", {class: "ops-muted"}, "started ", time(d.startedAt), d.endedAt ? [", ended ", time(d.endedAt)] : ""),
        h("span", {class: "ops-id", title: "deployment id"}, d.id)),
      h("div", {class: "ops-progress"},
        h("progress", {max: d.totalSteps, value: d.status === "succeeded" ? d.totalSteps : Math.max(0, d.currentStep - 1),
          "aria-label": progress}), h("span", {"data-role": "progress"}, progress)),
      steps(d),
      d.failures && d.failures.length ? h("div", {"data-role": "failures"},
        h("span", {class: "ops-muted"}, d.status === "cancelled" ? "Cancelled:" : "Failed because:"),
        d.failures.map((f) => h("blockquote", {class: "ops-failure", "data-role": "failure"}, f))) : null,
      after ? h("p", {"data-role": "rolled-back-by", dataset: {rollbackId: after.id}},
        "Rolled back by deployment ", h("span", {class: "ops-id"}, after.id), " ", badge(after.status)) : null,
      before ? h("p", {"data-role": "rolls-back", dataset: {rollbackOf: before.id}},
        "Rolls back deployment ", h("span", {class: "ops-id"}, before.id)) : null,
      actions(d));
  }

  function draw() {
    if (gone) return;
    const all = ordered();
    const running = all.filter((d) => d.status === "running").length;
    summary.textContent = `${running} running, ${all.length - running} ended (the last ${LIMIT} are kept here)`;
    if (!all.length) summary.textContent = "No deployments yet.";
    placeRows(list, rows, all.slice(0, LIMIT), (d) => d.id, (d) => {
      const after = rollbackAfter(d);
      const before = rolledBack(d);
      return JSON.stringify([d, after && [after.id, after.status], before && before.id, ctx.canWrite()]);
    }, row);
    root.dataset.ready = "1";
  }

  // The whole list at first, and again whenever the event stream (re)opens: what happened
  // while it was away (a failover, a lost connection) reached no update().
  let loads = 0;
  function loadAll() {
    const mine = ++loads;
    ctx.api("GET", `/v1/deployments?limit=${LIMIT}`).then((all) => {
      if (gone || mine !== loads) return;
      deployments.clear();
      for (const d of all) deployments.set(d.id, d);
      draw();
    }, (error) => { if (!gone) summary.textContent = `Could not load deployments: ${error.message}`; });
  }
  loadAll();
  window.addEventListener("halyard:stream-open", loadAll);
  // Readiness checks and minReadySeconds progress come with no event: the running deployments
  // (only those, one read each) are read again every RUNNING_MS.
  const ticker = setInterval(() => {
    for (const d of deployments.values()) if (d.status === "running") refresh(d.id);
    retime(list);
  }, RUNNING_MS);

  return {
    update(event) {
      if (PLAN_EVENTS.has(event.eventType)) {
        const id = event.id || (event.plan && event.plan.id);
        if (id) refresh(id);
      } else if (TASK_EVENTS.has(event.eventType)) {
        const app = event.appId || event.runSpecId;
        for (const d of deployments.values()) if (d.status === "running" && d.affectedApps.includes(app)) refresh(d.id);
      }
    },
    unmount() {
      gone = true; refresh.cancel(); clearInterval(ticker); window.removeEventListener("halyard:stream-open", loadAll);
      root.replaceChildren();
    },
  };
}

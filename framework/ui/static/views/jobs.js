// The Jobs views. #/jobs: every job (GET /v1/jobs) with its schedule, next run, active runs and
// last run, and Run now. #/jobs/<id>: the job's definition, its runs (GET /v1/jobs/ID/runs) with
// status and exit code, Run now (POST /v1/jobs/ID/runs) and Kill (DELETE /v1/jobs/ID/runs/RUN),
// and the output tail of the selected run (GET .../stdout|stderr?bytes=4096), re-read every
// TAIL_MS (with the runs) while that run is active. Live: job events re-fetch only the job (or its runs) they name.
// /v1/jobs answers in Metronome's shapes; every read here asks for Halyard's own view (?embed=halyard),
// which carries the flat definition, Halyard's statuses, exit codes and every kept run.
import {act, badge, coalescer, h, installStyle, placeRows, retime, time} from "./ops_common.js";

const TAIL_BYTES = 4096;
const TAIL_MS = 2000;
const RETIME_MS = 5000;  // relative times ("12 s ago") shown again, in place
const ACTIVE = new Set(["QUEUED", "STARTING", "RUNNING"]);
const JOB_EVENTS = new Set(["job_created", "job_updated", "job_deleted", "job_run_status_event", "job_run_skipped"]);

const jobPath = (id) => `/v1/jobs/${encodeURIComponent(id)}`;
const HALYARD = "?embed=halyard";
/** Halyard's view (`halyard`) of a job or run, or of each in a list. */
const own = (answer) => (Array.isArray(answer) ? answer.map((item) => item.halyard) : answer.halyard);

/** Mount the list (#/jobs, data-view="jobs") or one job (#/jobs/<id>, the shell's route "job",
 *  data-view="job") in `root`; see the dashboard contract. */
export function mount(root, ctx) {
  installStyle();
  const id = ctx.route && ctx.route.params && ctx.route.params.id;  // the shell decoded it
  root.dataset.view = id ? "job" : "jobs";
  return id ? mountJob(root, ctx, id) : mountList(root, ctx);
}

function schedule(spec) {
  const s = spec.schedule;
  if (!s) return h("span", {class: "ops-muted"}, "on demand");
  return h("span", {}, h("code", {}, s.cron), ` (${s.timezone || "UTC"})`,
    s.concurrencyPolicy === "FORBID" ? ", one at a time" : "", s.enabled === false ? " \u2014 disabled" : "");
}

function runNowButton(ctx, jobId, started) {
  const button = h("button", {type: "button", class: "ops-run-now", dataset: {action: "run-now"},
    "aria-label": `Run ${jobId} now`}, "Run now");
  button.addEventListener("click", () => act(ctx, button, null, async () => {
    const run = own(await ctx.api("POST", `${jobPath(jobId)}/runs${HALYARD}`));
    ctx.toast(`Started run ${run.id} of ${jobId}`, "info");
    started(run);
  }));
  return button;
}

function lastRun(job) {
  const last = job.lastRun;
  if (!last) return h("span", {class: "ops-muted"}, "never ran");
  return h("span", {}, badge(last.status), last.exitCode !== null && last.exitCode !== undefined ? ` exit ${last.exitCode}` : "");
}

// --- #/jobs --------------------------------------------------------------------------------------

function mountList(root, ctx) {
  const jobs = new Map();
  const rows = new Map();
  let gone = false;
  const summary = h("p", {class: "ops-muted", "aria-live": "polite", "data-role": "summary"}, "Loading\u2026");
  const body = h("tbody");
  const table = h("table", {class: "ops-table"},
    h("caption", {class: "ops-muted"}, "Enter on a job opens it"),
    h("thead", {}, h("tr", {}, ["Job", "Schedule", "Next run", "Active runs", "Last run", ""].map((t) => h("th", {scope: "col"}, t)))),
    body);
  root.replaceChildren(h("h1", {}, "Jobs"), summary, table);

  const refresh = coalescer(150, async (jobId) => {
    try {
      const job = own(await ctx.api("GET", jobPath(jobId) + HALYARD));
      if (!gone) jobs.set(jobId, job);
    } catch (error) {
      if (gone) return;
      if (error.status !== 404) { ctx.toast(`Job ${jobId}: ${error.message}`, "error"); return; }
      jobs.delete(jobId);
    }
    draw();
  });

  function row(job) {
    const open = () => ctx.go(`#/jobs/${encodeURIComponent(job.id)}`);
    const tr = h("tr", {dataset: {jobId: job.id}},
      h("th", {scope: "row"}, h("a", {href: `#/jobs/${encodeURIComponent(job.id)}`}, job.id),
        job.definition.description ? h("div", {class: "ops-muted"}, job.definition.description) : null),
      h("td", {}, schedule(job.definition)),
      h("td", {}, job.nextRunAt ? time(job.nextRunAt) : "\u2014"),
      h("td", {"data-role": "active"}, String(job.activeRuns.length)),
      h("td", {"data-role": "last-run"}, lastRun(job)),
      h("td", {}, ctx.canWrite() ? runNowButton(ctx, job.id, () => open()) : null));
    tr.addEventListener("dblclick", open);
    return tr;
  }

  function draw() {
    if (gone) return;
    const all = [...jobs.values()].sort((a, b) => a.id.localeCompare(b.id));
    summary.textContent = all.length ? `${all.length} job${all.length === 1 ? "" : "s"}` : "No jobs defined.";
    placeRows(body, rows, all, (job) => job.id, (job) => JSON.stringify([job, ctx.canWrite()]), row);
    root.dataset.ready = "1";
  }

  let loads = 0;
  function loadAll() {  // at first, and when the event stream (re)opens (what it missed)
    const mine = ++loads;
    ctx.api("GET", "/v1/jobs" + HALYARD).then(own).then((all) => {
      if (gone || mine !== loads) return;
      jobs.clear();
      for (const job of all) jobs.set(job.id, job);
      draw();
    }, (error) => { if (!gone) summary.textContent = `Could not load jobs: ${error.message}`; });
  }
  loadAll();
  window.addEventListener("halyard:stream-open", loadAll);
  const ticker = setInterval(() => retime(body), RETIME_MS);

  return {
    update(event) {
      if (JOB_EVENTS.has(event.eventType) && event.jobId) refresh(event.jobId);
    },
    unmount() {
      gone = true; refresh.cancel(); clearInterval(ticker); window.removeEventListener("halyard:stream-open", loadAll);
      root.replaceChildren();
    },
  };
}

// --- #/jobs/<id> ---------------------------------------------------------------------------------

function mountJob(root, ctx, jobId) {
  root.dataset.jobId = jobId;
  let job = null;
  let runs = [];
  let selected = null;     // run id whose output is shown
  let tailTimer = null;
  let gone = false;
  let tailing = 0;         // a counter: an older tail's answer never overwrites a newer one
  const runRows = new Map();  // run id -> {node, key}

  const heading = h("h1", {}, "Job ", h("code", {}, jobId));
  const actions = h("div", {class: "ops-actions"});
  const definition = h("dl", {class: "ops-def", "aria-label": "Definition"});
  const summary = h("p", {class: "ops-muted", "aria-live": "polite", "data-role": "summary"}, "Loading\u2026");
  const runBody = h("tbody");
  const runTable = h("table", {class: "ops-table", "aria-label": "Runs, newest first"},
    h("caption", {class: "ops-muted"}, "Runs, newest first (Enter or a click on a run shows its output)"),
    h("thead", {}, h("tr", {}, ["Run", "Status", "Exit code", "Attempt", "Trigger", "Started", "Finished", "Host",
      "Message", ""].map((t) => h("th", {scope: "col"}, t)))), runBody);
  const outputTitle = h("h2", {"data-role": "output-title"}, "Output");
  const stdout = h("pre", {class: "ops-output", "data-role": "stdout", tabindex: "0", "aria-label": "Standard output"});
  const stderr = h("pre", {class: "ops-output", "data-role": "stderr", tabindex: "0", "aria-label": "Standard error"});
  root.replaceChildren(h("nav", {}, h("a", {href: "#/jobs"}, "\u2190 All jobs")), heading, actions, definition,
    h("h2", {}, "Runs"), summary, runTable, outputTitle,
    h("h3", {}, "stdout"), stdout, h("h3", {}, "stderr"), stderr);

  const reloadJob = coalescer(150, async () => {
    try {
      job = own(await ctx.api("GET", jobPath(jobId) + HALYARD));
    } catch (error) {
      if (gone) return;
      if (error.status === 404) { job = null; summary.textContent = `Job ${jobId} does not exist.`; }
      else ctx.toast(`Job ${jobId}: ${error.message}`, "error");
    }
    drawJob();
  });

  const reloadRuns = coalescer(150, async () => {
    try {
      runs = own(await ctx.api("GET", `${jobPath(jobId)}/runs${HALYARD}`));
    } catch (error) {
      if (gone) return;
      if (error.status !== 404) ctx.toast(`Runs of ${jobId}: ${error.message}`, "error");
      runs = [];
    }
    if (gone) return;
    if (!selected || !runs.some((r) => r.id === selected)) selected = runs.length ? runs[0].id : null;
    drawRuns();
    tail();
  });

  function drawJob() {
    if (gone) return;
    actions.replaceChildren(job && ctx.canWrite() ? runNowButton(ctx, jobId, (run) => {
      selected = run.id;
      reloadRuns(); reloadJob();
    }) : "");
    if (!job) { definition.replaceChildren(); return; }
    const d = job.definition;
    const image = d.container && d.container.docker && d.container.docker.image;
    const items = [
      ["Command", d.cmd || (d.args || []).join(" ") || "\u2014"], image ? ["Image", image] : null,
      ["Resources", `cpus ${d.cpus}, mem ${d.mem} MiB${d.disk ? `, disk ${d.disk} MiB` : ""}`],
      ["Schedule", schedule(d)], ["Next run", job.nextRunAt ? time(job.nextRunAt) : "\u2014"],
      ["Retries", String(d.retries || 0)], d.timeoutSeconds ? ["Timeout", `${d.timeoutSeconds} s`] : null,
      ["Version", job.version]];
    definition.replaceChildren(...items.filter(Boolean).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  function runRow(run) {
    const active = ACTIVE.has(run.status);
    const tr = h("tr", {dataset: {runId: run.id, status: run.status}, tabindex: "0",
      "aria-current": run.id === selected ? "true" : "false", "aria-label": `Run ${run.id}: ${run.status}`},
      h("td", {class: "ops-id"}, run.id), h("td", {}, badge(run.status)),
      h("td", {"data-role": "exit-code"}, run.exitCode === null || run.exitCode === undefined ? "\u2014" : String(run.exitCode)),
      h("td", {}, String(run.attempt)), h("td", {}, run.trigger), h("td", {}, time(run.createdAt)),
      h("td", {}, time(run.finishedAt)), h("td", {}, run.host || "\u2014"),
      h("td", {}, run.message || (run.waiting || []).join("; ") || ""),
      h("td", {}, active && ctx.canWrite() ? killButton(run) : null));
    const choose = () => { selected = run.id; drawRuns(); tail(); };
    tr.addEventListener("click", (e) => { if (!e.target.closest("button")) choose(); });
    tr.addEventListener("keydown", (e) => {
      if ((e.key === "Enter" || e.key === " ") && e.target === tr) { e.preventDefault(); choose(); }
    });
    return tr;
  }

  function killButton(run) {
    const button = h("button", {type: "button", dataset: {action: "kill-run"}, "aria-label": `Kill run ${run.id}`}, "Kill");
    button.addEventListener("click", () => act(ctx, button, `Kill run ${run.id} of ${jobId}?`, async () => {
      await ctx.api("DELETE", `${jobPath(jobId)}/runs/${encodeURIComponent(run.id)}`);
      ctx.toast(`Killing run ${run.id}`, "info");
      reloadRuns();
    }));
    return button;
  }

  function drawRuns() {
    if (gone) return;
    summary.textContent = runs.length ? `${runs.length} run${runs.length === 1 ? "" : "s"}, `
      + `${runs.filter((r) => ACTIVE.has(r.status)).length} active` : "No runs yet.";
    placeRows(runBody, runRows, runs, (run) => run.id,
      (run) => JSON.stringify([run, run.id === selected, ctx.canWrite()]), runRow);
    const run = runs.find((r) => r.id === selected);
    outputTitle.textContent = run ? `Output of run ${run.id} (last ${TAIL_BYTES / 1024} KB)` : "Output";
    outputTitle.dataset.runId = run ? run.id : "";
    root.dataset.ready = "1";
  }

  /** Read the selected run's output tail; again in TAIL_MS while the run is active. */
  async function tail() {
    clearTimeout(tailTimer);
    tailTimer = null;
    const run = runs.find((r) => r.id === selected);
    if (!run) { stdout.textContent = ""; stderr.textContent = ""; return; }
    const mine = ++tailing;
    const read = async (name) => {
      try {
        const text = await ctx.api("GET", `${jobPath(jobId)}/runs/${encodeURIComponent(run.id)}/${name}?bytes=${TAIL_BYTES}`);
        // ctx.api parses what looks like JSON: output "42" comes back as 42, "" as null
        return typeof text === "string" ? text : text === null ? "" : JSON.stringify(text);
      } catch (error) {
        return error.status === 404 ? null : `(could not read ${name}: ${error.message})`;
      }
    };
    const [out, err] = await Promise.all([read("stdout"), read("stderr")]);
    if (gone || mine !== tailing) return;
    for (const [pre, text] of [[stdout, out], [stderr, err]]) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = text === null ? "(no output yet: the run has not been launched)" : text || "(empty)";
      pre.dataset.empty = text ? "0" : "1";
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }
    if (ACTIVE.has(run.status)) tailTimer = setTimeout(reloadRuns, TAIL_MS);  // its status and output again
  }

  const reload = () => { reloadJob(); reloadRuns(); };
  reload();
  window.addEventListener("halyard:stream-open", reload);  // what the stream missed while away
  const ticker = setInterval(() => { retime(runBody); retime(definition); }, RETIME_MS);

  return {
    update(event) {
      if (!JOB_EVENTS.has(event.eventType) || event.jobId !== jobId) return;
      if (event.eventType === "job_run_status_event") { reloadRuns(); reloadJob(); }
      else reloadJob();
    },
    unmount() {
      gone = true; clearTimeout(tailTimer); clearInterval(ticker); reloadJob.cancel(); reloadRuns.cancel();
      window.removeEventListener("halyard:stream-open", reload);
      root.replaceChildren();
      delete root.dataset.jobId;
    },
  };
}

// How a task's state and health are drawn: a category, each with a colour AND a pattern (so
// that they stay distinguishable without colour vision). Shared by the cluster and app views.

export const STATES = {
  healthy:   { label: "healthy",   color: "#2e8b57", pattern: "solid" },
  running:   { label: "running (no health check)", color: "#3a78c2", pattern: "dots-light" },
  unhealthy: { label: "unhealthy", color: "#d1495b", pattern: "diagonal" },
  staging:   { label: "staging",   color: "#e0a100", pattern: "vertical" },
  unknown:   { label: "unknown",   color: "#8a94a6", pattern: "crosshatch" },
  draining:  { label: "draining",  color: "#7b4fb8", pattern: "horizontal" },
  ended:     { label: "ended",     color: "#5a1a22", pattern: "x" },
};
export const ORDER = ["healthy", "running", "unhealthy", "staging", "unknown", "draining", "ended"];

const STAGING = new Set(["TASK_STAGING", "TASK_STARTING", "TASK_LAUNCHING"]);

/** The drawing category of a /v1/cluster task. */
export function categoryOf(t) {
  if (t.ended) return "ended";
  if (t.draining) return "draining";
  if (STAGING.has(t.state)) return "staging";
  if (t.state !== "TASK_RUNNING" || t.unreachable) return t.state === "TASK_UNREACHABLE" ? "unhealthy" : "unknown";
  if (t.health === "healthy") return "healthy";
  if (t.health === "unhealthy") return "unhealthy";
  return "running";
}

function overlay(kind) {
  switch (kind) {
    case "dots-light": return `<circle cx="3" cy="3" r="1" fill="#fff" fill-opacity=".55"/>`;
    case "diagonal": return `<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="#fff" stroke-width="1.4"/>`;
    case "vertical": return `<path d="M3,0 v6" stroke="#fff" stroke-width="1.2"/>`;
    case "crosshatch": return `<path d="M0,0 l6,6 M6,0 l-6,6" stroke="#fff" stroke-width=".9"/>`;
    case "horizontal": return `<path d="M0,3 h6" stroke="#fff" stroke-width="1.4"/>`;
    case "x": return `<path d="M1,1 l4,4 M5,1 l-4,4" stroke="#fff" stroke-width="1.3"/>`;
    default: return "";
  }
}

/** SVG <defs> with one pattern per category (id p-NAME) and p-other (other frameworks). */
export function patternDefs() {
  let s = "<defs>";
  for (const [name, st] of Object.entries(STATES)) {
    s += `<pattern id="p-${name}" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="${st.color}"/>${overlay(st.pattern)}</pattern>`;
  }
  s += `<pattern id="p-other" width="4" height="4" patternUnits="userSpaceOnUse"><rect width="4" height="4" fill="#cfd5df"/><path d="M0,4 l4,-4" stroke="#fff" stroke-width=".8"/></pattern>`;
  return s + "</defs>";
}

/** A legend: one swatch per category (and other frameworks). */
export function legendHtml(names = ORDER) {
  const swatch = (id, label) => `<span><svg width="22" height="12" aria-hidden="true">${patternDefs().replace(/id="p-/g, `id="lg-${id}-`)}<rect width="22" height="12" fill="url(#lg-${id}-${id})" stroke="#999" stroke-width=".5"/></svg> ${label}</span>`;
  return names.map((n) => swatch(n, STATES[n].label)).join("") + swatch("other", "other frameworks");
}

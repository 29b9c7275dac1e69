// A small YAML emitter for showing JSON definitions (block style, strings quoted when needed).

const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./ :@%+=,-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  const s = String(value);
  if (s === "" || !PLAIN.test(s) || RESERVED.test(s) || s.endsWith(" ") || s.includes(": ") || s.includes(" #")) {
    return JSON.stringify(s);
  }
  return s;
}

function key(k) { return PLAIN.test(k) && !RESERVED.test(k) && !k.includes(": ") ? k : JSON.stringify(k); }

function emit(value, indent, out) {
  const pad = "  ".repeat(indent);
  if (Array.isArray(value)) {
    if (!value.length) return [" []"];
    for (const item of value) {
      if (item && typeof item === "object" && !Array.isArray(item) && Object.keys(item).length) {
        const lines = [];
        emit(item, indent + 1, lines);
        out.push(`${pad}- ${lines[0].trimStart()}`, ...lines.slice(1));
      } else if (Array.isArray(item) && item.length) {
        out.push(`${pad}-`);
        emit(item, indent + 1, out);
      } else {
        out.push(`${pad}- ${inline(item)}`);
      }
    }
    return out;
  }
  for (const [k, v] of Object.entries(value)) {
    if (v && typeof v === "object" && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
      out.push(`${pad}${key(k)}:`);
      emit(v, Array.isArray(v) ? indent : indent + 1, out);
    } else {
      out.push(`${pad}${key(k)}: ${inline(v)}`);
    }
  }
  return out;
}

function inline(v) {
  if (Array.isArray(v)) return "[]";
  if (v && typeof v === "object") return "{}";
  return scalar(v);
}

/** ``value`` (parsed JSON) as YAML text. */
export function toYaml(value) {
  if (value === null || typeof value !== "object") return scalar(value) + "\n";
  if (Array.isArray(value) && !value.length) return "[]\n";
  return emit(value, 0, []).join("\n") + "\n";
}

"""The soak's result: per fault kind, count, recovery time p50/p99 (fault -> invariants hold
again), violations and, for master failovers (``--ha``), Halyard's re-subscription time p50/p99
(the new master elected -> Halyard subscribed to it); the last line ``soak: N faults, M
violations``. Pure (no I/O)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass
class FaultRecord:
    kind: str
    started: float
    ended: float = 0.0
    detail: str = ""
    recovered: Optional[float] = None   # seconds from the fault to invariants holding again; None: never
    violations: list[str] = field(default_factory=list)
    resubscribe: Optional[float] = None  # a master failover's: the new master elected -> Halyard subscribed to it
    figures: dict[str, float] = field(default_factory=dict)   # a partition's (--hosts): seconds from the cut to ...


def percentile(values: list[float], p: float) -> Optional[float]:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(faults: list[FaultRecord], general: list[str], leaderless_seconds: float,
            extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Everything the table shows, as JSON (``--json``)."""
    kinds: dict[str, dict[str, Any]] = {}
    for f in faults:
        k = kinds.setdefault(f.kind, {"count": 0, "recovery": [], "violations": 0, "resubscribe": [], "figures": {}})
        for name, value in f.figures.items():
            k["figures"].setdefault(name, []).append(value)
        k["count"] += 1
        k["violations"] += len(f.violations)
        if f.recovered is not None:
            k["recovery"].append(f.recovered)
        if f.resubscribe is not None:
            k["resubscribe"].append(f.resubscribe)
    table = {kind: {"count": k["count"], "recovery_p50": percentile(k["recovery"], 50),
                    "recovery_p99": percentile(k["recovery"], 99), "violations": k["violations"],
                    **({"resubscribe_p50": percentile(k["resubscribe"], 50),
                        "resubscribe_p99": percentile(k["resubscribe"], 99)} if k["resubscribe"] else {}),
                    **({"figures": {name: {"count": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)}
                                    for name, v in sorted(k["figures"].items())}} if k["figures"] else {})}
             for kind, k in sorted(kinds.items())}
    total = sum(len(f.violations) for f in faults) + len(general)
    return {"faults": len(faults), "violations": total, "kinds": table, "general_violations": general,
            "leaderless_seconds": round(leaderless_seconds, 1),
            "fault_log": [asdict(f) for f in faults], **(extra or {})}


def table(data: dict[str, Any]) -> str:
    """The text table, ending with ``soak: N faults, M violations``."""
    def secs(v: Optional[float]) -> str:
        return "-" if v is None else f"{v:.1f}s"
    lines = [f"{'fault':<18} {'count':>5} {'p50':>8} {'p99':>8} {'violations':>10} {'resub p50':>10} {'resub p99':>10}"]
    for kind, k in data["kinds"].items():
        lines.append(f"{kind:<18} {k['count']:>5} {secs(k['recovery_p50']):>8} {secs(k['recovery_p99']):>8} "
                     f"{k['violations']:>10} {secs(k.get('resubscribe_p50')):>10} {secs(k.get('resubscribe_p99')):>10}")
    lines.append(f"{'(continuous)':<18} {'':>5} {'':>8} {'':>8} {len(data['general_violations']):>10}")
    for kind, k in data["kinds"].items():   # what the partitions measured, from the cut
        for name, v in k.get("figures", {}).items():
            lines.append(f"  {kind}: {name} after the cut: n={v['count']} p50 {secs(v['p50'])} p99 {secs(v['p99'])}")
    lines.append(f"time without a leader: {data['leaderless_seconds']:.1f}s")
    if "checked" in data:
        lines.append("checked: " + ", ".join(f"{v} {k}" for k, v in data["checked"].items()))
    for f in data["fault_log"]:
        for v in f["violations"]:
            lines.append(f"VIOLATION [{f['kind']} @{f['started']:.0f}] {v}")
    for v in data["general_violations"]:
        lines.append(f"VIOLATION {v}")
    lines.append(f"soak: {data['faults']} faults, {data['violations']} violations")
    return "\n".join(lines)

"""Resources as the simulated master accounts them: scalars and port ranges.

Mesos keeps scalars in fixed point with three decimals (``Value::Scalar`` arithmetic in
src/common/values.cpp); here they are integers of thousandths, so that adding and taking back
never drifts. Ports are sorted, merged, inclusive ``(begin, end)`` ranges. Roles and reservations
are not modelled: every resource is unreserved, offered to the framework's role.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SCALARS = ("cpus", "mem", "disk", "gpus")
Range = tuple[int, int]


class ResourceError(ValueError):
    """A resource the simulator cannot read (a malformed TaskInfo, say)."""


def _milli(value: float) -> int:
    return int(round(float(value) * 1000))


def merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    """Sorted, with overlapping and adjacent ranges joined."""
    out: list[list[int]] = []
    for b, e in sorted(ranges):
        if b > e:
            raise ResourceError(f"range [{b}-{e}] ends before it begins")
        if out and b <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([b, e])
    return tuple((b, e) for b, e in out)


def ranges_contain(outer: tuple[Range, ...], inner: tuple[Range, ...]) -> bool:
    """Every port of ``inner`` is in ``outer`` (both merged)."""
    i = 0
    for b, e in inner:
        while i < len(outer) and outer[i][1] < b:
            i += 1
        if i == len(outer) or outer[i][0] > b or outer[i][1] < e:
            return False
    return True


def ranges_minus(outer: tuple[Range, ...], inner: tuple[Range, ...]) -> tuple[Range, ...]:
    """``outer`` without the ports of ``inner`` (both merged)."""
    out: list[Range] = []
    j = 0
    for b, e in outer:
        cur = b
        while j < len(inner) and inner[j][1] < cur:
            j += 1
        k = j
        while k < len(inner) and inner[k][0] <= e:
            ib, ie = inner[k]
            if ib > cur:
                out.append((cur, ib - 1))
            cur = max(cur, ie + 1)
            if ie > e:
                break
            k += 1
        if cur <= e:
            out.append((cur, e))
    return tuple(out)


def parse_ranges(text: str) -> tuple[Range, ...]:
    """``"[31000-31099, 31200-31299]"`` (Mesos' text form) -> ranges."""
    body = text.strip().removeprefix("[").removesuffix("]")
    out = []
    for part in filter(None, (p.strip() for p in body.split(","))):
        b, _, e = part.partition("-")
        out.append((int(b), int(e or b)))
    return merge(out)


def format_ranges(ranges: tuple[Range, ...]) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


class Resources:
    """Scalars (thousandths) and ports. Values: every operation returns a new object."""

    __slots__ = ("cpus", "mem", "disk", "gpus", "ports")

    def __init__(self, cpus: int = 0, mem: int = 0, disk: int = 0, gpus: int = 0, ports: tuple[Range, ...] = ()):
        self.cpus, self.mem, self.disk, self.gpus, self.ports = cpus, mem, disk, gpus, ports

    @classmethod
    def of(cls, cpus: float = 0, mem: float = 0, disk: float = 0, gpus: float = 0,
           ports: Iterable[Range] = ()) -> Resources:
        """From plain amounts (``Resources.of(cpus=0.5, mem=128, ports=[(31000, 31009)])``)."""
        return cls(_milli(cpus), _milli(mem), _milli(disk), _milli(gpus), merge(ports))

    @classmethod
    def from_text(cls, text: str) -> Resources:
        """Mesos' ``--resources`` form: ``cpus:8;mem:16384;disk:100000;ports:[31000-32999]``."""
        amounts: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, _, value = part.partition(":")
            name = name.strip()
            if name == "ports":
                amounts["ports"] = parse_ranges(value)
            elif name in SCALARS:
                amounts[name] = float(value)
            else:
                raise ResourceError(f"unknown resource {name!r} (the simulator knows {', '.join(SCALARS)}, ports)")
        return cls.of(**amounts)

    @classmethod
    def from_json(cls, resources: Iterable[Mapping[str, Any]]) -> Resources:
        """The sum of a v1 JSON resource list (a TaskInfo's or an ExecutorInfo's)."""
        scal = dict.fromkeys(SCALARS, 0)
        ports: list[Range] = []
        for r in resources:
            name = r.get("name")
            kind = r.get("type", "SCALAR")
            if name in scal and kind == "SCALAR":
                try:
                    scal[name] += _milli(r["scalar"]["value"])
                except (KeyError, TypeError, ValueError):
                    raise ResourceError(f"resource {name!r} has no scalar value") from None
            elif name == "ports" and kind == "RANGES":
                try:
                    ports.extend((int(x["begin"]), int(x["end"])) for x in r["ranges"]["range"])
                except (KeyError, TypeError, ValueError):
                    raise ResourceError("resource 'ports' has malformed ranges") from None
            else:
                raise ResourceError(f"resource {name!r} of type {kind} is not offered by the simulator")
        merged = merge(ports)
        if sum(e - b + 1 for b, e in merged) != sum(e - b + 1 for b, e in ports):
            raise ResourceError("a port is used twice")
        return cls(scal["cpus"], scal["mem"], scal["disk"], scal["gpus"], merged)

    def __add__(self, o: Resources) -> Resources:
        return Resources(self.cpus + o.cpus, self.mem + o.mem, self.disk + o.disk, self.gpus + o.gpus,
                         merge(self.ports + o.ports) if o.ports else self.ports)

    def __sub__(self, o: Resources) -> Resources:
        """What is left; the caller checks ``contains`` first (a negative amount is a bug)."""
        return Resources(self.cpus - o.cpus, self.mem - o.mem, self.disk - o.disk, self.gpus - o.gpus,
                         ranges_minus(self.ports, o.ports) if o.ports else self.ports)

    def contains(self, o: Resources) -> bool:
        return (self.cpus >= o.cpus and self.mem >= o.mem and self.disk >= o.disk and self.gpus >= o.gpus
                and (not o.ports or ranges_contain(self.ports, o.ports)))

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Resources) and self.amounts() == o.amounts()

    def __hash__(self) -> int:
        return hash(self.amounts())

    def amounts(self) -> tuple:
        return (self.cpus, self.mem, self.disk, self.gpus, self.ports)

    @property
    def empty(self) -> bool:
        return not (self.cpus or self.mem or self.disk or self.gpus or self.ports)

    def allocatable(self) -> bool:
        """Worth offering: Mesos' default ``--min_allocatable_resources`` is ``cpus:0.01|mem:32``."""
        return self.cpus >= 10 or self.mem >= 32000

    def port_count(self) -> int:
        return sum(e - b + 1 for b, e in self.ports)

    def to_json(self, role: str) -> list[dict[str, Any]]:
        """The v1 JSON resource list an offer carries (unreserved, allocated to ``role``)."""
        alloc = {"role": role}
        out: list[dict[str, Any]] = []
        for name in SCALARS:
            value = getattr(self, name)
            if value:
                out.append({"name": name, "type": "SCALAR", "scalar": {"value": value / 1000}, "role": "*",
                            "allocation_info": alloc})
        if self.ports:
            out.append({"name": "ports", "type": "RANGES",
                        "ranges": {"range": [{"begin": b, "end": e} for b, e in self.ports]}, "role": "*",
                        "allocation_info": alloc})
        return out

    def to_operator_json(self) -> dict[str, Any]:
        """The operator endpoints' form (``/master/state``): ``{cpus, mem, disk, gpus, ports: "[a-b]"}``."""
        out: dict[str, Any] = {name: getattr(self, name) / 1000 for name in SCALARS}
        if self.ports:
            out["ports"] = format_ranges(self.ports)
        return out

    def __repr__(self) -> str:
        return (f"Resources(cpus={self.cpus / 1000:g}, mem={self.mem / 1000:g}, disk={self.disk / 1000:g}"
                f"{', gpus=%g' % (self.gpus / 1000) if self.gpus else ''}, ports={format_ranges(self.ports)})")

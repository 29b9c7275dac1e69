"""What service discovery announces, as typed values: a :class:`Member` (one task's endpoints),
and the instructions that announce and withdraw members (carried out by the store's writer,
``store/serversets.py``; the engine's rules are in :mod:`.discovery`)."""
from __future__ import annotations

import re
from dataclasses import dataclass


def dns_label(app_id: str) -> str:
    """The app id as one DNS label, as Mesos-DNS names Marathon's tasks: the path's segments
    last first, joined by ``-`` (``/examples/hello`` -> ``hello-examples``); characters outside
    ``[a-z0-9-]`` become ``-``; at most 63 characters."""
    label = "-".join(reversed([s for s in app_id.strip("/").split("/") if s])).lower()
    label = re.sub(r"[^a-z0-9-]+", "-", label)[:63].strip("-")
    return label or "app"


@dataclass(frozen=True)
class Member:
    """One announced instance of an app: where it listens and its stable shard (instance index).

    ``ports`` are the task's host ports in the app's order, ``port_names`` their names (None for a
    port without one); ``since`` is when the task started (Curator's ``registrationTimeUTC``)."""

    app_id: str
    task_id: str
    host: str
    ports: tuple[int, ...]
    port_names: tuple[str | None, ...]
    shard: int
    since: float = 0.0

    @property
    def named_ports(self) -> dict[str, int]:
        """Port name -> port, for the ports that have a name."""
        return {name: port for name, port in zip(self.port_names, self.ports) if name}


@dataclass(frozen=True)
class Announce:
    """Write ``member`` (after the Persist before it)."""

    member: Member


@dataclass(frozen=True)
class Withdraw:
    """Remove ``member`` (before any Kill after it: clients stop sending to a task before it dies)."""

    member: Member


@dataclass(frozen=True)
class SyncMembers:
    """Make the discovery tree hold exactly ``members``: remove every other member (tasks gone
    while no leader looked), add the missing ones. After each (re)subscription's reconciliation,
    and periodically (which also heals a write that failed). ``full``: read the whole tree (the
    first after subscribing: another leader may have written meanwhile); otherwise the writer may
    compare with what it wrote itself, unless one of its writes failed since."""

    members: tuple[Member, ...]
    full: bool = True

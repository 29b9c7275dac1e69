"""Marathon's older and read-only app fields, turned into the canonical definition before it
is validated, as Marathon's own ``AppNormalization`` does.

- Read-only fields a ``GET /v2/apps/{id}`` shows (``versionInfo``, ``tasksRunning``, ``tasks``,
  ...) are dropped, so GET -> edit -> PUT round-trips; so is ``version`` unless it is the only
  field (that asks for a rollback, which is not for this module to decide).
- ``uris`` become ``fetch`` (archives extracted), ``ports`` become ``portDefinitions``.
- ``ipAddress`` (before Marathon 1.5) becomes ``networks``: with ``container.docker.network``
  USER a named container network, BRIDGE ``container/bridge``, HOST ``host``; without it a
  named container network. Its ``discovery.ports`` become the port mappings of a Mesos
  container, and are refused for Docker, as Marathon does.
- ``container.docker.requirePorts`` (which Marathon ignores) is dropped, top-level ``null`` values
  mean "not given", and relative ``dependencies`` are resolved against the app's group.
- A Mesos container with an image (UCR) is refused with one reason, and checked as a Docker
  one for everything else.

A problem found in the canonical definition is named where the body sent has it
(:func:`sent_paths`): ``uris[1]``, not ``fetch[1].uri``; ``ports[0]``, not
``portDefinitions[0].port``; ``ipAddress``, not ``networks[0].mode``. (Port mappings in their
older place, ``container.docker.portMappings``, are not moved: the model names that place.)

Pure: raw mappings in, a raw mapping and ``(path, problem)`` pairs out.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]
Problems = list[tuple[Loc, str]]

#: What ``GET /v2/apps`` adds to a definition; ignored on input.
READ_ONLY = ("versionInfo", "tasksRunning", "tasksStaged", "tasksHealthy", "tasksUnhealthy", "deployments",
             "tasks", "lastTaskFailure", "readinessCheckResults", "taskStats", "tasksStats", "counts",
             "servicePorts")

#: Marathon's ``FetchUri.isExtract`` suffixes.
ARCHIVES = (".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".gz", ".tgz", ".tbz2", ".txz", ".zip")

UCR = "not supported by Halyard: images in the Mesos containerizer (UCR); Halyard runs images on Docker: give type DOCKER"


def is_archive(uri: str) -> bool:
    """Whether Marathon would extract ``uri`` (its path ends like an archive)."""
    path = uri.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        rest = path.split("://", 1)[1]
        path = rest[rest.index("/"):] if "/" in rest else ""
    return path.endswith(ARCHIVES)


def normalize_app(raw: Mapping[str, Any]) -> tuple[dict[str, Any], Problems]:
    """``raw`` in canonical form (see the module's docstring), and what could not be converted."""
    app = {k: copy.deepcopy(v) for k, v in raw.items() if v is not None and k not in READ_ONLY}
    if "version" in app and set(app) - {"id", "version"}:
        del app["version"]
    problems: Problems = []
    _fetch_from_uris(app, problems)
    _networks_from_ip_address(app, problems)
    _port_definitions_from_ports(app, problems)
    _container(app, problems)
    _dependencies(app)
    return app, problems


#: A deprecated field in an update -> the canonical fields of the stored app it replaces.
REPLACES = {"uris": ("fetch",), "ports": ("portDefinitions",), "ipAddress": ("networks",)}


def base_for_update(stored: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The stored definition an update is merged over, without what the update's deprecated
    fields replace (an update with ``uris`` replaces ``fetch``, as in Marathon)."""
    drop = {field for key, fields in REPLACES.items() if update.get(key) is not None for field in fields
            if field not in update}
    return {k: v for k, v in stored.items() if k not in drop}


@dataclass(frozen=True)
class SentPaths:
    """Where the fields :func:`normalize_app` wrote came from in the body sent, so that a problem
    of the canonical definition names what the user wrote. Each move is ``(canonical, sent,
    deeper)``: a path under ``canonical`` is named under ``sent`` (the rest of it appended when
    ``deeper``, where both spell it the same); the longest matching ``canonical`` wins."""

    moves: tuple[tuple[Loc, Loc, bool], ...] = ()

    def of(self, loc: Loc) -> Loc:
        """``loc`` (a path in the canonical definition) as the body sent spells it."""
        best: tuple[Loc, Loc, bool] | None = None
        for move in self.moves:
            canonical = move[0]
            if loc[:len(canonical)] == canonical and (best is None or len(canonical) > len(best[0])):
                best = move
        if best is None:
            return loc
        canonical, sent, deeper = best
        return sent + loc[len(canonical):] if deeper else sent


def sent_paths(raw: Mapping[str, Any]) -> SentPaths:
    """The :class:`SentPaths` of a body (an app definition as sent, before :func:`normalize_app`)."""
    moves: list[tuple[Loc, Loc, bool]] = []
    uris, ports = raw.get("uris"), raw.get("ports")
    if isinstance(uris, list) and not raw.get("fetch"):
        moves += [(("fetch",), ("uris",), False), *((("fetch", i), ("uris", i), False) for i in range(len(uris)))]
    if isinstance(ports, list) and raw.get("portDefinitions") is None:
        moves += [(("portDefinitions",), ("ports",), False),
                  *((("portDefinitions", i), ("ports", i), False) for i in range(len(ports)))]
    container = raw.get("container") if isinstance(raw.get("container"), Mapping) else None
    docker = container.get("docker") if container is not None and isinstance(container.get("docker"), Mapping) else None
    ip = raw.get("ipAddress")
    if isinstance(ip, Mapping) and not raw.get("networks"):
        moves += _ip_address_moves(ip, container, docker)
    return SentPaths(tuple(moves))


def _ip_address_moves(ip: Mapping[str, Any], container: Mapping[str, Any] | None,
                      docker: Mapping[str, Any] | None) -> list[tuple[Loc, Loc, bool]]:
    """Where ``networks`` (and a Mesos container's ``portMappings``) made from ``ipAddress`` came from."""
    where = ("ipAddress",)
    mode = ("container", "docker", "network") if docker is not None and docker.get("network") is not None else where
    moves: list[tuple[Loc, Loc, bool]] = [
        (("networks",), where, False), (("networks", 0), where, False), (("networks", 0, "mode"), mode, False),
        (("networks", 0, "labels"), where + ("labels",), True),
        (("networks", 0, "name"), where + ("networkName",) if "networkName" in ip else where, False)]
    if container is None:  # made from ipAddress: a Mesos container
        moves.append((("container",), where, False))
    discovery = ip.get("discovery")
    ports = discovery.get("ports") if isinstance(discovery, Mapping) else None
    if isinstance(ports, list) and not (container or {}).get("portMappings"):
        sent = where + ("discovery", "ports")
        moves.append((("container", "portMappings"), sent, False))
        for i in range(len(ports)):
            moves += [(("container", "portMappings", i), sent + (i,), True),
                      (("container", "portMappings", i, "containerPort"), sent + (i, "number"), False)]
    return moves


def _fetch_from_uris(app: dict[str, Any], problems: Problems) -> None:
    uris = app.pop("uris", [])
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        problems.append((("uris",), "expected a list of URIs"))
    elif uris and app.get("fetch"):
        problems.append((("uris",), "give uris or fetch, not both"))
    elif uris:
        app["fetch"] = [{"uri": u, "extract": is_archive(u)} for u in uris]
    if app.get("storeUrls") == []:
        del app["storeUrls"]


def _port_definitions_from_ports(app: dict[str, Any], problems: Problems) -> None:
    if "ports" not in app:
        return
    ports = app.pop("ports")
    if not isinstance(ports, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in ports):
        problems.append((("ports",), "expected a list of port numbers"))
        return
    given = app.get("portDefinitions")
    if given is not None:
        same = isinstance(given, list) and [d.get("port", 0) if isinstance(d, Mapping) else None for d in given] == ports
        if not same:
            problems.append((("ports",), "give ports or portDefinitions, not both"))
        return
    if _networks_mode(app) in (None, "host"):
        app["portDefinitions"] = [{"port": p} for p in ports]


def _networks_mode(app: Mapping[str, Any]) -> Any:
    networks = app.get("networks")
    if isinstance(networks, list) and networks and isinstance(networks[0], Mapping):
        return networks[0].get("mode", "container")
    docker = (app.get("container") or {}).get("docker") if isinstance(app.get("container"), Mapping) else None
    network = docker.get("network") if isinstance(docker, Mapping) else None
    return {"BRIDGE": "container/bridge", "USER": "container", "HOST": "host", None: None}.get(network, network)


def _networks_from_ip_address(app: dict[str, Any], problems: Problems) -> None:
    if "ipAddress" not in app:
        return
    ip = app.pop("ipAddress")
    if not isinstance(ip, Mapping):
        problems.append((("ipAddress",), "expected a mapping"))
        return
    if app.get("networks"):
        problems.append((("ipAddress",), "give networks or ipAddress, not both"))
        return
    container = app.get("container")
    if container is None:
        container = app["container"] = {"type": "MESOS"}
    if not isinstance(container, dict):  # JSON's objects, deep-copied: changed in place
        return  # the model names the problem
    docker = container.get("docker") if isinstance(container.get("docker"), dict) else None
    network = docker.pop("network", None) if docker is not None else None
    labels = ip.get("labels") or {}
    name = ip.get("networkName")
    if network == "HOST":
        app["networks"] = [{"mode": "host"}]
    elif network == "BRIDGE":
        app["networks"] = [{"mode": "container/bridge", "labels": labels}]
    else:
        app["networks"] = [{"mode": "container", "labels": labels, **({"name": name} if name else {})}]
    if app.get("portDefinitions") or app.get("ports"):
        problems.append((("ipAddress",), "give ipAddress or ports (portDefinitions), not both (as in Marathon)"))
    discovery = ip.get("discovery")
    ports = (discovery.get("ports") or []) if isinstance(discovery, Mapping) else []
    if not ports:
        return
    if container.get("type", "DOCKER") != "MESOS":
        problems.append((("ipAddress", "discovery"), "not allowed with a Docker container (as in Marathon): "
                                                     "give container.portMappings"))
    elif container.get("portMappings"):
        problems.append((("ipAddress", "discovery"), "give ipAddress.discovery.ports or container.portMappings, not both"))
    else:
        container["portMappings"] = [
            {"containerPort": p.get("number", 0), "protocol": p.get("protocol", "tcp"),
             **({"name": p["name"]} if p.get("name") else {}), **({"labels": p["labels"]} if p.get("labels") else {})}
            for p in ports if isinstance(p, Mapping)]


def _container(app: dict[str, Any], problems: Problems) -> None:
    container = app.get("container")
    if not isinstance(container, dict):  # JSON's objects, deep-copied: changed in place
        return
    docker = container.get("docker")
    if isinstance(docker, dict):
        docker.pop("requirePorts", None)  # not a Marathon field; Marathon ignores it
        if container.get("type") == "MESOS" and "image" in docker:
            problems.append((("container", "docker"), UCR))
            container["type"] = "DOCKER"
            container["docker"] = {"image": docker["image"]}


def _dependencies(app: dict[str, Any]) -> None:
    deps, app_id = app.get("dependencies"), app.get("id")
    if not isinstance(deps, list) or not isinstance(app_id, str):
        return
    group = "/" + "/".join(app_id.strip("/").split("/")[:-1])
    app["dependencies"] = [_canonical(d, group) if isinstance(d, str) else d for d in deps]


def _canonical(path: str, base: str) -> str:
    """Marathon's ``PathId.canonicalPath``: ``path`` relative to the group ``base`` (``..`` goes up)."""
    if path.startswith("/"):
        return path
    parts = [p for p in base.split("/") if p]
    for seg in path.split("/"):
        if seg == "..":
            parts = parts[:-1]
        elif seg not in ("", "."):
            parts.append(seg)
    return "/" + "/".join(parts)

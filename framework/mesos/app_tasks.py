"""An app's task as a Mesos TaskInfo (v1 JSON): command, Docker container, env, ports, labels."""
from __future__ import annotations

from typing import Any

from ..engine.messages import AppTaskLaunch
from ..spec.app import UNLIMITED, AppSpec
from ..timestamps import iso
from .discovery_info import discovery_info
from .fetch_checks import checked_command, output_file
from .resources import resources_json

APP_ID_LABEL = "HALYARD_APP_ID"
#: Marathon's ``ignoreHttp1xx`` for the executor that runs the health check: a 1xx answer leaves
#: the task's health as it is. Mesos' own checkers have no such option (they count 1xx as a
#: failure); the minimesos executors honour this label.
IGNORE_1XX_LABEL = "HALYARD_HEALTH_IGNORE_HTTP1XX"


def task_env(app: AppSpec, version: str, task_id: str, hostname: str, ports: tuple[int, ...]) -> dict[str, str]:
    """Marathon's task environment: PORT0..n, PORT, PORTS, PORT_<NAME>, HOST, app id and version."""
    env = app.env_values()
    for i, port in enumerate(ports):
        env[f"PORT{i}"] = str(port)
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(map(str, ports))
    for name, port in zip(app.port_names(), ports):
        if name:
            env[f"PORT_{name.upper().replace('-', '_')}"] = str(port)
    env.update({"HOST": hostname, "HALYARD_APP_ID": app.id, "HALYARD_APP_VERSION": version,
                "MARATHON_APP_ID": app.id, "MARATHON_APP_VERSION": version, "MESOS_TASK_ID": task_id})
    if app.labels:
        env["MARATHON_APP_LABELS"] = " ".join(app.labels)
        for key, value in app.labels.items():
            env[f"MARATHON_APP_LABEL_{key.upper()}"] = value
    return env


def app_task_info(launch: AppTaskLaunch) -> dict[str, Any]:
    """The TaskInfo that launches one instance of an app."""
    return task_info(launch.spec, iso(launch.version), launch.task_id, launch.agent_id, launch.hostname,
                     resources_json(launch.resources), launch.ports)


def task_info(app: AppSpec, version: str, task_id: str, agent_id: str, hostname: str,
              resources: list[dict], ports: tuple[int, ...]) -> dict[str, Any]:
    """The TaskInfo that launches one instance of ``app`` with these resources and host ports."""
    env = task_env(app, version, task_id, hostname, ports)
    command: dict[str, Any] = {"environment": {"variables": [{"name": k, "value": v} for k, v in env.items()]}}
    if app.cmd is not None:
        command.update({"value": checked_command(app.cmd, app.fetch), "shell": True})
    else:
        command["shell"] = False
        if app.args:
            command["arguments"] = list(app.args)
    if app.fetch:
        command["uris"] = [{"value": f.uri, "extract": f.extract, "executable": f.executable, "cache": f.cache,
                            **({"output_file": output_file(f)} if output_file(f) else {})} for f in app.fetch]
    if app.user:
        command["user"] = app.user
    labels = {**app.labels, APP_ID_LABEL: app.id, "HALYARD_APP_VERSION": version}
    if any(hc.ignore_http1xx and hc.protocol in ("HTTP", "HTTPS") for hc in app.health_checks):
        labels[IGNORE_1XX_LABEL] = "true"
    info: dict[str, Any] = {
        "name": ".".join(reversed(app.id.strip("/").split("/"))),
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": resources,
        "command": command,
        "labels": {"labels": [{"key": k, "value": v} for k, v in labels.items()]},
        "discovery": discovery_info(app, version, ports),
    }
    container = app.container
    docker = container.docker if container is not None else None
    if container is not None and docker is not None:  # app.is_docker
        network = app.network
        spec: dict[str, Any] = {"image": docker.image, "network": network,
                                "privileged": docker.privileged, "force_pull_image": docker.force_pull_image}
        parameters = [{"key": p.key, "value": p.value} for p in docker.parameters]
        if app.tty:
            parameters.append({"key": "tty", "value": "true"})
        if parameters:
            spec["parameters"] = parameters
        mappings = container.mappings or []
        if network in ("BRIDGE", "USER") and mappings:
            host_ports = iter(ports)
            spec["port_mappings"] = []
            for m in mappings:
                if network == "USER" and m.host_port is None:
                    continue
                for proto in m.protocol.split(","):
                    spec["port_mappings"].append({"host_port": next(host_ports) if proto == m.protocol.split(",")[0]
                                                  else spec["port_mappings"][-1]["host_port"],
                                                  "container_port": m.container_port, "protocol": proto})
        info["container"] = {"type": "DOCKER", "docker": spec,
                             "volumes": [{"container_path": v.container_path, "host_path": v.host_path,
                                          "mode": v.mode} for v in container.volumes]}
        if network == "USER" and app.network_name:
            info["container"]["network_infos"] = [{"name": app.network_name}]
    if app.health_checks:
        info["health_check"] = health_check(app, ports)
    limits = resource_limits(app)
    if limits:
        info["limits"] = limits
    if app.check is not None:
        info["check"] = check_info(app, ports)
    if app.task_kill_grace_period_seconds is not None:
        info["kill_policy"] = {"grace_period": {"nanoseconds": int(app.task_kill_grace_period_seconds * 1e9)}}
    return info


def health_check(app: AppSpec, ports: tuple[int, ...]) -> dict[str, Any]:
    """The app's health check as a Mesos-native one, run by the executor on the agent (Marathon's
    HTTP/HTTPS/TCP checks and the MESOS_* ones alike). The task is killed, and so replaced, after
    ``maxConsecutiveFailures`` failures past the grace period."""
    hc = app.health_checks[0]
    port = hc.port if hc.port is not None else (ports[hc.port_index or 0] if ports else 0)
    check: dict[str, Any] = {"delay_seconds": hc.delay_seconds, "interval_seconds": hc.interval_seconds,
                             "timeout_seconds": hc.timeout_seconds, "consecutive_failures": hc.max_consecutive_failures,
                             "grace_period_seconds": hc.grace_period_seconds}
    if hc.protocol == "COMMAND":
        command = hc.command.value  # type: ignore[union-attr]  # COMMAND: validated to have one
        check.update({"type": "COMMAND", "command": {"value": command, "shell": True}})
    elif hc.protocol in ("TCP", "MESOS_TCP"):
        check.update({"type": "TCP", "tcp": {"port": port}})
    else:
        scheme = "https" if hc.protocol in ("HTTPS", "MESOS_HTTPS") else "http"
        check.update({"type": "HTTP", "http": {"port": port, "path": hc.path or "/", "scheme": scheme}})
    if hc.ip_protocol == "IPv6" and check["type"] in ("HTTP", "TCP"):
        check[check["type"].lower()]["protocol"] = "IPv6"
    return check


def resource_limits(app: AppSpec) -> dict[str, Any]:
    """The app's ``resourceLimits`` as the TaskInfo's ``limits`` (Mesos 1.9+): the agent's
    containerizer applies them (for Docker: ``--cpu-quota``, ``--memory``, the request becoming
    ``--memory-reservation``). ``unlimited`` is an infinite value, which Mesos' JSON reads from the
    string ``"Infinity"`` (a bare ``Infinity`` is not JSON)."""
    limits = app.resource_limits
    if limits is None:
        return {}
    return {name: {"value": "Infinity" if value == UNLIMITED else value}
            for name, value in (("cpus", limits.cpus), ("mem", limits.mem)) if value is not None}


def check_info(app: AppSpec, ports: tuple[int, ...]) -> dict[str, Any]:
    """The app's Marathon ``check`` as a Mesos CheckInfo: the agent runs it and reports its
    result in the task's status; unlike a health check it never kills the task."""
    c = app.check
    assert c is not None
    info: dict[str, Any] = {"delay_seconds": c.delay_seconds, "interval_seconds": c.interval_seconds,
                            "timeout_seconds": c.timeout_seconds}
    if c.exec_ is not None:
        cmd = c.exec_.command
        command: dict[str, Any]
        if cmd.shell is not None:
            command = {"value": cmd.shell, "shell": True}
        else:
            assert cmd.argv is not None  # a command has shell or argv (the model checks it)
            command = {"value": cmd.argv[0], "arguments": list(cmd.argv), "shell": False}
        info.update({"type": "COMMAND", "command": {"command": command}})
    elif c.http is not None:
        info.update({"type": "HTTP", "http": {"port": app.check_port(ports) or 0, "path": c.http.path}})
    else:
        info.update({"type": "TCP", "tcp": {"port": app.check_port(ports) or 0}})
    return info

"""Parts of an app definition that Marathon 1.5-1.10 added: ``networks``, Mesos ``check``s and
``secrets`` (with the ``{"secret": "NAME"}`` env references that use them).

Pure data and pure functions, like :mod:`halyard.spec.app`, which composes them into ``AppSpec``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, StrictBool, model_validator

from .base import PathProblems, Spec

NetworkMode = Literal["container", "container/bridge", "host"]

#: Marathon's network modes -> the Docker network mode a task runs in.
DOCKER_NETWORK = {"host": "HOST", "container/bridge": "BRIDGE", "container": "USER"}


class Network(Spec):
    """One of Marathon's ``networks``: ``host``, ``container/bridge`` (Docker's bridge) or
    ``container`` with ``name`` (a Docker network of that name, made beforehand on the agents)."""

    mode: NetworkMode = "container"
    name: str | None = Field(None, min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Network:
        if self.mode == "container" and self.name is None:
            raise PathProblems([(("name",), "required for a container network: Halyard has no default "
                                            "container network (give the Docker network's name)")])
        if self.mode != "container" and self.name is not None:
            raise PathProblems([(("name",), f"only a container network has a name, not {self.mode}")])
        return self


# ---------------------------------------------------------------------------------------------
# Mesos checks (Marathon's ``check``: results are not health, and never kill a task)

class CheckPort(Spec):
    """Where an HTTP or TCP check connects: ``portIndex`` (default 0) or a fixed ``port``."""

    port_index: int | None = Field(None, ge=0)
    port: int | None = Field(None, ge=0, le=65535)

    @model_validator(mode="after")
    def _one_port(self) -> CheckPort:
        if self.port_index is not None and self.port is not None:
            raise PathProblems([(("port",), "give portIndex or port, not both")])
        return self


class HttpCheck(CheckPort):
    path: str = "/"
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"

    @model_validator(mode="after")
    def _http_only(self) -> HttpCheck:
        if self.scheme == "HTTPS":
            raise PathProblems([(("scheme",), "not supported by Halyard: Mesos checks speak plain HTTP only")])
        return self


class TcpCheck(CheckPort):
    pass


class MesosCommand(Spec):
    """A command: ``shell`` (run by ``/bin/sh -c``) or ``argv`` (run as is)."""

    shell: str | None = Field(None, min_length=1)
    argv: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one(self) -> MesosCommand:
        if (self.shell is None) == (self.argv is None):
            raise PathProblems([((), "give shell or argv (one of them)")])
        return self


class ExecCheck(Spec):
    command: MesosCommand


class AppCheck(Spec):
    """Marathon's ``check``: a Mesos check (one of ``http``, ``tcp``, ``exec``) run on the agent;
    Mesos reports its result in the task's status, and it never kills the task."""

    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    exec_: ExecCheck | None = Field(None, alias="exec")
    interval_seconds: int = Field(60, ge=0)
    timeout_seconds: int = Field(20, ge=0)
    delay_seconds: int = Field(15, ge=0)

    @model_validator(mode="after")
    def _one_kind(self) -> AppCheck:
        kinds = [k for k in ("http", "tcp", "exec_") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise PathProblems([((), "give exactly one of http, tcp or exec")])
        return self

    @property
    def port_ref(self) -> CheckPort | None:
        """The HTTP or TCP check's port choice (None for ``exec``)."""
        return self.http or self.tcp


# ---------------------------------------------------------------------------------------------
# Secrets

class SecretSource(Spec):
    """One of Marathon's top-level ``secrets``: where its value comes from in the secret store."""

    source: str = Field(min_length=1)


class SecretEnv(Spec):
    """A secret environment value, never shown by the API. Two forms:

    - Halyard's inline form ``{value: ..., secret: true}``;
    - Marathon's reference ``{secret: NAME}`` to a top-level ``secrets: {NAME: {source: ...}}``,
      whose ``value`` the API fills in from the scheduler's secret store (``--secrets-file``)
      when the app is deployed (a definition file read by the CLI leaves it unresolved).
    """

    value: str | None = None
    #: True for an inline secret; the name of a top-level ``secrets`` entry for a reference.
    secret: StrictBool | str = True

    @model_validator(mode="after")
    def _has_value(self) -> SecretEnv:
        if self.secret is False:
            raise PathProblems([(("secret",), "must be true (a secret value) or a secret's name (a reference)")])
        if self.value is None and not isinstance(self.secret, str):
            raise PathProblems([(("value",), "required: {secret: true} without a value keeps the stored value "
                                             "only when it updates an app that has a secret under this name")])
        return self

    @property
    def reference(self) -> str | None:
        """The name in ``secrets`` this value comes from (None for an inline secret)."""
        return self.secret if isinstance(self.secret, str) else None

    def public(self) -> dict[str, Any]:
        """As the API shows it: ``{secret: NAME}`` for a reference (as Marathon), ``{secret: true}`` otherwise."""
        return {"secret": self.secret}


MASKED = {"secret": True}


def resolve_secret_refs(raw: Mapping[str, Any], store: Mapping[str, str] | None,
                        previous_env: Mapping[str, Any] | None = None
                        ) -> tuple[dict[str, Any], list[tuple[tuple[str | int, ...], str]]]:
    """``raw`` (an app definition) with its secret env values filled in.

    A reference ``{secret: NAME}`` gets its value from ``store[secrets[NAME].source]`` (read
    again on every deployment, so a changed store takes effect on the next change of the app);
    a masked ``{secret: true}`` keeps the value stored under the same key in ``previous_env``
    (the app's stored env, as :meth:`Spec.to_json` writes it), so a ``GET`` -> ``PUT`` keeps
    secrets. ``store`` None: the scheduler has no secret store. Returns the definition and the
    ``(path, problem)`` pairs of what cannot be resolved.
    """
    env = raw.get("env")
    if not isinstance(env, Mapping):
        return dict(raw), []
    secrets = raw.get("secrets")
    if not isinstance(secrets, Mapping):
        secrets = {}
    previous_env = previous_env or {}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    out: dict[str, Any] = {}
    for key, item in env.items():
        out[key] = item
        if not isinstance(item, Mapping):
            continue
        name = item.get("secret")
        if item.get("secret") is True and "value" not in item:
            kept = previous_env.get(key)
            if isinstance(kept, Mapping) and "value" in kept:
                out[key] = dict(kept)
        elif isinstance(name, str):
            entry = secrets.get(name)
            source = entry.get("source") if isinstance(entry, Mapping) else None
            if not isinstance(source, str):
                declared = ", ".join(sorted(map(str, secrets))) or "none"
                problems.append((("env", key), f"no secret {name!r} in secrets (declared: {declared})"))
            elif store is None:
                problems.append((("env", key), f"secret {name!r} (source {source!r}) cannot be resolved: the "
                                               "scheduler has no secret store (start it with --secrets-file)"))
            elif source not in store:
                problems.append((("env", key), f"secret {name!r}: the scheduler's secret store has no "
                                               f"source {source!r}"))
            else:
                out[key] = {"secret": name, "value": store[source]}
    return {**raw, "env": out}, problems

"""Environments: where a service's artifact goes, read from ``environments.yaml`` next to the
service definitions (``--services``)::

    environments:
      dev:        {namespace: /dev}
      staging:    {namespace: /staging}
      production: {namespace: /production, api: http://127.0.0.1:8080, promoteFrom: staging,
                   tokenEnv: HALYARD_PROD_TOKEN, pinDigest: true}

* ``namespace`` is prefixed to the service's app id (``/examples/hello-service`` in dev is
  ``/dev/examples/hello-service``), so environments on one cluster never touch each other;
* ``api`` says which Halyard (and so which cluster) receives the environment (default: ``--api``);
* ``tokenEnv`` names the environment variable holding its bearer token (default: ``HALYARD_TOKEN``);
* ``promoteFrom`` names the environment a version must have succeeded in before it may come here;
* ``pinDigest: false`` turns image digest pinning off for the environment (a registry the
  scheduler cannot reach).

Without the file, an environment has no namespace and uses ``--api``: Halyard's behaviour before
environments. With it, the file says which environments exist: a service whose ``environments:``
has no overlay for one deploys its base definition there, and an overlay for an environment the
file does not define is refused (:meth:`Environments.known`). Pure: no I/O but reading the file.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..documents.reader import load_document
from ..errors import Problem, ValidationError
from ..spec.app import AppSpec, normalize_app_id
from ..spec.validation import KnownEnvironments

FILE_NAME = "environments.yaml"
FIELDS = {"namespace", "api", "tokenEnv", "promoteFrom", "pinDigest"}


@dataclass(frozen=True)
class Environment:
    """One environment of the pipeline."""

    name: str
    namespace: str = ""                  # "" or an absolute path such as /dev
    api: str | None = None            # None: --api / HALYARD_API
    token_env: str | None = None      # None: HALYARD_TOKEN
    promote_from: str | None = None   # None: no promotion rule
    pin_digest: bool = True

    def app_id(self, app_id: str) -> str:
        """The service's app id in this environment."""
        return normalize_app_id(self.namespace + app_id) if self.namespace else app_id


@dataclass(frozen=True)
class Environments:
    """The environments of one services directory (``path`` None: there is no environments.yaml)."""

    path: str | None = None
    by_name: Mapping[str, Environment] = field(default_factory=dict)

    def get(self, name: str) -> Environment:
        """The environment ``name`` (without an environments.yaml: any name, no namespace)."""
        if self.path is None:
            return Environment(name)
        env = self.by_name.get(name)
        if env is None:
            raise ValidationError([Problem("ENVIRONMENT", f"no environment {name!r} in {self.path} "
                                           f"(it defines {', '.join(sorted(self.by_name)) or 'none'})")])
        return env

    def known(self) -> KnownEnvironments | None:
        """What a service definition's overlays are read against (None without an environments.yaml:
        then an environment needs an overlay, as before)."""
        return KnownEnvironments(frozenset(self.by_name), self.path) if self.path is not None else None


def environments_for(directory: str | Path) -> Environments:
    """The environments next to the service definitions in ``directory`` (none: no file)."""
    path = Path(directory) / FILE_NAME
    if not path.exists():
        return Environments()
    return parse_environments(load_document(path), str(path))


def parse_environments(document: Any, source: str) -> Environments:
    """``{environments: {NAME: {...}}}`` -> :class:`Environments`; every problem raised together."""
    if not isinstance(document, Mapping) or not isinstance(document.get("environments"), Mapping):
        raise ValidationError([Problem("environments", "expected a mapping of environment name -> settings")], source)
    problems: list[Problem] = []
    extra = sorted(set(document) - {"environments"})
    problems += [Problem(k, "unknown field (the file holds environments:)") for k in extra]
    envs: dict[str, Environment] = {}
    for name, raw in document["environments"].items():
        where = f"environments.{name}"
        raw = raw or {}
        if not isinstance(raw, Mapping):
            problems.append(Problem(where, "expected a mapping (namespace, api, tokenEnv, promoteFrom, pinDigest)"))
            continue
        problems += [Problem(f"{where}.{k}", f"unknown field (one of {', '.join(sorted(FIELDS))})")
                     for k in sorted(set(raw) - FIELDS)]
        namespace = raw.get("namespace") or ""
        if namespace:
            try:
                namespace = normalize_app_id(str(namespace))
            except ValueError as exc:
                problems.append(Problem(f"{where}.namespace", str(exc)))
        for key in ("api", "tokenEnv", "promoteFrom"):
            if key in raw and not isinstance(raw[key], str):
                problems.append(Problem(f"{where}.{key}", "expected a string"))
        if "pinDigest" in raw and not isinstance(raw["pinDigest"], bool):
            problems.append(Problem(f"{where}.pinDigest", "expected true or false"))
        envs[str(name)] = Environment(str(name), namespace, raw.get("api"), raw.get("tokenEnv"),
                                      raw.get("promoteFrom"), raw.get("pinDigest", True) is not False)
    for env in envs.values():
        if env.promote_from is not None and env.promote_from not in envs:
            problems.append(Problem(f"environments.{env.name}.promoteFrom", f"no environment {env.promote_from!r}"))
        if env.promote_from == env.name:
            problems.append(Problem(f"environments.{env.name}.promoteFrom", "an environment cannot promote from itself"))
    if problems:
        raise ValidationError(problems, source)
    return Environments(source, envs)


def in_environment(spec: AppSpec, env: Environment) -> AppSpec:
    """The app as it runs in ``env``: its id under the namespace; ``pinDigest: false`` from the
    environment unless the app says otherwise."""
    data = spec.to_json()
    data["id"] = env.app_id(spec.id)
    if not env.pin_digest and spec.pin_digest is None:
        data["pinDigest"] = False
    return AppSpec.model_validate(data)

"""The one place that turns raw input into specs, or into a list of (path, problem).

An app definition file is YAML (JSON is YAML too) holding one app, or several under ``apps:``.
``environments`` overlays are deep-merged over the base definition: mappings merge key by key,
anything else (lists included) replaces, and ``null`` removes a key.

Which environment names a definition may be resolved for: without a pipeline (no
``environments.yaml``), the names of its overlays. With one (:class:`KnownEnvironments`), the
names the pipeline defines: one without an overlay is the base definition, and an overlay for a
name the pipeline does not define is refused (a typo would otherwise never be applied).
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from ..documents.reader import format_path, load_document
from ..errors import Problem, ValidationError
from ..jobs.spec import JobSpec
from .app import AppSpec, PathProblems
from .marathon_compat import SentPaths, normalize_app, sent_paths
from .parts import resolve_secret_refs


@dataclass(frozen=True)
class SecretInputs:
    """How an app's secret env values are filled in before it is validated (the API does it;
    without one, a Marathon reference ``{secret: NAME}`` is a problem)."""

    #: The scheduler's secret store (source -> value); None: it has none.
    store: Mapping[str, str] | None = None
    #: The stored app's ``env`` (:meth:`AppSpec.to_json`), whose values ``{secret: true}`` keeps.
    previous_env: Mapping[str, Any] = field(default_factory=dict)

@dataclass(frozen=True)
class KnownEnvironments:
    """The environments a pipeline defines (``environments.yaml``), which a definition's overlays
    are read against: ``source`` names the file in problems."""

    names: frozenset[str]
    source: str = "environments.yaml"

    def defined(self) -> str:
        return ", ".join(sorted(self.names)) or "none"


# Marathon app fields Halyard knows but does not support: named as such, never ignored. A
# reason makes the message "not supported by Halyard: <reason>". (Deprecated and read-only
# fields are converted or dropped before validation: see marathon_compat.)
MARATHON_UNSUPPORTED = {
    "residency": "resident tasks (they keep local persistent volumes on reserved resources)",
    "storeUrls": "storeUrls (Marathon's deprecated artifact store)",
    "executorResources": "executor resources (tasks run with the default executor's)",
    "version": "read-only, drop it",
    "docker.pullConfig": "pull credentials from a secret (log the agents' Docker in to the registry)",
    "docker.credential": "registry credentials (log the agents' Docker in to the registry)",
}


_MESSAGES = {
    "missing": "required",
    "int_type": "expected an integer", "int_parsing": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number", "float_parsing": "expected a number",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "string_type": "expected a string (quote numbers and booleans in YAML)",
    "list_type": "expected a list", "dict_type": "expected a mapping",
    "model_type": "expected a mapping", "model_attributes_type": "expected a mapping",
}


def problems_from_pydantic(exc: pydantic.ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, PathProblems):
            problems.extend(Problem(format_path(loc + sub), msg, loc + sub) for sub, msg in inner.items)
            continue
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(Problem(format_path(loc), _unknown_field_message(loc), loc))
            continue
        if kind == "literal_error":
            msg = f"unknown value {err['input']!r} (expected {ctx.get('expected', '')})"
        elif kind in _MESSAGES:
            msg = _MESSAGES[kind]
            if kind != "missing":
                msg += f", got {err['input']!r}"
        elif kind == "value_error":
            msg = str(inner) if inner is not None else err["msg"]
        else:
            msg = err["msg"][0].lower() + err["msg"][1:]
        problems.append(Problem(format_path(loc), msg, loc))
    return problems


def _unknown_field_message(loc: tuple[str | int, ...]) -> str:
    names = [p for p in loc if isinstance(p, str)]
    key = ".".join(names[-2:]) if len(names) >= 2 and names[-2] == "docker" else (names[-1] if names else "")
    if key in MARATHON_UNSUPPORTED:
        hint = MARATHON_UNSUPPORTED[key]
        if hint and not hint.startswith("read-only"):
            return f"not supported by Halyard: {hint}"
        return "Marathon field not supported by Halyard" + (f" ({hint})" if hint else "")
    return "unknown field"


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``overlay`` on ``base``: mappings merge, other values replace, ``None`` deletes."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _in_overlay(overlay: Mapping[str, Any], path: tuple[str | int, ...]) -> bool:
    node: Any = overlay
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, Mapping):
            return True
    return True


def _environments(raw: Mapping[str, Any], prefix: tuple[str | int, ...] = ()) -> tuple[dict[str, Mapping[str, Any]], list[Problem]]:
    envs = raw.get("environments", {}) or {}
    where = prefix + ("environments",)
    if not isinstance(envs, Mapping):
        return {}, [Problem(format_path(where), f"expected a mapping of environment name to overlay, got {envs!r}")]
    good: dict[str, Mapping[str, Any]] = {}
    problems: list[Problem] = []
    for name, overlay in envs.items():
        if not isinstance(overlay, Mapping):
            problems.append(Problem(format_path(where + (str(name),)), f"expected a mapping of fields, got {overlay!r}"))
        elif "environments" in overlay:
            problems.append(Problem(format_path(where + (str(name), "environments")), "environments cannot be nested"))
        else:
            good[str(name)] = overlay
    return good, problems


def resolve_environment(raw: Mapping[str, Any], env: str | None) -> dict[str, Any]:
    """The definition for ``env``: the base with that environment's overlay merged in.

    Raises :class:`ValidationError` when ``env`` is not defined.
    """
    base = {k: v for k, v in raw.items() if k != "environments"}
    if env is None:
        return base
    envs, problems = _environments(raw)
    if not problems and env not in envs:
        problems = [_no_such_environment(env, envs, ())]
    if problems:
        raise ValidationError(problems)
    return deep_merge(base, envs[env])


def _no_such_environment(env: str, envs: Mapping[str, Any], prefix: tuple[str | int, ...],
                         known: KnownEnvironments | None = None) -> Problem:
    where = prefix + ("environments",)
    if known is not None:
        return Problem(format_path(where), f"no environment {env!r} in {known.source} (it defines {known.defined()})")
    defined = ", ".join(sorted(envs)) or "none"
    return Problem(format_path(where), f"no environment {env!r} (defined: {defined})")


def _undefined_overlays(envs: dict[str, Mapping[str, Any]], prefix: tuple[str | int, ...],
                        known: KnownEnvironments | None) -> list[Problem]:
    """The overlays for environments the pipeline does not define (removed from ``envs``): each a
    problem naming the overlay and the pipeline's file."""
    if known is None:
        return []
    problems = []
    for name in sorted(set(envs) - known.names):
        where = prefix + ("environments", name)
        problems.append(Problem(format_path(where), f"no environment {name!r} in {known.source} "
                                                    f"(it defines {known.defined()})", where))
        del envs[name]
    return problems


def _check(data: Mapping[str, Any], prefix: tuple[str | int, ...], model: type[pydantic.BaseModel] = AppSpec,
           secrets: SecretInputs | None = None) -> tuple[Any, list[Problem]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    sent = None
    if model is AppSpec:
        sent = sent_paths(data)
        data, found = normalize_app(data)
    if secrets is not None:
        data, unresolved = resolve_secret_refs(data, secrets.store, secrets.previous_env)
        found += unresolved
    problems = [Problem(format_path(prefix + loc), msg, prefix + loc) for loc, msg in found]
    bad = {p.loc for p in problems}
    try:
        spec = model.model_validate(data)
    except pydantic.ValidationError as exc:
        # Named where the body sent has it (not where normalize_app moved it); a value already
        # named (an unresolved secret) is not named twice.
        checked = [p for p in problems_from_pydantic(exc, prefix) if p.loc not in bad]
        return None, problems + ([as_sent(p, sent, prefix) for p in checked] if sent is not None else checked)
    return (None, problems) if problems else (spec, [])


def as_sent(problem: Problem, sent: SentPaths, prefix: tuple[str | int, ...] = ()) -> Problem:
    """``problem`` (found in a canonical definition, at ``prefix`` + a path in it) at the path the
    body sent has it (:func:`~halyard.spec.marathon_compat.sent_paths`)."""
    if problem.loc[:len(prefix)] != prefix:
        return problem
    loc = prefix + sent.of(problem.loc[len(prefix):])
    return Problem(format_path(loc), problem.message, loc) if loc != problem.loc else problem


def _attribute(p: Problem, env: str, overlay: Mapping[str, Any], prefix: tuple[str | int, ...]) -> Problem:
    """Place a problem of a merged app at the overlay's path when the overlay set that field."""
    loc = p.loc
    if _in_overlay(overlay, loc):
        where = prefix + ("environments", env) + loc
        return Problem(format_path(where), p.message, where)
    return Problem(format_path(prefix + loc), f"{p.message} (with environment {env!r})", prefix + loc)


def app_problems(raw: Any, env: str | None = None, prefix: tuple[str | int, ...] = (),
                 secrets: SecretInputs | None = None, known: KnownEnvironments | None = None
                 ) -> tuple[AppSpec | None, list[Problem]]:
    """Validate one raw app definition (see :func:`definition_problems`); Marathon's deprecated
    and read-only fields are converted first, and with ``secrets`` its secret values filled in."""
    return definition_problems(raw, env, prefix, AppSpec, secrets, known)


def job_problems(raw: Any, env: str | None = None, prefix: tuple[str | int, ...] = (),
                 secrets: SecretInputs | None = None) -> tuple[JobSpec | None, list[Problem]]:
    """Validate one raw job definition (see :func:`definition_problems`); with ``secrets`` its
    secret references filled in."""
    return definition_problems(raw, env, prefix, JobSpec, secrets)


def definition_problems(raw: Any, env: str | None, prefix: tuple[str | int, ...], model: type[pydantic.BaseModel],
                        secrets: SecretInputs | None = None, known: KnownEnvironments | None = None
                        ) -> tuple[Any, list[Problem]]:
    """Validate one raw definition of ``model`` (an app or a job).

    With ``env``: the definition resolved for that environment (the base when ``known``, the
    pipeline's environments, defines ``env`` and the definition has no overlay for it). Without:
    the base definition and every environment it defines. A problem that an overlay causes is
    reported at the overlay's path (``environments.production.cpus``); with ``known``, an overlay
    for an environment it does not define is a problem too. Returns the app (``None`` if anything
    is wrong) and every problem found.
    """
    if not isinstance(raw, Mapping):
        kind = type(raw).__name__
        what = "an app" if model is AppSpec else "a job"
        return None, [Problem(format_path(prefix), f"expected {what} definition (a mapping), got {kind}")]
    envs, problems = _environments(raw, prefix)
    problems += _undefined_overlays(envs, prefix, known)
    base = {k: v for k, v in raw.items() if k != "environments"}
    if env is not None:
        if env not in envs and known is not None and env in known.names:
            spec, found = _check(base, (), model, secrets)  # defined by the pipeline, no overlay: the base
            problems += [Problem(format_path(prefix + p.loc), p.message, prefix + p.loc) for p in found]
            return (spec if not problems else None), problems
        if env not in envs:
            return None, problems or [_no_such_environment(env, envs, prefix, known)]
        spec, found = _check(deep_merge(base, envs[env]), (), model, secrets)
        problems += [_attribute(p, env, envs[env], prefix) for p in found]
        return (spec if not problems else None), problems
    spec, found = _check({**base, "environments": envs}, (), model, secrets)
    problems += [Problem(format_path(prefix + p.loc), p.message, prefix + p.loc) for p in found]
    base_keys = {(p.path, p.message) for p in found}
    for name in sorted(envs):
        _, env_found = _check(deep_merge(base, envs[name]), (), model, secrets)
        problems += [_attribute(p, name, envs[name], prefix) for p in env_found
                     if (p.path, p.message) not in base_keys]
    return (spec if not problems else None), problems


def parse_app(raw: Any, env: str | None = None, source: str | None = None) -> AppSpec:
    """One raw app definition -> :class:`AppSpec` for ``env``, or :class:`ValidationError`."""
    spec, problems = app_problems(raw, env)
    if problems or spec is None:
        raise ValidationError(problems, source)
    return spec


def raw_apps(document: Any) -> list[tuple[tuple[str | int, ...], Any]]:
    """The raw apps in a document, each with its path prefix (``apps[2]`` for the third of many)."""
    if isinstance(document, Mapping) and "apps" in document and "id" not in document:
        apps = document["apps"]
        if not isinstance(apps, list):
            raise ValidationError([Problem("apps", "expected a list of app definitions")])
        extra = sorted(set(document) - {"apps"}, key=str)
        if extra:
            raise ValidationError([Problem(str(k), "unknown field (a file with apps: holds only apps)") for k in extra])
        return [(("apps", i), app) for i, app in enumerate(apps)]
    return [((), document)]


def load_apps(path: str | Path, env: str | None = None, known: KnownEnvironments | None = None) -> list[AppSpec]:
    """Every app in a definition file, resolved for ``env`` (``known``: the environments its
    pipeline defines, see :func:`definition_problems`); all problems raised together."""
    document = load_document(path)
    try:
        items = raw_apps(document)
    except ValidationError as exc:
        raise ValidationError(exc.problems, str(path)) from None
    specs: list[AppSpec] = []
    problems: list[Problem] = []
    for prefix, raw in items:
        spec, found = app_problems(raw, env, prefix, known=known)
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    ids = [s.id for s in specs]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem("apps", f"app id {dup} appears more than once"))
    if problems:
        raise ValidationError(problems, str(path))
    return specs


def parse_job(raw: Any, env: str | None = None, source: str | None = None) -> JobSpec:
    """One raw job definition -> :class:`JobSpec` for ``env``, or :class:`ValidationError`."""
    spec, problems = job_problems(raw, env)
    if problems or spec is None:
        raise ValidationError(problems, source)
    return spec


def load_job(path: str | Path, env: str | None = None) -> JobSpec:
    """The job in a definition file (YAML or JSON), resolved for ``env``."""
    return parse_job(load_document(path), env, str(path))

"""An app's definition as Marathon's v2 API shows it, and Halyard's own fields beside it.

Marathon's strict clients build an object from every field of an app (marathon-python's
``MarathonApp(**fields)`` raises ``TypeError`` on one it does not know), so every v2 answer that
holds a definition (``/v2/apps``, ``/v2/apps/{id}``, ``/v2/groups``, ``/v2/queue``, an app's
versions, the deployment plans and ``appDefinition`` of the event stream) holds only the fields of
Marathon's ``App`` (:data:`MARATHON_APP_FIELDS`). Halyard's own (:data:`~halyard.spec.app.HALYARD_FIELDS`:
``minReadySeconds``, ``drainSeconds``, ``pinDigest``, ``strategy``, ``environments``):

* are accepted on input, as any field;
* are shown on request: ``embed=app.halyard`` (``apps.halyard``, ``group.apps.halyard``) adds them
  to the app, where a definition file has them (Halyard's CLI and dashboard ask for it);
* survive a Marathon client's round trip: a partial update (Marathon's default) keeps what it does
  not name, and a replace (``?partialUpdate=false``, a group's apps, ``PUT /v2/apps`` with a list)
  keeps those of Halyard's fields it does not name (:func:`kept_halyard_fields`), since a Marathon
  client cannot name them; naming one with ``null`` removes it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec.app import HALYARD_FIELDS, AppSpec

#: Marathon's ``App`` (``docs/docs/rest-api/public/api/v2/types/app.raml``, Marathon 1.10): the
#: only fields a definition in a v2 answer holds (``AppInfo``'s counts, tasks... come beside them).
MARATHON_APP_FIELDS = frozenset({
    "id", "acceptedResourceRoles", "args", "backoffFactor", "backoffSeconds", "cmd", "constraints", "container",
    "cpus", "dependencies", "disk", "env", "executor", "executorResources", "fetch", "healthChecks", "check",
    "instances", "labels", "maxLaunchDelaySeconds", "mem", "gpus", "ipAddress", "networks", "ports",
    "portDefinitions", "readinessChecks", "residency", "resourceLimits", "requirePorts", "secrets",
    "taskKillGracePeriodSeconds", "upgradeStrategy", "uris", "user", "version", "versionInfo", "killSelection",
    "unreachableStrategy", "tty", "role"})


def marathon_definition(spec: AppSpec, halyard: bool = False) -> dict[str, Any]:
    """The definition as a v2 answer holds it (secrets masked): Marathon's fields only, and with
    ``halyard`` Halyard's own too (``embed=app.halyard``)."""
    data = spec.public_json()
    return {k: v for k, v in data.items() if k in MARATHON_APP_FIELDS or (halyard and k in HALYARD_FIELDS)}


def halyard_fields(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Halyard's own fields of a stored definition (:meth:`AppSpec.to_json`)."""
    return {k: v for k, v in definition.items() if k in HALYARD_FIELDS}


def kept_halyard_fields(stored: Mapping[str, Any] | None, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body``, a whole definition that replaces ``stored`` (the app's, as :meth:`AppSpec.to_json`
    writes it; None for a new app), with the Halyard fields ``stored`` has and ``body`` does not
    name: a Marathon client, which never sees them, does not drop them."""
    if stored is None:
        return dict(body)
    return {**{k: v for k, v in halyard_fields(stored).items() if k not in body}, **body}


__all__ = ["MARATHON_APP_FIELDS", "halyard_fields", "kept_halyard_fields", "marathon_definition"]

"""The served OpenAPI document covers every route and describes an app definition truthfully."""
from __future__ import annotations

import jsonschema_rs

from halyard.api.server import create_app
from halyard.spec.validation import load_apps

from .test_cli import HELLO


def test_every_route_is_documented():
    api = create_app(backend=None)  # type: ignore[arg-type]
    doc = api.openapi()
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    for route in api.routes:
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
            if route.path.startswith(("/docs", "/openapi", "/redoc")):
                continue
            path = route.path.replace(":path}", "}")
            assert (path, method) in documented, (path, method)


def test_the_app_schema_accepts_a_real_definition_and_names_the_fields():
    doc = create_app(backend=None).openapi()  # type: ignore[arg-type]
    schema = {**doc["components"]["schemas"]["AppDefinition"], "components": doc["components"]}
    body = doc["paths"]["/v2/apps"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AppDefinition"}
    validator = jsonschema_rs.validator_for(schema)
    app = load_apps(HELLO)[0].to_json()
    assert validator.is_valid(app)
    assert {"id", "cmd", "instances", "constraints", "healthChecks", "environments", "strategy", "minReadySeconds"} <= \
        set(schema["properties"])
    for fields in ({"unreachableStrategy": "disabled", "resourceLimits": {"cpus": "unlimited", "mem": 64}},
                   {"unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2}}):
        assert validator.is_valid({**app, **fields}), fields
    for fields in ({"unreachableStrategy": "enabled"}, {"resourceLimits": {"cpus": "lots"}},
                   {"unreachableStrategy": {"inactiveAfterSeconds": None}}):
        assert not validator.is_valid({**app, **fields}), fields

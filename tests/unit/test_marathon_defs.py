"""Marathon's own app definitions: its example corpus and its exports (GET /v2/apps/{id}) are
accepted, converted as Marathon converts them, or refused naming only what Halyard cannot do."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from halyard.api.inputs import AppInputs
from halyard.api.server import create_app
from halyard.errors import ValidationError
from halyard.mesos.app_tasks import task_info
from halyard.runtime.secret_store import SecretStore, parse_secrets
from halyard.spec.marathon_compat import is_archive, normalize_app
from halyard.spec.validation import SecretInputs, app_problems, parse_app

from .test_api import FakeBackend, call

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLES = DATA / "marathon-examples"  # Marathon's own, unmodified (see its SOURCE and LICENSE)
EXPORTS = DATA / "marathon-exports"
#: The secret store the corpus and the exports refer to.
STORE = {"/db/password": "hunter2", "/prod/shop/db-password": "s3cret"}

# Every example Halyard refuses, with the one reason per refused field: nothing else may be named.
REFUSED = {
    # Marathon refuses it too: the RAML's showcase of every field contradicts itself (ipAddress with
    # ports and with a Docker container, env naming a secret it does not declare; cmd and args are
    # both given too, named once the rest is mended).
    "rest-api/app.json#0": {
        "ipAddress": "give ipAddress or ports (portDefinitions), not both",
        "ipAddress.discovery": "not allowed with a Docker container",
        "env.PASSWORD": "no secret '/db/password' in secrets (declared: secret1, secret3)",
    },
    "system-apps/external-volume-mesos-app.json#0": {"container.volumes[0].external": "not supported by Halyard: external volumes"},
    "system-apps/healthcheck-and-volume.json#0": {"container.volumes[0].persistent": "not supported by Halyard: local persistent volumes"},
    "system-apps/persistent-volume-app.json#0": {"container.volumes[0].persistent": "not supported by Halyard: local persistent volumes"},
    "system-apps/resident-docker-app.json#0": {"container.volumes[0].persistent": "not supported by Halyard: local persistent volumes",
                                               "residency": "not supported by Halyard: resident tasks"},
    # ipAddress (Marathon 1.4) asks for a container network: named where the body asks, not at the
    # networks[0].mode it becomes.
    "system-apps/pinger-container-app.json#0": {"ipAddress": "not supported by Halyard: container networks for an app without a Docker image"},
    "system-apps/private-ucr-docker-app.json#0": {"container.docker": "not supported by Halyard: images in the Mesos containerizer (UCR)"},
    "system-apps/ucr-docker-http-server.json#0": {"container.docker": "not supported by Halyard: images in the Mesos containerizer (UCR)"},
}


def corpus() -> list[tuple[str, dict]]:
    """Every app of every example file: one app, a list, or ``{"apps": [...]}``."""
    out = []
    for path in sorted(EXAMPLES.rglob("*.json")):
        doc = json.loads(path.read_text())
        apps = doc if isinstance(doc, list) else doc["apps"] if "apps" in doc and "id" not in doc else [doc]
        out += [(f"{path.relative_to(EXAMPLES)}#{i}", app) for i, app in enumerate(apps)]
    return out


def export(name: str) -> dict:
    return json.loads((EXPORTS / name).read_text())["app"]


def test_the_corpus_is_all_there():
    names = [name for name, _ in corpus()]
    assert len(names) == 26 and set(REFUSED) <= set(names)


def in_body(body: Any, loc: tuple) -> bool:
    """Whether the body sent has something at ``loc`` (a problem's path as keys and indexes)."""
    for part in loc:
        if isinstance(body, dict) and part in body:
            body = body[part]
        elif isinstance(body, list) and isinstance(part, int) and part < len(body):
            body = body[part]
        else:
            return False
    return True


@pytest.mark.parametrize("name, raw", corpus(), ids=[n for n, _ in corpus()])
def test_every_marathon_example_is_accepted_or_refused_for_what_halyard_cannot_do(name, raw):
    spec, problems = app_problems(raw, secrets=SecretInputs(STORE))
    expected = REFUSED.get(name, {})
    assert {p.path for p in problems} == set(expected), [str(p) for p in problems]
    for p in problems:
        assert expected[p.path] in p.message
        assert in_body(raw, p.loc), f"{p.path} is not in the body sent"  # named as the user wrote it
    assert (spec is None) == bool(expected)


@pytest.mark.parametrize("raw, path, message", [
    # uris -> fetch, ports -> portDefinitions
    ({"cmd": "x", "uris": ["http://h/a", ""]}, "uris[1]", "at least 1 character"),
    ({"cmd": "x", "ports": [80, 70000]}, "ports[1]", "less than or equal to 65535"),
    # ipAddress (Marathon 1.4) -> networks, its discovery ports -> a Mesos container's portMappings
    ({"cmd": "x", "ipAddress": {"networkName": "dcos"}}, "ipAddress", "container networks for an app without a Docker"),
    ({"ipAddress": {}, "container": {"type": "DOCKER", "docker": {"image": "x", "network": "USER"}}},
     "ipAddress", "required for a container network"),
    ({"ipAddress": {"networkName": "n", "labels": {"a": 1}},
      "container": {"type": "DOCKER", "docker": {"image": "x", "network": "USER"}}}, "ipAddress.labels.a", "expected a string"),
    ({"cmd": "x", "ipAddress": {"networkName": "n", "discovery": {"ports": [{"number": 70000, "name": "p"}]}}},
     "ipAddress.discovery.ports[0].number", "less than or equal to 65535"),
    ({"cmd": "x", "ipAddress": {"networkName": "n", "discovery": {"ports": [{"number": 80, "name": "p", "protocol": "sctp"}]}}},
     "ipAddress.discovery.ports[0].protocol", "unknown value 'sctp'"),
    # portMappings in the older place (container.docker.portMappings)
    ({"container": {"type": "DOCKER", "docker": {"image": "x", "network": "HOST", "portMappings": [{"containerPort": 80}]}}},
     "container.docker.portMappings", "not allowed with HOST networking"),
    ({"container": {"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE", "portMappings": [
        {"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]}}},
     "container.docker.portMappings", "duplicate port names: web"),
    ({"container": {"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE", "portMappings": [
        {"containerPort": 80, "name": "web"}]}}, "readinessChecks": [{"portName": "http"}]},
     "readinessChecks[0].portName", "no port named 'http'"),
])
def test_a_refused_translated_field_is_named_where_the_body_has_it(raw, path, message):
    body = {"id": "a", **raw}
    _, problems = app_problems(body)
    named = [p for p in problems if p.path == path and message in p.message]
    assert named and all(in_body(body, p.loc) for p in problems), [str(p) for p in problems]


def test_a_service_port_refused_by_the_scheduler_is_named_where_the_body_has_it(api_with_secrets):
    api, _ = api_with_secrets
    assert call(api, "POST", "/v2/apps", {"id": "db", "cmd": "x", "portDefinitions": [{"port": 10005}]})[0] == 201
    status, body = call(api, "POST", "/v2/apps", {"id": "web", "cmd": "x", "ports": [0, 10005]})
    assert status == 422 and body["problems"] == ["ports[1]: service port 10005 is already used by app '/db'"]
    assert body["details"][0]["path"] == "/ports/1"
    bridged = {"id": "web", "container": {"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE", "portMappings": [
        {"containerPort": 80, "servicePort": 10005}]}}}
    status, body = call(api, "PUT", "/v2/apps/web", bridged)
    assert status == 422 and body["problems"] == [
        "container.docker.portMappings[0].servicePort: service port 10005 is already used by app '/db'"]


def test_examples_convert_as_marathon_does():
    listed = dict(corpus())["rest-api/app_list.json#0"]
    app = parse_app(listed)
    assert [(d.port, d.protocol) for d in app.port_definitions] == [(10013, "tcp"), (10015, "tcp")]
    assert [(f.uri, f.extract) for f in app.fetch] == [(listed["uris"][0], False)]
    assert str(app.constraints[0]) == "hostname:UNIQUE" and app.executor == ""
    ipv6 = parse_app(dict(corpus())["system-apps/ipv6-healthcheck.json#0"])
    assert (ipv6.network, ipv6.network_name) == ("USER", "mesos-docker-ipv6-test")
    assert ipv6.health_checks[0].ip_protocol == "IPv6"
    pinger = parse_app(dict(corpus())["system-apps/pinger-bridge-app.json#0"])
    assert pinger.network == "BRIDGE" and pinger.host_port_requests() == (7777,)


@pytest.mark.parametrize("raw, expected", [
    ({"ipAddress": {"networkName": "dcos"}, "container": {"type": "DOCKER", "docker": {"image": "x", "network": "USER"}}},
     [{"mode": "container", "labels": {}, "name": "dcos"}]),
    ({"ipAddress": {"labels": {"a": "b"}}, "container": {"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE"}}},
     [{"mode": "container/bridge", "labels": {"a": "b"}}]),
    ({"ipAddress": {}, "container": {"type": "DOCKER", "docker": {"image": "x", "network": "HOST"}}}, [{"mode": "host"}]),
])
def test_ip_address_becomes_networks(raw, expected):
    app, problems = normalize_app({"id": "a", **raw})
    assert problems == [] and app["networks"] == expected and "network" not in app["container"]["docker"]


def test_ip_address_discovery_ports_become_a_mesos_containers_port_mappings():
    app, problems = normalize_app({"id": "a", "cmd": "x", "ipAddress": {"networkName": "n", "discovery": {
        "ports": [{"number": 80, "name": "http", "protocol": "tcp"}]}}})
    assert problems == []
    assert app["container"] == {"type": "MESOS", "portMappings": [{"containerPort": 80, "protocol": "tcp", "name": "http"}]}


@pytest.mark.parametrize("raw, path, message", [
    ({"uris": ["http://a/b"], "fetch": [{"uri": "http://c"}]}, ("uris",), "give uris or fetch, not both"),
    ({"ipAddress": {}, "networks": [{"mode": "host"}]}, ("ipAddress",), "give networks or ipAddress"),
    ({"ports": ["80"]}, ("ports",), "expected a list of port numbers"),
])
def test_contradictory_deprecated_fields_are_named(raw, path, message):
    _, problems = normalize_app({"id": "a", **raw})
    assert [(loc, msg) for loc, msg in problems if message in msg] and problems[0][0] == path


def test_read_only_fields_are_dropped_and_version_only_alone_is_kept():
    app, _ = normalize_app({"id": "a", "cmd": "x", "version": "v", "tasksRunning": 3, "tasks": [], "counts": {},
                            "servicePorts": [10000], "readinessCheckResults": [], "deployments": [{"id": "d"}]})
    assert app == {"id": "a", "cmd": "x"}
    assert normalize_app({"id": "a", "version": "v"})[0] == {"id": "a", "version": "v"}


def test_archives_are_extracted_as_marathon_decides():
    assert is_archive("https://h/x.tar.gz?sig=1") and is_archive("file:///a.zip") and not is_archive("http://h/x.py")
    assert not is_archive("http://x.zip")  # a host, not a path


def test_dependencies_are_resolved_against_the_apps_group():
    app = parse_app({"id": "/shop/web", "cmd": "x", "dependencies": ["db", "../auth/api", "/cache"]})
    assert app.dependencies == ["/shop/db", "/auth/api", "/cache"]


@pytest.mark.parametrize("patch, path, message", [
    ({"executor": "/opt/exec"}, "executor", "not supported by Halyard: custom executors"),
    ({"tty": True}, "tty", "not supported by Halyard: a tty"),
    ({"networks": [{"mode": "host"}, {"mode": "container", "name": "a"}]}, "networks", "more than one network"),
    ({"networks": [{"mode": "container"}]}, "networks[0].name", "Halyard has no default container network"),
    ({"check": {"http": {}, "tcp": {}}}, "check", "exactly one of http, tcp or exec"),
    ({"check": {"http": {"scheme": "HTTPS"}}}, "check.http.scheme", "plain HTTP only"),
    ({"check": {"tcp": {"portIndex": 3}}}, "check.tcp.portIndex", "the app has 1 port(s)"),
    ({"check": {"exec": {"command": {}}}}, "check.exec.command", "give shell or argv"),
    ({"env": {"PW": {"secret": "pw", "value": "v"}}}, "env.PW", "no secret 'pw' in secrets (declared: none)"),
    ({"role": "web", "acceptedResourceRoles": ["db"]}, "acceptedResourceRoles[0]", "must be '*' or the app's role"),
    ({"container": {"type": "DOCKER", "docker": {"image": "x", "network": "BRIDGE"}}, "networks": [{"mode": "host"}]},
     "container.docker.network", "give networks or container.docker.network, not both"),
    ({"container": {"type": "DOCKER", "docker": {"image": "x"}, "volumes": [{"containerPath": "/a", "secret": "s"}]}},
     "container.volumes[0].secret", "not supported by Halyard: secret volumes"),
])
def test_what_halyard_cannot_do_is_named_with_a_reason(patch, path, message):
    spec, problems = app_problems({"id": "web", "cmd": "sleep 1", **patch})
    assert spec is None and [str(p) for p in problems if p.path == path and message in p.message], \
        [str(p) for p in problems]


# --- secrets -------------------------------------------------------------------------------

REF = {"id": "db", "cmd": "x", "env": {"PW": {"secret": "pw"}}, "secrets": {"pw": {"source": "/db/pw"}}}


def test_a_secret_reference_is_resolved_from_the_store_and_shown_as_marathon_shows_it():
    app = parse_app_with(REF, {"/db/pw": "hunter2"})
    assert app.env_values()["PW"] == "hunter2"
    public = app.public_json()
    assert public["env"]["PW"] == {"secret": "pw"} and public["secrets"] == {"pw": {"source": "/db/pw"}}
    assert "hunter2" not in json.dumps(public)


@pytest.mark.parametrize("store, message", [
    ({}, "secret 'pw': the scheduler's secret store has no source '/db/pw'"),
    (None, "the scheduler has no secret store (start it with --secrets-file)"),
])
def test_a_secret_the_store_lacks_is_named(store, message):
    _, problems = app_problems(REF, secrets=SecretInputs(store))
    assert [str(p) for p in problems] == [f"env.PW: {message}" if store is not None else
                                          f"env.PW: secret 'pw' (source '/db/pw') cannot be resolved: {message}"]


def test_a_masked_secret_keeps_the_stored_value():
    stored = parse_app({"id": "a", "cmd": "x", "env": {"PW": {"value": "old", "secret": True}}})
    again, problems = app_problems({**stored.public_json()}, secrets=SecretInputs(None, stored.to_json()["env"]))
    assert problems == [] and again.env_values()["PW"] == "old"


def parse_app_with(raw: dict, store: dict) -> Any:
    spec, problems = app_problems(raw, secrets=SecretInputs(store))
    assert problems == [], problems
    return spec


def test_the_secret_store_file_is_yaml_or_json_and_follows_changes(tmp_path):
    path = tmp_path / "secrets.yaml"
    path.write_text("/db/pw: hunter2\n")
    store = SecretStore(path)
    assert dict(store) == {"/db/pw": "hunter2"}
    path.write_text('{"/db/pw": "rotated", "/other": "x"}')
    assert store["/db/pw"] == "rotated" and "/other" in store
    path.write_text("/db/pw: [not, a, string]\n")  # a bad edit keeps the last good contents
    assert store["/db/pw"] == "rotated"
    with pytest.raises(ValidationError, match="expected a string value"):
        parse_secrets("a: 1", "f")
    with pytest.raises(ValidationError, match="cannot read file"):
        SecretStore(tmp_path / "missing.yaml")


# --- through the API -----------------------------------------------------------------------

@pytest.fixture
def api_with_secrets():
    backend = FakeBackend()
    return create_app(backend, app_inputs=AppInputs(secrets=dict(STORE), role="*")), backend


@pytest.mark.parametrize("name", ["docker-bridge-1.10.json", "command-host-1.5.json"])
def test_a_marathon_export_is_accepted_unchanged_and_round_trips(api_with_secrets, name):
    api, backend = api_with_secrets
    raw = export(name)
    status, created = call(api, "POST", "/v2/apps", raw)
    assert status == 201, created
    status, shown = call(api, "GET", f"/v2/apps{raw['id']}")
    assert status == 200
    with backend.reading() as view:
        before = view.app(raw["id"]).spec
    status, body = call(api, "PUT", f"/v2/apps{raw['id']}", shown["app"], query="partialUpdate=false&force=true")
    assert status == 200, body
    status, again = call(api, "GET", f"/v2/apps{raw['id']}")
    changing = ("version", "versionInfo", "deployments")
    assert {k: v for k, v in again["app"].items() if k not in changing} == \
           {k: v for k, v in shown["app"].items() if k not in changing}
    with backend.reading() as view:
        assert view.app(raw["id"]).spec == before


def test_the_docker_export_is_converted_and_its_secret_resolved(api_with_secrets):
    api, backend = api_with_secrets
    call(api, "POST", "/v2/apps", export("docker-bridge-1.10.json"))
    with backend.reading() as view:
        app = view.app("/prod/shop/web").spec
    assert app.network == "BRIDGE" and app.env_values()["DB_PASSWORD"] == "s3cret" and app.role == "*"
    info = task_info(app, "v1", "t1", "a1", "h1", [], (31000,))
    assert info["container"]["docker"]["network"] == "BRIDGE"
    assert info["container"]["docker"]["port_mappings"] == [{"host_port": 31000, "container_port": 8080, "protocol": "tcp"}]


def test_a_role_other_than_the_schedulers_is_refused(api_with_secrets):
    api, _ = api_with_secrets
    status, body = call(api, "POST", "/v2/apps", {"id": "a", "cmd": "x", "role": "slave_public"})
    assert status == 422 and body["problems"] == [
        "role: not supported by Halyard: this scheduler runs every task under its Mesos role '*', not 'slave_public'"]


def test_a_put_of_what_get_showed_keeps_secret_values(api_with_secrets):
    api, backend = api_with_secrets
    call(api, "POST", "/v2/apps", {"id": "a", "cmd": "x", "env": {"PW": {"value": "inline", "secret": True}}})
    shown = call(api, "GET", "/v2/apps/a")[1]["app"]
    assert shown["env"]["PW"] == {"secret": True}
    for query in ("force=true", "partialUpdate=false&force=true"):
        status, body = call(api, "PUT", "/v2/apps/a", shown, query=query)
        assert status == 200, body
        with backend.reading() as view:
            assert view.app("/a").spec.env_values()["PW"] == "inline"
    status, body = call(api, "POST", "/v2/apps", {"id": "b", "cmd": "x", "env": {"PW": {"secret": True}}})
    assert status == 422 and body["problems"][0].startswith("env.PW: required: {secret: true} without a value")


def test_a_rollback_to_a_version_the_app_never_had_is_a_404(api_with_secrets):
    api, _ = api_with_secrets
    call(api, "POST", "/v2/apps", {"id": "a", "cmd": "x"})
    status, body = call(api, "PUT", "/v2/apps/a", {"version": "2020-01-01T00:00:00.000Z"})
    assert status == 404, body


def test_pods_are_refused_with_the_reason_and_listed_as_none(api_with_secrets):
    api, _ = api_with_secrets
    assert call(api, "GET", "/v2/pods") == (200, [])
    assert call(api, "GET", "/v2/pods/::status") == (200, [])
    assert call(api, "GET", "/v2/pods/web")[0] == 404
    status, body = call(api, "POST", "/v2/pods", {"id": "/web", "containers": []})
    assert status == 422 and "not supported by Halyard: pods" in body["problems"][0]
    assert call(api, "DELETE", "/v2/pods/web")[0] == 422


# --- what reaches Mesos --------------------------------------------------------------------

def test_networks_tty_checks_and_ipv6_reach_the_task_info():
    app = parse_app({"id": "a", "cmd": "x", "tty": True, "networks": [{"mode": "container", "name": "backend"}],
                     "container": {"type": "DOCKER", "docker": {"image": "img"},
                                   "portMappings": [{"containerPort": 80, "hostPort": 0, "name": "http"}]},
                     "healthChecks": [{"protocol": "MESOS_HTTP", "portIndex": 0, "ipProtocol": "IPv6"}],
                     "check": {"tcp": {"portIndex": 0}, "intervalSeconds": 5, "timeoutSeconds": 2, "delaySeconds": 1}})
    info = task_info(app, "v1", "t1", "a1", "h1", [], (31005,))
    container = info["container"]
    assert container["docker"]["network"] == "USER" and container["network_infos"] == [{"name": "backend"}]
    assert {"key": "tty", "value": "true"} in container["docker"]["parameters"]
    assert info["health_check"]["http"]["protocol"] == "IPv6"
    assert info["check"] == {"type": "TCP", "tcp": {"port": 80}, "delay_seconds": 1, "interval_seconds": 5,
                             "timeout_seconds": 2}


def test_a_host_check_uses_the_host_port_and_exec_runs_a_command():
    app = parse_app({"id": "a", "cmd": "x", "portDefinitions": [{"port": 0}, {"port": 0}],
                     "check": {"http": {"portIndex": 1, "path": "/ok"}}})
    assert task_info(app, "v", "t", "a", "h", [], (31000, 31001))["check"]["http"] == {"port": 31001, "path": "/ok"}
    argv = parse_app({"id": "a", "cmd": "x", "check": {"exec": {"command": {"argv": ["test", "-f", "/ok"]}}}})
    assert task_info(argv, "v", "t", "a", "h", [], (31000,))["check"]["command"] == {
        "command": {"value": "test", "arguments": ["test", "-f", "/ok"], "shell": False}}


def test_a_file_read_by_the_cli_keeps_its_references_for_the_api_to_resolve(api_with_secrets):
    local = parse_app({**REF, "secrets": {"pw": {"source": "/db/password"}}})  # halyard validate/deploy: no store
    assert local.to_json()["env"]["PW"] == {"secret": "pw"} and "PW" not in local.env_values()
    api, backend = api_with_secrets
    status, body = call(api, "POST", "/v2/apps", local.to_json())
    assert status == 201, body
    with backend.reading() as view:
        assert view.app("/db").spec.env_values()["PW"] == "hunter2"


def test_a_job_uses_secret_references_as_apps_do(api_with_secrets):
    from halyard.spec.validation import job_problems
    _, problems = job_problems({"id": "j", "cmd": "x", "env": {"PW": {"secret": "pw"}}})
    assert [str(p) for p in problems] == ["env.PW: no secret 'pw' in secrets (declared: none)"]
    api, backend = api_with_secrets
    job = {"id": "j", "cmd": "x", "env": {"PW": {"secret": "pw"}}, "secrets": {"pw": {"source": "/db/password"}}}
    status, body = call(api, "POST", "/v1/jobs", job, query="embed=halyard")
    assert status == 201, body
    assert body["halyard"]["definition"]["env"]["PW"] == {"secret": "pw"} and "hunter2" not in json.dumps(body)
    with backend.reading() as view:
        assert view.job("j").spec.env_values()["PW"] == "hunter2"


def test_a_partial_update_with_deprecated_fields_replaces_their_canonical_ones(api_with_secrets):
    api, backend = api_with_secrets
    call(api, "POST", "/v2/apps", {"id": "a", "cmd": "x", "fetch": [{"uri": "http://h/a.py"}],
                                   "portDefinitions": [{"port": 0}, {"port": 0}]})
    status, body = call(api, "PUT", "/v2/apps/a", {"uris": ["http://h/b.tgz"], "ports": [0]}, query="force=true")
    assert status == 200, body
    with backend.reading() as view:
        app = view.app("/a").spec
    assert [(f.uri, f.extract) for f in app.fetch] == [("http://h/b.tgz", True)] and app.host_port_requests() == (0,)


def test_an_apps_role_lets_it_use_resources_reserved_for_that_role():
    assert parse_app({"id": "a", "cmd": "x", "role": "web"}).roles == ("*", "web")
    assert parse_app({"id": "a", "cmd": "x", "role": "web", "acceptedResourceRoles": ["web"]}).roles == ("web",)
    assert parse_app({"id": "a", "cmd": "x", "role": "*"}).roles == ("*",)

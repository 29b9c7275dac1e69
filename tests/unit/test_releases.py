"""Environments, image references, digests, releases and their rules, the release desk and its API
(pure parts and fakes: no registry, no ZooKeeper, no cluster)."""
from __future__ import annotations

import hashlib
import subprocess
from typing import Any, Optional

import pytest

from halyard.api.server import create_app
from halyard.errors import ConflictError, ValidationError
from halyard.mesos.fetch_checks import MISMATCH_EXIT, checked_command
from halyard.releases.desk import ReleaseDesk, ReleaseRequest
from halyard.releases.digests import ACCEPT, RegistryResolver, RegistryUnreachableError, read_credentials, scheme_for
from halyard.releases.environments import Environment, environments_for, in_environment, parse_environments
from halyard.releases.images import is_digest, parse_image, short_digest, uri_checksum, uri_checksum_problem, with_version
from halyard.releases.records import (
    NothingToRollBackError,
    PromotionRefusedError,
    Release,
    check_promotion,
    current,
    ended,
    record,
    rollback_target,
)
from halyard.spec.app import FetchUri
from halyard.spec.validation import parse_app

from .test_api import FakeBackend, call

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


# --- environments -----------------------------------------------------------------------------

def test_environments_give_namespaces_apis_tokens_and_rules(tmp_path):
    (tmp_path / "environments.yaml").write_text(
        "environments:\n  dev: {namespace: /dev}\n  staging: {namespace: staging}\n"
        "  production: {namespace: /production, api: 'http://prod:8080', promoteFrom: staging, tokenEnv: T,"
        " pinDigest: false}\n")
    envs = environments_for(tmp_path)
    assert envs.get("dev") == Environment("dev", "/dev")
    assert envs.get("staging").namespace == "/staging"
    prod = envs.get("production")
    assert (prod.api, prod.promote_from, prod.token_env, prod.pin_digest) == ("http://prod:8080", "staging", "T", False)
    spec = parse_app({"id": "/examples/hello", "cmd": "x"})
    assert in_environment(spec, envs.get("dev")).id == "/dev/examples/hello"
    assert in_environment(spec, prod).pin_digest is False
    with pytest.raises(ValidationError, match="no environment 'qa' in .*environments.yaml .*dev, production, staging"):
        envs.get("qa")


def test_without_an_environments_file_any_environment_is_todays_behaviour(tmp_path):
    env = environments_for(tmp_path).get("anything")
    assert env == Environment("anything") and env.app_id("/web") == "/web"


@pytest.mark.parametrize("doc, problem", [
    ({"environments": {"dev": {"namespace": "/Dev!"}}}, "environments.dev.namespace: segment"),
    ({"environments": {"dev": {"color": "red"}}}, "environments.dev.color: unknown field"),
    ({"environments": {"prod": {"promoteFrom": "staging"}}}, "environments.prod.promoteFrom: no environment 'staging'"),
    ({"environments": {"dev": {"pinDigest": "no"}}}, "environments.dev.pinDigest: expected true or false"),
    ({"envs": {}}, "environments: expected a mapping"),
])
def test_a_bad_environments_file_names_every_problem(doc, problem):
    with pytest.raises(ValidationError) as err:
        parse_environments(doc, "environments.yaml")
    assert problem in str(err.value)


# --- environments and a service's overlays ----------------------------------------------------

PIPELINE = ("environments:\n  dev: {namespace: /dev}\n  staging: {namespace: /staging}\n"
            "  production: {namespace: /production}\n")
SERVICE = "id: /shop/web\ncmd: serve\ninstances: 2\nenvironments:\n  staging: {instances: 3}\n  production: {instances: 5}\n"


def deployed(tmp_path, monkeypatch, *argv: str) -> tuple[int, str, list]:
    """``deploy ARGV --services tmp_path``: its exit code, its output, and what it shipped (nothing is sent)."""
    from click.testing import CliRunner

    from halyard.cli import pipeline as pipeline_module
    from halyard.cli.deploy import deploy

    shipped: list = []

    def ship(self, service, version, env, **kwargs):
        shipped.append(self.spec(service, version, env))
        return 0
    monkeypatch.setattr(pipeline_module.Pipeline, "ship", ship)
    result = CliRunner().invoke(deploy, [*argv, "--services", str(tmp_path)])
    return result.exit_code, result.output, shipped


def test_an_environment_defined_without_an_overlay_deploys_the_base(tmp_path, monkeypatch):
    (tmp_path / "environments.yaml").write_text(PIPELINE)
    (tmp_path / "web.yaml").write_text(SERVICE)
    code, output, shipped = deployed(tmp_path, monkeypatch, "web", "1", "dev")
    assert code == 0, output
    assert [(s.id, s.instances) for s in shipped] == [("/dev/shop/web", 2)]
    code, output, shipped = deployed(tmp_path, monkeypatch, "web", "1", "production")
    assert code == 0 and [(s.id, s.instances) for s in shipped] == [("/production/shop/web", 5)]
    code, output, shipped = deployed(tmp_path, monkeypatch, "web", "1", "qa")  # in neither: an error
    assert code == 3 and "no environment 'qa'" in output and shipped == []


def test_validate_and_plan_resolve_an_environment_without_an_overlay_to_the_base(tmp_path, capsys):
    from halyard.cli.main import main

    (tmp_path / "environments.yaml").write_text(PIPELINE)
    (tmp_path / "web.yaml").write_text(SERVICE)
    assert main(["validate", str(tmp_path / "web.yaml"), "--env", "dev", "-o", "json"]) == 0
    assert '"id": "/dev/shop/web"' in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "web.yaml"), "--env", "qa"]) == 1
    assert "no environment 'qa'" in capsys.readouterr().err


def test_an_overlay_for_an_environment_the_pipeline_does_not_define_is_refused_naming_both(tmp_path, monkeypatch,
                                                                                         capsys):
    from halyard.cli.main import main

    (tmp_path / "environments.yaml").write_text(PIPELINE)
    (tmp_path / "web.yaml").write_text(SERVICE.replace("production:", "prod:"))
    code, output, shipped = deployed(tmp_path, monkeypatch, "web", "1", "dev")
    expected = (f"environments.prod: no environment 'prod' in {tmp_path / 'environments.yaml'} "
                f"(it defines dev, production, staging)")
    assert code == 3 and expected in output and shipped == []
    assert main(["validate", str(tmp_path / "web.yaml")]) == 1
    assert expected in capsys.readouterr().err


def test_without_an_environments_file_an_overlay_is_needed_as_before(tmp_path, monkeypatch):
    (tmp_path / "web.yaml").write_text(SERVICE)
    code, output, shipped = deployed(tmp_path, monkeypatch, "web", "1", "dev")
    assert code == 3 and "environments: no environment 'dev' (defined: production, staging)" in output
    code, output, shipped = deployed(tmp_path, monkeypatch, "web", "1", "staging")
    assert code == 0 and [(s.id, s.instances) for s in shipped] == [("/shop/web", 3)]


# --- images and checksums ---------------------------------------------------------------------

@pytest.mark.parametrize("image, registry, repository, name, tag, digest", [
    ("busybox", "registry-1.docker.io", "library/busybox", "busybox", None, None),
    ("local/busybox:1", "registry-1.docker.io", "local/busybox", "local/busybox", "1", None),
    ("127.0.0.1:5000/busybox:1", "127.0.0.1:5000", "busybox", "127.0.0.1:5000/busybox", "1", None),
    ("localhost/a/b@" + D1, "localhost", "a/b", "localhost/a/b", None, D1),
    ("reg.io:443/team/app:v2@" + D2, "reg.io:443", "team/app", "reg.io:443/team/app", "v2", D2),
])
def test_image_references_parse_as_docker_reads_them(image, registry, repository, name, tag, digest):
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.name, ref.tag, ref.digest) == (registry, repository, name, tag, digest)
    assert str(ref) == image


def test_a_version_that_is_a_digest_pins_the_image_instead_of_mangling_it():
    assert with_version("127.0.0.1:5000/busybox:1", "2") == "127.0.0.1:5000/busybox:2"
    assert with_version("127.0.0.1:5000/busybox", D1) == f"127.0.0.1:5000/busybox@{D1}"
    assert with_version(f"busybox@{D2}", D1) == f"busybox@{D1}"
    assert is_digest(D1) and not is_digest("sha256:abc") and short_digest(D1) == "sha256:111111111111"


def test_fetch_uris_carry_their_sha256_in_the_query_or_the_fragment():
    h = "ab" * 32
    assert uri_checksum(f"http://x/a.tgz?sha256={h}") == h
    assert uri_checksum(f"http://x/a.tgz#sha256:{h.upper()}") == h
    assert uri_checksum("http://x/a.tgz") is None and uri_checksum_problem("http://x/a.tgz") is None
    assert uri_checksum_problem("http://x/a.tgz#sha256:abc") == "sha256 must be 64 hexadecimal digits"


def test_a_fetched_file_that_does_not_match_its_sha256_stops_the_command(tmp_path):
    (tmp_path / "app.tgz").write_bytes(b"artifact")
    good = hashlib.sha256(b"artifact").hexdigest()
    fetch = [FetchUri(uri=f"http://x/app.tgz#sha256:{good}"), FetchUri(uri="http://x/other")]
    ok = subprocess.run(checked_command("echo started", fetch), shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == "started\n"
    bad = [FetchUri(uri=f"http://x/app.tgz?sha256={'0' * 64}")]
    run = subprocess.run(checked_command("echo started", bad), shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == MISMATCH_EXIT and run.stdout == "" and "app.tgz: sha256 mismatch" in run.stderr
    assert checked_command("echo x", [FetchUri(uri="http://x/a")]) == "echo x"


# --- digests from the registry ----------------------------------------------------------------

class Resp:
    def __init__(self, status: int, headers: Optional[dict] = None, body: Any = None, method: str = "HEAD"):
        self.status_code, self.headers = status, headers or {}
        self.content = b"" if body is None else (body if isinstance(body, bytes) else __import__("json").dumps(body).encode())
        self.request = type("R", (), {"method": method})()

    def json(self) -> Any:
        return __import__("json").loads(self.content)


class FakeSession:
    """Answers by (method, url) from a table; records what was asked."""

    def __init__(self, answers: dict):
        self.answers, self.asked = answers, []

    def request(self, method: str, url: str, headers: dict, timeout: float) -> Resp:
        self.asked.append((method, url, headers))
        answer = self.answers[(method, url, headers.get("Authorization"))]
        return answer if isinstance(answer, Resp) else answer(method)

    def get(self, url: str, params: dict, auth: Any, timeout: float) -> Resp:
        self.asked.append(("GET", url, params, auth))
        return Resp(200, body={"token": "T0K"})


def test_a_tag_resolves_to_the_docker_content_digest_asking_for_lists_indexes_and_manifests():
    url = "http://127.0.0.1:5000/v2/busybox/manifests/1"
    session = FakeSession({("HEAD", url, None): Resp(200, {"Docker-Content-Digest": D1})})
    assert RegistryResolver(session=session).resolve(parse_image("127.0.0.1:5000/busybox:1")).digest == D1
    accept = session.asked[0][2]["Accept"]
    assert accept == ACCEPT and all(t in accept for t in ("manifest.list.v2", "oci.image.index.v1", "manifest.v2"))


def test_a_registry_without_the_digest_header_gets_the_manifest_hashed():
    url = "https://reg.io/v2/team/app/manifests/v1"
    session = FakeSession({("HEAD", url, None): Resp(200), ("GET", url, None): Resp(200, body=b"{manifest}")})
    resolved = RegistryResolver(session=session).resolve(parse_image("reg.io/team/app:v1"))
    assert resolved.digest == "sha256:" + hashlib.sha256(b"{manifest}").hexdigest()


def test_a_bearer_challenge_is_answered_with_a_token_from_the_realm(tmp_path):
    url = "https://reg.io/v2/team/app/manifests/v1"
    challenge = {"WWW-Authenticate": 'Bearer realm="https://auth.io/token",service="reg.io"'}
    session = FakeSession({("HEAD", url, None): Resp(401, challenge),
                           ("HEAD", url, "Bearer T0K"): Resp(200, {"Docker-Content-Digest": D2})})
    creds = tmp_path / "config.json"
    creds.write_text('{"auths": {"https://reg.io": {"auth": "dXNlcjpwdw=="}}}')
    resolver = RegistryResolver(read_credentials(str(creds)), session=session)
    assert resolver.resolve(parse_image("reg.io/team/app:v1")).digest == D2
    assert ("GET", "https://auth.io/token", {"service": "reg.io", "scope": "repository:team/app:pull"},
            ("user", "pw")) in session.asked


def test_an_unknown_tag_is_bad_input_naming_the_image_and_the_registrys_answer():
    url = "http://127.0.0.1:5000/v2/busybox/manifests/nope"
    body = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
    session = FakeSession({("HEAD", url, None): Resp(404), ("GET", url, None): Resp(404, body=body, method="GET")})
    with pytest.raises(ValidationError) as err:
        RegistryResolver(session=session).resolve(parse_image("127.0.0.1:5000/busybox:nope"))
    assert str(err.value.problems[0]) == ("container.docker.image: 127.0.0.1:5000/busybox:nope: registry 127.0.0.1:5000 "
                                          "answered HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)")
    session = FakeSession({("HEAD", url, None): Resp(503)})
    with pytest.raises(RegistryUnreachableError):
        RegistryResolver(session=session).resolve(parse_image("127.0.0.1:5000/busybox:nope"))


def test_loopback_registries_are_spoken_to_over_http():
    assert [scheme_for(r) for r in ("127.0.0.1:5000", "localhost:5000", "[::1]:5000", "reg.io", "10.0.0.1:5000")] == \
        ["http", "http", "http", "https", "https"]


# --- releases and their rules -----------------------------------------------------------------

def rel(n: int, version: str, result: str = "succeeded", digest: Optional[str] = None, env: str = "staging") -> Release:
    return Release(id=f"r{n}", service="svc", environment=env, version=version, app_id="/svc",
                   deployment_id=f"d{n}", at=float(n), who="ci", digest=digest, result=result)


def test_a_history_is_bounded_and_a_release_ends_once():
    history: list[Release] = []
    for n in range(25):
        history = record(history, rel(n, f"v{n}", "deploying"))
    assert len(history) == 20 and history[0].id == "r5"
    history = ended(history, "d24", "failed", ["boom"], 99.0)
    assert history[-1].result == "failed" and history[-1].failures == ("boom",)
    assert ended(history, "d24", "succeeded", [], 100.0)[-1].result == "failed"   # already ended


def test_the_promotion_rule_allows_only_what_succeeded_in_the_source():
    staging = [rel(1, "v455", digest=D1), rel(2, "v456", "failed", digest=D2)]
    assert check_promotion("v455", "staging", staging).digest == D1
    assert check_promotion(D1, "staging", staging).version == "v455"    # a digest names its release too
    with pytest.raises(PromotionRefusedError, match=r"^v456 has no successful release in staging \(staging runs v455\)$"):
        check_promotion("v456", "staging", staging)
    with pytest.raises(PromotionRefusedError, match=r"\(nothing runs in staging\)"):
        check_promotion("v1", "staging", [])


def test_rollback_returns_to_the_previous_success_or_the_version_named():
    history = [rel(1, "v1", digest=D1), rel(2, "v2", "failed"), rel(3, "v2", digest=D2), rel(4, "v3", "failed")]
    assert current(history).version == "v2"
    assert rollback_target(history).version == "v1"
    assert rollback_target(history, "v2").digest == D2
    with pytest.raises(NothingToRollBackError):
        rollback_target(history, "v3")
    with pytest.raises(NothingToRollBackError):
        rollback_target([rel(1, "v1")])


# --- the release desk and its API -------------------------------------------------------------

class MemoryReleases:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], list[Release]] = {}

    def history(self, service: str, environment: str) -> list[Release]:
        return list(self.data.get((service, environment), []))

    def histories(self) -> dict:
        return {k: list(v) for k, v in self.data.items() if v}

    def update(self, service: str, environment: str, change: Any) -> list[Release]:
        changed = change(self.history(service, environment))
        if changed is not None:
            self.data[(service, environment)] = list(changed)
        return self.history(service, environment)


class FixedResolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, ref: Any) -> Any:
        self.asked.append(str(ref))
        if ref.tag == "nope":
            from halyard.errors import Problem
            raise ValidationError([Problem("container.docker.image", f"{ref}: registry answered HTTP 404")])
        return type("R", (), {"digest": D1, "seconds": 0.01})()


@pytest.fixture
def desk():
    backend = FakeBackend()
    return ReleaseDesk(backend, MemoryReleases(), FixedResolver(), {"tok": "ci-bot"}, clock=lambda: 1_700_000_000.0)


def body(version: str = "v1", **extra: Any) -> dict:
    return {"service": "web", "environment": "dev", "version": version,
            "app": {"id": "/dev/web", "cmd": "serve", "container": {"type": "DOCKER", "docker": {
                "image": f"127.0.0.1:5000/web:{version}"}}}, **extra}


def test_a_release_pins_the_image_records_it_deploying_and_follows_its_deployment(desk):
    api = create_app(desk.backend, release_desk=desk)
    status, answer = call(api, "POST", "/v1/releases", body())
    assert status == 201, answer
    release = answer["release"]
    assert release["image"] == f"127.0.0.1:5000/web@{D1}" and release["digest"] == D1 and release["pinned"] is True
    assert release["result"] == "deploying" and release["who"] == "anonymous" and release["resolveSeconds"] == 0.01
    app = desk.backend.engine.apps["/dev/web"]
    assert app.spec.image == f"127.0.0.1:5000/web@{D1}"
    deployment = desk.backend.engine.deployments[answer["deploymentId"]]
    desk.deployment_ended(type(deployment)(**{**deployment.__dict__, "status": "succeeded", "ended_at": 5.0}))
    status, shown = call(api, "GET", "/v1/releases/web/dev")
    assert shown["current"]["version"] == "v1" and shown["releases"][0]["result"] == "succeeded"
    assert call(api, "GET", "/v1/releases", query="service=web&environment=prod")[1] == {"releases": []}


def test_a_digest_given_or_unpinned_is_used_as_is_and_the_registry_not_asked(desk):
    req = ReleaseRequest("web", "prod", "v1", parse_app(body()["app"]), digest=D2, promoted_from="dev")
    assert desk.release(req, "x").image == f"127.0.0.1:5000/web@{D2}"
    unpinned = parse_app({**body()["app"], "id": "/other", "pinDigest": False})
    r = desk.release(ReleaseRequest("other", "dev", "v1", unpinned), "x")
    assert (r.image, r.digest, r.pinned) == ("127.0.0.1:5000/web:v1", None, False)
    assert desk.resolver.asked == []


def test_an_unknown_tag_or_a_refused_change_leaves_no_release(desk):
    api = create_app(desk.backend, release_desk=desk)
    status, answer = call(api, "POST", "/v1/releases", body("nope"))
    assert status == 422 and answer["problems"] == ["app.container.docker.image: 127.0.0.1:5000/web:nope: "
                                                    "registry answered HTTP 404"]
    desk.backend.refuse = ConflictError("App is locked by one or more deployments.", deployment_id="d-1")
    assert call(api, "POST", "/v1/releases", body())[0] == 409
    assert desk.store.histories() == {} and desk.backend.engine.apps == {}


def test_bad_release_requests_name_every_field(desk):
    api = create_app(desk.backend, release_desk=desk)
    status, answer = call(api, "POST", "/v1/releases", {"service": "a b", "version": "", "digest": "sha256:x",
                                                         "forced": "yes", "color": 1,
                                                         "app": {"id": "/x", "cmd": "y",
                                                                 "fetch": [{"uri": "http://f/a#sha256:zz"}]}})
    assert status == 422
    assert answer["problems"] == [
        "service: required: letters, digits, '.', '_' and '-'", "environment: required: letters, digits, '.', '_' and '-'",
        "version: required: a non-empty string", "digest: expected sha256:<64 hexadecimal digits>",
        "forced: expected true or false", "color: unknown field",
        "app.fetch[0].uri: sha256 must be 64 hexadecimal digits"]


def test_a_new_leader_settles_releases_whose_deployment_ended_or_never_started(desk):
    desk.store.data[("web", "dev")] = [rel(1, "v1", "deploying", env="dev"), rel(2, "v2", "deploying", env="dev")]
    from halyard.engine.app_records import DeploymentRecord
    desk.settle({"d1": DeploymentRecord("d1", "/web", "deploy", 1.0, 1.0, status="succeeded", ended_at=2.0)})
    history = desk.store.history("web", "dev")
    assert [(r.version, r.result) for r in history] == [("v1", "succeeded"), ("v2", "failed")]
    assert history[1].failures == ("the scheduler stopped before the deployment started",)


def test_who_is_the_tokens_name(desk):
    assert (desk.who("tok"), desk.who(None), desk.who("other")) == ("ci-bot", "anonymous", "unnamed token")


def test_a_retried_release_finds_the_first_attempt_and_changes_nothing(desk):
    api = create_app(desk.backend, release_desk=desk)
    first = call(api, "POST", "/v1/releases", body(id="client-id-0001"))[1]
    again = call(api, "POST", "/v1/releases", body(id="client-id-0001"))
    assert again[0] == 201 and again[1]["release"] == first["release"]
    assert len(desk.store.history("web", "dev")) == 1 and len(desk.backend.engine.deployments) == 1
    assert call(api, "POST", "/v1/releases", body(id="x"))[1]["problems"][0].startswith("id: expected 8 to 64")


def test_a_checked_fetch_uri_gets_a_plain_output_file_for_mesos_fetcher():
    from halyard.mesos.app_tasks import task_info
    h = "cd" * 32
    spec = parse_app({"id": "/t", "cmd": "run", "fetch": [{"uri": f"http://x/app.tgz?sha256={h}"},
                                                         {"uri": "http://x/plain.tgz"},
                                                         {"uri": f"http://x/b#sha256:{h}", "destPath": "b.bin"}]})
    uris = task_info(spec, "v", "t.1", "a1", "h", [], ())["command"]["uris"]
    assert [u.get("output_file") for u in uris] == ["app.tgz", None, "b.bin"]


def test_once_settled_the_end_of_a_deployment_that_is_no_release_reads_nothing(desk):
    from halyard.engine.app_records import DeploymentRecord
    desk.store.data[("web", "dev")] = [rel(1, "v1", "deploying", env="dev")]
    desk.settle({"d1": DeploymentRecord("d1", "/web", "deploy", 1.0, 1.0)})
    reads = []
    desk.store.histories = lambda: reads.append(1) or {}
    desk.deployment_ended(DeploymentRecord("other", "/x", "scale", 1.0, 1.0, status="succeeded", ended_at=2.0))
    desk.deployment_ended(DeploymentRecord("d1", "/web", "deploy", 1.0, 1.0, status="failed", ended_at=3.0))
    assert reads == [] and desk.store.history("web", "dev")[0].result == "failed"

"""App definitions: Marathon's fields accepted unchanged, every problem reported with its path."""
from __future__ import annotations

import json

import pytest

from halyard.errors import ValidationError
from halyard.spec.app import AppSpec, Constraint, Operator
from halyard.spec.validation import app_problems, deep_merge, format_path, load_apps, parse_app

# A definition as Marathon's API documents and returns it (minus read-only fields).
MARATHON_APP = {
    "id": "/product/service/my-app",
    "cmd": "env && sleep 300",
    "cpus": 1.5,
    "mem": 256.0,
    "disk": 50,
    "gpus": 0,
    "instances": 3,
    "container": {
        "type": "DOCKER",
        "docker": {"image": "group/image:1.2", "forcePullImage": False, "privileged": False,
                   "parameters": [{"key": "label", "value": "a=b"}], "network": "BRIDGE"},
        "volumes": [{"containerPath": "/etc/a", "hostPath": "/var/data/a", "mode": "RO"}],
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "servicePort": 9000, "protocol": "tcp",
                          "name": "http", "labels": {"vip": "192.168.0.1:80"}},
                         {"containerPort": 161, "hostPort": 0, "protocol": "udp"}],
    },
    "requirePorts": False,
    "env": {"LD_LIBRARY_PATH": "/usr/local/lib/myLib"},
    "labels": {"environment": "staging"},
    "constraints": [["attribute", "GROUP_BY", "3"], ["hostname", "UNIQUE"], ["rack", "LIKE", "rack-[0-9]"]],
    "acceptedResourceRoles": ["role1", "*"],
    "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "gracePeriodSeconds": 5,
                      "intervalSeconds": 10, "timeoutSeconds": 10, "maxConsecutiveFailures": 3,
                      "ignoreHttp1xx": False},
                     ],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2},
    "backoffSeconds": 1, "backoffFactor": 1.15, "maxLaunchDelaySeconds": 3600,
    "killSelection": "OLDEST_FIRST",
    "fetch": [{"uri": "https://example.com/app.tgz", "extract": True, "executable": False, "cache": False}],
    "user": "nobody",
    "taskKillGracePeriodSeconds": 10,
}


def test_a_marathon_definition_is_accepted_unchanged_and_round_trips():
    app = parse_app(MARATHON_APP)
    assert app.id == "/product/service/my-app" and app.cpus == 1.5 and app.instances == 3
    assert app.network == "BRIDGE" and app.host_port_requests() == (0, 0)
    assert app.constraints[2] == Constraint("rack", Operator.LIKE, "rack-[0-9]")
    assert app.roles == ("role1", "*")
    again = parse_app(json.loads(json.dumps(app.to_json())))
    assert again == app


def test_defaults_are_marathons():
    app = parse_app({"id": "web", "cmd": "x"})
    assert app.id == "/web"
    assert (app.cpus, app.mem, app.instances) == (1.0, 128.0, 1)
    assert (app.backoff_seconds, app.backoff_factor, app.max_launch_delay_seconds) == (1.0, 1.15, 300.0)
    assert app.upgrade_strategy.minimum_health_capacity == 1.0
    assert app.host_port_requests() == (0,)  # Marathon gives one host port by default
    assert app.roles == ("*",)


@pytest.mark.parametrize("patch, path, message", [
    ({"constraints": [["hostname", "UNIQUE"], ["rack_id", "UNIQ"]]}, "constraints[1][1]", "unknown operator 'UNIQ'"),
    ({"constraints": [["hostname"]]}, "constraints[0]", "expected 2 or 3 elements"),
    ({"constraints": [["hostname", "UNIQUE", "x"]]}, "constraints[0][2]", "UNIQUE takes no value"),
    ({"constraints": [["rack", "LIKE"]]}, "constraints[0]", "LIKE needs a value"),
    ({"constraints": [["rack", "LIKE", "(["]]}, "constraints[0][2]", "invalid regular expression"),
    ({"constraints": [["rack", "MAX_PER", "0"]]}, "constraints[0][2]", "positive integer"),
    ({"constraints": [["rack", "GROUP_BY", "two"]]}, "constraints[0][2]", "positive integer"),
    ({"cpus": "lots"}, "cpus", "expected a number, got 'lots'"),
    ({"cpus": -1}, "cpus", "greater than or equal to 0"),
    ({"instances": 1.5}, "instances", "expected a whole number"),
    ({"dependencies": ["/Db"]}, "dependencies[0]", "segment 'Db' is not allowed"),
    ({"ports": [0], "portDefinitions": [{"port": 80}]}, "ports", "give ports or portDefinitions, not both"),
    ({"residency": {}}, "residency", "not supported by Halyard: resident tasks"),
    ({"bogus": 1}, "bogus", "unknown field"),
    ({"container": {"type": "DOCKER", "docker": {"image": "x", "pullConfig": {}}}},
     "container.docker.pullConfig", "not supported by Halyard: pull credentials"),
    ({"container": {"type": "DOCKER"}}, "container.docker", "required when type is DOCKER"),
    ({"container": {"type": "DOCKER", "docker": {"image": "x", "network": "OVERLAY"}}},
     "container.docker.network", "unknown value 'OVERLAY'"),
    ({"args": ["a"]}, "args", "give cmd or args, not both"),
    ({"env": {"DEBUG": True}}, "env.DEBUG", "expected a string"),
    ({"env": {"PW": {"secret": "db_pw"}}}, "env.PW", "no secret 'db_pw' in secrets (declared: none)"),
    ({"env": {"PW": {"secret": True}}}, "env.PW", "keeps the stored value only when it updates"),
    ({"killSelection": "RANDOM"}, "killSelection", "unknown value 'RANDOM'"),
    ({"healthChecks": [{"protocol": "COMMAND"}]}, "healthChecks[0].command", "required when protocol is COMMAND"),
    ({"upgradeStrategy": {"minimumHealthCapacity": 1.5}}, "upgradeStrategy.minimumHealthCapacity", "less than or equal to 1"),
    ({"backoffFactor": 0.5}, "backoffFactor", "greater than or equal to 1"),
    ({"resourceLimits": {"cpus": 0.5}}, "resourceLimits.cpus", "greater than or equal to requested cpus (1)"),
    ({"resourceLimits": {"mem": "lots"}}, "resourceLimits.mem", 'must be "unlimited" or a number'),
    ({"unreachableStrategy": {"inactiveAfterSeconds": 10, "expungeAfterSeconds": 5}},
     "unreachableStrategy.inactiveAfterSeconds", "must be less than or equal to expungeAfterSeconds (5)"),
    ({"unreachableStrategy": {"inactiveAfterSeconds": -1}}, "unreachableStrategy.inactiveAfterSeconds",
     "greater than or equal to 0"),
    ({"unreachableStrategy": "enabled"}, "unreachableStrategy", 'expected "disabled" or'),
    ({"portDefinitions": [{"port": 1, "name": "a"}, {"port": 2, "name": "a"}]}, "portDefinitions", "duplicate port names: a"),
    ({"id": "Web_App"}, "id", "segment 'Web_App' is not allowed"),
    ({"strategy": {"name": ""}}, "strategy.name", "at least 1 character"),
    ({"healthChecks": [{"protocol": "TCP"}, {"protocol": "HTTP"}]}, "healthChecks", "one health check per task"),
    ({"healthChecks": [{"protocol": "HTTP", "portIndex": 2}]}, "healthChecks[0].portIndex", "1 host port(s)"),
])
def test_bad_fields_are_named_with_their_path(patch, path, message):
    raw = {"id": "web", "cmd": "sleep 1", **patch}
    spec, problems = app_problems(raw)
    assert spec is None
    assert any(p.path == path and message in p.message for p in problems), problems


def test_every_problem_is_reported_at_once():
    raw = {"id": "web", "cmd": "x", "cpus": "a", "mem": "b", "constraints": [["h", "NOPE"]], "zzz": 1}
    _, problems = app_problems(raw)
    assert {p.path for p in problems} == {"cpus", "mem", "constraints[0][1]", "zzz"}


def test_command_needs_cmd_args_or_image():
    _, problems = app_problems({"id": "web"})
    assert [str(p) for p in problems] == ["cmd: one of cmd, args or container.docker.image is required"]
    assert parse_app({"id": "web", "container": {"docker": {"image": "busybox"}}}).image == "busybox"


@pytest.mark.parametrize("network, mappings, defs, expected", [
    ("HOST", None, None, (0,)),
    ("HOST", None, [], ()),
    ("HOST", None, [{"port": 0}, {"port": 0}], (0, 0)),
    ("BRIDGE", [{"containerPort": 80}, {"containerPort": 81, "hostPort": 31005}], None, (0, 31005)),
    ("USER", [{"containerPort": 80}, {"containerPort": 81, "hostPort": 0}], None, (0,)),
    ("NONE", None, None, ()),
])
def test_host_ports_follow_marathons_rules(network, mappings, defs, expected):
    raw = {"id": "w", "container": {"docker": {"image": "i", "network": network}}}
    if mappings is not None:
        raw["container"]["portMappings"] = mappings
    if defs is not None:
        raw["portDefinitions"] = defs
    assert parse_app(raw).host_port_requests() == expected


def test_require_ports_fixes_host_ports():
    app = parse_app({"id": "w", "cmd": "x", "requirePorts": True, "portDefinitions": [{"port": 8080}]})
    assert app.host_port_requests() == (8080,)


def test_old_style_docker_port_mappings_are_accepted_but_not_twice():
    raw = {"id": "w", "container": {"docker": {"image": "i", "network": "BRIDGE",
                                               "portMappings": [{"containerPort": 80, "hostPort": 0}]}}}
    assert parse_app(raw).host_port_requests() == (0,)
    raw["container"]["portMappings"] = [{"containerPort": 80}]
    _, problems = app_problems(raw)
    assert [p.path for p in problems] == ["container.portMappings"]


# --- environments -----------------------------------------------------------------------------

ENV_APP = {
    "id": "web", "cmd": "serve", "instances": 2, "cpus": 0.5, "labels": {"a": "1", "b": "2"},
    "environments": {"production": {"instances": 20, "cpus": 1.0, "labels": {"b": "prod", "a": None}},
                     "dev": {"instances": 1}},
}


def test_environment_overlay_gives_a_different_topology():
    prod = parse_app(ENV_APP, env="production")
    dev = parse_app(ENV_APP, env="dev")
    base = parse_app(ENV_APP)
    assert (prod.instances, prod.cpus, prod.labels) == (20, 1.0, {"b": "prod"})
    assert (dev.instances, dev.cpus) == (1, 0.5)
    assert base.instances == 2 and set(base.environments) == {"production", "dev"}
    assert prod.environments == {} and prod.cmd == base.cmd


def test_unknown_environment_is_named():
    _, problems = app_problems(ENV_APP, env="staging")
    assert [str(p) for p in problems] == ["environments: no environment 'staging' (defined: dev, production)"]


def test_overlay_problems_are_reported_at_the_overlay_path():
    raw = {**ENV_APP, "environments": {"production": {"cpus": "many"}, "dev": {"instances": -1}}}
    _, problems = app_problems(raw)
    assert {str(p) for p in problems} == {
        "environments.production.cpus: expected a number, got 'many'",
        "environments.dev.instances: input should be greater than or equal to 0",
    }


def test_base_problem_shows_once_and_env_overlay_can_fix_it():
    raw = {"id": "web", "cmd": "x", "cpus": "bad", "environments": {"dev": {"cpus": 1}}}
    _, problems = app_problems(raw)
    assert [str(p) for p in problems] == ["cpus: expected a number, got 'bad'"]
    assert parse_app(raw, env="dev").cpus == 1


def test_nested_environments_are_refused():
    _, problems = app_problems({"id": "w", "cmd": "x", "environments": {"a": {"environments": {}}}})
    assert [p.path for p in problems] == ["environments.a.environments"]


def test_deep_merge_semantics():
    base = {"a": {"x": 1, "y": 2}, "l": [1, 2], "k": 1}
    assert deep_merge(base, {"a": {"y": 3}, "l": [9], "k": None}) == {"a": {"x": 1, "y": 3}, "l": [9]}
    assert base == {"a": {"x": 1, "y": 2}, "l": [1, 2], "k": 1}


def test_format_path():
    assert format_path(("constraints", 1, 1)) == "constraints[1][1]"
    assert format_path(("container", "docker", "image")) == "container.docker.image"


# --- files ------------------------------------------------------------------------------------

def test_files_yaml_json_and_many_apps(tmp_path):
    (tmp_path / "one.json").write_text(json.dumps(MARATHON_APP))
    assert load_apps(tmp_path / "one.json")[0].id == "/product/service/my-app"
    (tmp_path / "many.yaml").write_text("apps:\n  - {id: a, cmd: x}\n  - {id: b, cmd: y, instances: 2}\n")
    assert [a.id for a in load_apps(tmp_path / "many.yaml")] == ["/a", "/b"]


def test_file_problems_carry_app_index_and_duplicates(tmp_path):
    f = tmp_path / "many.yaml"
    f.write_text("apps:\n  - {id: a, cmd: x}\n  - {id: b, cmd: y, cpus: z}\n  - {id: a, cmd: x}\n")
    with pytest.raises(ValidationError) as err:
        load_apps(f)
    assert [str(p) for p in err.value.problems] == [
        "apps[1].cpus: expected a number, got 'z'", "apps: app id /a appears more than once"]


def test_yaml_syntax_error_names_the_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("id: a\ncmd: [unclosed\n")
    with pytest.raises(ValidationError) as err:
        load_apps(f)
    assert "line 3" in str(err.value) or "line 2" in str(err.value)


def test_missing_file_is_a_validation_error(tmp_path):
    with pytest.raises(ValidationError, match="cannot read file"):
        load_apps(tmp_path / "nope.yaml")


def test_specs_are_immutable():
    app = parse_app({"id": "w", "cmd": "x"})
    with pytest.raises(Exception):
        app.cpus = 3  # type: ignore[misc]
    assert isinstance(app, AppSpec)


def test_secret_env_values_reach_the_task_but_are_never_shown():
    app = parse_app({"id": "w", "cmd": "x", "env": {"PLAIN": "a", "PW": {"value": "s3cret", "secret": True}}})
    assert app.env_values() == {"PLAIN": "a", "PW": "s3cret"}
    assert app.public_json()["env"] == {"PLAIN": "a", "PW": {"secret": True}}
    assert "s3cret" not in str(app.public_json())
    assert parse_app(app.to_json()) == app  # what is stored keeps the value

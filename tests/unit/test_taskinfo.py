"""An app's TaskInfo: what Mesos is asked to run, for command and Docker apps."""
from __future__ import annotations

from halyard.engine.launch import task_id_for
from halyard.mesos.app_tasks import task_env, task_info
from halyard.spec.validation import parse_app

RES = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}]


def env_of(info):
    return {v["name"]: v["value"] for v in info["command"]["environment"]["variables"]}


def test_command_app():
    app = parse_app({"id": "/team/web", "cmd": "serve --port $PORT0", "user": "nobody",
                     "taskKillGracePeriodSeconds": 7.5, "labels": {"tier": "front"},
                     "fetch": [{"uri": "http://x/a.tgz", "destPath": "b.tgz", "cache": True}]})
    info = task_info(app, "V1", "team_web.1", "S1", "h1", RES, (31000,))
    assert info["name"] == "web.team" and info["task_id"] == {"value": "team_web.1"}
    assert info["command"]["value"] == "serve --port $PORT0" and info["command"]["shell"] is True
    assert info["command"]["user"] == "nobody" and "container" not in info
    assert info["command"]["uris"] == [{"value": "http://x/a.tgz", "extract": True, "executable": False,
                                        "cache": True, "output_file": "b.tgz"}]
    assert info["kill_policy"] == {"grace_period": {"nanoseconds": 7_500_000_000}}
    labels = {lab["key"]: lab["value"] for lab in info["labels"]["labels"]}
    assert labels == {"tier": "front", "HALYARD_APP_ID": "/team/web", "HALYARD_APP_VERSION": "V1"}
    env = env_of(info)
    assert env["MARATHON_APP_LABEL_TIER"] == "front" and env["MARATHON_APP_ID"] == "/team/web"


def test_docker_host_app_with_args_parameters_and_volumes():
    app = parse_app({"id": "/db", "args": ["--flag", "x"], "container": {
        "type": "DOCKER", "volumes": [{"containerPath": "/data", "hostPath": "/srv/db", "mode": "RW"}],
        "docker": {"image": "postgres:16", "privileged": True, "forcePullImage": True,
                   "parameters": [{"key": "ulimit", "value": "nofile=1024"}]}}})
    info = task_info(app, "V1", "db.1", "S1", "h1", RES, (31000,))
    assert info["command"] == {"environment": info["command"]["environment"], "shell": False,
                               "arguments": ["--flag", "x"]}
    docker = info["container"]["docker"]
    assert docker == {"image": "postgres:16", "network": "HOST", "privileged": True, "force_pull_image": True,
                      "parameters": [{"key": "ulimit", "value": "nofile=1024"}]}
    assert info["container"]["volumes"] == [{"container_path": "/data", "host_path": "/srv/db", "mode": "RW"}]


def test_docker_bridge_port_mappings_use_the_offered_host_ports():
    app = parse_app({"id": "/web", "container": {"type": "DOCKER", "docker": {"image": "nginx", "network": "BRIDGE"},
                                                 "portMappings": [{"containerPort": 80, "name": "http"},
                                                                  {"containerPort": 53, "hostPort": 0,
                                                                   "protocol": "udp,tcp"}]}})
    info = task_info(app, "V1", "web.1", "S1", "h1", RES, (31005, 31006))
    assert info["container"]["docker"]["port_mappings"] == [
        {"host_port": 31005, "container_port": 80, "protocol": "tcp"},
        {"host_port": 31006, "container_port": 53, "protocol": "udp"},
        {"host_port": 31006, "container_port": 53, "protocol": "tcp"}]
    env = env_of(info)
    assert env["PORT0"] == "31005" and env["PORT_HTTP"] == "31005" and env["PORTS"] == "31005,31006"


def test_env_and_ids():
    app = parse_app({"id": "/a/b", "cmd": "x", "env": {"PORT0": "overridden?"},
                     "portDefinitions": [{"port": 0, "name": "admin-ui"}]})
    env = task_env(app, "V", "a_b.1", "h", (40000,))
    assert env["PORT0"] == "40000" and env["PORT_ADMIN_UI"] == "40000" and env["HOST"] == "h"
    assert task_id_for("/a/b", "u1") == "a_b.u1"


def test_health_checks_become_mesos_native_checks():
    app = parse_app({"id": "/web", "cmd": "serve", "portDefinitions": [{"port": 0}, {"port": 0}],
                     "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 1,
                                       "gracePeriodSeconds": 30, "intervalSeconds": 5, "maxConsecutiveFailures": 2}]})
    check = task_info(app, "V", "web.1", "S1", "h", RES, (31000, 31001))["health_check"]
    assert check == {"type": "HTTP", "http": {"port": 31001, "path": "/health", "scheme": "http"},
                     "delay_seconds": 15, "interval_seconds": 5, "timeout_seconds": 20, "consecutive_failures": 2,
                     "grace_period_seconds": 30}
    tcp = parse_app({"id": "/db", "cmd": "x", "healthChecks": [{"protocol": "MESOS_TCP", "port": 5432}]})
    assert task_info(tcp, "V", "db.1", "S1", "h", RES, (31000,))["health_check"]["tcp"] == {"port": 5432}
    cmd = parse_app({"id": "/c", "cmd": "x", "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}}]})
    assert task_info(cmd, "V", "c.1", "S1", "h", RES, (31000,))["health_check"]["command"] == {"value": "true",
                                                                                              "shell": True}


def test_resource_limits_become_the_task_infos_limits_infinite_as_mesos_reads_it():
    app = parse_app({"id": "/web", "cmd": "serve", "cpus": 0.5, "mem": 64,
                     "resourceLimits": {"cpus": "unlimited", "mem": 256}})
    info = task_info(app, "V1", "web.1", "S1", "h1", RES, (31000,))
    assert info["limits"] == {"cpus": {"value": "Infinity"}, "mem": {"value": 256.0}}
    assert "limits" not in task_info(parse_app({"id": "/web", "cmd": "serve"}), "V1", "web.1", "S1", "h1", RES, ())
    only_mem = parse_app({"id": "/web", "cmd": "serve", "mem": 64, "resourceLimits": {"mem": "unlimited"}})
    assert task_info(only_mem, "V1", "web.1", "S1", "h1", RES, ())["limits"] == {"mem": {"value": "Infinity"}}


def test_ignore_http1xx_reaches_the_executor_as_a_task_label():
    def labels(check):
        app = parse_app({"id": "/web", "cmd": "serve", "healthChecks": [check]})
        info = task_info(app, "V1", "web.1", "S1", "h1", RES, (31000,))
        return {lab["key"]: lab["value"] for lab in info["labels"]["labels"]}

    assert labels({"protocol": "HTTP", "ignoreHttp1xx": True})["HALYARD_HEALTH_IGNORE_HTTP1XX"] == "true"
    assert "HALYARD_HEALTH_IGNORE_HTTP1XX" not in labels({"protocol": "HTTP"})
    assert "HALYARD_HEALTH_IGNORE_HTTP1XX" not in labels({"protocol": "TCP", "ignoreHttp1xx": True})

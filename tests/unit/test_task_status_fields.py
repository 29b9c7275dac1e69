"""What a status update says beyond the state: the Mesos check's result (``check_status``) and the
task's IP addresses (``container_status.network_infos[].ip_addresses``), decoded by the codec,
kept on the task record, and shown as Marathon shows them (``checkResult``, ``ipAddresses``)."""
from __future__ import annotations

import pytest

from halyard.api.event_json import marathon_events
from halyard.api.tasks import check_json, ip_addresses_json, task_json
from halyard.cluster.mesos_types import CheckResult, IpAddress
from halyard.engine.app_records import TaskRecord
from halyard.engine.domain_events import TaskChanged
from halyard.engine.messages import Persist, Publish, StatusUpdate
from halyard.mesos.codec import decode_check_status, decode_ip_addresses

from .test_engine import running_engine, status

CHECK_UPDATED = "REASON_TASK_CHECK_STATUS_UPDATED"
CONTAINER = {"network_infos": [{"ip_addresses": [{"ip_address": "172.17.0.5"},
                                                 {"protocol": "IPv6", "ip_address": "fd00::5"}]},
                               {"ip_addresses": [{"protocol": "IPv4"}]}]}   # no address: skipped


@pytest.mark.parametrize("raw, decoded, shown", [
    ({"type": "COMMAND", "command": {"exit_code": 3}}, CheckResult("COMMAND", exit_code=3), {"command": {"exitCode": 3}}),
    ({"type": "COMMAND", "command": {}}, CheckResult("COMMAND"), None),   # timed out / not run yet
    ({"type": "HTTP", "http": {"status_code": 503}}, CheckResult("HTTP", status_code=503),
     {"http": {"statusCode": 503}}),
    ({"type": "TCP", "tcp": {"succeeded": False}}, CheckResult("TCP", succeeded=False), {"tcp": {"succeeded": False}}),
    ({"tcp": {"succeeded": True}}, CheckResult("TCP", succeeded=True), {"tcp": {"succeeded": True}}),  # no type
    (None, None, None),
])
def test_check_statuses_decode_and_render_as_marathons_check_result(raw, decoded, shown):
    assert decode_check_status(raw) == decoded
    assert check_json(decoded) == shown


def test_ip_addresses_decode_in_order_and_fall_back_to_the_host():
    ips = decode_ip_addresses(CONTAINER)
    assert ips == (IpAddress("172.17.0.5", "IPv4"), IpAddress("fd00::5", "IPv6"))
    assert decode_ip_addresses(None) == () and decode_ip_addresses({}) == ()
    assert ip_addresses_json(ips, "10.0.0.1") == [{"ipAddress": "172.17.0.5", "protocol": "IPv4"},
                                                   {"ipAddress": "fd00::5", "protocol": "IPv6"}]
    assert ip_addresses_json((), "10.0.0.1") == [{"ipAddress": "10.0.0.1", "protocol": "IPv4"}]


def test_the_task_record_keeps_the_last_check_result_and_the_addresses():
    engine, clock, launched = running_engine(1)
    task_id = launched[0]
    agent = engine.tasks[task_id].agent_id
    host = engine.tasks[task_id].hostname
    # The first TASK_RUNNING of a checked task: an empty check status, the container's address.
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="r1", container_status=CONTAINER,
                                      check_status={"type": "HTTP", "http": {}})))
    task = engine.tasks[task_id]
    assert task.check == CheckResult("HTTP") and task.ip_addresses[0] == IpAddress("172.17.0.5")
    assert "checkResult" not in task_json(task, None)   # no result yet: Marathon leaves it out
    out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="r2", reason=CHECK_UPDATED,
                                            check_status={"type": "HTTP", "http": {"status_code": 200}})))
    persisted = [t for ins in out if isinstance(ins, Persist) for t in ins.tasks]
    assert persisted and persisted[0].check == CheckResult("HTTP", status_code=200)
    task = engine.tasks[task_id]
    assert task.ip_addresses == decode_ip_addresses(CONTAINER)   # an update without addresses keeps them
    shown = task_json(task, None)
    assert shown["checkResult"] == {"http": {"statusCode": 200}}
    assert shown["ipAddresses"][0] == {"ipAddress": "172.17.0.5", "protocol": "IPv4"} and host != "172.17.0.5"
    # The status update event names the addresses Mesos reported, even when this update has none.
    changed = [ins.event for ins in out if isinstance(ins, Publish) and isinstance(ins.event, TaskChanged)]
    assert changed and marathon_events(changed[0])[0]["ipAddresses"][0]["ipAddress"] == "172.17.0.5"
    # A health update without a check status keeps the last result.
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=agent, uuid="r3", healthy=True)))
    assert engine.tasks[task_id].check == CheckResult("HTTP", status_code=200)
    assert TaskRecord.from_json(engine.tasks[task_id].to_json()) == engine.tasks[task_id]
    old = engine.tasks[task_id].to_json()
    del old["check"], old["ip_addresses"]   # a record written before they were kept
    assert TaskRecord.from_json(old).check is None and TaskRecord.from_json(old).ip_addresses == ()


def test_without_addresses_from_mesos_the_task_shows_its_host():
    engine, clock, launched = running_engine(1)
    task_id = launched[0]
    task = engine.tasks[task_id]
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent=task.agent_id, uuid="r1")))
    assert task_json(engine.tasks[task_id], None)["ipAddresses"] == [{"ipAddress": task.hostname, "protocol": "IPv4"}]

"""Acknowledgements and kills leave the leader loop (issue 25): sent by one thread, in order."""
from __future__ import annotations

import threading
import time

from halyard.engine.messages import Acknowledge, Kill, Revive
from halyard.mesos.driver import MesosDriver


def test_acknowledgements_and_kills_do_not_wait_for_the_master_and_keep_their_order():
    driver = MesosDriver("http://127.0.0.1:1", {"name": "t", "user": "u"}, lambda e: None)
    gate, sent = threading.Event(), []

    def slow(what):
        def call(*args, **kwargs):
            gate.wait(5)  # a master that answers slowly
            sent.append((what, args))
        return call

    pymesos = driver._driver
    pymesos.acknowledgeStatusUpdate, pymesos.killTask = slow("ack"), slow("kill")
    pymesos.reviveOffers = lambda: sent.append(("revive", ()))
    pymesos.start = pymesos.stop = lambda *args, **kwargs: None  # no master here
    driver.start()
    started = time.monotonic()
    for i in range(50):
        driver.execute(Acknowledge(f"t{i}", "S1", "dXVpZA=="))
        driver.execute(Kill(f"t{i}", "S1"))
    assert time.monotonic() - started < 1.0 and sent == []  # the loop went on; nothing sent yet
    driver.execute(Revive())  # the others are still sent by the loop itself
    assert sent == [("revive", ())]
    gate.set()
    driver.stop()
    calls = [(what, args[0]) for what, args in sent[1:]]
    assert [what for what, _ in calls] == ["ack", "kill"] * 50
    assert [c["task_id"]["value"] for what, c in calls if what == "ack"] == [f"t{i}" for i in range(50)]
    assert [c["value"] for what, c in calls if what == "kill"] == [f"t{i}" for i in range(50)]

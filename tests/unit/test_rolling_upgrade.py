"""Rolling upgrades gated by health, and when a new task counts (engine/readiness.py, converge.py):
events in, instructions out."""
from __future__ import annotations

import itertools

import pytest

from halyard.engine.app_records import AppRecord, TaskRecord
from halyard.engine.converge import capacity_bounds, converge
from halyard.engine.messages import Kill, PutApp, StatusUpdate, Subscribed, Tick
from halyard.engine.readiness import Readiness

from .test_engine import app, launch_all, make_engine, status

CHECK = {"protocol": "HTTP", "path": "/", "portIndex": 0}
_uuids = (f"u{i}" for i in itertools.count())


def checked_app(instances=3, mhc=1.0, moc=0.34, **extra):
    """``/web`` with an HTTP health check and the given upgrade strategy."""
    return app(instances, healthChecks=[CHECK],
               upgradeStrategy={"minimumHealthCapacity": mhc, "maximumOverCapacity": moc}, **extra)


def update(engine, task_id, state, healthy=None):
    """Mesos reports ``state`` (and a health result) for ``task_id``; the tasks killed in answer."""
    extra = {} if healthy is None else {"healthy": healthy}
    out = engine.handle(StatusUpdate(status(task_id, state, agent=engine.tasks[task_id].agent_id,
                                            uuid=next(_uuids), **extra)))
    return [i.task_id for i in out if isinstance(i, Kill)]


def healthy_app(spec):
    """An engine where ``spec`` runs, every instance healthy, its start deployment done."""
    engine, clock = make_engine()
    engine.handle(PutApp(spec))
    engine.handle(Subscribed("F1"))
    for task_id in launch_all(engine):
        update(engine, task_id, "TASK_RUNNING")
        update(engine, task_id, "TASK_RUNNING", healthy=True)
    assert engine.deployment_of("/web") is None
    return engine, clock, set(engine.tasks)


def serving(engine):
    """Tasks that serve: running, healthy, not asked to stop."""
    return sum(1 for t in engine.tasks.values() if t.running and t.healthy is True)


def test_no_old_task_is_killed_while_new_ones_run_but_are_not_healthy():
    engine, clock, old = healthy_app(checked_app())
    engine.handle(PutApp(checked_app(cpus=0.25)))
    fresh = launch_all(engine)
    assert len(fresh) == 1  # 3 old + 1 new = instances * (1 + maximumOverCapacity), rounded down
    assert update(engine, fresh[0], "TASK_RUNNING") == []  # running, no health result yet
    for _ in range(30):
        clock.now += 10
        assert not [i for i in engine.handle(Tick()) if isinstance(i, Kill)]
    assert update(engine, fresh[0], "TASK_RUNNING", healthy=False) == []  # failing its check
    assert launch_all(engine) == [] and serving(engine) == 3
    killed = update(engine, fresh[0], "TASK_RUNNING", healthy=True)  # now it serves: one old may go
    assert len(killed) == 1 and set(killed) <= old and serving(engine) == 3


@pytest.mark.parametrize("mhc, floor", [(1.0, 3), (0.5, 2)])
def test_kills_proceed_as_new_tasks_become_healthy_within_both_bounds(mhc, floor):
    """Play Mesos until the deployment ends, one event at a time: launched tasks run, a running
    task passes its check a step later, a killed task ends a step later. After every event at
    least ``ceil(3 * minimumHealthCapacity)`` tasks serve and at most 4 exist."""
    engine, clock, old = healthy_app(checked_app(mhc=mhc))
    engine.handle(PutApp(checked_app(mhc=mhc, cpus=0.25)))
    lowest, most, steps = 3, 0, 0

    def check():
        nonlocal lowest, most
        lowest, most = min(lowest, serving(engine)), max(most, len(engine.tasks))

    while engine.deployment_of("/web") is not None:
        steps += 1
        assert steps < 50, "the upgrade does not progress"
        clock.now += 1
        for task_id in launch_all(engine):
            check()
            update(engine, task_id, "TASK_RUNNING")
            check()
        for task in list(engine.tasks.values()):
            if task.killing:
                update(engine, task.task_id, "TASK_KILLED")
            elif task.running and task.healthy is None:
                update(engine, task.task_id, "TASK_RUNNING", healthy=True)
            check()
    assert (lowest, most) == (floor, 4)
    assert len(engine.tasks) == 3 and not old & set(engine.tasks) and serving(engine) == 3


@pytest.mark.parametrize("mhc, moc, killed_first, launched_first", [
    (1.0, 0.34, 0, 1),  # keep 3, total 4
    (0.5, 0.34, 1, 1),  # keep 2, total 4 (the dying one still counts)
    (1.0, 1.0, 0, 3),   # keep 3, total 6
    (1.0, 0.0, 0, 1),   # keep 3, total 3: Marathon allows one more, or nothing could move
    (0.0, 0.0, 3, 0),   # keep none, total 3: the new ones start once the old ones are gone
    (0.0, 1.0, 3, 3),
])
def test_old_tasks_killed_and_new_ones_launched_at_once(mhc, moc, killed_first, launched_first):
    engine, clock, old = healthy_app(checked_app(mhc=mhc, moc=moc))
    out = engine.handle(PutApp(checked_app(mhc=mhc, moc=moc, cpus=0.25)))
    assert len([i for i in out if isinstance(i, Kill)]) == killed_first
    assert len(launch_all(engine)) == launched_first


def test_unhealthy_old_tasks_go_first_and_count_for_nothing():
    engine, clock, old = healthy_app(checked_app())
    sick = sorted(old)[1]
    update(engine, sick, "TASK_RUNNING", healthy=False)
    out = engine.handle(PutApp(checked_app(cpus=0.25)))
    assert [i.task_id for i in out if isinstance(i, Kill)] == [sick]  # two serve: they stay
    assert len(launch_all(engine)) == 1  # 2 old + the sick one dying + 1 new: 4...
    update(engine, sick, "TASK_KILLED")
    assert len(launch_all(engine)) == 1  # ...and once it is gone, 2 old + 2 new


def test_a_new_task_counts_only_after_min_ready_seconds():
    engine, clock = make_engine()
    spec = app(2, minReadySeconds=5, upgradeStrategy={"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5})
    engine.handle(PutApp(spec))
    engine.handle(Subscribed("F1"))
    for task_id in launch_all(engine):
        update(engine, task_id, "TASK_RUNNING")
    clock.now += 5
    engine.handle(Tick())
    assert engine.deployment_of("/web") is None
    engine.handle(PutApp(spec.model_copy(update={"cpus": 0.25})))
    [fresh] = launch_all(engine)
    update(engine, fresh, "TASK_RUNNING")
    clock.now += 4.5
    assert not [i for i in engine.handle(Tick()) if isinstance(i, Kill)]
    clock.now += 0.5
    assert len([i for i in engine.handle(Tick()) if isinstance(i, Kill)]) == 1


def test_the_scheduler_default_applies_to_apps_that_set_no_min_ready_seconds():
    engine, clock = make_engine(min_healthy=3.0)
    engine.handle(PutApp(app(1)))
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine)
    update(engine, task_id, "TASK_RUNNING")
    assert engine.deployment_of("/web") is not None
    clock.now += 3
    engine.handle(Tick())
    assert engine.deployment_of("/web") is None
    engine, clock = make_engine(min_healthy=3.0)
    engine.handle(PutApp(app(1, minReadySeconds=0)))  # the app's own 0 wins over the default
    engine.handle(Subscribed("F1"))
    [task_id] = launch_all(engine)
    update(engine, task_id, "TASK_RUNNING")
    assert engine.deployment_of("/web") is None


# --- the rule itself, as a table ------------------------------------------------------------

def record(version, state="TASK_RUNNING", healthy=None, started_at=0.0, killing=False, n=[0]):
    n[0] += 1
    return TaskRecord(task_id=f"t{n[0]}", app_id="/web", config_version=version, agent_id="S1", hostname="h",
                      ports=(31000,), state=state, started_at=started_at if state == "TASK_RUNNING" else None,
                      healthy=healthy, killing=killing)


@pytest.mark.parametrize("spec, task, now, counts", [
    (app(1), record(2.0), 0.0, True),                                   # no checks: running is enough
    (app(1), record(2.0, state="TASK_STARTING"), 0.0, False),
    (app(1), record(2.0, killing=True), 0.0, False),
    (app(1), record(1.0), 0.0, False),                                  # an older config never counts
    (checked_app(1), record(2.0), 0.0, False),                          # checked, no result yet
    (checked_app(1), record(2.0, healthy=False), 0.0, False),
    (checked_app(1), record(2.0, healthy=True), 0.0, True),
    (app(1, minReadySeconds=3), record(2.0, started_at=10.0), 12.9, False),
    (app(1, minReadySeconds=3), record(2.0, started_at=10.0), 13.0, True),
    (checked_app(1, minReadySeconds=3), record(2.0, healthy=True, started_at=10.0), 12.0, False),
])
def test_when_a_task_of_the_current_config_counts(spec, task, now, counts):
    assert Readiness(now).counts(AppRecord(spec, 2.0, 2.0), task) is counts


@pytest.mark.parametrize("instances, mhc, moc, bounds", [
    (3, 1.0, 0.34, (3, 4)), (3, 0.5, 0.34, (2, 4)), (3, 1.0, 1.0, (3, 6)), (3, 1.0, 0.0, (3, 4)),
    (3, 0.0, 0.0, (0, 3)), (0, 1.0, 1.0, (0, 1)), (10, 0.85, 0.15, (9, 11)),
])
def test_capacity_bounds(instances, mhc, moc, bounds):
    spec = app(instances, upgradeStrategy={"minimumHealthCapacity": mhc, "maximumOverCapacity": moc})
    assert capacity_bounds(AppRecord(spec, 1.0, 1.0)) == bounds


def test_converge_keeps_old_tasks_that_serve_while_new_ones_do_not_count():
    spec = checked_app(3)
    current = AppRecord(spec, 2.0, 2.0)
    old = [record(1.0, healthy=True) for _ in range(3)]
    new = [record(2.0)]  # running, no health result
    decision = converge(current, old + new, Readiness(100.0))
    assert (decision.kill, decision.launch) == ([], 0)
    new = [record(2.0, healthy=True)]
    decision = converge(current, old + new, Readiness(100.0))
    assert len(decision.kill) == 1 and decision.kill[0] in old and decision.launch == 0  # the dying one holds its place

"""Marathon's unreachableStrategy per app: an unreachable task is replaced after the app's
inactiveAfterSeconds and forgotten after its expungeAfterSeconds; "disabled": never; apps without
one keep the scheduler's --unreachable-grace."""
from __future__ import annotations

from halyard.engine.messages import Kill, Launch, Offers, Persist, PutApp, StatusUpdate, Subscribed, Tick
from halyard.spec.validation import parse_app

from .test_engine import make_engine, offer, status


def unreachable_app(strategy=None, grace=300):
    """One running task of /web (with ``strategy``), then its agent becomes unreachable."""
    engine, clock = make_engine(unreachable_grace=grace)
    extra = {"unreachableStrategy": strategy} if strategy is not None else {}
    engine.handle(PutApp(parse_app({"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 1, **extra})))
    engine.handle(Subscribed("F1"))
    [task] = [t for i in engine.handle(Offers((offer(1),))) if isinstance(i, Launch) for t in i.tasks]
    engine.handle(StatusUpdate(status(task.task_id, "TASK_RUNNING", agent="S1", uuid="r")))
    engine.handle(StatusUpdate(status(task.task_id, "TASK_UNREACHABLE", agent="S1", uuid="u")))
    return engine, clock, task.task_id


def after(engine, clock, seconds):
    clock.now += seconds
    return engine.handle(Tick())


def test_a_task_is_replaced_after_the_apps_inactive_after_seconds_not_the_flag():
    engine, clock, task_id = unreachable_app({"inactiveAfterSeconds": 10, "expungeAfterSeconds": 100}, grace=300)
    after(engine, clock, 9)
    assert not engine.tasks[task_id].expired and engine.pending(engine.apps["/web"]) == 0
    after(engine, clock, 1)
    assert engine.tasks[task_id].expired and engine.pending(engine.apps["/web"]) == 1
    # Still known until expunged: should it come back now, it is killed (its replacement stays).
    assert task_id in engine.tasks


def test_a_task_is_forgotten_after_expunge_after_seconds_and_killed_if_it_comes_back():
    engine, clock, task_id = unreachable_app({"inactiveAfterSeconds": 10, "expungeAfterSeconds": 60})
    after(engine, clock, 10)
    out = after(engine, clock, 50)
    assert task_id not in engine.tasks
    assert [t for i in out if isinstance(i, Persist) for t in i.delete_tasks] == [task_id]
    out = engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent="S1", uuid="back")))
    assert Kill(task_id, "S1") in out


def test_marathons_default_zero_replaces_and_forgets_at_once():
    engine, clock, task_id = unreachable_app({})
    after(engine, clock, 0.1)
    assert task_id not in engine.tasks and engine.pending(engine.apps["/web"]) == 1


def test_disabled_never_replaces_nor_forgets():
    engine, clock, task_id = unreachable_app("disabled", grace=5)
    after(engine, clock, 86400)
    assert not engine.tasks[task_id].expired and engine.pending(engine.apps["/web"]) == 0


def test_an_app_without_a_strategy_keeps_the_schedulers_grace_and_is_never_forgotten():
    engine, clock, task_id = unreachable_app(None, grace=30)
    after(engine, clock, 29)
    assert not engine.tasks[task_id].expired
    after(engine, clock, 1)
    assert engine.tasks[task_id].expired
    after(engine, clock, 86400)
    assert task_id in engine.tasks


def test_a_task_that_is_reachable_again_in_time_stays():
    engine, clock, task_id = unreachable_app({"inactiveAfterSeconds": 10, "expungeAfterSeconds": 20})
    after(engine, clock, 5)
    engine.handle(StatusUpdate(status(task_id, "TASK_RUNNING", agent="S1", uuid="back")))
    after(engine, clock, 30)
    assert engine.tasks[task_id].live and engine.pending(engine.apps["/web"]) == 0


def launched_once(engine, clock):
    engine.handle(PutApp(parse_app({"id": "/web", "cmd": "serve", "cpus": 0.1, "mem": 32, "instances": 1,
                                    "resourceLimits": {"cpus": 1}})))
    engine.handle(Subscribed("F1"))
    [task] = [t for i in engine.handle(Offers((offer(1),))) if isinstance(i, Launch) for t in i.tasks]
    return task


def test_a_launch_the_agent_refuses_backs_off_and_fails_the_deployment():
    """resourceLimits on an agent without the cgroups isolators: Mesos drops every launch."""
    engine, clock = make_engine()
    refused = "CPU limits can only be set on tasks launched in Mesos containers when the agent has loaded the 'cgroups/cpu' isolator"
    for attempt in range(3):
        task = launched_once(engine, clock) if attempt == 0 else \
            [t for i in engine.handle(Offers((offer(1),))) if isinstance(i, Launch) for t in i.tasks][0]
        engine.handle(StatusUpdate(status(task.task_id, "TASK_DROPPED", agent="S1", uuid=f"d{attempt}",
                                          reason="REASON_GC_ERROR", message=refused)))
        if attempt < 2:
            assert engine.apps["/web"].launch_after > clock.now  # backs off
            clock.now = engine.apps["/web"].launch_after + 0.01
    assert "/web" not in engine.apps  # three refusals failed the start deployment: the new app is removed
    [failed] = [d for d in engine.finished if d.status == "failed"]
    assert failed.kind == "start" and refused in failed.failures[-1]


def test_a_launch_the_master_drops_for_stale_offers_is_replaced_at_once():
    engine, clock = make_engine()
    task = launched_once(engine, clock)
    engine.handle(StatusUpdate(status(task.task_id, "TASK_DROPPED", agent="S1", uuid="d",
                                      reason="REASON_INVALID_OFFERS")))
    assert engine.apps["/web"].launch_after == 0.0 and engine.pending(engine.apps["/web"]) == 1

"""The chaos soak's pure checks (bench/soaklib/invariants.py, report.py) on recorded snapshots."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from soaklib.invariants import (  # noqa: E402
    AppState,
    CapacityWatch,
    LeaderWatch,
    Sample,
    TaskState,
    cron_problems,
    leaderless_intervals,
    lost_objects,
    missed_events,
    restarted_by_failover,
    server_errors,
    stuck_deployments,
    unsettled,
)
from soaklib.report import FaultRecord, percentile, summary, table  # noqa: E402

WEB = "/shop/web"


def running(*ids: str) -> dict[str, str]:
    return {i: "TASK_RUNNING" for i in ids}


def live(*ids: str, app: str = WEB) -> dict[str, TaskState]:
    return {i: TaskState(app, "TASK_RUNNING", True) for i in ids}


def sample(t: float, master: dict, instances: int = 2, tasks: dict | None = None, max_over: float = 0.0,
           leaders: dict | None = None, deploying: bool = False, min_health: float = 0.5) -> Sample:
    return Sample(t, master, {0: 1} if leaders is None else leaders, 1,
                  {WEB: AppState(instances, max_over, deploying, min_health=min_health)},
                  tasks if tasks is not None else {})


# --- over-capacity ----------------------------------------------------------------------------

def test_over_capacity_is_reported_once_it_lasts_past_the_tolerance():
    watch = CapacityWatch(tolerance=5, window=3)
    three = running("shop_web.a", "shop_web.b", "shop_web.c")
    problems = []
    for t in range(0, 12):
        problems += watch.feed(sample(float(t), three, instances=2, max_over=0.0))
    assert len(problems) == 1 and "over capacity: /shop/web has 3 running tasks in Mesos, bound 2" in problems[0]


def test_over_capacity_allows_marathons_one_extra_task_when_no_old_one_may_go_first():
    """instances 1, minimumHealthCapacity 1, maximumOverCapacity 0: a replacement starts the new
    task before the old one goes (Marathon's TaskReplaceActor does the same): 2 is within bounds,
    3 is not."""
    watch = CapacityWatch(tolerance=2, window=3)
    two = running("shop_web.a", "shop_web.b")
    assert [p for t in range(8) for p in watch.feed(sample(float(t), two, instances=1, min_health=1.0))] == []
    watch = CapacityWatch(tolerance=2, window=3)
    three = running("shop_web.a", "shop_web.b", "shop_web.c")
    problems = [p for t in range(8) for p in watch.feed(sample(float(t), three, instances=1, min_health=1.0))]
    assert len(problems) == 1 and "bound 2" in problems[0]
    watch = CapacityWatch(tolerance=2, window=3)   # minimumHealthCapacity 0: the old one may go first
    assert len([p for t in range(8) for p in watch.feed(sample(float(t), two, instances=1, min_health=0.0))]) == 1


def test_over_capacity_allows_max_over_and_a_scale_down_within_its_window():
    watch = CapacityWatch(tolerance=2, window=10)
    three = running("shop_web.a", "shop_web.b", "shop_web.c")
    assert [p for t in range(5) for p in watch.feed(sample(float(t), three, instances=2, max_over=0.5))] == []
    watch = CapacityWatch(tolerance=2, window=10)
    watch.feed(sample(0.0, three, instances=3))
    assert [p for t in range(1, 8) for p in watch.feed(sample(float(t), three, instances=1))] == []  # killing


def test_over_capacity_counts_only_running_tasks_of_that_app():
    watch = CapacityWatch(tolerance=0, window=0)
    master = {"shop_web.a": "TASK_RUNNING", "shop_web.b": "TASK_KILLING", "shop_webx.c": "TASK_RUNNING"}
    assert watch.feed(sample(0.0, master, instances=1)) == []
    assert watch.feed(sample(1.0, master, instances=1)) == []


# --- settled: exact instances, orphans ------------------------------------------------------------

def test_settled_when_mesos_and_halyard_agree_on_exactly_the_instances():
    assert unsettled(sample(0, running("shop_web.a", "shop_web.b"), tasks=live("shop_web.a", "shop_web.b"))) == []


def test_an_orphan_in_mesos_is_detected():
    problems = unsettled(sample(0, running("shop_web.a", "shop_web.b", "shop_web.z"),
                                tasks=live("shop_web.a", "shop_web.b")))
    assert any("orphan in Mesos: shop_web.z" in p for p in problems)
    assert any("3 running in Mesos" in p for p in problems)


def test_a_task_halyard_counts_that_mesos_does_not_know_is_detected():
    problems = unsettled(sample(0, running("shop_web.a"), tasks=live("shop_web.a", "shop_web.b")))
    assert any("unknown to Mesos: shop_web.b" in p for p in problems)


def test_a_deploying_app_is_not_held_to_its_count_but_orphans_still_count():
    s = sample(0, running("shop_web.a", "shop_web.b", "shop_web.c"), instances=1, deploying=True,
               tasks=live("shop_web.a", "shop_web.b"))
    assert unsettled(s) == ["orphan in Mesos: shop_web.c (TASK_RUNNING, /shop/web) unknown to Halyard"]


def test_job_tasks_are_not_orphans_and_nothing_is_settled_without_a_leader_or_a_reading():
    s = sample(0, {**running("shop_web.a", "shop_web.b"), "job.x.1.1": "TASK_RUNNING"},
               tasks=live("shop_web.a", "shop_web.b"))
    assert unsettled(s) == []
    assert unsettled(sample(0, {}, leaders={})) == ["no leader"]
    assert unsettled(Sample(0, None)) == ["the master's state cannot be read"]
    assert unsettled(Sample(0, {}, {0: 1})) == ["ZooKeeper cannot be read"]


# --- leadership -------------------------------------------------------------------------------

def test_epochs_grow_and_a_deposed_leader_is_stale_not_a_violation():
    watch = LeaderWatch()
    assert watch.feed(Sample(0, {}, {0: 1}, 1)) == []
    assert watch.feed(Sample(1, {}, {1: 2}, 2)) == []
    assert watch.feed(Sample(2, {}, {0: 1, 1: 2}, 2)) == []       # scheduler 0 wakes up, still thinks it leads
    assert watch.stale(Sample(2, {}, {0: 1, 1: 2}, 2)) == [0]


def test_two_leaders_with_one_epoch_an_epoch_going_back_and_a_new_leader_with_an_old_epoch_are_violations():
    watch = LeaderWatch()
    watch.feed(Sample(0, {}, {0: 3}, 3))
    assert any("same epoch 3" in p for p in watch.feed(Sample(1, {}, {0: 3, 1: 3}, 3)))
    assert any("epoch went back" in p for p in watch.feed(Sample(2, {}, {0: 3}, 2)))
    assert any("starts leading with epoch 2 < 3" in p for p in watch.feed(Sample(3, {}, {2: 2}, 3)))


# --- cron, lost objects, deployments, 5xx, events --------------------------------------------------

def test_cron_double_firing_and_missed_firing_are_detected():
    runs = [{"id": "r1", "trigger": "schedule", "scheduledFor": 120.0},
            {"id": "r2", "trigger": "schedule", "scheduledFor": 180.0},
            {"id": "r3", "trigger": "schedule", "scheduledFor": 180.0},   # doubled across a failover
            {"id": "r4", "trigger": "api", "scheduledFor": None}]
    problems = cron_problems(runs, first_fire=61, last_fire=250)
    assert "cron firing at 180 ran 2 times: ['r2', 'r3']" in problems
    assert "cron firing at 240 never ran" in problems and len(problems) == 2
    assert cron_problems(runs[:2], first_fire=61, last_fire=200) == []


def test_lost_objects_and_stuck_deployments():
    assert lost_objects({"/a", "/b"}, ["/a", "/c"], "app") == ["app lost: /b"]
    assert stuck_deployments({"d1": 0.0, "d2": 90.0}, now=100.0, bound=60) == ["deployment d1 has run for 100s (> 60s)"]
    said: set[str] = set()
    assert len(stuck_deployments({"d1": 0.0}, now=100.0, bound=60, said=said)) == 1
    assert stuck_deployments({"d1": 0.0}, now=101.0, bound=60, said=said) == []  # said once, not every sample


def test_5xx_other_than_503_while_leaderless_are_violations():
    samples = [Sample(0, {}, {0: 1}, 1), Sample(10, {}, {}, 1), Sample(11, {}, {}, None), Sample(12, {}, {1: 2}, 2),
               Sample(30, {}, {1: 2}, 2)]
    leaderless = leaderless_intervals(samples)
    assert leaderless == [(10, 12)]
    answers = [(11.0, 503, "a"), (25.0, 503, "b"), (11.0, 500, "c"), (5.0, 200, "d")]
    assert server_errors(answers, leaderless) == ["503 from b at 25.0 while a leader existed", "500 from c at 11.0"]
    # sent while leaderless (it waited at a frozen leader), refused after a new leader came: allowed
    assert server_errors([(25.0, 503, "e", 11.0), (25.0, 503, "f", 24.0)], leaderless) == [
        "503 from f at 25.0 while a leader existed"]


def test_a_change_of_leader_between_two_readings_is_leaderless_in_between():
    samples = [Sample(0, {}, {0: 1}, 1), Sample(1, {}, {0: 1}, 1), Sample(2, {}, {1: 2}, 2), Sample(3, {}, {1: 2}, 2),
               Sample(40, {}, {1: 2}, 2)]
    leaderless = leaderless_intervals(samples)
    assert leaderless == [(1, 2)]
    assert server_errors([(1.5, 503, "a"), (39.0, 503, "b")], leaderless) == ["503 from b at 39.0 while a leader existed"]


def test_the_event_stream_must_show_every_running_task_while_connected():
    running_at = {"shop_web.a": 10.0, "shop_web.b": 50.0, "shop_web.c": 12.0, "job.x.1.1": 11.0}
    problems = missed_events(running_at, seen={"shop_web.a"}, connected=[(0.0, 40.0)])
    assert problems == ["event stream missed TASK_RUNNING of shop_web.c (at 12.0)"]   # b: not connected then


def test_a_task_the_master_listed_only_long_after_it_ran_is_not_checked_against_the_event_stream():
    running_at = {"shop_web.c": 12.0, "shop_web.d": 14.0}
    first_listed = {"shop_web.c": 13.0, "shop_web.d": 14.0 + 200}   # d: the master had lost track of it
    problems = missed_events(running_at, seen=set(), connected=[(0.0, 40.0)], first_listed=first_listed)
    assert problems == ["event stream missed TASK_RUNNING of shop_web.c (at 12.0)"]


# --- report ---------------------------------------------------------------------------------------

def test_the_table_ends_with_the_summary_line_and_counts_violations_per_kind():
    faults = [FaultRecord("zk-restart", 0, 1, "zk", recovered=5.0), FaultRecord("zk-restart", 20, 21, "zk", recovered=9.0),
              FaultRecord("agent-stop", 40, 50, "agent 2", recovered=None, violations=["not settled"])]
    data = summary(faults, ["epoch went back"], leaderless_seconds=3.25)
    assert data["kinds"]["zk-restart"] == {"count": 2, "recovery_p50": 5.0, "recovery_p99": 9.0, "violations": 0}
    assert data["kinds"]["agent-stop"]["violations"] == 1 and data["violations"] == 2
    text = table(data)
    assert text.splitlines()[-1] == "soak: 3 faults, 2 violations"
    assert "VIOLATION epoch went back" in text and "time without a leader: 3.2s" in text
    assert percentile([], 50) is None and percentile([1, 2, 3, 4], 50) == 2


def test_a_master_failover_that_kept_every_task_id_passes_and_one_that_replaced_a_task_is_named():
    assert restarted_by_failover({"s.a", "s.b"}, {"s.b", "s.a"}, "master kill -9") == []
    assert restarted_by_failover({"s.a", "s.b"}, {"s.a", "s.c"}, "master kill -9") == [
        "master kill -9 restarted tasks: 1 gone (s.b), 1 new (s.c)"]
    assert restarted_by_failover({"s.a"}, set(), "quorum loss") == ["quorum loss restarted tasks: 1 gone (s.a), 0 new ()"]


def test_the_table_shows_resubscription_times_for_master_failovers_only():
    faults = [FaultRecord("master-kill9", 0, 1, "m1", recovered=9.0, resubscribe=0.4),
              FaultRecord("master-kill9", 30, 31, "m2", recovered=12.0, resubscribe=8.8),
              FaultRecord("zk-leader-kill", 60, 61, "zk3", recovered=7.0)]
    data = summary(faults, [], leaderless_seconds=0)
    assert data["kinds"]["master-kill9"]["resubscribe_p50"] == 0.4
    assert data["kinds"]["master-kill9"]["resubscribe_p99"] == 8.8
    assert "resubscribe_p50" not in data["kinds"]["zk-leader-kill"]
    rows = {line.split()[0]: line.split() for line in table(data).splitlines()[1:3]}
    assert rows["master-kill9"][-2:] == ["0.4s", "8.8s"] and rows["zk-leader-kill"][-2:] == ["-", "-"]


def test_a_launching_task_mesos_never_got_is_unsettled_and_an_unreachable_one_is_no_orphan():
    tasks = {**live("shop_web.a"), "shop_web.b": TaskState(WEB, "TASK_LAUNCHING", True)}
    problems = unsettled(sample(0, running("shop_web.a"), instances=1, deploying=True, tasks=tasks))
    assert problems == ["unknown to Mesos: shop_web.b (/shop/web, TASK_LAUNCHING) live in Halyard"]
    master = {**running("shop_web.a"), "shop_web.old": "TASK_UNREACHABLE"}
    assert unsettled(sample(0, master, instances=1, tasks=live("shop_web.a"))) == []


def test_the_table_shows_what_the_partitions_measured_per_kind():
    faults = [FaultRecord("agent-cut", 0, 20, "agent1", recovered=25.0, figures={"unreachable": 6.6, "replaced": 12.8}),
              FaultRecord("agent-cut", 40, 45, "agent2 within", recovered=5.0),
              FaultRecord("agent-cut", 60, 80, "agent3", recovered=27.0, figures={"unreachable": 7.6, "replaced": 13.5}),
              FaultRecord("zk-restart", 90, 91, "zk", recovered=7.0)]
    data = summary(faults, [], leaderless_seconds=0)
    assert data["kinds"]["agent-cut"]["figures"] == {"replaced": {"count": 2, "p50": 12.8, "p99": 13.5},
                                                     "unreachable": {"count": 2, "p50": 6.6, "p99": 7.6}}
    assert "figures" not in data["kinds"]["zk-restart"]
    text = table(data)
    assert "  agent-cut: unreachable after the cut: n=2 p50 6.6s p99 7.6s" in text.splitlines()
    assert text.splitlines()[-1] == "soak: 4 faults, 0 violations"


def test_a_leader_whose_session_is_suspended_refuses_writes_by_design():
    """Its 503 says ZooKeeper is unreachable (LeaderSuspendedError's reason): not a violation,
    though the samples show a leader throughout."""
    samples = [Sample(0, {}, {0: 1}, 1), Sample(1, {}, {0: 1}, 1), Sample(2, {}, {0: 1}, 1), Sample(40, {}, {0: 1}, 1)]
    leaderless = leaderless_intervals(samples)
    suspended = ("PUT /v2/apps/x via scheduler 0: '{\"message\":\"Could not determine the current leader\","
                 "\"reason\":\"ZooKeeper unreachable for 0.4 s: no change is accepted ...'")
    assert server_errors([(2.0, 503, suspended), (30.0, 503, "b")], leaderless, slack=1.0) == [
        "503 from b at 30.0 while a leader existed"]


def test_a_503_from_a_scheduler_that_lost_zookeeper_is_by_design_whoever_else_leads():
    samples = [Sample(0, {}, {0: 1}, 1), Sample(40, {}, {0: 1}, 1)]
    leaderless = leaderless_intervals(samples)
    cut_off = ("PUT /v2/apps/x via scheduler 1: '{\"message\":\"Could not determine the current leader\","
               "\"leader\":null,\"reason\":\"ZooKeeper unreachable for 3.0 s: ...'")
    unknown = "PUT /v2/apps/x via scheduler 2: '{\"message\":\"Could not determine the current leader\",\"leader\":null}'"
    assert server_errors([(10.0, 503, cut_off), (11.0, 503, unknown)], leaderless) == [
        f"503 from {unknown} at 11.0 while a leader existed"]

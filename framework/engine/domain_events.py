"""Domain events: what happened, as typed values. The engine returns each as a ``Publish``
instruction; the API renders them (Marathon's event JSON lives in ``api/``, not here).

Every event carries ``at``, the engine's clock when it happened.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..cluster.mesos_types import IpAddress
from ..jobs.domain_events import JobDefined, JobDeleted, JobRunChanged, JobRunSkipped
from ..spec.app import AppSpec, WorkloadKind
from .app_records import DeploymentRecord, TaskRecord

__all__ = ["AppChanged", "AppTerminated", "DeploymentStarted", "DeploymentSucceeded", "DeploymentFailed",
           "MIGHT_COME_BACK", "TaskChanged", "HealthChanged", "UnhealthyTaskKilled", "PlacementFailed", "JobDefined", "JobDeleted",
           "JobRunChanged", "JobRunSkipped", "AgentJoined", "AgentLeft", "DomainEvent", "deployment_of"]


@dataclass(frozen=True)
class AppChanged:
    """An app was created or changed through a command (Marathon's ``api_post_event``), asked
    by ``client_ip`` at ``uri`` (None when not known)."""

    spec: AppSpec
    at: float
    client_ip: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class AppTerminated:
    """A deleted app's last task is gone: the app no longer exists."""

    app_id: str
    at: float


@dataclass(frozen=True)
class DeploymentStarted:
    """An app's deployment started (for an app of a deployment of several: its step came; the
    event stream shows such a deployment through :class:`PlanStepChanged` and :class:`PlanEnded`)."""

    deployment: DeploymentRecord
    at: float


@dataclass(frozen=True)
class DeploymentSucceeded:
    deployment: DeploymentRecord
    at: float


@dataclass(frozen=True)
class DeploymentFailed:
    """A deployment ended without succeeding; ``deployment.status`` says how (failed, cancelled)
    and ``deployment.failures`` why."""

    deployment: DeploymentRecord
    at: float


@dataclass(frozen=True)
class PlanStepChanged:
    """A step of a deployment of several apps (Marathon's DeploymentPlan) ``started``,
    ``succeeded`` or ``failed``. ``records`` are every app's record of the deployment, by step."""

    records: tuple[DeploymentRecord, ...]
    step: int
    outcome: str   # started | succeeded | failed
    at: float


@dataclass(frozen=True)
class PlanEnded:
    """A deployment of several apps ended, as a whole: ``status`` succeeded, failed or cancelled
    (the first of its apps' records that did not succeed says which)."""

    records: tuple[DeploymentRecord, ...]
    status: str
    at: float


@dataclass(frozen=True)
class GroupChanged:
    """A change of several apps (a group change, ``PUT /v2/apps`` with a list) was accepted as
    ``version`` (Marathon's ``group_change_success``) or, with ``reason``, refused
    (``group_change_failed``). ``group_id`` is the group Marathon names: the parent of the
    group changed (``/`` for the root and for app lists)."""

    group_id: str
    version: float
    at: float
    reason: str | None = None


#: A ``TaskChanged`` to TASK_LOST for one of these reasons is of a task that may come back (Marathon's
#: TaskConditionMapping: "Unreachable"): after a master failover the master can answer reconciliation
#: with TASK_LOST for a task whose agent has not re-registered with it yet (MESOS-6250), and a
#: disconnected or removed agent's tasks may still run. The engine handles such a task as
#: TASK_UNREACHABLE: replaced after the unreachable grace, and taken back (or killed, once given up
#: on) when it reports again; not replaced at once. The API shows it as Marathon's "Unreachable".
MIGHT_COME_BACK = frozenset({"REASON_RECONCILIATION", "REASON_AGENT_DISCONNECTED", "REASON_SLAVE_DISCONNECTED",
                             "REASON_AGENT_REMOVED", "REASON_SLAVE_REMOVED"})


@dataclass(frozen=True)
class TaskChanged:
    """Mesos reported a state for a task of an app (``task`` is the record before the change, so
    ``task.state != state`` says the state changed; ``reason`` is Mesos' reason, if any;
    ``ip_addresses`` the task's as Mesos reported them, this time or before: empty if never)."""

    task: TaskRecord
    state: str
    message: str
    agent_id: str
    at: float
    reason: str | None = None
    ip_addresses: tuple[IpAddress, ...] = ()


@dataclass(frozen=True)
class HealthChanged:
    """A task's health check result changed."""

    task: TaskRecord
    alive: bool
    at: float


@dataclass(frozen=True)
class UnhealthyTaskKilled:
    """The executor killed a task because its health check failed ``maxConsecutiveFailures`` times
    (Mesos' terminal update says ``healthy: false``); ``reason`` is the update's message."""

    task: TaskRecord
    reason: str
    agent_id: str
    at: float


@dataclass(frozen=True)
class PlacementFailed:
    """The placement strategy of an app (``kind="app"``, ``id`` its id) or of a job's run
    (``kind="job"``, ``id`` the job's id, ``run_id`` the run) failed: a plugin raised, scored
    outside 0..100, or could not be created. Its tasks wait with ``reason``
    (``strategy 'x' failed: <error>``). Emitted when the reason changes, not every offer cycle."""

    kind: WorkloadKind
    id: str
    reason: str
    at: float
    run_id: str | None = None


@dataclass(frozen=True)
class AgentJoined:
    """An agent joined the cluster (registered, or registered again after it was gone): the
    operator stream's AGENT_ADDED, or an agent new in its snapshot."""

    agent_id: str
    hostname: str
    at: float


@dataclass(frozen=True)
class AgentLeft:
    """An agent left the cluster: the master removed it (AGENT_REMOVED) or reports it lost."""

    agent_id: str
    hostname: str | None
    at: float


DomainEvent = (AppChanged | AppTerminated | DeploymentStarted | DeploymentSucceeded | DeploymentFailed | PlanStepChanged
               | PlanEnded | GroupChanged | TaskChanged | HealthChanged | UnhealthyTaskKilled | PlacementFailed | JobDefined
               | JobDeleted | JobRunChanged | JobRunSkipped | AgentJoined | AgentLeft)


def deployment_of(event: DomainEvent) -> DeploymentRecord | None:
    """The deployment a deployment event is about (None for other events)."""
    if isinstance(event, (DeploymentStarted, DeploymentSucceeded, DeploymentFailed)):
        return event.deployment
    return None

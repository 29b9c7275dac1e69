"""Events into the engine and instructions out of it."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..cluster.mesos_types import AgentSeen, Allocated, ClusterTask, InverseOffer, Offer, TaskStatus
from ..jobs.domain_events import CallbackNotice
from ..jobs.executor import ExecutorSettings
from ..jobs.records import JobRecord, RunRecord
from ..jobs.spec import JobSpec
from ..rebalance.planner import Move
from ..spec.app import AppSpec
from .app_records import AppRecord, AppVersion, DeploymentRecord, DrainRecord, TaskRecord
from .domain_events import DomainEvent
from .members import Announce, SyncMembers, Withdraw

# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribed:
    """The framework is (re)subscribed with Mesos under ``framework_id``, to the leading master at
    ``master`` (``host:port``; None when the adapter does not say)."""

    framework_id: str
    master: str | None = None


@dataclass(frozen=True)
class Disconnected:
    """The subscription to the master is gone (it may come back)."""


@dataclass(frozen=True)
class Offers:
    offers: tuple[Offer, ...]


@dataclass(frozen=True)
class AgentsListed:
    """The master's list of agents (asked for by :class:`ListAgents`): every agent registered, what
    it is and what it has free, so the constraints count tasks on agents that are not offered (a
    full agent never is) and a waiting app's reason names the agents that are full. The whole list:
    an agent not in it has left the cluster."""

    agents: tuple[AgentSeen, ...]


@dataclass(frozen=True)
class AgentLost:
    """Mesos says an agent is gone (a FAILURE without an executor: the agent was removed)."""

    agent_id: str


@dataclass(frozen=True)
class ReadinessChecked:
    """A readiness check of a task answered (``status``: the HTTP status, None if no answer)."""

    task_id: str
    ready: bool
    status: int | None = None
    body: str | None = None   # the answer's body, when the check preserves it


@dataclass(frozen=True)
class Rescinded:
    offer_id: str


@dataclass(frozen=True)
class StatusUpdate:
    status: TaskStatus


@dataclass(frozen=True)
class Tick:
    """The clock moved on: backoffs expire, reconciliation retries, unreachable tasks expire."""


@dataclass(frozen=True)
class PutApp:
    """Create or change an app (``spec`` is complete and valid). ``deployment_id`` names the
    deployment the change starts; ``force`` supersedes a deployment already under way;
    ``client_ip`` and ``uri`` say who asked, and where (for the event stream's ``api_post_event``)."""

    spec: AppSpec
    restart: bool = False
    deployment_id: str | None = None
    force: bool = False
    client_ip: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class ChangeApps:
    """Create or change the apps ``puts`` (complete, valid specs) and remove the apps ``deletes``,
    in one deployment named ``deployment_id``, ordered by their dependencies (a group change,
    ``PUT /v2/apps`` with a list). ``force`` supersedes deployments under way. ``group_id``: the
    group Marathon's ``group_change_success`` names (None: no such event)."""

    puts: tuple[AppSpec, ...] = ()
    deletes: tuple[str, ...] = ()
    deployment_id: str | None = None
    force: bool = False
    group_id: str | None = None


@dataclass(frozen=True)
class DeleteApp:
    app_id: str
    deployment_id: str | None = None
    force: bool = False


@dataclass(frozen=True)
class RestartApp:
    app_id: str
    deployment_id: str | None = None
    force: bool = False


@dataclass(frozen=True)
class StartRebalance:
    """Run planned moves (``engine/rebalance_moves.py``): per app, ``(app id, deployment id,
    moves)``, one ``rebalance`` deployment each. Refused as a whole when an app is unknown, going
    away or in a deployment already (unless ``force``: that deployment is superseded)."""

    apps: tuple[tuple[str, str, tuple[Move, ...]], ...]
    force: bool = False


@dataclass(frozen=True)
class CancelDeployment:
    """Stop a deployment: roll the app back to its previous definition, or with ``force`` just
    forget the deployment and leave the app as it is."""

    deployment_id: str
    force: bool = False
    rollback_id: str | None = None


@dataclass(frozen=True)
class ResetDelay:
    app_id: str


@dataclass(frozen=True)
class KillTasks:
    """Kill these tasks; with ``scale`` the app's instances shrink by as many, in a ``scale``
    deployment named ``deployment_id`` (``force`` supersedes one under way, as for PutApp)."""

    app_id: str
    task_ids: tuple[str, ...]
    scale: bool = False
    deployment_id: str | None = None
    force: bool = False


@dataclass(frozen=True)
class Paused:
    """ZooKeeper is suspended (``True``): launch nothing until it comes back (``False``)."""

    paused: bool


@dataclass(frozen=True)
class PutJob:
    """Create or change a job definition (``spec`` is complete and valid); with ``run_id``, start
    a run of it in the same step (an Eremetic task: the job and its one run written together)."""

    spec: JobSpec
    run_id: str | None = None


@dataclass(frozen=True)
class DeleteJob:
    """Remove a job and its ended runs; with ``stop_runs`` its active runs are killed, else they
    make the delete a conflict."""

    job_id: str
    stop_runs: bool = False


@dataclass(frozen=True)
class StartRun:
    """Run a job now; ``run_id`` names the run (the API answers with it)."""

    job_id: str
    run_id: str | None = None


@dataclass(frozen=True)
class KillRun:
    job_id: str
    run_id: str


# --- the cluster's membership (the master's operator stream: ``mesos/operator_stream.py``) -----


@dataclass(frozen=True)
class ClusterSnapshot:
    """The operator stream (re)subscribed: every registered agent and every framework's live
    task, as the master has them now (its SUBSCRIBED event). The whole cluster: an agent not in
    it is gone."""

    agents: tuple[AgentSeen, ...]
    tasks: tuple[ClusterTask, ...] = ()


@dataclass(frozen=True)
class AgentAdded:
    """An agent registered with the master, or registered again (AGENT_ADDED)."""

    agent: AgentSeen


@dataclass(frozen=True)
class AgentRemoved:
    """The master removed an agent (AGENT_REMOVED)."""

    agent_id: str


@dataclass(frozen=True)
class ClusterTasks:
    """Other frameworks' tasks were added or changed state (TASK_ADDED, TASK_UPDATED)."""

    tasks: tuple[ClusterTask, ...]


@dataclass(frozen=True)
class StreamChanged:
    """The operator stream is up (after its snapshot) or down (it reconnects with backoff)."""

    up: bool


@dataclass(frozen=True)
class OperatorAnswered:
    """The master answered an :class:`OperatorCall` (``error``: why it failed; None: done)."""

    call: str
    agent_id: str
    error: str | None = None


# --- agents: drain and reactivate (``engine/drains.py``) --------------------------------------


@dataclass(frozen=True)
class DrainAgent:
    """Take an agent (``agent``: its hostname or id) out of service without an outage: Halyard
    places nothing new there, replaces each app's tasks elsewhere within its upgradeStrategy (one
    ``drain`` deployment per app), lets jobs' tasks finish until ``deadline`` (seconds from now),
    then drains it at the master. ``force``: supersede deployments under way, drain the last agent
    that could hold an app, and past the deadline drain at the master whatever is left."""

    agent: str
    deadline: float = 600.0
    force: bool = False


@dataclass(frozen=True)
class ReactivateAgent:
    """End an agent's drain or deactivation: it takes tasks again."""

    agent: str


@dataclass(frozen=True)
class ScheduleMaintenance:
    """Post a maintenance window for an agent (``agent``: hostname or id) to the master's schedule:
    from ``start`` (epoch seconds) for ``duration`` seconds; ``duration`` None cancels its window."""

    agent: str
    start: float = 0.0
    duration: float | None = None


@dataclass(frozen=True)
class InverseOffers:
    """The master asks for agents back (their maintenance windows came)."""

    offers: tuple[InverseOffer, ...]


Event = (Subscribed | Disconnected | Offers | AgentsListed | AgentLost | ReadinessChecked | Rescinded | StatusUpdate | Tick
         | PutApp | ChangeApps | DeleteApp | RestartApp | ResetDelay | KillTasks | Paused | CancelDeployment | PutJob | DeleteJob
         | StartRun | KillRun | StartRebalance | ClusterSnapshot | AgentAdded | AgentRemoved | ClusterTasks
         | StreamChanged | OperatorAnswered | DrainAgent | ReactivateAgent | ScheduleMaintenance | InverseOffers)

# --- instructions -----------------------------------------------------------------------------


@dataclass
class Persist:
    """Write these records in one transaction; everything after it depends on it."""

    apps: list[AppRecord] = field(default_factory=list)
    delete_apps: list[str] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    delete_tasks: list[str] = field(default_factory=list)
    framework_id: str | None = None
    deployments: list[DeploymentRecord] = field(default_factory=list)
    delete_deployments: list[str] = field(default_factory=list)
    jobs: list[JobRecord] = field(default_factory=list)
    delete_jobs: list[str] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    delete_runs: list[tuple[str, str]] = field(default_factory=list)  # (job id, run id)
    versions: list[AppVersion] = field(default_factory=list)
    delete_versions: list[tuple[str, float]] = field(default_factory=list)  # (app id, version)
    drains: list[DrainRecord] = field(default_factory=list)
    delete_drains: list[str] = field(default_factory=list)  # agent ids

    _LISTS = ("apps", "delete_apps", "tasks", "delete_tasks", "deployments", "delete_deployments", "jobs",
              "delete_jobs", "runs", "delete_runs", "versions", "delete_versions", "drains", "delete_drains")

    def __bool__(self) -> bool:
        # every list of _LISTS, spelled out (asked several times per event: getattr in a generator was slow)
        return bool(self.framework_id or self.tasks or self.delete_tasks or self.apps or self.delete_apps
                    or self.deployments or self.delete_deployments or self.jobs or self.delete_jobs or self.runs
                    or self.delete_runs or self.versions or self.delete_versions or self.drains or self.delete_drains)

    def extend(self, other: Persist) -> None:
        """Add ``other``'s writes after this one's (one transaction for both)."""
        for name in self._LISTS:
            getattr(self, name).extend(getattr(other, name))
        self.framework_id = other.framework_id or self.framework_id


@dataclass(frozen=True)
class AppTaskLaunch:
    """One instance of an app to start: the codec renders it as a TaskInfo."""

    task_id: str
    agent_id: str
    hostname: str
    spec: AppSpec
    version: float
    resources: tuple[Allocated, ...]
    ports: tuple[int, ...]


@dataclass(frozen=True)
class JobTaskLaunch:
    """The current attempt of a job run to start on Halyard's executor."""

    run: RunRecord
    agent_id: str
    resources: tuple[Allocated, ...]
    executor_resources: tuple[Allocated, ...]
    executor: ExecutorSettings

    @property
    def task_id(self) -> str:
        assert self.run.task_id is not None, "a launched run has a task id"
        return self.run.task_id


TaskLaunch = AppTaskLaunch | JobTaskLaunch


@dataclass(frozen=True)
class Launch:
    """ACCEPT these offers (all from one agent) with these tasks."""

    agent_id: str
    offer_ids: tuple[str, ...]
    tasks: tuple[TaskLaunch, ...]
    refuse_seconds: float


@dataclass(frozen=True)
class Decline:
    offer_ids: tuple[str, ...]
    refuse_seconds: float


@dataclass(frozen=True)
class Kill:
    task_id: str
    agent_id: str | None


@dataclass(frozen=True)
class Acknowledge:
    """Acknowledge the status update ``uuid`` about ``task_id`` (after what it changed is persisted)."""

    task_id: str
    agent_id: str | None
    uuid: str


@dataclass(frozen=True)
class Reconcile:
    """Explicit for the listed ``(task_id, agent_id)``; implicit (all tasks) when empty."""

    tasks: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class Suppress:
    pass


@dataclass(frozen=True)
class Revive:
    pass


@dataclass(frozen=True)
class Publish:
    """Tell subscribers (the event stream) what happened. After the Persist before it."""

    event: DomainEvent


@dataclass(frozen=True)
class CheckReadiness:
    """GET ``url``; ready if the status is one of ``ready_statuses``; answer with ReadinessChecked."""

    task_id: str
    url: str
    timeout: float
    ready_statuses: tuple[int, ...]
    keep_body: bool = False


@dataclass(frozen=True)
class ListAgents:
    """Read the master's agent list (off the leader loop); answer with AgentsListed."""


@dataclass(frozen=True)
class Notify:
    """POST a run's task state to its job's callback URL. Best effort, after the Persist before it."""

    notice: CallbackNotice


@dataclass(frozen=True)
class OperatorCall:
    """A call to the master's operator API about one agent: ``DEACTIVATE_AGENT``,
    ``REACTIVATE_AGENT`` or ``DRAIN_AGENT`` (``max_grace``: seconds, DrainAgent's
    ``max_grace_period``; None: the tasks' own kill grace). Answered with :class:`OperatorAnswered`."""

    call: str
    agent_id: str
    max_grace: float | None = None


@dataclass(frozen=True)
class MaintenanceCall:
    """Set (``duration`` given) or remove an agent's window in the master's maintenance schedule
    (the runtime reads the schedule, changes this machine's window, and posts it back)."""

    agent_id: str
    hostname: str
    start: float = 0.0
    duration: float | None = None


@dataclass(frozen=True)
class AnswerInverseOffers:
    """ACCEPT_INVERSE_OFFERS (``accept``) or DECLINE_INVERSE_OFFERS these inverse offers."""

    offer_ids: tuple[str, ...]
    accept: bool


Instruction = (Persist | Launch | Decline | Kill | Acknowledge | Reconcile | Suppress | Revive | Notify | Publish
               | CheckReadiness | ListAgents | Announce | Withdraw | SyncMembers | OperatorCall | MaintenanceCall
               | AnswerInverseOffers)

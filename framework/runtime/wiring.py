"""One scheduler process, wired: configuration, the ZooKeeper session with its store and
election, the Mesos master reader and driver factory, the webhook poster, the readiness checks'
pool (which also lists the master's agents), the event hub, the HTTP API (uvicorn) and the leader
loop (``service.py``) that uses them.

``halyard scheduler`` builds a :class:`SchedulerApp` and calls :meth:`SchedulerApp.run`.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import uvicorn
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from ..api.audit import AuditLog
from ..api.eremetic import callback_json
from ..api.event_stream import EventHub
from ..api.inputs import AppInputs
from ..api.peers import Peers
from ..api.server import create_app
from ..api.tokens import TokenFile
from ..engine.domain_events import AgentJoined, DomainEvent, deployment_of
from ..engine.messages import Event
from ..jobs.executor import ExecutorSettings
from ..mesos.artifact import executor_artifact
from ..mesos.driver import MesosDriver, framework_info
from ..mesos.master import MesosMaster
from ..mesos.operator_api import OperatorApi
from ..mesos.operator_stream import OperatorStream
from ..mesos.refusal import refusal_from_failure
from ..placement import StrategyRegistry
from ..releases.desk import ReleaseDesk
from ..releases.digests import RegistryResolver, read_credentials
from ..store.election import ZkSession
from ..store.release_store import ZkReleaseStore
from ..store.serversets import ServerSetWriter, discovery_root
from .agent_calls import AgentCaller
from .agent_listing import AgentLister
from .auto_rebalance import AutoRebalancer
from .config import ServiceConfig
from .master_reach import MasterReachProbe
from .probes import HttpProbes
from .secret_store import SecretStore
from .service import SchedulerService
from .tls_server import https_protocol, reload_chain, server_context
from .webhooks import WebhookPoster

API_START_SECONDS = 10.0


def executor_settings(config: ServiceConfig) -> ExecutorSettings:
    """How agents get and start Halyard's executor: by default they fetch the zipapp this
    scheduler serves and run it with their ``python3``."""
    uri = config.executor_uri
    if uri is None:
        uri = f"{config.scheme}://{config.advertised}{executor_artifact().path}"
    command = config.executor_command or f"python3 {uri.rstrip('/').rsplit('/', 1)[-1]}"
    return replace(config.engine.executor, command=command, uris=(uri,) if uri else ())


class SchedulerApp:
    """A scheduler process: a standby or the leader, with its HTTP API."""

    def __init__(self, config: ServiceConfig, registry: StrategyRegistry | None = None):
        self.config = config
        # First: a bad secret store stops the process before it joins anything.
        self.secrets = SecretStore(config.secrets_file) if config.secrets_file else None
        self.tokens = TokenFile(config.tokens_file) if config.tokens_file else None
        self.audit = AuditLog(config.audit_log) if config.audit_log else None
        # So do certificate files that cannot be used (TlsFileError names the file).
        self.tls_context = server_context(config.tls) if config.tls is not None else None
        self.session = ZkSession(config.zk, config.zk_session_timeout, config.zk_auth, config.zk_tls,
                                 suspended_is_lost=True)
        self.store = self.session.store()
        self.election = self.session.election(self.store.election_path, config.advertised)
        # A discovery path that collides with the state stops the process here (ValidationError).
        self.discovery = (ServerSetWriter(self.session.client, discovery_root(self.store.root, config.discovery_path),
                                          config.discovery_format, self.session.acl) if config.discovery else None)
        self.master = MesosMaster(config.master)
        self.webhooks = WebhookPoster()
        self.probes = HttpProbes()
        self.hub = EventHub(keepalive=config.event_keepalive)
        self.releases = ZkReleaseStore(self.store)
        self.operator = OperatorApi(self.master, config.principal, config.secret)
        self.service = SchedulerService(
            config, store=self.store, session=self.session, election=self.election, drivers=self._driver,
            master=self.master, publish=self._publish,
            notify=lambda notice: self.webhooks.post(notice.url, callback_json(notice)),
            check_readiness=self.probes.check, list_agents=AgentLister(self.master, self.probes.pool).list,
            engine_config=replace(config.engine, executor=executor_settings(config), discovery=config.discovery),
            registry=registry, on_leading=lambda snapshot: self.release_desk.settle(snapshot.deployments),
            discovery=self.discovery, operator_calls=AgentCaller(self.operator, self.probes.pool).call)
        self.release_desk = ReleaseDesk(self.service, self.releases,
                                        RegistryResolver(read_credentials(config.registry_credentials)))
        self.session.add_listener(self.service.session_changed)
        self._server: uvicorn.Server | None = None
        self.auto_rebalance = (AutoRebalancer(self.service, config.rebalance_cooldown,
                                              leading=lambda: self.service.engine is not None)
                               if config.rebalance_on_agent_join else None)
        self.master_reach = MasterReachProbe(self.master.reachable, self.store, config.advertised)
        # The master's operator stream, while this scheduler leads (one subscription per term).
        self.stream = OperatorStream(self.operator, self.service.post, self._term, self._framework_id)

    def _term(self) -> int | None:
        """The epoch of this scheduler's leadership, None when it does not lead."""
        return self.service.epoch if self.service.engine is not None else None

    def _framework_id(self) -> str | None:
        engine = self.service.engine
        return engine.framework_id if engine is not None else None

    def _publish(self, event: DomainEvent) -> None:
        """An engine event to the /v2/events subscribers; an ended deployment also ends its release."""
        deployment = deployment_of(event)
        if deployment is not None and deployment.ended:
            self.release_desk.deployment_ended(deployment)
        if isinstance(event, AgentJoined) and self.auto_rebalance is not None:
            self.auto_rebalance.joined(event.agent_id)
        self.hub.publish(event)

    def _driver(self, framework_id: str | None, sink: Callable[[Event], None],
                on_failed_over: Callable[[str], bool]) -> MesosDriver:
        c = self.config
        framework = framework_info(c.name, c.role, c.failover_timeout, framework_id, c.principal,
                                   f"{c.scheme}://{c.advertised}")
        return MesosDriver(c.master, framework, sink, c.principal, c.secret, on_failed_over=on_failed_over,
                           on_refused=self.service.fail)

    def start_api(self) -> None:
        """Serve the HTTP API on its own thread (returns once it listens, or after 10 s)."""
        host, _, _ = self.config.listen.rpartition(":")
        api = create_app(self.service, self.hub, self.tokens, self.config.auth_reads,
                         AppInputs(secrets=self.secrets, role=self.config.role), self.release_desk, self.audit,
                         self._peers())
        settings = uvicorn.Config(api, host=host or "127.0.0.1", port=self.config.port,
                                  log_level="warning", access_log=False, lifespan="off")
        if self.tls_context is not None:
            settings.http = https_protocol(import_from_string(HTTP_PROTOCOLS["auto"]), self.tls_context)
        server = uvicorn.Server(settings)
        self._server = server
        threading.Thread(target=server.run, name="halyard-api", daemon=True).start()
        deadline = time.monotonic() + API_START_SECONDS
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def run(self) -> None:
        """Serve the API, connect to ZooKeeper, contend and lead; return after :meth:`stop`, or raise
        the :class:`~halyard.errors.HalyardError` for which the service gave up (the master refused
        this framework)."""
        if self._server is None:
            self.start_api()
        if self.auto_rebalance is not None:
            self.auto_rebalance.start()
        self.stream.start()
        try:
            if self.session.start(stopping=lambda: self.service.stopping):
                self.store.ensure_layout()
                self.master_reach.start()
                self.service.run()
        finally:
            if self._server is not None:
                self._server.should_exit = True
            if self.auto_rebalance is not None:
                self.auto_rebalance.stop()
            self.stream.stop()
            self.master_reach.stop()
            self.session.close()
            self.webhooks.close()
            self.probes.close()
            if self.audit is not None:
                self.audit.close()
        if self.service.fatal is not None:
            raise self.service.fatal

    def stop(self) -> None:
        self.service.stop()

    def _peers(self) -> Peers:
        """How this scheduler, as a standby, reaches the leader: HTTPS verified against ``--tls-ca``
        (default ``--tls-client-ca``), presenting its own certificate, when it serves HTTPS."""
        tls = self.config.tls
        if tls is None:
            return Peers()
        return Peers(https=True, verify=self.config.tls_ca or tls.client_ca or True, cert=(tls.cert, tls.key))

    def reload(self) -> None:
        """SIGHUP: re-read the tokens file, and the API's certificate and key."""
        self.reload_tokens()
        if self.tls_context is not None and self.config.tls is not None:
            reload_chain(self.tls_context, self.config.tls)

    def reload_tokens(self) -> bool:
        """SIGHUP: re-read the tokens file (a bad one keeps the tokens in force, logged); the next
        request sees the new tokens."""
        return self.tokens.reload() if self.tokens is not None else False

    def driver_failed(self, exc: BaseException) -> None:
        """The Mesos driver's IO thread died of ``exc``: a refusal by the master (credentials,
        ACLs) ends this scheduler; anything else is retried with a new driver."""
        refused = refusal_from_failure(exc, self.config.principal)
        if refused is not None:
            self.service.fail(refused)
        else:
            self.service.restart_driver()

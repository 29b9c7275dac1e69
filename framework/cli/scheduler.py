"""``halyard scheduler``: run a scheduler (leader or standby) with its HTTP API."""
from __future__ import annotations

import logging
import re
import signal
import sys
import threading

import click
from click.core import ParameterSource

from ..engine.engine import EngineConfig
from ..engine.service_ports import PortRange
from ..errors import HalyardError
from ..runtime.tls_server import ServerTls, server_context
from .zk_options import ZK_TLS_OPTIONS, zk_tls

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``7d``, ``90s``, ``1.5h``, ``500ms`` or plain seconds -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*", text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 30s, 5m, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def check_tokens_file(path: str) -> int:
    """Read the tokens file as the scheduler will (``tokens.py``); a bad one is a usage error
    naming each line and its problem. Returns how many tokens it holds."""
    from ..api.tokens import TokenFile
    from ..errors import ValidationError

    try:
        return len(TokenFile(path).book)
    except ValidationError as exc:
        raise click.BadParameter("; ".join(str(p) for p in exc.problems), param_hint="--tokens-file") from None


def _server_tls(cert: str | None, key: str | None, client_ca: str | None, peer_ca: str | None) -> ServerTls | None:
    """The API's TLS settings from the flags (None: plain HTTP); the files are read when the
    scheduler starts (one that cannot be read ends it with status 1, naming it)."""
    if not (cert or key or client_ca or peer_ca):
        return None
    if not cert or not key:
        raise click.UsageError("--tls-cert and --tls-key go together" + (
            "" if cert or key else " (--tls-client-ca and --tls-ca need them)"))
    return ServerTls(cert, key, client_ca)


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        return value if isinstance(value, float) else parse_duration(str(value))


@click.command()
@click.option("--master", required=True, help="Mesos master: http://HOST:5050, HOST:PORT or zk://HOST:PORT/mesos")
@click.option("--zk", required=True, help="ZooKeeper for state and election: zk://HOST:PORT[,HOST:PORT]/CHROOT")
@click.option("--listen", default="127.0.0.1:8080", show_default=True,
              help="the API's address: HTTPS with --tls-cert/--tls-key; without them plain HTTP, which must be "
                   "asked for by giving --listen")
@click.option("--tls-cert", default=None, metavar="FILE",
              help="serve the API and the dashboard over HTTPS with this certificate (PEM, with its chain); "
                   "re-read on SIGHUP")
@click.option("--tls-key", default=None, metavar="FILE", help="the certificate's private key (PEM); re-read on SIGHUP")
@click.option("--tls-client-ca", default=None, metavar="FILE",
              help="require client certificates signed by this CA (mTLS); a client without one is refused at "
                   "the handshake")
@click.option("--tls-ca", default=None, metavar="FILE",
              help="CA that verifies the leader's certificate when this scheduler forwards to it "
                   "(default: --tls-client-ca, else the system's)")
@click.option("--advertise", default=None, metavar="HOST:PORT",
              help="the API address a leader publishes and standbys forward to (default: --listen, a wildcard "
                   "host replaced by this machine's name)")
@click.option("--name", default="halyard", show_default=True, help="framework name")
@click.option("--role", default="*", show_default=True, help="Mesos role to register with")
@click.option("--principal", default=None,
              help="Mesos framework authentication (HTTP basic) as this principal; a master that refuses it "
                   "(wrong secret, unknown principal, ACLs) ends the scheduler with exit status 1")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="file holding the principal's secret (minimesos/up --auth: $MESOS_SECRET_FILE)")
@click.option("--failover-timeout", type=Duration(), default="7d", show_default=True,
              help="how long Mesos keeps tasks running while no scheduler is subscribed")
@click.option("--zk-auth", default=None, help="user:password: digest ACLs on Halyard's znodes")
@click.option("--zk-session-timeout", type=Duration(), default="10s", show_default=True)
@click.option("--master-yield-after", type=Duration(), default="60s", show_default=True,
              help="a leader without a subscription to the Mesos master this long gives the lead to a standby "
                   "that reaches the master (with none, it leads on and retries)")
@ZK_TLS_OPTIONS
@click.option("--unreachable-grace", type=Duration(), default="60s", show_default=True,
              help="how long an unreachable task counts before it is replaced")
@click.option("--local-port-min", type=click.IntRange(1, 65535), default=10000, show_default=True,
              help="lowest service port given to apps that ask for port 0 (Marathon's --local_port_min)")
@click.option("--local-port-max", type=click.IntRange(1, 65535), default=20000, show_default=True,
              help="highest service port given to apps that ask for port 0 (Marathon's --local_port_max)")
@click.option("--min-healthy-time", type=Duration(), default="0s", show_default=True,
              help="minReadySeconds of apps that set none: how long a new task must run (and be healthy, "
                   "if checked) to count for a rolling upgrade and the end of its deployment")
@click.option("--deployment-timeout", type=Duration(), default="10m", show_default=True,
              help="a deployment that makes no progress (more instances up, fewer old ones) for this long "
                   "fails and rolls back")
@click.option("--max-versions", "--zk-max-versions", type=click.IntRange(min=1), default=50, show_default=True,
              help="stored versions kept per app, for GET /v2/apps/{id}/versions and rollbacks (Marathon's "
                   "--zk_max_versions)")
@click.option("--tokens-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="API tokens, one per line: TOKEN rw|ro [/PREFIX ...] [name=NAME]; with it, writes need a token, "
                   "and a token with prefixes changes only the apps and jobs under them; re-read on SIGHUP")
@click.option("--auth-reads", is_flag=True,
              help="reads need a token too (with --tokens-file), and a scoped token sees only its apps and jobs")
@click.option("--audit-log", type=click.Path(dir_okay=False, writable=True), default=None,
              help="append every mutating API request (who, what, result) to this file as a JSON line")
@click.option("--executor-uri", default=None,
              help="where agents fetch Halyard's executor for jobs (default: the zipapp this scheduler serves; "
                   "'' for none, with --executor-command)")
@click.option("--executor-command", default=None,
              help="how agents start the executor (default: python3 <fetched file>)")
@click.option("--event-keepalive", type=Duration(), default="10s", show_default=True,
              help="after how long without a byte a /v2/events stream gets a keep-alive comment")
@click.option("--secrets-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="secret store for apps' secret references: a YAML or JSON mapping of source to value "
                   "(env {secret: NAME} with secrets: {NAME: {source: ...}}); re-read when it changes")
@click.option("--registry-credentials", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Docker config.json-style credentials ({auths: {HOST: {auth}}}) for resolving image digests")
@click.option("--discovery-path", default="discovery", show_default=True,
              help="where healthy tasks are announced: relative to the state root (the --zk chroot), or absolute in it")
@click.option("--discovery-format", type=click.Choice(["serverset", "curator"]), default="serverset", show_default=True,
              help="serverset: Finagle/Aurora member_ nodes; curator: Apache Curator's service discovery")
@click.option("--no-discovery", is_flag=True, default=False, help="announce nothing in ZooKeeper")
@click.option("--rebalance-on-agent-join", is_flag=True, default=False,
              help="when an agent joins, rebalance every app (as halyard rebalance does) after --rebalance-cooldown")
@click.option("--rebalance-cooldown", type=Duration(), default="60s", show_default=True,
              help="how long after an agent joins (and after the last automatic run) to rebalance")
@click.option("--maintenance-horizon", type=Duration(), default="1h", show_default=True,
              help="place nothing new on an agent whose maintenance window starts within this")
@click.option("--log-level", default="INFO", show_default=True)
def scheduler(master: str, zk: str, listen: str, tls_cert: str | None, tls_key: str | None, tls_client_ca: str | None,
              tls_ca: str | None, advertise: str | None, name: str, role: str, principal: str | None,
              secret_file: str | None, failover_timeout: float, zk_auth: str | None,
              zk_session_timeout: float, master_yield_after: float, zk_tls_ca: str | None, zk_tls_cert: str | None, zk_tls_key: str | None, unreachable_grace: float, local_port_min: int, local_port_max: int,
              min_healthy_time: float,
              deployment_timeout: float, max_versions: int, tokens_file: str | None, auth_reads: bool,
              audit_log: str | None, executor_uri: str | None,
              executor_command: str | None, event_keepalive: float, secrets_file: str | None,
              registry_credentials: str | None, discovery_path: str, discovery_format: str, no_discovery: bool,
              rebalance_on_agent_join: bool, rebalance_cooldown: float, maintenance_horizon: float,
              log_level: str) -> None:
    """Run a Halyard scheduler: one of several may run against the same ZooKeeper; one leads."""
    if not no_discovery:
        from ..errors import ValidationError
        from ..store.election import parse_zk
        from ..store.serversets import discovery_root
        try:
            discovery_root(parse_zk(zk)[1], discovery_path)
        except ValidationError as exc:
            raise click.BadParameter(exc.problems[0].message, param_hint="--discovery-path") from None
    secret = open(secret_file).read().strip() if secret_file else None
    if principal and secret_file is None:
        raise click.UsageError("--principal needs --secret-file")
    if secret_file is not None and not principal:
        raise click.UsageError("--secret-file needs --principal (the principal whose secret it holds)")
    if secret_file is not None and not secret:
        raise click.BadParameter(f"{secret_file} is empty", param_hint="--secret-file")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    from ..mesos.driver import install_interrupt_handler
    from ..runtime.config import ServiceConfig
    from ..runtime.wiring import SchedulerApp  # imports pymesos (its SIGINT handler)

    if executor_uri == "" and not executor_command:
        raise click.UsageError("--executor-uri '' needs --executor-command (how agents start an executor they have)")
    if advertise is not None and not re.fullmatch(r"[^\s:/]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", advertise):
        raise click.BadParameter(f"expected HOST:PORT, got {advertise!r}", param_hint="--advertise")
    if local_port_min > local_port_max:
        raise click.BadParameter(f"{local_port_min} is above --local-port-max ({local_port_max})",
                                 param_hint="--local-port-min")
    tokens = check_tokens_file(tokens_file) if tokens_file else 0
    if auth_reads and not tokens:
        raise click.UsageError("--auth-reads needs --tokens-file")
    server_tls = _server_tls(tls_cert, tls_key, tls_client_ca, tls_ca)
    if server_tls is None and click.get_current_context().get_parameter_source("listen") is ParameterSource.DEFAULT:
        raise click.UsageError("give --tls-cert and --tls-key to serve HTTPS, or --listen HOST:PORT to serve plain HTTP")
    if server_tls is not None:
        server_context(server_tls)  # a file that cannot be used: TlsFileError naming it, exit status 1
    zk_tls_settings = zk_tls(zk_tls_ca, zk_tls_cert, zk_tls_key)
    config = ServiceConfig(tokens_file=tokens_file, auth_reads=auth_reads, audit_log=audit_log, master=master, zk=zk, listen=listen, advertise=advertise, name=name, role=role, principal=principal,
                           secret=secret, failover_timeout=failover_timeout, zk_auth=zk_auth,
                           zk_session_timeout=zk_session_timeout, master_yield_after=master_yield_after,
                           executor_uri=executor_uri,
                           executor_command=executor_command, event_keepalive=event_keepalive,
                           secrets_file=secrets_file,
                           registry_credentials=registry_credentials, discovery=not no_discovery,
                           discovery_path=discovery_path, discovery_format=discovery_format,
                           rebalance_on_agent_join=rebalance_on_agent_join, rebalance_cooldown=rebalance_cooldown,
                           tls=server_tls, tls_ca=tls_ca, zk_tls=zk_tls_settings,
                           engine=EngineConfig(unreachable_grace=unreachable_grace, min_healthy=min_healthy_time,
                                               deployment_timeout=deployment_timeout, max_versions=max_versions,
                                               service_ports=PortRange(local_port_min, local_port_max),
                                               maintenance_horizon=maintenance_horizon))
    process = SchedulerApp(config)
    process.start_api()
    click.echo(f"halyard scheduler: API on {config.scheme}://{listen}, master {master}, state in {zk}"
               f"{' (over TLS)' if zk_tls_settings else ''}", err=True)
    log = logging.getLogger("halyard")
    if server_tls is None:
        log.warning("the API serves plain HTTP on %s (no TLS): tokens and definitions cross the network in clear "
                    "text; --tls-cert/--tls-key serve HTTPS", listen)
    else:
        log.info("the API serves HTTPS on %s%s", listen,
                 ", client certificates required" if server_tls.client_ca else "")
    done = threading.Event()
    gave_up: list[HalyardError] = []

    def work() -> None:
        try:
            process.run()
        except HalyardError as exc:  # the master refused this framework: main() prints it, exit 1
            gave_up.append(exc)
        finally:
            done.set()

    def on_driver_failure(exc: BaseException) -> None:
        log.error("Mesos driver failed: %r", exc)
        process.driver_failed(exc)

    def on_stop() -> None:
        log.info("stopping (tasks keep running; a scheduler started later adopts them)")
        process.stop()

    install_interrupt_handler(on_driver_failure, on_stop)
    signal.signal(signal.SIGTERM, lambda *_: on_stop())
    signal.signal(signal.SIGHUP, lambda *_: process.reload())
    threading.Thread(target=work, name="halyard-scheduler").start()
    while not done.wait(0.5):
        pass
    if gave_up:
        raise gave_up[0]
    sys.exit(0)

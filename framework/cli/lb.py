"""``halyard lb``: an HAProxy in front of the apps of a group, following their ServerSets."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading

import click

from .client import API_OPTION
from .client_tls import ClientTls, explain_tls
from .scheduler import Duration
from .zk_options import ZK_TLS_OPTIONS, zk_tls


@click.command()
@API_OPTION
@click.option("--zk", required=True, help="ZooKeeper the scheduler announces in: zk://HOST:PORT[,HOST:PORT]/CHROOT "
                                          "(the scheduler's --zk)")
@click.option("--discovery-path", default="discovery", show_default=True,
              help="where the ServerSets are: relative to the --zk chroot, or absolute (the scheduler's "
                   "--discovery-path)")
@click.option("--zk-auth", default=None, help="user:password, if Halyard's znodes have digest ACLs")
@ZK_TLS_OPTIONS
@click.option("--group", "groups", multiple=True, default=("external",), show_default=True,
              help="serve the apps whose HAPROXY_GROUP label names this group (repeatable; * serves every app)")
@click.option("--bind", default="127.0.0.1", show_default=True, help="address the frontends bind")
@click.option("--run-dir", type=click.Path(file_okay=False), default=None,
              help="HAProxy's configuration, sockets, server state and log (default: a new temporary directory)")
@click.option("--haproxy", "binary", default="haproxy", show_default=True, help="the haproxy binary")
@click.option("--check-interval", type=Duration(), default="1s", show_default=True,
              help="HAProxy's own health checks of each member: how often")
@click.option("--check-fall", type=click.IntRange(1, 100), default=2, show_default=True,
              help="failed checks before HAProxy takes a member out")
@click.option("--check-rise", type=click.IntRange(1, 100), default=2, show_default=True,
              help="passed checks before HAProxy takes a member back")
@click.option("--debounce", type=Duration(), default="100ms", show_default=True,
              help="quiet time after a change before HAProxy is reloaded (a burst of changes is one reload)")
def lb(api: str, zk: str, discovery_path: str, zk_auth: str | None, zk_tls_ca: str | None, zk_tls_cert: str | None,
       zk_tls_key: str | None, groups: tuple[str, ...], bind: str,
       run_dir: str | None, binary: str, check_interval: float, check_fall: int, check_rise: int,
       debounce: float) -> None:
    """Run HAProxy in front of the apps of --group, reloaded gracefully as their members change.

    Apps are chosen by marathon-lb's labels: HAPROXY_GROUP, HAPROXY_{n}_PORT (the frontend port of
    port n; default its service port), HAPROXY_{n}_MODE (http or tcp). Members are the ServerSets
    the scheduler writes in ZooKeeper; the apps' labels and ports come from the API (--api).
    """
    from ..lb.apps_feed import AppsFeed
    from ..lb.haproxy import HAProxyProcess
    from ..lb.render import Settings
    from ..lb.runner import LoadBalancer
    from ..store.election import ZkSession
    from ..store.serverset_watch import ServerSetWatcher
    from ..store.serversets import discovery_root

    if shutil.which(binary) is None:
        raise click.UsageError(f"{binary} not found: install HAProxy (Debian: apt-get install haproxy) or give --haproxy")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    directory = run_dir or tempfile.mkdtemp(prefix="halyard-lb-")
    settings = Settings(bind=bind, check_interval=check_interval, check_fall=check_fall, check_rise=check_rise,
                        run_dir=directory)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    session = ZkSession(zk, credentials=zk_auth, tls=zk_tls(zk_tls_ca, zk_tls_cert, zk_tls_key))
    if not session.start(stopping=stop.is_set):
        return
    proxy = HAProxyProcess(directory, binary)
    watcher: ServerSetWatcher | None = None
    balancer = LoadBalancer(frozenset(groups), settings, proxy,
                            watch=lambda ids: watcher.watch(ids),  # type: ignore[union-attr]  # set below, before a watch
                            debounce=debounce)
    watcher = ServerSetWatcher(session.client, discovery_root(session.root, discovery_path), balancer.on_members)
    tls = ClientTls.current()
    feed = AppsFeed(api, balancer.on_apps, token=os.environ.get("HALYARD_TOKEN"), tls=tls.requests_options(),
                    explain_tls=lambda exc: explain_tls(exc, api, tls))
    click.echo(f"halyard lb: group(s) {', '.join(groups)}, ServerSets under {watcher.base}, HAProxy in {directory}",
               err=True)
    feed.start()
    try:
        balancer.run(stop)
    finally:
        feed.stop()
        proxy.stop()
        session.close()

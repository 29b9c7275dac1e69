#!/usr/bin/python3
"""Publish the local Mesos master in ZooKeeper, as a real master does, and follow its restarts.

Mesos' ``local::launch`` master uses standalone detection and never writes to ZooKeeper. Frameworks
(pymesos, Marathon) find masters at ``zk://HOST:PORT/mesos`` by reading the lowest ephemeral
sequential child ``json.info_NNNNNNNNNN``, whose data is the master's MasterInfo as JSON. This
process keeps exactly one such node for the master at ``--master``: it replaces the node when the
master's id changes (a restart) and removes it while the master does not answer.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import struct
import sys
import time
import urllib.request

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

log = logging.getLogger("announce")


def master_info(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{url}/master/state", timeout=2) as resp:
            state = json.load(resp)
    except (OSError, ValueError):
        return None
    name, _, hostport = state["pid"].partition("@")
    ip, _, port = hostport.rpartition(":")
    packed = struct.unpack("<I", socket.inet_aton(ip))[0]  # MasterInfo.ip: network order as uint32
    return {"id": state["id"], "pid": state["pid"], "ip": packed, "port": int(port),
            "hostname": state.get("hostname", ip), "version": state.get("version", ""),
            "address": {"hostname": state.get("hostname", ip), "ip": ip, "port": int(port)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--master", required=True)
    ap.add_argument("--zk", required=True, help="HOST:PORT")
    ap.add_argument("--path", default="/mesos")
    ap.add_argument("--interval", type=float, default=1.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    zk = KazooClient(hosts=args.zk, timeout=10)
    zk.start(timeout=30)
    node, current = None, None
    while not stop:
        info = master_info(args.master)
        try:
            if zk.connected and node is not None and not zk.exists(node):
                node = None  # our session expired and took the ephemeral node with it
            if info is None and node is not None:
                log.info("master not answering: removing %s", node)
                zk.delete(node)
                node, current = None, None
            elif info is not None and (node is None or info["id"] != current):
                if node is not None:
                    zk.delete(node)
                zk.ensure_path(args.path)
                node = zk.create(f"{args.path}/json.info_", json.dumps(info).encode(), ephemeral=True, sequence=True)
                current = info["id"]
                log.info("announced master %s (%s) at %s", info["id"], info["pid"], node)
        except KazooException as exc:
            log.warning("ZooKeeper: %r (retrying)", exc)
        time.sleep(args.interval)
    if node is not None:
        try:
            zk.delete(node)
        except KazooException:
            pass
    zk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

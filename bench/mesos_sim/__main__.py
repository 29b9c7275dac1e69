"""``python -m mesos_sim``: a simulated Mesos master with N agents (run with ``bench/`` on the path).

    PYTHONPATH=bench python -m mesos_sim --port 17050 --agents 1000 [--resources ...] [--racks 10]
        [--zones 3] [--regions 1] [--agents-file F] [--allocation-interval 1] [--heartbeat-interval 15]
        [--starting-delay 0.1] [--running-delay 0.1] [--kill-delay 0.05] [--retry-min 10]

Listens on loopback only. Stops on SIGTERM, SIGINT or ``POST /sim/shutdown``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import uuid
from pathlib import Path

from .cluster import DEFAULT_RESOURCES, load_agents, make_agents
from .master import Master, SimConfig
from .server import SimServer


def parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="mesos_sim", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1", help="loopback only (127.0.0.0/8)")
    ap.add_argument("--port", type=int, default=17050)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--resources", default=DEFAULT_RESOURCES, help="each agent's, in Mesos' --resources form")
    ap.add_argument("--racks", type=int, default=10, help="attribute rack_id: rack-(i %% racks); 0 for none")
    ap.add_argument("--zones", type=int, default=3, help="fault domain zones; 0 for no fault domain")
    ap.add_argument("--regions", type=int, default=1)
    ap.add_argument("--agents-file", type=Path, help="JSON groups of agents (see cluster.py); overrides the above")
    ap.add_argument("--allocation-interval", type=float, default=1.0)
    ap.add_argument("--heartbeat-interval", type=float, default=15.0)
    ap.add_argument("--starting-delay", type=float, default=0.1, help="seconds from launch to TASK_STARTING")
    ap.add_argument("--running-delay", type=float, default=0.1, help="seconds from TASK_STARTING to TASK_RUNNING")
    ap.add_argument("--kill-delay", type=float, default=0.05, help="seconds from KILL to TASK_KILLED")
    ap.add_argument("--retry-min", type=float, default=10.0, help="first status update retry (doubling)")
    ap.add_argument("--retry-max", type=float, default=600.0)
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    if not args.host.startswith("127."):
        ap.error("--host must be a loopback address (127.x.x.x)")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    master_id = str(uuid.uuid4())
    agents = (load_agents(args.agents_file, master_id) if args.agents_file else
              make_agents(args.agents, master_id, args.resources, args.racks, args.zones, args.regions))
    config = SimConfig(allocation_interval=args.allocation_interval, heartbeat_interval=args.heartbeat_interval,
                       starting_delay=args.starting_delay, running_delay=args.running_delay,
                       kill_delay=args.kill_delay, retry_min=args.retry_min, retry_max=args.retry_max,
                       hostname=args.host, port=args.port)
    server = SimServer(Master(config, agents, master_id), args.host, args.port)

    async def run() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)   # type: ignore[union-attr]
        try:
            await server.serve()
        except asyncio.CancelledError:
            pass

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

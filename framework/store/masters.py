"""The leading Mesos master as it announces itself in ZooKeeper (for ``--master zk://...``)."""
from __future__ import annotations

import json

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from ..errors import UpstreamError

ANNOUNCEMENT_PREFIX = "json.info_"   # the masters' ephemeral sequential znodes; the lowest one leads


def announced_master(url: str, timeout: float = 10.0) -> str:
    """``zk://host:port[,host:port]/mesos`` -> the leading master's ``http://ip:port``.

    Raises UpstreamError when ZooKeeper cannot be read or no master is announced there.
    """
    hosts, _, path = url.removeprefix("zk://").partition("/")
    client = KazooClient(hosts=hosts, timeout=timeout)
    try:
        client.start(timeout=timeout)
    except (KazooException, KazooTimeoutError) as exc:
        raise UpstreamError(f"cannot read the Mesos masters' announcements at {url}: {exc!r}") from None
    try:
        nodes = sorted(n for n in client.get_children("/" + path) if n.startswith(ANNOUNCEMENT_PREFIX))
        if not nodes:
            raise UpstreamError(f"no master is announced at {url}")
        address = json.loads(client.get(f"/{path}/{nodes[0]}")[0])["address"]
        return f"http://{address['ip']}:{address['port']}"
    except (KazooException, ValueError, KeyError) as exc:
        raise UpstreamError(f"cannot read the Mesos masters' announcements at {url}: {exc!r}") from None
    finally:
        client.stop()
        client.close()

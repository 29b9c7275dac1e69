"""``halyard lb``: an HAProxy that follows the apps' ServerSets in ZooKeeper.

Pure parts: :mod:`services` (which apps and ports an LB serves, from ``/v2/apps``, by marathon-lb's
``HAPROXY_*`` labels: :mod:`halyard.spec.lb_labels`, also checked by app validation), :mod:`render`
(the HAProxy configuration), and :mod:`runner` (the loop: threads and a proxy behind a protocol,
no I/O of its own). I/O: :mod:`haproxy` (the HAProxy process, graceful reloads), :mod:`apps_feed` (the
API), :mod:`halyard.store.serverset_watch` (ZooKeeper watches). The ServerSet members it reads are
:mod:`halyard.store.serverset_format`'s (the format the scheduler's writer writes).
"""

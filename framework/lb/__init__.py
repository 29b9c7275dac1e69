"""``halyard lb``: an HAProxy that follows the apps' ServerSets in ZooKeeper.

Pure parts: :mod:`labels` (marathon-lb's ``HAPROXY_*`` labels, also checked by app validation),
:mod:`services` (which apps and ports an LB serves, from ``/v2/apps``), :mod:`members` (ServerSet
member bodies), :mod:`render` (the HAProxy configuration). I/O: :mod:`haproxy` (the HAProxy
process, graceful reloads), :mod:`runner` (the loop; ZooKeeper watches come from
:mod:`halyard.store.serverset_watch`).
"""

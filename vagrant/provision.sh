#!/usr/bin/env bash
# The Vagrantfile's provisioner: makes this Debian 12 machine a node of the cluster, installing
# Mesos as minimesos/ does on a developer's machine (minimesos/provision.py, which reuses
# minimesos/install.py: the PyPI libmesos and the native launcher; ZooKeeper and Docker from Debian).
#
#   vagrant/provision.sh master --ip 192.168.56.10
#   vagrant/provision.sh agent --ip 192.168.56.11 --master 192.168.56.10:5050 --attributes 'rack_id:rack-1'
#
# Run as root, from the repository (the Vagrantfile syncs it to /halyard). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(dpkg-query -W -f='${Status}' python3 2>/dev/null || true)" != "install ok installed" ]; then
  echo "[provision] installing Debian packages: python3"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3 >/dev/null
fi
# -B: the repository may be a read-only mount; nothing is written into it.
exec /usr/bin/python3 -B "$root/minimesos/provision.py" "$@"

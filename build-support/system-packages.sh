#!/usr/bin/env bash
# The Debian packages `make` needs, installed if missing: called by the Makefile before it builds
# the venv (group `run`), before the tests (group `test`) and before the provisioning test
# (group `provision`). On a fresh Debian 12 machine that has make and Python 3, the README's two
# commands then install everything. The local cluster's own packages (Mesos' libraries, ZooKeeper,
# Docker, the registry) are not here: minimesos/up installs them (minimesos/install.py).
#
#   build-support/system-packages.sh GROUP...    install what the groups need and is missing
#   build-support/system-packages.sh --list GROUP...   print the packages, one a line
#
# As root it runs apt-get (one line names what it installs); otherwise with `sudo -n` when that
# works without a password; otherwise it names the missing packages and the apt-get line, and
# exits 1. Only missing packages are installed (dpkg-query); nothing is done when none is.
# HALYARD_EUID stands in for `id -u` (the unit tests pretend a user that way).
set -euo pipefail

# Building the venv (gcc and the Python headers compile pymesos' http-parser: see
# build-support/http-parser-wheel.sh), `python3 -m venv`, and scripts/run-local.sh's curl.
RUN="make gcc g++ libc6-dev python3 python3-dev python3-venv python3-pip ca-certificates curl"
# What the tests use besides: ruby (`ruby -c vagrant/Vagrantfile`), iproute2 (ss, ip), procps
# (ps, pgrep), tzdata (jobs' time zones), haproxy (`halyard lb`), chromium and chromium-driver
# (the dashboard's browser tests), tcpdump (the TLS test's capture of the API port).
TEST="ruby iproute2 procps tzdata haproxy chromium chromium-driver tcpdump"
# tests/provision/: a Debian 12 root filesystem (debootstrap, with Debian's keys to check it), network
# namespaces (ip) and each command's own mount namespace (unshare, nsenter).
PROVISION="debootstrap debian-archive-keyring iproute2 util-linux tar"

me=${0##*/}

packages() {  # the packages of the groups named, each once, in order
  local group list="" p
  for group in "$@"; do
    case $group in
      run) list="$list $RUN" ;;
      test) list="$list $RUN $TEST" ;;
      provision) list="$list $PROVISION" ;;
      *) echo "$me: unknown group '$group' (run, test, provision)" >&2; exit 2 ;;
    esac
  done
  local seen=" "
  for p in $list; do
    case $seen in *" $p "*) ;; *) seen="$seen$p "; echo "$p" ;; esac
  done
}

list=0
if [ "${1:-}" = --list ]; then list=1; shift; fi
[ $# -gt 0 ] || { echo "usage: $me [--list] run|test|provision..." >&2; exit 2; }
wanted=$(packages "$@")
if [ $list = 1 ]; then echo "$wanted"; exit 0; fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "$me: not a Debian/Ubuntu system (no dpkg-query); make sure these are installed:" $wanted >&2
  exit 0
fi

# dpkg-query names every package it knows with its state; one it never saw is only on stderr.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $wanted 2>/dev/null | awk '$NF == "installed" {print $1}' || true)
missing=""
nl=$'\n'
# No `printf ... | grep -q` here: under pipefail, grep's early exit can fail the pipe.
for p in $wanted; do
  case "$nl$installed$nl" in *"$nl$p$nl"*) ;; *) missing="$missing $p" ;; esac
done
missing=${missing# }
[ -n "$missing" ] || exit 0

euid=${HALYARD_EUID:-$(id -u)}
if [ "$euid" = 0 ]; then
  as=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
  as=(sudo -n)
else
  {
    echo "$me: missing Debian packages: $missing"
    echo "As root, install them with this line, then run make again:"
    echo "  apt-get update && apt-get install -y --no-install-recommends $missing"
  } >&2
  exit 1
fi

echo "$me: installing Debian packages: $missing"
"${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
"${as[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null

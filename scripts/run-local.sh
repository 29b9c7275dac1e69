#!/usr/bin/env bash
# `make run`: the whole framework on a real local cluster.
#   1. minimesos/up (ZooKeeper, Mesos master + 3 agents, dockerd), unless one is running;
#      a running `minimesos/up --auth` cluster's principal and secret are passed to the scheduler;
#   2. halyard scheduler in the foreground (API on $HALYARD_LISTEN, default 127.0.0.1:8080);
#   3. print the dashboard's URL (first), deploy examples/hello.yaml and print where to look;
#   3b. deploy examples/services/hello.yaml to dev as a release, pinned through the local registry;
#   4. run the job examples/jobs/report.yaml on Halyard's executor and print its output.
# HALYARD_TLS=1 (make run TLS=1): a minimesos/up --tls cluster, the API over HTTPS (the local CA's
# server certificate), ZooKeeper over TLS with the client certificate; curl and halyard use the CA.
# Ctrl-C stops the scheduler and the cluster (a cluster that was already running is left up).
# --once: exit after the app answers and the job ran (used by the tests, with HALYARD_LISTEN,
# HALYARD_CHROOT and HALYARD_NAME set so that they do not disturb a developer's own `make run`).
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = --once ] && once=1
listen=${HALYARD_LISTEN:-127.0.0.1:8080}
tls=${HALYARD_TLS:-0}
api="http://$listen"
[ "$tls" = 1 ] && api="https://$listen"
halyard=.venv/bin/halyard

started_cluster=0
if ! minimesos/status >/dev/null 2>&1; then
  minimesos/registry start >/dev/null 2>&1 || true   # a running cluster that lacks only its registry
fi
if ! minimesos/status >/dev/null 2>&1; then
  if [ "$tls" = 1 ]; then minimesos/up --tls; else minimesos/up; fi
  started_cluster=1
fi
unset MESOS_PRINCIPAL MESOS_SECRET_FILE   # set below only by a cluster started with minimesos/up --auth
set -a; . minimesos/.run/cluster.env; set +a
credentials=()
if [ -n "${MESOS_PRINCIPAL:-}" ]; then
  credentials=(--principal "$MESOS_PRINCIPAL" --secret-file "$MESOS_SECRET_FILE")
fi
zk=$ZK
tls_flags=()
if [ "$tls" = 1 ]; then
  if [ -z "${ZK_TLS:-}" ]; then
    echo "TLS=1: the running cluster was not started with minimesos/up --tls (minimesos/down first)" >&2; exit 1
  fi
  zk=$ZK_TLS
  tls_flags=(--tls-cert "$TLS_SERVER_CERT" --tls-key "$TLS_SERVER_KEY"
             --zk-tls-ca "$TLS_CA" --zk-tls-cert "$TLS_CERT" --zk-tls-key "$TLS_KEY")
  # halyard and curl verify the API against the local CA; the scheduler, the local registry (image digests)
  export HALYARD_CA=$TLS_CA CURL_CA_BUNDLE=$TLS_CA REQUESTS_CA_BUNDLE=$TLS_CA
fi

$halyard scheduler --master "$MESOS_MASTER_ZK" --zk "$zk/${HALYARD_CHROOT:-halyard}" --listen "$listen" \
  --name "${HALYARD_NAME:-halyard}" "${credentials[@]}" "${tls_flags[@]}" &
scheduler=$!
cleanup() {
  trap '' INT TERM
  kill -TERM "$scheduler" 2>/dev/null || true
  wait "$scheduler" 2>/dev/null || true
  if [ "$started_cluster" = 1 ]; then minimesos/down; fi
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

wait_for() {  # seconds, description, command...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "timed out waiting for $what" >&2; exit 1; fi
    sleep 0.5
  done
}
leading() { curl -sf "$api/v2/apps"; }
wait_for 60 "the scheduler to lead" leading
echo "Dashboard:     $api/ui/"

app=/examples/hello
$halyard validate examples/hello.yaml -o json > /tmp/halyard-hello.$$.json
if curl -sf "$api/v2/apps$app" >/dev/null; then
  curl -sf -X PUT -H 'Content-Type: application/json' --data @/tmp/halyard-hello.$$.json "$api/v2/apps$app" >/dev/null
else
  curl -sf -X POST -H 'Content-Type: application/json' --data @/tmp/halyard-hello.$$.json "$api/v2/apps" >/dev/null
fi
rm -f /tmp/halyard-hello.$$.json
running() {
  curl -sf "$api/v2/apps$app" | python3 -c 'import json,sys; a=json.load(sys.stdin)["app"]; sys.exit(a["tasksRunning"] < a["instances"])'
}
wait_for 120 "$app to run" running
endpoints=$(curl -sf "$api/v2/apps$app/tasks" | python3 -c 'import json,sys; print(" ".join("%s:%s" % (t["host"], t["ports"][0]) for t in json.load(sys.stdin)["tasks"]))')
answers() { for e in $endpoints; do curl -sf "http://$e/" >/dev/null || return 1; done; }
wait_for 30 "$app to answer" answers

cat <<EOT

Halyard is running on a local Mesos cluster.
  Dashboard:     $api/ui/
  API:           $api/v2/apps   (tasks: $api/v2/apps$app/tasks, why waiting: $api/v1/apps$app/placement)
  Mesos master:  $MESOS_MASTER/master/state   (ZooKeeper: $zk, Docker: $DOCKER_HOST)
  $app:  $(for e in $endpoints; do printf 'http://%s/ ' "$e"; done)
EOT
for e in $endpoints; do printf '    %s -> %s\n' "$e" "$(curl -sf "http://$e/")"; done

echo
echo "A one-off job on Halyard's own executor: halyard job run examples/jobs/report.yaml --wait"
$halyard job run examples/jobs/report.yaml --wait --api "$api"
echo "  (halyard job list|show|logs|kill --api $api; scheduled jobs: examples/jobs/nightly.yaml)"
echo
echo "One artifact through the pipeline: halyard deploy hello 1 dev --services examples/services"
echo "  (the image's tag is pinned to its digest through the local registry, ${REGISTRY:-none})"
$halyard deploy hello 1 dev --services examples/services --api "$api"
$halyard releases hello dev --services examples/services --api "$api"
echo "  (then: halyard deploy hello 1 staging; halyard promote hello staging production; halyard rollback hello ENV)"
if [ "$once" = 1 ]; then
  curl -sf -X DELETE "$api/v2/apps/dev/examples/hello-service?force=true" >/dev/null
  curl -sf -X DELETE "$api/v2/apps$app?force=true" >/dev/null
  curl -sf -X DELETE "$api/v1/jobs/examples.report?stopCurrentJobRuns=true" >/dev/null
  gone() { ! curl -sf "$api/v2/apps$app" >/dev/null && ! curl -sf "$api/v2/apps/dev/examples/hello-service" >/dev/null; }
  wait_for 60 "$app to be removed" gone
  exit 0
fi
echo
echo "Ctrl-C stops the scheduler and the cluster."
wait "$scheduler"

#!/usr/bin/env bash
# make demo: a single-node hub, an enrolled agent, and real syslog over real
# UDP and TCP sockets, with everything kept under ./.vigil-demo/.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=./bin
DEMO=./.vigil-demo
HUB_INGEST=127.0.0.1:27443
HUB_RAFT=127.0.0.1:27444
HUB_API=127.0.0.1:28443
SYSLOG=127.0.0.1:25514
STATUS=127.0.0.1:29774
SAMPLE=test/demo/sample.log

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

rm -rf "$DEMO"
mkdir -p "$DEMO"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

wait_for() { # wait_for DESCRIPTION COMMAND...
	local what=$1; shift
	for _ in $(seq 1 150); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "timed out waiting for $what; logs are in $DEMO/*.log" >&2
	exit 1
}

say "Initialising a hub node in $DEMO/hub"
$BIN/vigil-hub init -data "$DEMO/hub" -ingest-addr "$HUB_INGEST" -raft-addr "$HUB_RAFT" -api-addr "$HUB_API"

say "Starting the hub (single-node Raft cluster)"
$BIN/vigil-hub serve -data "$DEMO/hub" >"$DEMO/hub.log" 2>&1 &
pids+=($!)
wait_for "the hub API" $BIN/vigil-hub status -data "$DEMO/hub"

say "Creating a one-time enrollment token for branch 'city-07'"
TOKEN=$($BIN/vigil-hub token create -data "$DEMO/hub" -branch city-07 -ttl 15m -quiet)
echo "$TOKEN"

say "Enrolling an agent (key made locally, hub pinned by the token's CA fingerprint)"
$BIN/vigil-agent enroll -hub "$HUB_INGEST" -token "$TOKEN" -data "$DEMO/agent"
cat >"$DEMO/agent/agent.yaml" <<YAML
data_dir: .
status_addr: $STATUS
inputs:
  - id: syslog-udp
    type: syslog
    protocol: udp
    listen: $SYSLOG
  - id: syslog-tcp
    type: syslog
    protocol: tcp
    listen: $SYSLOG
YAML

say "Starting the agent: syslog on udp+tcp $SYSLOG, Pebble buffer, QUIC to the hub"
$BIN/vigil-agent run -c "$DEMO/agent/agent.yaml" >"$DEMO/agent.log" 2>&1 &
pids+=($!)
wait_for "the agent" $BIN/vigil-agent status -addr "$STATUS"

n=$(grep -c . "$SAMPLE")
say "Sending $n sample lines over UDP and 500 generated lines over TCP"
$BIN/sysloggen -udp "$SYSLOG" -file "$SAMPLE" -rate 500
$BIN/sysloggen -tcp "$SYSLOG" -count 500 -prefix demo
want=$((n + 500))

counts() { $BIN/vigil-hub events counts -data "$DEMO/hub"; }
have_all() { counts | grep -q "\"total\": $want"; }
wait_for "$want events at the hub" have_all

say "What the hub holds: counts by source (input) and agent"
counts

say "Agents"
$BIN/vigil-hub agent list -data "$DEMO/hub"

say "Three events as JSON (ECS field names)"
$BIN/vigil-hub events search -data "$DEMO/hub" -field process.name=sshd -limit 1
$BIN/vigil-hub events search -data "$DEMO/hub" -field input.type=syslog-udp -field log.syslog.appname=nginx -limit 1
$BIN/vigil-hub events search -data "$DEMO/hub" -field tags=parse_error -limit 1

say "Agent status"
$BIN/vigil-agent status -addr "$STATUS"

say "Done. Data stays in $DEMO; logs in $DEMO/hub.log and $DEMO/agent.log."

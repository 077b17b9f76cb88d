#!/usr/bin/env bash
# Schemathesis against a live Whenly: every check (server errors, response schemas, status
# codes the document does not list, schema-valid input refused, invalid input accepted, ...)
# on every REST route, settings in scripts/schemathesis.toml. Starts `$WHENLY_BINARY` (else the
# debug `whenly` that `cargo leptos build` made), on the embedded default with a fresh data dir, and stops it
# after. Run by scripts/test.sh; by hand: `source scripts/setup.sh; whenly_setup test;
# bash scripts/api-fuzz.sh`. Fails on any failure Schemathesis reports.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WHENLY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/whenly/venv}"
binary="${WHENLY_BINARY:-${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/whenly/target}/debug/whenly}"
[ -x "$binary" ] || { echo "error: $binary not built (cargo leptos build)" >&2; exit 1; }
port="${WHENLY_FUZZ_PORT:-3200}"
base="http://127.0.0.1:$port"
data="$(mktemp -d)"
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

# The fuzzer signs up and fails log-ins by the thousand from one address: no throttle here
# (the throttles have their own tests).
(cd "$root" && WHENLY_LISTEN="127.0.0.1:$port" WHENLY_DATA_DIR="$data" WHENLY_CONTROL_LISTEN=127.0.0.1:0 WHENLY_METRICS_LISTEN=off \
  WHENLY_SIGN_UPS_PER_CLIENT=100000000 WHENLY_LOGIN_FAILURES_PER_CLIENT=100000000 \
  WHENLY_LOGIN_FAILURES_PER_ACCOUNT=100000000 WHENLY_LOG=warn LEPTOS_OUTPUT_NAME=whenly \
  exec "$binary" >"$data/server.log" 2>&1) &
server=$!
for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/healthz" >/dev/null || { cat "$data/server.log" >&2; echo "error: whenly did not start" >&2; exit 1; }

fuzz() {
  "$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run "$base/api/v1/openapi.json" \
    --checks all --seed 20261130 "$@"
}

# Accounts without a session (a log-in would replace the fuzzer's own session); these routes
# need neither the session nor an event code.
WHENLY_SESSION=none WHENLY_EVENT_CODE=none fuzz --include-path-regex '^/api/v1/users/(signup|login|logout)$'

# Everything else as a signed-in organizer of one open event, whose code fills `{code}`.
jar="$data/cookies"
curl -sf -c "$jar" -H 'content-type: application/json' -d '{"username":"fuzzer","password":"password123"}' "$base/api/v1/users/signup" >/dev/null
WHENLY_SESSION="$(awk '$6 == "whenly_session" { print $7 }' "$jar")"
deadline="$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
WHENLY_EVENT_CODE="$(curl -sf -b "$jar" -H 'content-type: application/json' \
  -d "{\"name\":\"Fuzzed\",\"deadline\":\"$deadline\",\"duration_minutes\":60}" "$base/api/v1/events" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["code"])')"
export WHENLY_SESSION WHENLY_EVENT_CODE
# The live stream never ends for a member (its own tests read it: server/tests/api/live.rs).
fuzz --exclude-path-regex '^/api/v1/users/(signup|login|logout)$|/live$'

if grep -q "panicked" "$data/server.log"; then
  grep -B2 -A8 "panicked" "$data/server.log" >&2
  echo "error: the server panicked under the fuzzer" >&2
  exit 1
fi

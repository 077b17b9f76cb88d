#!/usr/bin/env bash
# The whole test suite: unit and integration tests (SQLite and MariaDB), real event-node
# processes, Schemathesis against the REST API, and Playwright in Chromium against a freshly
# built server. Installs what is
# missing first (MariaDB and Chromium included). With CI=true nothing may be skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
whenly_setup test
cd "$WHENLY_ROOT"

# Both runners' output is kept to add up the closing summary line.
log="$(mktemp)"
export WHENLY_E2E_DATA_DIR
WHENLY_E2E_DATA_DIR="$(mktemp -d)"
release_dir="$(mktemp -d)"
trap 'rm -rf "$log" "$WHENLY_E2E_DATA_DIR" "$release_dir"' EXIT

# A release tarball of a cargo-leptos build, made first (`cargo test` then rebuilds the server
# without cargo-leptos's flags: its debug builds add `--cfg erase_components`, which the pages'
# hydration depends on). The release test (server/tests/cluster/release.rs) runs it without
# cargo; Schemathesis and Playwright test its unpacked `whenly`: what people install.
say "cargo leptos build (server + wasm), and a release tarball of it"
cargo leptos build
cargo build -p event-node --bin event-node
export WHENLY_TEST_RELEASE WHENLY_BINARY
WHENLY_TEST_RELEASE="$(bash scripts/package.sh --debug "$release_dir" | tail -n 1)"
mkdir "$release_dir/unpacked"
tar -xzf "$WHENLY_TEST_RELEASE" -C "$release_dir/unpacked"
WHENLY_BINARY="$(echo "$release_dir"/unpacked/whenly-*/bin/whenly)"
[ -x "$WHENLY_BINARY" ] || die "no whenly in the release tarball"

say "cargo test (unit, integration on SQLite and MariaDB, event-node processes, nginx, the release)"
# frontend is the wasm entry: building it for the host would mix app's ssr and hydrate.
cargo test --workspace --exclude frontend 2>&1 | tee -a "$log"

say "Schemathesis (every REST route against the OpenAPI document, all checks)"
bash scripts/api-fuzz.sh 2>&1 | tee -a "$log"

say "Playwright (Chromium: desktop 1280x800, phone 390x844 touch)"
(cd end2end && npx playwright test) 2>&1 | tee -a "$log"

passed=$(sed -n -e 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' -e 's/^ *\([0-9]*\) passed (.*/\1/p' "$log" | awk '{ total += $1 } END { print total + 0 }')
echo "summary: ${passed:-0} passed, 0 failed"

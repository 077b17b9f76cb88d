#!/usr/bin/env bash
# Builds Whenly (release) and serves it at http://127.0.0.1:3000 on the embedded default:
# a SQLite file in ./data, no other service. Installs missing build tools first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
whenly_setup run
cd "$WHENLY_ROOT"
say "building and serving Whenly at http://127.0.0.1:3000"
exec cargo leptos serve --release --precompress

#!/usr/bin/env bash
# Installs what Whenly needs, only where it is missing, and exports the build environment.
# Sourced by scripts/run.sh (`whenly_setup run`) and scripts/test.sh (`whenly_setup test`).
# Works on a fresh Debian 12 with rustup, node/npm and apt; a no-op for what is already there.
# Versions and traps are explained in ../shared/TOOLCHAIN.md.

WHENLY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION=0.3.10
# The API fuzzer the test suite runs against a live server (scripts/api-fuzz.sh).
SCHEMATHESIS_VERSION=4.32.5
# The real SMTP server the mail tests start on loopback (server/tests/support/smtp_server.py).
AIOSMTPD_VERSION=1.4.6
# The MariaDB account the tests (and the by-hand cluster in the README) use.
WHENLY_DB_USER=whenly
WHENLY_DB_PASSWORD=whenly

# Builds live outside the checkout so fresh clones (CI) reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/whenly/target}"
export PATH="$HOME/.cargo/bin:$WHENLY_ROOT/end2end/node_modules/.bin:$PATH"
# Incremental caches grow by gigabytes per build and a test run gains nothing from them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Playwright drives Debian's Chromium; it must never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

apt_updated=
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "apt-get install ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust_tools() {
  command -v cargo >/dev/null || die "cargo not found: install rustup first (https://rustup.rs)"
  command -v cc >/dev/null || apt_install build-essential
  apt_install pkg-config
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    say "rustup target add wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }
  if [ "$(cargo leptos --version 2>/dev/null)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
    say "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 17 minutes on 2 cores)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
  fi
  # cargo-leptos would download wasm-bindgen (which fails offline) unless the CLI is on PATH,
  # and it must match the wasm-bindgen crate in Cargo.lock exactly.
  local bindgen
  bindgen=$(grep -A1 '^name = "wasm-bindgen"$' "$WHENLY_ROOT/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')
  [ -n "$bindgen" ] || die "cannot find the wasm-bindgen version in Cargo.lock"
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]; then
    say "cargo install wasm-bindgen-cli $bindgen"
    cargo install wasm-bindgen-cli --version "$bindgen" --force
  fi
}

# npm packages: Playwright, axe-core and binaryen (whose wasm-opt release builds need).
ensure_npm_packages() {
  command -v npm >/dev/null || die "npm not found: install node and npm first"
  local lock="$WHENLY_ROOT/end2end/package-lock.json" installed="$WHENLY_ROOT/end2end/node_modules/.package-lock.json"
  if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; then
    say "npm ci (end2end)"
    (cd "$WHENLY_ROOT/end2end" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

mariadb_admin() {
  # Root over the local socket (fresh Debian), else root over TCP with no password.
  if mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then mariadb -uroot "$@"
  elif as_root mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then as_root mariadb -uroot "$@"
  else mariadb -h127.0.0.1 -uroot "$@"; fi
}

ensure_mariadb() {
  if ! mariadb-admin -h127.0.0.1 ping >/dev/null 2>&1; then
    command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
    say "starting MariaDB"
    as_root install -d -o mysql -g root -m 0755 /run/mysqld
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    for _ in $(seq 60); do mariadb-admin -h127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
    mariadb-admin -h127.0.0.1 ping >/dev/null 2>&1 || die "MariaDB did not start"
  fi
  if ! mariadb -h127.0.0.1 -u"$WHENLY_DB_USER" -p"$WHENLY_DB_PASSWORD" -e 'SELECT 1' >/dev/null 2>&1; then
    say "creating MariaDB user $WHENLY_DB_USER"
    mariadb_admin <<SQL
CREATE USER IF NOT EXISTS '$WHENLY_DB_USER'@'localhost' IDENTIFIED BY '$WHENLY_DB_PASSWORD';
CREATE USER IF NOT EXISTS '$WHENLY_DB_USER'@'127.0.0.1' IDENTIFIED BY '$WHENLY_DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`whenly%\`.* TO '$WHENLY_DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`whenly%\`.* TO '$WHENLY_DB_USER'@'127.0.0.1';
SQL
  fi
  export WHENLY_TEST_MYSQL_URL="${WHENLY_TEST_MYSQL_URL:-mysql://$WHENLY_DB_USER:$WHENLY_DB_PASSWORD@127.0.0.1:3306}"
}

# Schemathesis and aiosmtpd (the tests' SMTP server) in one virtualenv next to the build cache, pinned.
ensure_schemathesis() {
  export WHENLY_VENV="${WHENLY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/whenly/venv}"
  if [ "$("$WHENLY_VENV/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" != "$SCHEMATHESIS_VERSION" ]; then
    command -v python3 >/dev/null || apt_install python3
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    say "pip install schemathesis==$SCHEMATHESIS_VERSION"
    python3 -m venv "$WHENLY_VENV"
    "$WHENLY_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
  if [ "$("$WHENLY_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("aiosmtpd"))' 2>/dev/null)" != "$AIOSMTPD_VERSION" ]; then
    say "pip install aiosmtpd==$AIOSMTPD_VERSION"
    "$WHENLY_VENV/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
  fi
}

whenly_setup() {
  ensure_rust_tools
  ensure_npm_packages
  if [ "${1:-run}" = test ]; then
    ensure_chromium
    # The TLS proxy test: nginx in front, curl as the client.
    apt_install nginx curl
    # The release test checks the systemd units with systemd-analyze.
    apt_install systemd
    ensure_mariadb
    ensure_schemathesis
  fi
}

#!/usr/bin/env bash
# Builds a release people can install without Rust: a tarball with bin/whenly, bin/event-node
# (and hash.txt, the site package's file hashes, beside them), site/ (the wasm, JS and CSS), the
# systemd units and nginx site from deploy/, docs/DEPLOY.md and a README.
#
#   bash scripts/package.sh               # release build (cargo leptos --release), to dist/
#   bash scripts/package.sh --debug DIR   # package the debug build already made, to DIR (the test)
#
# Prints the tarball's path last.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
profile=release
out="$root/dist"
if [ "${1:-}" = --debug ]; then
  profile=debug
  out="${2:?--debug needs an output directory}"
else
  source "$root/scripts/setup.sh"
  whenly_setup run
  (cd "$root" && cargo leptos build --release --precompress && cargo build --release -p event-node --bin event-node)
fi
target="${CARGO_TARGET_DIR:-$root/target}"
site="$root/target/site"
for built in "$target/$profile/whenly" "$target/$profile/event-node" "$target/$profile/hash.txt" "$site/pkg"; do
  [ -e "$built" ] || { echo "error: $built is missing: build it first" >&2; exit 1; }
done

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/server/Cargo.toml" | head -n 1)"
[ -n "$version" ] || { echo "error: no version in server/Cargo.toml" >&2; exit 1; }
name="whenly-$version-$(uname -m)-linux"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$stage/$name/deploy" "$out"
cp "$target/$profile/whenly" "$target/$profile/event-node" "$stage/$name/bin/"
cp "$target/$profile/hash.txt" "$stage/$name/bin/"
cp -r "$site" "$stage/$name/site"
cp "$root"/deploy/* "$stage/$name/deploy/"
cp "$root/docs/DEPLOY.md" "$stage/$name/DEPLOY.md"
cp "$root/deploy/README.release.md" "$stage/$name/README.md"
rm -f "$stage/$name/deploy/README.release.md"
# Owned by root and not writable by others wherever it is unpacked as root.
tar -C "$stage" --owner=0 --group=0 --numeric-owner --mode=go-w -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"

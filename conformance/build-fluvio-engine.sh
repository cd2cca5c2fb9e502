#!/usr/bin/env bash
# Builds what the conformance tests and the Fluvio comparison bench need, outside the clone so that
# later runs (and CI on the same machine) reuse it:
#   1. the Fluvio engine harness (conformance/fluvio-engine), a native release build;
#   2. the Rust SmartModules of conformance/fluvio-modules, for wasm32-unknown-unknown.
# cargo rebuilds only what changed, so running this when everything is built takes a second or two.
# Builds run at the lowest priority on two jobs: the machines this runs on are small and shared.
# Exit status: 0 when both were built, 1 when either failed (the tests then say which is missing).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${EDDY_CONFORMANCE_CACHE:-$HOME/.cache/eddy}"
mkdir -p "$cache"
status=0

build() { # label, manifest dir, target dir, extra cargo args...
  local label="$1" dir="$2" target="$3"; shift 3
  local start=$SECONDS
  if (cd "$dir" && CARGO_TARGET_DIR="$target" nice -n 19 cargo build --release --locked -j 2 --quiet "$@"); then
    echo "[conformance] $label ready ($((SECONDS - start)) s)"
  else
    echo "[conformance] $label: build failed (see the cargo output above)" >&2
    status=1
  fi
}

if ! command -v cargo >/dev/null; then
  echo "[conformance] cargo is not installed: the Fluvio engine harness cannot be built" >&2
  exit 1
fi

build "Fluvio engine harness" "$here/fluvio-engine" "$cache/fluvio-engine-target"

# The wasm32 standard library comes from rustup; without it the Rust-built modules cannot be made.
if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
    || echo "[conformance] rustup could not add the wasm32-unknown-unknown target" >&2
fi
build "Rust-built SmartModules" "$here/fluvio-modules" "$cache/fluvio-modules-target" --target wasm32-unknown-unknown

exit "$status"

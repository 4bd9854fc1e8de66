#!/usr/bin/env bash
# Installs whatever the browser playground needs and is missing. Idempotent and cached:
# a second run checks versions and returns in well under a second.
#
#   rustup target wasm32-unknown-unknown
#   wasm-bindgen-cli                cargo install, exactly the wasm-bindgen version in Cargo.lock
#   wasm-opt, esbuild,              npm ci in www/ (binaryen's wasm-opt and esbuild's binary
#   playwright-core                 come from the npm registry)
#   chromium, chromedriver          Debian's packages, only if /usr/bin/chromium is missing
#                                   (and not with DUCKGOOSE_WEB_TOOLS=build: building the
#                                   page, as release builds do, needs no browser)
#
# Nothing here or later downloads a binary at run time: scripts/build-web.sh runs cargo,
# wasm-bindgen and wasm-opt itself (no wasm-pack, which would fetch tools on its own).
#
# Use `source scripts/lib.sh; ensure_web_tools` to also get the tools on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PWD/www/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

say() { echo "    ensure-web-tools: $*"; }

# The wasm-bindgen version the workspace is locked to (wasm-bindgen-cli must match it).
locked_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' Cargo.lock
}

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

want=$(locked_version wasm-bindgen)
[ -n "$want" ] || { echo "wasm-bindgen is not in Cargo.lock" >&2; exit 1; }
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ] || ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli $want (a few minutes, once; found '${have:-none}')"
  # Not --locked: the CLI's own lock file may predate this toolchain.
  cargo install wasm-bindgen-cli --version "$want" --force
fi

if [ "${DUCKGOOSE_WEB_TOOLS:-}" != build ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  say "installing Debian's chromium and chromium-driver"
  sudo_=""
  [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y chromium chromium-driver fonts-liberation
fi

# npm ci is the slow part; skip it when node_modules already matches package-lock.json.
stamp=www/node_modules/.ddg-lock-stamp
if [ ! -x www/node_modules/.bin/wasm-opt ] || [ ! -x www/node_modules/.bin/esbuild ] \
  || [ ! -d www/node_modules/playwright-core ] \
  || ! cmp -s www/package-lock.json "$stamp"; then
  say "installing npm dev tools in www/ (playwright-core, binaryen, esbuild)"
  (cd www && npm ci --no-audit --no-fund --loglevel=error)
  cp www/package-lock.json "$stamp"
fi

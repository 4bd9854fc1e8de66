#!/usr/bin/env bash
# Builds the simulator to wasm for the page: www/pkg/ (wasm-pack --target web, release,
# tuned for size, then wasm-opt -Oz). Installs missing tools first.
#   scripts/build-web.sh          release build (what the page and the tests use)
#   scripts/build-web.sh --dev    quick unoptimised build
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_web_tools

mode=--release
[ "${1:-}" = "--dev" ] && mode=--dev

# Size over speed for the wasm only. Profile settings via the environment keep the
# workspace's own [profile.release] (owned elsewhere) untouched; native builds target a
# different directory (wasm32-unknown-unknown/), so nothing else rebuilds.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_DEBUG=false
export CARGO_PROFILE_RELEASE_PANIC=abort
export CARGO_PROFILE_RELEASE_STRIP=false

# --mode no-install: use the wasm-bindgen-cli on PATH (the locked version), never download.
wasm-pack --quiet build wasm $mode --target web --out-dir ../www/pkg --mode no-install --no-pack
rm -f www/pkg/.gitignore

wasm=www/pkg/duckgoose_wasm_bg.wasm
if [ "$mode" = --release ]; then
  wasm-opt -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-multivalue --enable-reference-types \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
fi
printf '    %s: %s bytes, %s gzipped\n' "$wasm" "$(wc -c <"$wasm")" "$(gzip -9c "$wasm" | wc -c)"

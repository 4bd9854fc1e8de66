#!/usr/bin/env bash
# Builds the simulator to wasm for the page: www/pkg/ (cargo for wasm32, wasm-bindgen
# --target web, release tuned for size, then wasm-opt -Oz). Two modules: the playground's
# (wasm/, duckgoose_wasm*) and the counterexample hunt's (hunt-wasm/, duckgoose_hunt_wasm*),
# which only the hunt's Web Worker loads. Then the page's modules bundled and minified
# beside them (esbuild): www/pkg/duck-duck-goose.js. Installs missing tools first.
#   scripts/build-web.sh          release build (what the page and the tests use)
#   scripts/build-web.sh --dev    quick unoptimised build
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_web_tools

mode=--release
[ "${1:-}" = "--dev" ] && mode=--dev
target_dir=${CARGO_TARGET_DIR:-$PWD/target}

# The wasm's own profile, set through the environment so the workspace's [profile.release]
# stays as it is for native builds (the wasm lands in its own wasm32-unknown-unknown/
# directory). opt-level 2 with the inliner settings below, not z: z is 4 % smaller (96 144
# bytes gzipped against 99 956) but runs 1 050-1 310x real time on www/bench/speed.mjs,
# under the issue's 2 000x (www/BENCHMARKS.md has the tables: s, 3 and O3 for the simulator
# only were tried too). Its 60 KB is out of reach at z as well.
# No strip here: wasm-bindgen needs the target_features section; wasm-opt strips afterwards.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=2
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_DEBUG=false
export CARGO_PROFILE_RELEASE_PANIC=abort
# LLVM's inliner at a threshold of 40 instead of opt-level 2's 225, and no loop unrolling:
# 8 % smaller gzipped (108 712 -> 99 956 bytes) for about 15 % of the simulator's speed
# (speed.mjs at steady state, a frame every 100 ms: 2 660-2 870x against 3 210-3 370x with
# the threshold at 100, which was as fast as 225; five alternating rounds, the goal is
# 2 000x). Only for this build's wasm32 release, so no other build's cache changes.
if [ "$mode" = --release ]; then
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C llvm-args=-inline-threshold=40 -C llvm-args=-unroll-threshold=0"
fi

# What wasm-pack would do, without wasm-pack (one less tool to compile on a fresh
# machine): cargo builds the module, the wasm-bindgen-cli on PATH (the locked version)
# writes the JS glue.
modules=(duckgoose_wasm duckgoose_hunt_wasm)
crates=(-p duckgoose-wasm -p duckgoose-hunt-wasm)
profile_dir=release
if [ "$mode" = --release ]; then
  cargo build "${crates[@]}" --lib --target wasm32-unknown-unknown --locked --release -q
else
  cargo build "${crates[@]}" --lib --target wasm32-unknown-unknown --locked -q
  profile_dir=debug
fi
# Built next to www/pkg, then copied over only where a file changed: the node binary
# embeds www/pkg (node/build.rs), and an unchanged file keeps its mtime, so cargo does
# not rebuild the node after every run of this script.
mkdir -p "$target_dir"
staging=$(mktemp -d "$target_dir/web-pkg.XXXXXX")
trap 'rm -rf "$staging"' EXIT
for module in "${modules[@]}"; do
  wasm-bindgen --target web --out-dir "$staging" \
    "$target_dir/wasm32-unknown-unknown/$profile_dir/$module.wasm"
done

if [ "$mode" = --release ]; then
  # --low-memory-unused lets wasm-opt fold constant offsets into loads and stores (0.8 KB
  # gzipped): it may assume the first 1 KB of memory is never addressed. rustc links
  # wasm32 with the stack first, growing down from 1 MB toward 0, so that 1 KB would be
  # reached only by a stack 1 MB deep (rustc: -z stack-size=1048576 --stack-first).
  # --one-caller-inline-max-function-size=20: -Oz would inline any function into its only
  # caller; keeping those above 20 bytes separate makes the module 3.5 % larger raw but
  # 7.6 % smaller gzipped (83 574 -> 77 418 bytes; the inlined copies compress worse).
  # --converge repeats -Oz while it still shrinks (-0.2 % gzipped).
  for module in "${modules[@]}"; do
    wasm=$staging/${module}_bg.wasm
    wasm-opt -Oz --converge --one-caller-inline-max-function-size=20 \
      --low-memory-unused --strip-debug --strip-producers \
      --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-multivalue --enable-reference-types \
      "$wasm" -o "$wasm.opt"
    mv "$wasm.opt" "$wasm"
  done
fi
# Copies $staging into www/pkg, files in subdirectories too (wasm-bindgen puts the JS the
# module imports, wasm/js/, under snippets/).
sync_pkg() {
  mkdir -p www/pkg
  (cd "$staging" && find . -type f) | while read -r rel; do
    rel=${rel#./}
    mkdir -p "www/pkg/$(dirname "$rel")"
    cmp -s "$staging/$rel" "www/pkg/$rel" || { cp "$staging/$rel" "www/pkg/$rel.new" && mv "www/pkg/$rel.new" "www/pkg/$rel"; }
  done
}
sync_pkg
# The page's element and the hunt's worker, each bundled into one module with what it
# imports (the wasm glue from www/pkg, just updated, and the frame decoder), minified:
# www/pkg/duck-duck-goose.js, what index.html and embed.html load, and
# www/pkg/hunt-worker.js. The tour and live mode stay separate chunks, fetched when first
# opened. Flat names, so the glue's new URL('..._bg.wasm', import.meta.url) and the hunt's
# new URL('./hunt-worker.js', import.meta.url) still name files beside them. The modules
# in www/ stay as they are, for reading and for embedders who want the sources.
minify=--minify
[ "$mode" = --dev ] && minify=
esbuild www/duck-duck-goose.js www/ddg/hunt-worker.js --bundle --format=esm --splitting \
  $minify --target=es2022 --entry-names='[name]' --chunk-names='chunk-[hash]' \
  --outdir="$staging" --log-level=warning
sync_pkg
# What an earlier build left and this one did not make (old chunks, renamed snippets).
(cd www/pkg && find . -type f) | while read -r rel; do
  rel=${rel#./}
  [ -e "$staging/$rel" ] || rm -f "www/pkg/$rel"
done
find www/pkg -mindepth 1 -type d -empty -delete
for file in "${modules[@]/%/_bg.wasm}" duck-duck-goose.js hunt-worker.js; do
  printf '    www/pkg/%s: %s bytes, %s gzipped\n' "$file" "$(wc -c <"www/pkg/$file")" "$(gzip -9c "www/pkg/$file" | wc -c)"
done

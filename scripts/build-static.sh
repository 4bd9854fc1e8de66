#!/usr/bin/env bash
# Builds a statically linked release `duckgoose` and prints its path (the only thing on
# stdout), with the browser playground embedded (scripts/build-web.sh first).
# Idempotent: a second run rebuilds nothing.
#
# Prefers the musl target (rustup target add; ring's C code then wants musl-gcc, from
# Debian's musl-tools, installed when root). Where the musl target cannot be had
# (offline), links glibc statically instead: -C target-feature=+crt-static on the gnu
# target, which needs no extra target.
#
#   scripts/build-static.sh           build, print the path
#   DUCKGOOSE_STATIC_LIBC=glibc scripts/build-static.sh   skip musl, link glibc statically
#   DUCKGOOSE_WEB=skip scripts/build-static.sh            without the playground (no wasm tools)
#   scripts/build-static.sh --check   also check the binary is static and works: --version,
#                                     --help, and a one-node cluster that answers /goose
# A release build takes several minutes on 2 cores, so --check is not part of
# scripts/test; run it by hand (or in a release job) when the build changes.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
[ "${1:-}" = --check ] && check=true

arch=$(uname -m)
musl="$arch-unknown-linux-musl"
gnu="$arch-unknown-linux-gnu"
target_dir=${CARGO_TARGET_DIR:-$PWD/target}

have_musl_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$musl" ||
    rustup target add "$musl" >&2 2>/dev/null
}

# DUCKGOOSE_STATIC_LIBC=glibc forces the fallback (to check it builds).
if [ "${DUCKGOOSE_STATIC_LIBC:-musl}" = musl ] && have_musl_target; then
  target=$musl
  if ! command -v musl-gcc >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq musl-tools; } >&2 || true
  fi
  if command -v musl-gcc >/dev/null; then
    export "CC_${musl//-/_}=musl-gcc"
  fi
  # musl links statically by default; say so anyway, in case a config changes it.
  export "CARGO_TARGET_$(tr '[:lower:]-' '[:upper:]_' <<<"$musl")_RUSTFLAGS=-C target-feature=+crt-static"
else
  echo "build-static: no $musl target here; linking glibc statically on $gnu" >&2
  target=$gnu
  export "CARGO_TARGET_$(tr '[:lower:]-' '[:upper:]_' <<<"$gnu")_RUSTFLAGS=-C target-feature=+crt-static"
fi

# The playground every node serves at / (node/build.rs embeds www/ and the wasm in
# www/pkg). DUCKGOOSE_WEB=skip leaves it out: the node then serves a page saying how to
# build it.
if [ "${DUCKGOOSE_WEB:-build}" = skip ]; then
  echo "build-static: DUCKGOOSE_WEB=skip: no playground in this binary" >&2
else
  DUCKGOOSE_WEB_TOOLS=build scripts/build-web.sh >&2
fi

# --target keeps build scripts and proc macros (which cannot be static) on the host's
# ordinary settings: the flags above apply to the target only.
cargo build --release --locked -p duckgoose --target "$target" >&2
bin="$target_dir/$target/release/duckgoose"

if $check; then
  fail() { echo "build-static --check: $*" >&2; exit 1; }
  desc=$(file -L "$bin")
  grep -Eq 'statically linked|static-pie linked' <<<"$desc" || fail "not static: $desc"
  if ldd "$bin" >/dev/null 2>&1; then
    ldd_out=$(ldd "$bin" 2>&1 || true)
    grep -Eq 'not a dynamic executable|statically linked' <<<"$ldd_out" ||
      fail "ldd lists libraries: $ldd_out"
  fi
  "$bin" --version >/dev/null || fail "--version failed"
  "$bin" --help | grep -q 'duckgoose' || fail "--help failed"

  scratch=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" node --id 1 --listen "127.0.0.1:$port" --data-dir "$scratch/data" --token check \
    2>"$scratch/node.log" &
  node=$!
  trap 'kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; rm -rf "$scratch"' EXIT
  answered=false
  for _ in $(seq 100); do
    if [ "$("$bin" probe "http://127.0.0.1:$port/goose" --timeout-ms 500 2>/dev/null)" = goose ]; then
      answered=true
      break
    fi
    sleep 0.1
  done
  $answered || fail "a one-node cluster did not answer goose on /goose: $(tail -5 "$scratch/node.log")"
  if [ "${DUCKGOOSE_WEB:-build}" != skip ]; then
    page=$("$bin" probe "http://127.0.0.1:$port/index.html" 2>&1 || true)
    grep -q '<duck-duck-goose' <<<"$page" || fail "the node does not serve the playground at /index.html: $page"
  fi
  echo "build-static --check: $desc; --version, --help, /goose and the playground work" >&2
fi
echo "$bin"

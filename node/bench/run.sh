#!/usr/bin/env bash
# Failover, load, memory and rolling-restart benchmarks: duckgoose vs etcd 3.4, 5 nodes
# each on loopback.
# Installs etcd and wrk from Debian if missing, builds in release mode, prints a Markdown
# report (node/BENCHMARKS.md records one). Extra arguments go to the bench, e.g.
#   node/bench/run.sh --trials 20 --seconds 5
#   node/bench/run.sh --only rolling          # one part: failover, load or rolling
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server etcd-client)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
cargo build --release --locked -p duckgoose --bins --example bench
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/examples/bench" "$@"

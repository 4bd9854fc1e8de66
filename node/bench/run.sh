#!/usr/bin/env bash
# Failover, load, memory, rolling-restart and steady-state benchmarks: duckgoose vs
# etcd 3.4, 5 nodes each on loopback. duckgoose nodes always run with a token.
# Installs etcd and wrk from Debian if missing, builds in release mode, prints a Markdown
# report (node/BENCHMARKS.md records one). Extra arguments go to the bench, e.g.
#   node/bench/run.sh --trials 20 --seconds 5
#   node/bench/run.sh --only rolling          # parts: failover, load, rolling, steady, compaction
#   node/bench/run.sh --tls both              # every part plain, then TLS (peer mTLS)
#   node/bench/run.sh --only steady --steady-seconds 600   # elections under steady load
#   node/bench/run.sh --only compaction --puts 1000000     # 3 nodes: data dir, RSS, restart,
#                                                          # catch-up (node/bench/COMPACTION.md)
# The default run is failover, load and rolling with --tls off; steady and compaction
# run only when named in --only (e.g. --only failover,load,rolling,steady).
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

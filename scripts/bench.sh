#!/usr/bin/env bash
# Benchmarks xypro-stack against v2ray 4.34 (VLESS over WebSocket over TLS), interleaved in
# one run on this machine, and writes a markdown table to target/bench/results.md.
#   scripts/bench.sh                 # the full run (about 5 minutes on 2 cores)
#   scripts/bench.sh --megabytes 64 --rounds 1 --idle-tunnels 200 --rate-seconds 1   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
command -v v2ray >/dev/null || { echo "v2ray is missing: run scripts/install-peers.sh" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked -p xypro-stack -p xypro-bench
exec target/release/xypro-bench "$@"

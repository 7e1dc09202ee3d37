#!/usr/bin/env bash
# Benchmarks xypro-stack against v2ray 4.34 and sing-box 1.14.4 (VLESS over WebSocket over TLS),
# interleaved in one run on this machine, with the mixed pairs (our client with each peer's
# server, each peer's client with ours), then ours against sing-box over HTTPUpgrade, HTTP/2 and
# gRPC, and writes a markdown table to target/bench/results.md.
# The peers come from scripts/install-peers.sh: v2ray on PATH, sing-box at target/peers/sing-box.
#   scripts/bench.sh                 # the full run: about 8 minutes on 2 cores, after the build
#   scripts/bench.sh --megabytes 64 --rounds 1 --idle-tunnels 200 --rate-seconds 1 --rtt-starts 2   # a quick look (under a minute)
#   scripts/bench.sh --only rtt --delay-ms 50    # only the round trips, through a 50 ms relay
#   scripts/bench.sh --only transports           # only the HTTPUpgrade, HTTP/2 and gRPC table
set -euo pipefail
cd "$(dirname "$0")/.."
command -v v2ray >/dev/null || { echo "v2ray is missing: run scripts/install-peers.sh" >&2; exit 1; }
[[ -x target/peers/sing-box ]] || { echo "sing-box is missing at target/peers/sing-box: run scripts/install-peers.sh" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked -p xypro-stack -p xypro-bench
exec target/release/xypro-bench "$@"

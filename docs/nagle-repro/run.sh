#!/usr/bin/env bash
# Builds the reproducer, serves it with real Spin next to a small upstream, and times each path.
# usage: docs/nagle-repro/run.sh [requests per path]   (SPIN_VERSION=4.0.2 picks the other Spin)
# Uses ../shared/spin/spin when present (this project's machines), else `spin` on PATH.
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-100}
port=${REPRO_PORT:-3290}
upstream_port=${REPRO_UPSTREAM_PORT:-18099}
spin=spin
if [ -x ../../../shared/spin/spin ]; then spin=../../../shared/spin/spin; fi

rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
cargo build --target wasm32-wasip2 --release --quiet

python3 upstream.py "$upstream_port" & upstream_pid=$!
SPIN_VARIABLE_UPSTREAM="127.0.0.1:$upstream_port" "$spin" up --listen "127.0.0.1:$port" \
    >spin.log 2>&1 & spin_pid=$!
trap 'kill $spin_pid $upstream_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

echo "$("$spin" --version), $n requests per path over one keep-alive connection:"
for path in /inbound/split /inbound/together /inbound/stream /outbound/late /outbound/early; do
    python3 client.py "$port" "$path" "$n"
done

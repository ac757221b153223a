#!/bin/sh
# Orders end to end (issue: the listening half): N orders signed by
# sd-order to one host, obeyed by sd-obey (an action that does nothing:
# `true`), every result published by sd-bark back to the event stream.
#  - throughput: orders per second from the first sd-order to the last
#    result event, sd-obey running as a service;
#  - latency: one order at a time, `sd-order --wait` until its result
#    event arrives (median and worst of R rounds).
# Against a private redis-server on a free port, persistence off.
# Run from the repository: sh bench/orders.sh [ORDERS [ROUNDS]]
set -eu
cd "$(dirname "$0")/.."
N=${1:-2000}
R=${2:-30}
cargo build --release --quiet --bins
bin=$PWD/target/release
out=$PWD/bench/out/orders
rm -rf "$out"; mkdir -p "$out"
. bench/redis.sh
start_redis "$out" 'kill "$obey" 2>/dev/null || true;'
export SD_BROKER=redis://127.0.0.1:$port SD_SPOOL=$out/spool.db SD_CONFIG=$out/host.toml
"$bin/sd-order" keygen "$out/orders.key" 2>/dev/null
cat > "$out/host.toml" <<TOML
[order]
key_file = "$out/orders.key"

[obey]
host = "bench01"
trusted_keys = ["$out/orders.key.pub"]
ledger = "$out/obey.db"

[[action]]
name = "noop"
cmd = ["true"]
args = { n = "int" }
TOML

sh -c "exec '$bin/sd-obey' | '$bin/sd-bark'" &
obey=$!
sleep 0.5

echo "== throughput: $N orders"
python3 -c "
import json
for i in range($N):
    print(json.dumps({'host': 'bench01', 'action': 'noop', 'args': {'n': i}}))
" > "$out/requests.jsonl"
start=$(date +%s.%N)
"$bin/sd-order" < "$out/requests.jsonl" > /dev/null
while [ "$(redis-cli -p "$port" xlen sheepdog:events)" -lt "$N" ]; do sleep 0.05; done
end=$(date +%s.%N)
python3 -c "d=$end-$start; print(f'{$N} orders in {d:.2f} s: {$N/d:,.0f} orders/s')"

echo "== latency: $R orders one at a time (sd-order --wait)"
for i in $(seq "$R"); do
    s=$(date +%s%N)
    "$bin/sd-order" --host bench01 --wait 10s noop n="$i" > /dev/null
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
done | sort -n | awk '{a[NR]=$1} END {printf "median %d ms, worst %d ms (sd-order start to result event printed)\n", a[int((NR+1)/2)], a[NR]}'

#!/bin/sh
# sd-bark and sd-recv throughput, side by side in one run (issue:
# transport benchmarks): 1,000,000 events of about 300 bytes through
#  - redis-benchmark -P 64 XADD with a payload of the same size (ceiling),
#  - sd-bark (spool commit + pipelined XADD),
#  - a short pipelined redis-py producer (pip install redis),
#  - sd-recv --group … --once > /dev/null,
# each against a private redis-server on a free port, persistence off.
# Run from the repository: sh bench/transport.sh [EVENTS]
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000000}
cargo build --release --quiet
bin=$PWD/target/release
out=$PWD/bench/out/transport
rm -rf "$out"; mkdir -p "$out"
. bench/redis.sh
start_redis "$out"

python3 - "$N" > "$out/events.jsonl" <<'PY'
import json, sys
pad = "x" * 150
for i in range(int(sys.argv[1])):
    print(json.dumps({"tag": "bench", "kind": "heartbeat", "status": "ok", "reason": "http-200",
                      "elapsed_ms": i % 500, "msg": pad, "n": i}, separators=(",", ":")))
PY
payload=$(head -n 1 "$out/events.jsonl" | "$bin/sd-bark" --spool "$out/size.db" >/dev/null; \
          "$bin/sd-recv" --spool "$out/size.db" --group size --once)
echo "event size after stamping: $(printf %s "$payload" | wc -c) bytes"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { python3 -c "print(f'{$N/$1:,.0f}')"; }
reset() { redis-cli -p "$port" del sheepdog:events >/dev/null; rm -f "$out"/spool.db*; }

echo "== redis-benchmark -P 64 XADD (ceiling), 3 runs"
for i in 1 2 3; do
    redis-cli -p "$port" del bench >/dev/null
    redis-benchmark -p "$port" -P 64 -n "$N" -q XADD bench '*' event "$payload" | tr -d '\r' \
        | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p'
done | median > "$out/ceiling"
echo "  $(cat "$out/ceiling") events/s (median)"

echo "== sd-bark, 3 runs (wall time; peak RSS)"
for i in 1 2 3; do
    reset
    /usr/bin/time -f '%e %M' -o "$out/bark.$i" "$bin/sd-bark" --broker "$url" --spool "$out/spool.db" < "$out/events.jsonl"
    cat "$out/bark.$i"
done > "$out/bark.all"
bark_s=$(cut -d' ' -f1 "$out/bark.all" | median); bark_rss=$(cut -d' ' -f2 "$out/bark.all" | median)
echo "  $(rate "$bark_s") events/s (median ${bark_s}s), peak RSS ${bark_rss} KiB"

echo "== redis-py pipelined producer (batches of 1000), 3 runs"
cat > "$out/producer.py" <<'PY'
import sys, redis
r = redis.Redis(port=int(sys.argv[1]))
pipe = r.pipeline(transaction=False)
n = 0
for line in sys.stdin.buffer:
    pipe.xadd("sheepdog:events", {"event": line.rstrip(b"\n")})
    n += 1
    if n % 1000 == 0:
        pipe.execute()
pipe.execute()
PY
for i in 1 2 3; do
    reset
    /usr/bin/time -f '%e %M' -o "$out/py.$i" python3 "$out/producer.py" "$port" < "$out/events.jsonl"
    cat "$out/py.$i"
done > "$out/py.all"
py_s=$(cut -d' ' -f1 "$out/py.all" | median); py_rss=$(cut -d' ' -f2 "$out/py.all" | median)
echo "  $(rate "$py_s") events/s (median ${py_s}s), peak RSS ${py_rss} KiB"

echo "== sd-recv --group --once > /dev/null, 3 runs"
reset
"$bin/sd-bark" --broker "$url" --spool "$out/spool.db" < "$out/events.jsonl"
for i in 1 2 3; do
    redis-cli -p "$port" xgroup destroy sheepdog:events "r$i" >/dev/null 2>&1 || true
    redis-cli -p "$port" xgroup create sheepdog:events "keep$i" 0 >/dev/null  # keeps the stream untrimmed
    /usr/bin/time -f '%e %M' -o "$out/recv.$i" "$bin/sd-recv" --broker "$url" --group "r$i" --once >/dev/null
    cat "$out/recv.$i"
done > "$out/recv.all"
recv_s=$(cut -d' ' -f1 "$out/recv.all" | median); recv_rss=$(cut -d' ' -f2 "$out/recv.all" | median)
echo "  $(rate "$recv_s") events/s (median ${recv_s}s), peak RSS ${recv_rss} KiB"

python3 - "$(cat "$out/ceiling")" "$(rate "$bark_s" | tr -d ,)" "$(rate "$py_s" | tr -d ,)" <<'PY'
import sys
ceiling, bark, py = map(float, sys.argv[1:])
print(f"sd-bark / ceiling = {bark/ceiling:.2f}; sd-bark / redis-py = {bark/py:.1f}x")
PY

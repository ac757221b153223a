#!/bin/sh
# The store, measured side by side in one run (issue: store benchmarks):
#  1. sd-store importing N events against a short Python sqlite3 script
#     doing the same inserts into the same schema;
#  2. sd-bark → redis → sd-recv --group store -- sd-store --echo, end to end;
#  3. the question of the README on the store that holds them (hyperfine).
# Run from the repository: sh bench/store.sh [EVENTS [question]]
# (default 1000000; with "question", only one import and the question:
# the way to measure 10,000,000 events without an hour of Python).
# MIX=churn: 400 host/tag pairs (20 hosts x 20 tags) in random order with
# 5 % failures, so interruption periods open and close constantly (the
# default mix: 500 hosts x 20 tags in turn, 1 % failures).
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000000}
ONLY=${2:-all}
cargo build --release --quiet
bin=$PWD/target/release
out=$PWD/bench/out/store-$N-${MIX:-default}
rm -rf "$out"; mkdir -p "$out"

MIX=${MIX:-default}
echo "== generating $N events, mix $MIX"
python3 bench/events.py "$N" "$MIX" > "$out/events.jsonl"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { python3 -c "print(f'{$N/$1:,.0f}')"; }

runs=3; [ "$ONLY" = question ] && runs=1
echo "== sd-store import, $runs run(s)"
for i in $(seq "$runs"); do
    rm -f "$out"/store.db*
    /usr/bin/time -f '%e %M' -o "$out/store.$i" "$bin/sd-store" "$out/store.db" < "$out/events.jsonl"
    cat "$out/store.$i"
done > "$out/store.all"
s=$(cut -d' ' -f1 "$out/store.all" | median); rss=$(cut -d' ' -f2 "$out/store.all" | median)
echo "  $(rate "$s") events/s (median ${s}s), peak RSS ${rss} KiB"

if [ "$ONLY" != question ]; then
echo "== Python sqlite3, the same inserts into the same schema, 3 runs"
cat > "$out/insert.py" <<'PY'
import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
src = sqlite3.connect(sys.argv[2])
db.executescript("".join(line + "\n" for line in src.iterdump() if line.startswith("CREATE")))
batch = []
def flush():
    db.execute("BEGIN")
    db.executemany("INSERT OR IGNORE INTO events (id, time_ms, host, tag, kind, status, code, elapsed_ms, received_ms, body)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?)", batch)
    db.execute("COMMIT"); batch.clear()
from datetime import datetime
for line in sys.stdin:
    e = json.loads(line)
    ms = int(datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp() * 1000)
    batch.append((e["id"], ms, e["host"], e["tag"], e.get("kind"), e.get("status"), e.get("code"),
                  e.get("elapsed_ms"), int(time.time() * 1000), line.rstrip("\n")))
    if len(batch) == 1000: flush()
if batch: flush()
PY
for i in 1 2 3; do
    rm -f "$out"/py.db*
    /usr/bin/time -f '%e %M' -o "$out/py.$i" python3 "$out/insert.py" "$out/py.db" "$out/store.db" < "$out/events.jsonl"
    cat "$out/py.$i"
done > "$out/py.all"
p=$(cut -d' ' -f1 "$out/py.all" | median); prss=$(cut -d' ' -f2 "$out/py.all" | median)
echo "  $(rate "$p") events/s (median ${p}s), peak RSS ${prss} KiB (events table only: no facts, no periods)"

echo "== sd-bark -> redis -> sd-recv --group store -- sd-store --echo (3 runs)"
. bench/redis.sh
start_redis "$out"
for i in 1 2 3; do
    # Each run's acknowledgements let the stream be trimmed: publish again.
    redis-cli -p "$port" del sheepdog:events >/dev/null
    rm -f "$out"/spool.db* "$out"/e2e.db*
    "$bin/sd-bark" --broker "redis://127.0.0.1:$port" --spool "$out/spool.db" < "$out/events.jsonl"
    /usr/bin/time -f '%e %M' -o "$out/e2e.$i" "$bin/sd-recv" --broker "redis://127.0.0.1:$port" --group store \
        --once -- "$bin/sd-store" --echo "$out/e2e.db"
    cat "$out/e2e.$i"
done > "$out/e2e.all"
e=$(cut -d' ' -f1 "$out/e2e.all" | median)
echo "  $(rate "$e") events/s (median ${e}s for the receiving side; runs: $(cut -d' ' -f1 "$out/e2e.all" | tr '\n' ' '))"

echo "== the same with --window 10000 (1 run)"
redis-cli -p "$port" del sheepdog:events >/dev/null
rm -f "$out"/spool.db*
"$bin/sd-bark" --broker "redis://127.0.0.1:$port" --spool "$out/spool.db" < "$out/events.jsonl"
rm -f "$out"/e2e.db*
/usr/bin/time -f '%e %M' -o "$out/e2e-w" "$bin/sd-recv" --broker "redis://127.0.0.1:$port" --group store --once \
    --window 10000 -- "$bin/sd-store" --echo "$out/e2e.db"
e=$(cut -d' ' -f1 "$out/e2e-w")
echo "  $(rate "$e") events/s (${e}s for the receiving side)"
fi

echo "== the question, on $N stored events (hyperfine, 20 runs)"
hyperfine -N --warmup 3 --runs 20 --export-json "$out/question.json" \
    "$bin/sd-query $out/store.db interruptions --since 30d --fact mem_total_bytes<4GiB --fact pkg.nginx=1.24.0 --format json" \
    >/dev/null 2>&1
python3 -c "import json; r=json.load(open('$out/question.json'))['results'][0]; print(f'  median {r[\"median\"]*1000:.1f} ms')"
"$bin/sd-query" "$out/store.db" interruptions --since 30d --fact 'mem_total_bytes<4GiB' --fact 'pkg.nginx=1.24.0' --format json | wc -l | sed 's/^/  rows in the answer: /'

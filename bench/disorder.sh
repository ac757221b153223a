#!/bin/sh
# Events out of time order: sd-store importing N events in time order and
# the same events shuffled, on four mixes (20 or 400 host/tag pairs, 1 %
# or 5 % failures), three runs each, the median. With BASE=DIR (a
# target/release of an older sheepdog) the same runs of it beside.
# Run from the repository: sh bench/disorder.sh [N]   (default 100000)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
cargo build --release --quiet
out=$PWD/bench/out/disorder-$N
rm -rf "$out"; mkdir -p "$out"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

gen() { # gen PAIRS FAILURE ORDER
    python3 - "$N" "$1" "$2" "$3" <<'PY'
import json, random, sys, time
n, pairs, fail, order = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rnd = random.Random(7)
start = time.time() - 30 * 86400
lines = []
for i in range(n):
    t = start + i
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"
    p = rnd.randrange(pairs)
    lines.append(json.dumps({"v": 1, "id": f"ev{i:09d}", "time": stamp, "host": f"tux{p % 20:03d}",
                             "tag": f"svc{p // 20}", "kind": "run",
                             "status": "fail" if rnd.random() < fail else "ok"}, separators=(",", ":")))
if order == "shuffled":
    rnd.shuffle(lines)
print("\n".join(lines))
PY
}

run() { # run BINARY_DIR INPUT
    for i in 1 2 3; do
        rm -f "$out"/db*
        /usr/bin/time -f '%e' -o "$out/t.$i" "$1/sd-store" "$out/db" < "$2"
        cat "$out/t.$i"
    done | median
}

printf '%-7s %-5s %-9s %10s %10s\n' pairs fail order "this (s)" "base (s)"
for pairs in 20 400; do
    for fail in 0.01 0.05; do
        for order in in-order shuffled; do
            gen "$pairs" "$fail" "$order" > "$out/events.jsonl"
            this=$(run target/release "$out/events.jsonl")
            base=-
            [ -n "${BASE:-}" ] && base=$(run "$BASE" "$out/events.jsonl")
            printf '%-7s %-5s %-9s %10s %10s\n' "$pairs" "$fail" "$order" "$this" "$base"
        done
    done
done

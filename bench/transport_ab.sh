#!/bin/sh
# sd-bark and sd-recv of this tree against an older build, taking turns
# run after run on one private redis-server (persistence off), so that a
# machine whose speed drifts (a shared VM) drifts for both alike. Each
# run: sd-bark publishes the events of bench/transport.sh (1,000,000
# lines of about 330 bytes; run that first), then `sd-recv --group
# --once` reads them all. Prints each side's times, and their medians.
# Run from the repository: BASE=DIR sh bench/transport_ab.sh [RUNS]
#   DIR: an older target/release (git worktree add /tmp/base REV; cargo
#   build --release there).
set -eu
cd "$(dirname "$0")/.."
: "${BASE:?BASE=DIR, the older build's target/release}"
RUNS=${1:-7}
cargo build --release --quiet
events=$PWD/bench/out/transport/events.jsonl
[ -s "$events" ] || { echo "run sh bench/transport.sh first (it makes $events)" >&2; exit 2; }
out=$PWD/bench/out/transport_ab
rm -rf "$out"; mkdir -p "$out"
. bench/redis.sh
start_redis "$out"
for i in $(seq "$RUNS"); do
    for side in base this; do
        bin=$PWD/target/release
        [ "$side" = base ] && bin=$BASE
        redis-cli -p "$port" del sheepdog:events >/dev/null
        rm -f "$out"/spool.db*
        /usr/bin/time -f "$side sd-bark %e" -a -o "$out/times" \
            "$bin/sd-bark" --broker "$url" --spool "$out/spool.db" < "$events"
        /usr/bin/time -f "$side sd-recv %e" -a -o "$out/times" \
            "$bin/sd-recv" --broker "$url" --spool "$out/spool.db" --group "g$i$side" --once > /dev/null
    done
done
awk '{t[$1" "$2] = t[$1" "$2] " " $3} END {for (k in t) print k ":" t[k]}' "$out/times" | sort
for key in "base sd-bark" "this sd-bark" "base sd-recv" "this sd-recv"; do
    grep "^$key " "$out/times" | awk '{print $3}' | sort -n \
        | awk -v k="$key" '{a[NR]=$1} END {printf "%s median %.2f s\n", k, a[int((NR+1)/2)]}'
done

#!/bin/sh
# Two servers, one voice (issue: the server survives its machine): how
# long the standby receiver takes to deliver after the active one is
# killed with SIGKILL. Two `sd-recv --group mail --lease mail` run against
# a private redis-server; K times (default 10) the active one is killed,
# an event is barked at once, and the time until the other has printed it
# is measured; the killed one is started again as the new standby.
# Median and worst, for a lease of LEASE (default 10s, sd-recv's).
# Run from the repository: sh bench/takeover.sh [K]
set -eu
cd "$(dirname "$0")/.."
K=${1:-10}
LEASE=${LEASE:-10s}
cargo build --release --quiet --bins
bin=$PWD/target/release
out=$PWD/bench/out/takeover
rm -rf "$out"; mkdir -p "$out"
. bench/redis.sh
start_redis "$out" 'kill $(cat "$out"/*.pid 2>/dev/null) 2>/dev/null || true;'
export SD_BROKER=$url SD_SPOOL=$out/spool.db

start() { # NAME: a receiver in the background, its pid in NAME.pid
    "$bin/sd-recv" --group mail --lease mail --lease-time "$LEASE" --consumer "$1" \
        >> "$out/$1.out" 2>> "$out/$1.err" &
    echo $! > "$out/$1.pid"
}
active() { # the receiver holding the lease
    redis-cli -p "$port" GET sheepdog:lease:mail
}
start a
sleep 1
start b
sleep 1
: > "$out/times"
for i in $(seq "$K"); do
    who=$(active)
    other=a; [ "$who" = a ] && other=b
    lines=$(cat "$out/$other.out" | wc -l)
    kill -9 "$(cat "$out/$who.pid")"
    t0=$(date +%s.%N)
    echo "{\"tag\":\"takeover\",\"status\":\"ok\",\"n\":$i}" | "$bin/sd-bark" 2>/dev/null
    while [ "$(cat "$out/$other.out" | wc -l)" -le "$lines" ]; do sleep 0.02; done
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1 - $t0:.2f}')" >> "$out/times"
    echo "kill $i: $who killed, $other delivered after $(tail -n 1 "$out/times") s"
    start "$who"
    sleep 1
done
sort -n "$out/times" | awk -v lease="$LEASE" '{a[NR]=$1} END {printf "lease %s: median %s s, worst %s s over %d kills\n", lease, a[int((NR+1)/2)], a[NR], NR}'

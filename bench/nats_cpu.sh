#!/bin/sh
# Where the CPU goes while the store takes events in (issue 31): the
# events barked into a private broker first, then
# `sd-recv --group store --once -- sd-store --echo` timed, with the CPU of
# sd-store, of sd-recv and sd-store together, and of the broker's process
# (from /proc) around it. Run from the repository:
#   sh bench/nats_cpu.sh nats|redis [EVENTS]     (MIX=churn as in nats.sh)
set -eu
cd "$(dirname "$0")/.."
engine=${1:?nats or redis}
N=${2:-200000}
MIX=${MIX:-default}
cargo build --release --quiet
bin=$PWD/target/release
out=$PWD/bench/out/nats-cpu-$N-$MIX
rm -rf "$out"; mkdir -p "$out"
python3 bench/events.py "$N" "$MIX" > "$out/events.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$engine" = nats ]; then
    nats-server -a 127.0.0.1 -p "$port" -js -sd "$out/js" > "$out/server.log" 2>&1 &
    pid=$!; url=nats://127.0.0.1:$port
else
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no > "$out/server.log" 2>&1 &
    pid=$!; url=redis://127.0.0.1:$port
fi
trap 'kill $pid 2>/dev/null' EXIT
sleep 0.5
"$bin/sd-bark" --broker "$url" --spool "$out/spool.db" < "$out/events.jsonl"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(ticks)
/usr/bin/time -f "  wall %e s; sd-recv and sd-store: user %U s, sys %S s" \
    "$bin/sd-recv" --broker "$url" --spool "$out/spool.db" --group store --once -- \
    /usr/bin/time -f "  sd-store: user %U s, sys %S s" "$bin/sd-store" --echo "$out/e2e.db" > /dev/null
after=$(ticks)
echo "  $engine server: $(( (after - before) * 1000 / $(getconf CLK_TCK) )) ms of CPU" >&2

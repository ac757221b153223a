#!/bin/sh
# sd-gate against its yardstick, in one run (issue 32): pings a second
# through sd-gate into the spool, from CLIENTS concurrent kept-alive
# clients (bench/gate_load.rs), against `sd-bark --ping` started once per
# ping, CLIENTS at a time (what a host without the gate would run). No
# broker: the spool is the destination, as on the server itself.
# GATE_CLOSE=1: a connection per ping, as curl from a crontab opens.
# Run from the repository: sh bench/gate.sh [PINGS] [CLIENTS]
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
C=${2:-64}
cargo build --release --quiet --bin sheepdog --bin sd-gate --bin sd-bark --example gate-load
bin=$PWD/target/release
out=$PWD/bench/out/gate-$N-$C
rm -rf "$out"; mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$out/gate.toml" <<TOML
[gate]
listen = "127.0.0.1:$port"
check_rate = 1000000
address_rate = 1000000
address_connections = 1024
workers = $C
TOML
uuid=$("$bin/sd-gate" --config "$out/gate.toml" -q add bench ping | head -n 1)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== sd-gate, $N pings from $C clients, 3 runs (a fresh spool each)"
for i in 1 2 3; do
    rm -f "$out"/spool.db*
    "$bin/sd-gate" --config "$out/gate.toml" --spool "$out/spool.db" -q &
    gate=$!
    python3 -c "
import socket, time
for _ in range(100):
    try: socket.create_connection(('127.0.0.1', $port)).close(); break
    except OSError: time.sleep(0.05)"
    "$bin/examples/gate-load" "127.0.0.1:$port" "$uuid" "$N" "$C" | tee -a "$out/gate.all"
    kill "$gate"; wait "$gate" || true
    kept=$(python3 -c "import sqlite3; print(sqlite3.connect('$out/spool.db').execute('select count(*) from entries').fetchone()[0])")
    [ "$kept" = "$N" ] || { echo "the spool holds $kept events, not $N" >&2; exit 1; }
done
gate_rate=$(awk '{print $6}' "$out/gate.all" | median)
echo "  median $gate_rate pings/s"

M=$((N / 50))
echo "== sd-bark --ping started per ping, $M pings $C at a time, 3 runs"
for i in 1 2 3; do
    rm -f "$out"/bark-spool.db*
    start=$(date +%s.%N)
    seq "$M" | xargs -P "$C" -I{} "$bin/sd-bark" --ping --tag ping --spool "$out/bark-spool.db"
    end=$(date +%s.%N)
    python3 -c "print(f'{$M/($end-$start):.0f}')" | tee -a "$out/bark.all"
done
bark_rate=$(median < "$out/bark.all")
echo "  median $bark_rate pings/s"
echo "  sd-gate / sd-bark per ping: $(python3 -c "print(f'{$gate_rate/$bark_rate:.1f}')")x"

#!/bin/sh
# NATS JetStream against its yardsticks, side by side in one run (issue 31):
#  1. sd-bark through NATS against a pipelined nats-py publisher doing the
#     same (each event's id as Nats-Msg-Id, every message acknowledged);
#  2. sd-bark → broker → sd-recv --group store -- sd-store --echo, end to
#     end, through NATS against the same through Redis: with persistence
#     off; with `appendfsync everysec`, which like JetStream's default
#     survives a crash of its server but not a power loss; and as the
#     README configures it for the guarantee (`appendfsync always`), with
#     NATS given `sync_interval: always` too where the server knows it
#     (nats-server 2.10 or newer: NATS_SERVER=/path/to/nats-server);
#  3. sd-bark's start-up with one event, NATS against Redis (hyperfine).
# Each against a private server on a free loopback port (nats-server -js
# with its store in bench/out, redis-server with persistence off).
# Run from the repository: sh bench/nats.sh [EVENTS]   (pip install nats-py)
# MIX=churn: 400 host/tag pairs in random order, 5 % failures (the default
# mix: 500 hosts x 20 tags in turn, 1 % failures).
set -eu
cd "$(dirname "$0")/.."
N=${1:-200000}
MIX=${MIX:-default}
cargo build --release --quiet
bin=$PWD/target/release
out=$PWD/bench/out/nats-$N-$MIX
rm -rf "$out"; mkdir -p "$out"
. bench/redis.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nport=$(free_port)
nats_server=${NATS_SERVER:-nats-server}
start_nats() { # start_nats [always]: JetStream's files flushed at every write
    rm -rf "$out/js"
    printf 'listen: 127.0.0.1:%s\njetstream { store_dir: "%s" %s}\n' "$nport" "$out/js" \
        "${1:+, sync_interval: always }" > "$out/nats.conf"
    "$nats_server" -c "$out/nats.conf" > "$out/nats.log" 2>&1 &
    echo $! > "$out/nats.pid"
    sleep 0.5
}
stop_nats() { if [ -f "$out/nats.pid" ]; then kill "$(cat "$out/nats.pid")" 2>/dev/null || true; fi; sleep 0.3; }
# The Redis servers with an append-only file, once started (start_aof).
stop_aof() { for p in ${everysec:-} ${always:-}; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done; }
start_redis "$out" 'stop_nats; stop_aof;'
nurl=nats://127.0.0.1:$nport

echo "== generating $N events, mix $MIX"
python3 bench/events.py "$N" "$MIX" > "$out/events.jsonl"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { python3 -c "print(f'{$N/$1:,.0f}')"; }

echo "== sd-bark through NATS, 3 runs (a fresh server each)"
for i in 1 2 3; do
    stop_nats; start_nats; rm -f "$out"/spool.db*
    /usr/bin/time -f '%e %M' -o "$out/bark.$i" "$bin/sd-bark" --broker "$nurl" --spool "$out/spool.db" < "$out/events.jsonl"
    cat "$out/bark.$i"
done > "$out/bark.all"
bark_s=$(cut -d' ' -f1 "$out/bark.all" | median)
echo "  $(rate "$bark_s") events/s (median ${bark_s}s)"

echo "== nats-py, pipelined (1000 in flight), Nats-Msg-Id, acknowledged, 3 runs"
cat > "$out/publisher.py" <<'PY'
import asyncio, json, sys
import nats
async def main():
    nc = await nats.connect(sys.argv[1])
    js = nc.jetstream()
    await js.add_stream(name="sheepdog_events", subjects=["sheepdog.events.>"], duplicate_window=7200)
    pending = []
    for line in sys.stdin.buffer:
        data = line.rstrip(b"\n")
        eid = json.loads(data)["id"]
        pending.append(js.publish("sheepdog.events.default.bench", data, headers={"Nats-Msg-Id": eid}))
        if len(pending) == 1000:
            await asyncio.gather(*pending); pending = []
    await asyncio.gather(*pending)
    await nc.close()
asyncio.run(main())
PY
for i in 1 2 3; do
    stop_nats; start_nats
    /usr/bin/time -f '%e %M' -o "$out/py.$i" python3 "$out/publisher.py" "$nurl" < "$out/events.jsonl"
    cat "$out/py.$i"
done > "$out/py.all"
py_s=$(cut -d' ' -f1 "$out/py.all" | median)
echo "  $(rate "$py_s") events/s (median ${py_s}s)"
echo "  sd-bark / nats-py: $(python3 -c "print(f'{$py_s/$bark_s:.2f}')")x"

end_to_end() { # end_to_end URL LABEL: bark everything, then time the store taking it in
    rm -f "$out"/spool.db* "$out"/e2e.db*
    "$bin/sd-bark" --broker "$1" --spool "$out/spool.db" < "$out/events.jsonl"
    /usr/bin/time -f '%e %M' -o "$out/e2e.$2" "$bin/sd-recv" --broker "$1" --spool "$out/spool.db" \
        --group store --once -- "$bin/sd-store" --echo "$out/e2e.db" >/dev/null
    cut -d' ' -f1 "$out/e2e.$2"
}
# A Redis with an append-only file (appendonly yes) flushed to disk as $1
# says, in $out/aof-$1, on the port printed.
start_aof() {
    p=$(free_port)
    rm -rf "$out/aof-$1"; mkdir -p "$out/aof-$1"
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync "$1" \
        --dir "$out/aof-$1" --daemonize yes --pidfile "$out/aof-$1/redis.pid" --logfile "$out/aof-$1/redis.log"
    echo "$p"
}
# everysec: an acknowledged event survives a crash of the server, not a
# power loss, as with JetStream's default (its files flushed every two
# minutes): the like-for-like baseline. always: as the README configures
# Redis for the guarantee, against NATS with sync_interval always where the
# server knows it (2.10 and newer).
everysec=$(start_aof everysec); always=$(start_aof always); sleep 0.5
nats_always=
"$nats_server" --version | grep -q 'v2\.[0-9]\.' || nats_always=yes
rm -f "$out"/e2e-*.all
redis_run() { # redis_run PORT LABEL I
    redis-cli -p "$1" flushall >/dev/null
    end_to_end "redis://127.0.0.1:$1" "$2.$3" >> "$out/e2e-$2.all"
}
echo "== sd-recv --group store --once -- sd-store --echo, NATS and Redis, 5 runs each, taking turns"
# In turns, so that a slow spell of a shared machine falls on every server.
for i in 1 2 3 4 5; do
    stop_nats; start_nats
    end_to_end "$nurl" "nats.$i" >> "$out/e2e-nats.all"
    redis_run "$port" redis "$i"
    redis_run "$everysec" everysec "$i"
    redis_run "$always" aof "$i"
    if [ -n "$nats_always" ]; then
        stop_nats; start_nats always
        end_to_end "$nurl" "always.$i" >> "$out/e2e-always.all"
    fi
done
stop_aof
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
en=$(median < "$out/e2e-nats.all"); er=$(median < "$out/e2e-redis.all")
ee=$(median < "$out/e2e-everysec.all"); ea=$(median < "$out/e2e-aof.all")
echo "  NATS  $(rate "$en") events/s (median ${en}s), $("$nats_server" --version)"
echo "  Redis $(rate "$er") events/s (median ${er}s), persistence off"
echo "  Redis $(rate "$ee") events/s (median ${ee}s), appendonly yes, appendfsync everysec"
echo "  Redis $(rate "$ea") events/s (median ${ea}s), appendonly yes, appendfsync always"
echo "  NATS / Redis without persistence: $(ratio "$er" "$en")x"
echo "  NATS / Redis everysec (both survive a crash of the server, not a power loss): $(ratio "$ee" "$en")x"
if [ -s "$out/e2e-always.all" ]; then
    eA=$(median < "$out/e2e-always.all")
    echo "  NATS $(rate "$eA") events/s (median ${eA}s), sync_interval always"
    echo "  NATS always / Redis always (both survive a power loss): $(ratio "$ea" "$eA")x"
else
    echo "  NATS / Redis always (Redis survives a power loss, NATS does not): $(ratio "$ea" "$en")x"
fi

if command -v hyperfine >/dev/null 2>&1; then
    echo "== sd-bark start-up, one event (hyperfine)"
    stop_nats; start_nats
    head -n 1 "$out/events.jsonl" > "$out/one.jsonl"
    hyperfine --warmup 5 --runs 50 \
        "$bin/sd-bark --broker $url --spool $out/h-redis.db < $out/one.jsonl" \
        "$bin/sd-bark --broker $nurl --spool $out/h-nats.db < $out/one.jsonl"
fi

#!/bin/sh
# sd-heartbeat --checks with many services that all hang: every check runs
# at once in the worker, so the round should take about one timeout, not
# N of them. Measured against the timeout itself (the floor).
# Run from the repository: sh bench/heartbeat.sh [CHECKS]   (default 1000)
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000}
TIMEOUT=2
cargo build --release --quiet
bin=$PWD/target/release
user=""; [ "$(id -u)" = 0 ] && user="--user nobody"   # as root, checks drop to nobody
out=$PWD/bench/out/heartbeat-$N
rm -rf "$out"; mkdir -p "$out"

# A server that accepts connections and never answers.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4096)
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5

i=0
while [ $i -lt "$N" ]; do
    printf '[[check]]\ntag = "svc%04d"\nhttp = "http://127.0.0.1:%s/%d"\ntimeout = "%ss"\n\n' $i "$port" $i $TIMEOUT
    i=$((i + 1))
done > "$out/checks.toml"

echo "== $N hanging HTTP checks, timeout ${TIMEOUT}s each (hyperfine, 5 runs)"
hyperfine -N -i --runs 5 --export-json "$out/run.json" \
    "$bin/sd-heartbeat $user --checks $out/checks.toml" >/dev/null 2>&1
python3 - "$out/run.json" "$TIMEOUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = float(sys.argv[2])
print(f"  median {r['median']:.2f} s for the round = {r['median']/t:.2f} x one timeout ({t:.0f} s)")
PY
/usr/bin/time -f '  peak RSS %M KiB' "$bin/sd-heartbeat" $user --checks "$out/checks.toml" 2>&1 >/dev/null | tail -1
"$bin/sd-heartbeat" $user --checks "$out/checks.toml" 2>/dev/null | python3 -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["reason"] for l in sys.stdin)
print("  reasons:", dict(c))'

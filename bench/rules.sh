#!/bin/sh
# Rules against the flag form, on the same stores (issue: rules):
# the seed question written as rules (`sd-query ask 'answer(H, T)'`) and
# `sd-query interruptions --fact …`, side by side with hyperfine, on four
# mixes of 1,000,000 events — few and many host/tag pairs, 1 % and 5 %
# failures — plus the attack rule (count over a 5-minute window, a field
# of each event) and the recursive dependency rule on the same stores.
# Run from the repository: sh bench/rules.sh [EVENTS]
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000000}
cargo build --release --quiet
bin=$PWD/target/release
out=$PWD/bench/out/rules-$N
rm -rf "$out"; mkdir -p "$out"

cat > "$out/rules.dl" <<'DL'
low_ram(H)         :- fact(H, "mem_total_bytes", M), M < 4GiB.
runs(H, P, V)      :- fact(H, P, V).
interrupted(H, T)  :- interruption(H, T, _, End), End > now - 30d.
answer(H, T)       :- interrupted(H, T), low_ram(H), runs(H, "pkg.nginx", V), version_eq(V, "1.24.0").

failed_login(H, Ip, Id) :- event(Id, T, H, "sshd", "auth", _), T > now - 5m,
                           field(Id, "reason", "failed-login"), field(Id, "ip", Ip).
attack(H, Ip)      :- N = count { failed_login(H, Ip, Id) }, N > 20.

upstream(H, P)     :- depends(H, P).
upstream(H, P)     :- depends(H, X), upstream(X, P).
down(H)            :- state(H, "svc0", "fail", _).
suppress(H, T)     :- upstream(H, P), down(P), state(H, T, _, _).
DL
# Every host behind one of the first ten (its switch: a host that reports
# svc0 too), those behind one router.
python3 - >> "$out/rules.dl" <<'PY'
for h in range(10, 500):
    print(f'depends("tux{h:03d}", "tux{h % 10:03d}").')
for s in range(10):
    print(f'depends("tux{s:03d}", "router0").')
PY

gen() { # gen HOSTS SERVICES FAILURE_RATE
python3 - "$N" "$1" "$2" "$3" <<'PY'
import json, random, sys, time
n, hosts, services, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
rnd = random.Random(42); now = time.time(); start = now - 40 * 86400
GIB = 1 << 30
def stamp(t): return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)
for h in range(hosts):
    print(json.dumps({"v": 1, "id": f"facts-{h}", "time": stamp(now - 3600), "host": f"tux{h:03d}", "tag": "facts",
                      "kind": "facts", "status": "info",
                      "facts": {"mem_total_bytes": (2 + h % 8) * GIB, "pkg.nginx": ["1.22.1-9", "1.24.0-2+deb12u1"][h % 2]}},
                     separators=(",", ":")))
logins = 2000
body = n - hosts - logins; step = (now - 600 - start) / body
for i in range(body):
    print(json.dumps({"v": 1, "id": f"ev{i:09d}", "time": stamp(start + i * step), "host": f"tux{rnd.randrange(hosts):03d}",
                      "tag": f"svc{rnd.randrange(services)}", "kind": "heartbeat",
                      "status": "fail" if rnd.random() < rate else "ok", "reason": "http-200",
                      "elapsed_ms": i % 300, "msg": "checked http://localhost/ in 12 ms"}, separators=(",", ":")))
# The last four minutes: failed ssh logins from 50 addresses, a few hot.
for i in range(logins):
    ip = f"203.0.113.{rnd.choice([7, 7, 7, 9]) if i % 4 == 0 else rnd.randrange(50)}"
    print(json.dumps({"v": 1, "id": f"ssh{i:06d}", "time": stamp(now - 240 + i * 240 / logins), "host": f"tux{i % 7:03d}",
                      "tag": "sshd", "kind": "auth", "status": "info", "reason": "failed-login", "ip": ip},
                     separators=(",", ":")))
PY
}

printf '| mix | events | `interruptions --fact` (rows) | `ask answer(H, T)` (rows) | ratio | attack (rows) | suppress (rows) | `status` (rows) |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for mix in "500 20 0.01" "500 20 0.05" "20 5 0.01" "20 5 0.05"; do
    set -- $mix
    name="$1 hosts × $2 tags, $(python3 -c "print(f'{$3:.0%}')") failures"
    gen "$@" > "$out/events.jsonl"
    rm -f "$out"/store.db*
    "$bin/sd-store" "$out/store.db" < "$out/events.jsonl"
    flags="$bin/sd-query $out/store.db interruptions --since 30d --fact mem_total_bytes<4GiB --fact pkg.nginx=1.24.0 --format json"
    rules="$bin/sd-query $out/store.db ask --rules $out/rules.dl answer(H,T)"
    attack="$bin/sd-query $out/store.db ask --rules $out/rules.dl attack(H,Ip)"
    suppress="$bin/sd-query $out/store.db ask --rules $out/rules.dl suppress(H,T)"
    status="$bin/sd-query $out/store.db status --format json"
    hyperfine -N --warmup 3 --runs 20 --export-json "$out/q.json" "$flags" "$rules" "$attack" "$suppress" "$status" >/dev/null 2>&1
    a=$($flags | wc -l); b=$($rules | wc -l); c=$($attack | wc -l); d=$($suppress | wc -l); e=$($status | wc -l)
    # The same answer, or the benchmark is void.
    $flags | python3 -c 'import json,sys; print("\n".join(sorted(json.loads(l)["host"]+" "+json.loads(l)["tag"] for l in sys.stdin)))' > "$out/a"
    $rules | python3 -c 'import json,sys; print("\n".join(sorted(json.loads(l)["H"]+" "+json.loads(l)["T"] for l in sys.stdin)))' > "$out/b"
    cmp -s "$out/a" "$out/b" || { echo "rules and flags disagree on $name" >&2; exit 1; }
    python3 - "$out/q.json" "$name" "$N" "$a" "$b" "$c" "$d" "$e" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]; m = [x["median"] * 1000 for x in r]
name, n, a, b, c, d, e = sys.argv[2:]
print(f"| {name} | {int(n):,} | {m[0]:.1f} ms ({a}) | {m[1]:.1f} ms ({b}) | {m[1]/m[0]:.2f}× | {m[2]:.1f} ms ({c}) | {m[3]:.1f} ms ({d}) | {m[4]:.1f} ms ({e}) |")
PY
done

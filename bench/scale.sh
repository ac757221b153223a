#!/bin/sh
# A year of a herd (issue: the store at scale): N events (default
# 10,000,000) on three mixes, imported once, then every question timed —
# median of RUNS (default 3) with its peak memory — and an import of one
# more million (the next weeks) into the full store against one into an
# empty store.
#   default  500 hosts x 20 tags in turn, 1 % failures, 40 days
#   churn    350 host/tag pairs (35 hosts x 10 tags) in random turn,
#            5 % failures, 115 days
#   long     the default's pairs over 120 days, 1 % failures
# Run from the repository: sh bench/scale.sh [N [MIX...]]
# With BASE=DIR (an older target/release) each question is run again
# with the older build, beside (BASE_RUNS times, default once: the older
# `events` took minutes and gigabytes).
set -eu
cd "$(dirname "$0")/.."
N=${1:-10000000}
shift || true
MIXES=${*:-default churn long}
RUNS=${RUNS:-3}
cargo build --release --quiet
bin=$PWD/target/release
rules=$PWD/contrib/rules/rules.dl

generate() { # MIX COUNT FIRST -> JSON lines on stdout
python3 - "$1" "$2" "$3" <<'PY'
import json, random, sys, time
mix, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42 + first)
days = {"default": 40, "churn": 115, "long": 120}[mix] * n / max(n - 1000000, 1)
now = time.time(); start = now - days * 86400; step = days * 86400 / max(n, 1)
hosts = 35 if mix == "churn" else 500
tags = 10 if mix == "churn" else 20
fail = 0.05 if mix == "churn" else 0.01
GIB = 1 << 30
out = sys.stdout
if first == 0:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600))
    for h in range(hosts):
        out.write(json.dumps({"v": 1, "id": f"facts-{h}", "time": stamp, "host": f"tux{h:03d}",
                              "tag": "facts", "kind": "facts", "status": "info",
                              "facts": {"mem_total_bytes": (2 + h % 8) * GIB,
                                        "pkg.nginx": ["1.22.1-9", "1.24.0-2+deb12u1"][h % 2]}},
                             separators=(",", ":")) + "\n")
for i in range(n):
    t = start + i * step
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)
    if mix == "churn":
        host, tag = rnd.randrange(hosts), rnd.randrange(tags)
    else:
        host, tag = i % hosts, (i // hosts) % tags
    status = "fail" if rnd.random() < fail else "ok"
    # Ids sort as they are made, as the ULIDs sheepdog gives do.
    out.write('{"v":1,"id":"ev%d-%010d","time":"%s","host":"tux%03d","tag":"svc%d","kind":"run","status":"%s","reason":"exit","elapsed_ms":%d,"msg":"ran backup in %d ms"}\n'
              % (first, i, stamp, host, tag, status, 1000 + rnd.randrange(500), i % 900))
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# time_it LABEL BIN ARGS...: median wall time and peak RSS of RUNS runs.
time_it() {
    label=$1; shift
    b=$1; shift
    for i in $(seq "$runs"); do
        /usr/bin/time -f '%e %M' -o "$out/t" "$b/sd-query" "$@" > "$out/answer" 2>/dev/null || true
        # A command the kernel killed (out of memory) says so first.
        if grep -q 'terminated by signal' "$out/t"; then
            echo "killed 0"
        else
            tail -n 1 "$out/t"
        fi
    done > "$out/times"
    if grep -q '^killed' "$out/times"; then
        printf '  %-34s killed (out of memory?)\n' "$label"
        return
    fi
    s=$(cut -d' ' -f1 "$out/times" | median); kib=$(cut -d' ' -f2 "$out/times" | median)
    printf '  %-34s %8s s %8s MiB  %s rows\n' "$label" "$s" "$((kib / 1024))" "$(wc -l < "$out/answer")"
}

for mix in $MIXES; do
    out=$PWD/bench/out/scale-$N-$mix
    mkdir -p "$out"
    db=$out/store.db
    if [ ! -s "$out/events.jsonl" ]; then
        echo "== generating $N events, mix $mix"
        # The extra million comes after the N in time, as a herd's next
        # weeks do.
        generate "$mix" "$((N + 1000000))" 0 > "$out/all.jsonl"
        facts=500; [ "$mix" = churn ] && facts=35
        head -n "$((N + facts))" "$out/all.jsonl" > "$out/events.jsonl"
        tail -n 1000000 "$out/all.jsonl" > "$out/more.jsonl"
        rm "$out/all.jsonl"
    fi
    echo "== $mix: import of $N into an empty store"
    rm -f "$db"*
    /usr/bin/time -f '%e %M' -o "$out/import" "$bin/sd-store" "$db" < "$out/events.jsonl"
    read -r s kib < "$out/import"
    echo "  $s s, $(python3 -c "print(f'{$N/$s:,.0f}')") events/s, peak $((kib / 1024)) MiB, store $(du -m "$db" | cut -f1) MiB"
    echo "== $mix: one more million, into the full store and into an empty one"
    cp "$db" "$out/full.db"
    /usr/bin/time -f '%e' -o "$out/more-full" "$bin/sd-store" "$out/full.db" < "$out/more.jsonl"
    rm -f "$out"/empty.db*
    /usr/bin/time -f '%e' -o "$out/more-empty" "$bin/sd-store" "$out/empty.db" < "$out/more.jsonl"
    full=$(cat "$out/more-full"); empty=$(cat "$out/more-empty")
    echo "  full $full s, empty $empty s: $(python3 -c "print(f'{$empty/$full:.2f}')") of the empty store's rate"
    rm -f "$out"/full.db* "$out"/empty.db*
    # An ssh attack now (contrib/rules/rules.dl's attack rule): 2,000
    # failed logins on one host from three addresses in the last four
    # minutes, with the ssh-failed-logins example's fields.
    python3 - > "$out/attack.jsonl" <<'PY2'
import json, time
now = time.time()
for i in range(2000):
    t = now - 240 + i * 0.12
    print(json.dumps({"v": 1, "id": f"attack-{i:05d}",
                      "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000),
                      "host": "tux001", "tag": "sshd", "kind": "auth", "status": "warn",
                      "reason": "failed-login", "ip": f"203.0.113.{i % 3}", "msg": "failed login"}))
PY2
    "$bin/sd-store" "$db" < "$out/attack.jsonl"
    # The suppression rule's shape on tags the mix has: the board of one
    # tag (`down(H) :- state(H, "ping", "fail", _)`).
    printf 'down(H) :- state(H, "svc0", "fail", _).\n' > "$out/board-of-a-tag.dl"
    echo "== $mix: the questions (median of $RUNS, peak memory)"
    for side in this ${BASE:+base}; do
        b=$bin; runs=$RUNS
        [ "$side" = base ] && b=$BASE && runs=${BASE_RUNS:-1}
        [ "$side" = base ] && echo "  -- the older build (BASE)"
        time_it "events --since 300d (json)" "$b" "$db" events --since 300d --format json
        time_it "durations --since 300d" "$b" "$db" durations --since 300d --format json
        time_it "status --format html" "$b" "$db" status --format html
        time_it "status --format json" "$b" "$db" status --format json
        time_it "the seed question, flags" "$b" "$db" interruptions --since 30d \
            --fact 'mem_total_bytes<4GiB' --fact 'pkg.nginx=1.24.0' --format json
        time_it "the seed question, rules" "$b" "$db" ask --rules "$rules" 'answer(H, T)' --format json
        time_it "alerts of the rules" "$b" "$db" ask --rules "$rules" 'alert(H, W, M)' --format json
        time_it "the attack rule" "$b" "$db" ask --rules "$rules" 'attack(H, Ip)' --format json
        time_it "sd-query alerts" "$b" "$db" alerts --rules "$rules" --state "$out/alerts-$side.json"
        time_it "the board of one tag (suppression)" "$b" "$db" ask --rules "$out/board-of-a-tag.dl" 'down(H)' --format json
    done
done

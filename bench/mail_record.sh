#!/bin/sh
# What recording costs sd-mail (issue: two servers, one voice): N failures
# of N hosts (default 500), each its own mail, through sd-mail --echo to a
# local SMTP sink (Debian's python3-aiosmtpd, /usr/bin/python3), with and without --record (each notification
# then also two events through the spool to a private redis-server),
# taking turns, R runs each (default 3). Prints the median mails per
# second of each.
# Run from the repository: sh bench/mail_record.sh [N [R]]
set -eu
cd "$(dirname "$0")/.."
N=${1:-500}
R=${2:-3}
cargo build --release --quiet --bins
bin=$PWD/target/release
out=$PWD/bench/out/mail_record
rm -rf "$out"; mkdir -p "$out"
smtp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l "127.0.0.1:$smtp_port" > /dev/null 2>&1 &
sink=$!
. bench/redis.sh
start_redis "$out" "kill $sink 2>/dev/null || true;"
export SD_BROKER=$url XDG_STATE_HOME=$out/state
sleep 1
python3 - "$N" > "$out/events.jsonl" <<'PY'
import json, sys, time
now = time.time()
for i in range(int(sys.argv[1])):
    t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 60))
    print(json.dumps({"v": 1, "id": f"m{i:05d}", "time": t, "host": f"tux{i:04d}",
                      "tag": "backup", "kind": "run", "status": "fail"}))
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in $(seq "$R"); do
    for mode in plain record; do
        rm -f "$out"/mail-*.db*
        flag=""; [ "$mode" = record ] && flag="--record --store $out/none.db"
        /usr/bin/time -f '%e' -o "$out/t" "$bin/sd-mail" --echo $flag --state "$out/mail-$mode.db" \
            --to admin@example.org --smtp "smtp://127.0.0.1:$smtp_port?tls=none" --group-wait 0s \
            < "$out/events.jsonl" > /dev/null 2> "$out/$mode.err"
        python3 -c "print(f'{$N / float(open(\"$out/t\").read()):.1f}')" >> "$out/$mode.rates"
    done
done
echo "sd-mail, $N mails, $R runs each: plain $(median < "$out/plain.rates") mails/s, --record $(median < "$out/record.rates") mails/s"
echo "records in the stream: $(redis-cli -p "$port" XLEN sheepdog:events)"

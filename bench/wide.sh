#!/bin/sh
# One event of many top-level members (a hostile producer's megabyte):
# sd-bark into its spool (no broker) and sd-store, three runs each, the
# median; with BASE=DIR (an older target/release) the same beside.
# Run from the repository: sh bench/wide.sh [MEMBERS]   (default 115968)
set -eu
cd "$(dirname "$0")/.."
M=${1:-115968}
cargo build --release --quiet
out=$PWD/bench/out/wide-$M
rm -rf "$out"; mkdir -p "$out"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
python3 - "$M" > "$out/wide.json" <<'PY'
import json, sys
event = {"tag": "wide", "status": "ok"}
for i in range(int(sys.argv[1])):
    event[f"k{i}"] = 1
print(json.dumps(event, separators=(",", ":")))
PY
echo "one event of $M members, $(wc -c < "$out/wide.json") bytes"
run() { # run BINARY_DIR COMMAND...
    dir=$1; shift
    for i in 1 2 3; do
        rm -rf "$out/state" "$out"/db*
        XDG_STATE_HOME=$out/state SD_BROKER= /usr/bin/time -f '%e' -o "$out/t.$i" \
            "$dir/$@" --max-event-size 4MiB < "$out/wide.json" > /dev/null
        cat "$out/t.$i"
    done | median
}
printf '%-9s %10s %10s\n' command "this (s)" "base (s)"
for command in sd-bark "sd-store $out/db"; do
    this=$(run target/release $command)
    base=-
    [ -n "${BASE:-}" ] && base=$(run "$BASE" $command)
    printf '%-9s %10s %10s\n' "${command%% *}" "$this" "$base"
done

#!/bin/sh
# What each index of the events costs an import into a full store (issue:
# the store at scale): one more million events into a copy of a store made
# by bench/scale.sh, with one index dropped at a time (and one added: the
# covering index `durations` would read), ROUNDS rounds (default 3), then
# the same million into an empty store.
# Run from the repository, after `sh bench/scale.sh 10000000 churn`:
#   sh bench/indexes.sh [DIR]   (default bench/out/scale-10000000-churn)
set -eu
cd "$(dirname "$0")/.."
dir=${1:-bench/out/scale-10000000-churn}
bin=$PWD/target/release
ROUNDS=${ROUNDS:-3}
[ -s "$dir/store.db" ] && [ -s "$dir/more.jsonl" ] || { echo "no $dir/store.db: run bench/scale.sh first" >&2; exit 2; }
try() { # LABEL SQL
    rm -f "$dir"/x.db*
    cp "$dir/store.db" "$dir/x.db"
    [ -n "$2" ] && python3 -c "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);c.executescript(sys.argv[2]);c.commit()" "$dir/x.db" "$2"
    /usr/bin/time -f "%e" -o "$dir/t" "$bin/sd-store" "$dir/x.db" < "$dir/more.jsonl"
    printf '%-24s %s s\n' "$1" "$(cat "$dir/t")"
}
for round in $(seq "$ROUNDS"); do
    echo "== round $round"
    try "all" ""
    try "no-status_time" "DROP INDEX events_status_time"
    try "no-tag_time" "DROP INDEX events_tag_time"
    try "no-time" "DROP INDEX events_time"
    try "no-failures" "DROP INDEX events_failures"
    try "no-four" "DROP INDEX events_status_time; DROP INDEX events_tag_time; DROP INDEX events_time; DROP INDEX events_failures"
    try "plus-durations-index" "CREATE INDEX events_runs ON events (host, tag, time_ms, elapsed_ms) WHERE elapsed_ms IS NOT NULL AND status = 'ok'"
done
rm -f "$dir"/x.db*
for round in $(seq "$ROUNDS"); do
    rm -f "$dir"/empty.db*
    /usr/bin/time -f "%e" -o "$dir/t" "$bin/sd-store" "$dir/empty.db" < "$dir/more.jsonl"
    printf '%-24s %s s\n' "empty" "$(cat "$dir/t")"
done
rm -f "$dir"/empty.db* "$dir/t"

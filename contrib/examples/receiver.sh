#!/bin/sh
# A receiver in POSIX shell, reading sheepdog's public wire format
# (sheepdog(7)) with redis-cli: its own consumer group, each event printed
# as one JSON line, then acknowledged. Stops when the stream has nothing
# more for it.
#
#   receiver.sh [REDIS_URL] [GROUP]
set -eu
url=${1:-${SD_BROKER:-redis://127.0.0.1:6379}}
group=${2:-shell}
stream=${SD_STREAM:-sheepdog:events}
cli() { redis-cli -u "$url" "$@"; }

# The group starts at the beginning of the stream; it may exist already.
cli XGROUP CREATE "$stream" "$group" 0 MKSTREAM >/dev/null 2>&1 || true

while :; do
    # --raw prints, per entry: the stream key (once), the entry ID, the
    # field name ("event") and the event's JSON, one per line.
    reply=$(cli --raw XREADGROUP GROUP "$group" "$(hostname)" COUNT 100 STREAMS "$stream" '>')
    [ -n "$reply" ] || break
    printf '%s\n' "$reply" | awk -v stream="$stream" '
        NR == 1 && $0 == stream { next }
        { n = (NR - 2) % 3 }
        n == 0 { id = $0 }
        n == 2 { print id "\t" $0 }' |
    while IFS="$(printf '\t')" read -r id event; do
        printf '%s\n' "$event"
        cli XACK "$stream" "$group" "$id" >/dev/null
    done
done

#!/bin/sh
# A monitor in POSIX shell, speaking sheepdog's public wire format
# directly (sheepdog(7)): one event as JSON, XADDed to the stream with
# redis-cli. No sheepdog command is needed on this machine.
#
#   monitor.sh [REDIS_URL]      (default $SD_BROKER, else redis://127.0.0.1:6379)
#
# It reports whether the root filesystem has room: ok below 90%, warn above.
set -eu
url=${1:-${SD_BROKER:-redis://127.0.0.1:6379}}
stream=${SD_STREAM:-sheepdog:events}

used=$(df -P / | awk 'NR == 2 { sub("%", "", $5); print $5 }')
if [ "$used" -lt 90 ]; then status=ok; else status=warn; fi
host=$(hostname)
# id and time may be left out: the receiver derives them from the entry
# ID. The values here are plain words and numbers, so no JSON escaping.
event=$(printf '{"v":1,"host":"%s","tag":"rootfs","kind":"check","status":"%s","msg":"/ is %s%% full","used_pct":%s}' \
    "$host" "$status" "$used" "$used")
redis-cli -u "$url" XADD "$stream" '*' event "$event" >/dev/null
echo "$event"

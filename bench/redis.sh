# Sourced by the benchmarks (. bench/redis.sh): start_redis DIR [STOP]
# starts a private redis-server, persistence off, on a free loopback port,
# its files in DIR, and shuts it down when the script exits — after STOP,
# shell text that stops whatever else the script started. Sets $port and
# $url.
start_redis() {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$1" \
        --daemonize yes --pidfile "$1/redis.pid" --logfile "$1/redis.log"
    trap "${2:-} redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true" EXIT
    sleep 0.5
    url=redis://127.0.0.1:$port
}

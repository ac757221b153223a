#!/usr/bin/env python3
"""A fleet on one machine: HOSTS simulated hosts (threads), each with its
own spool, barking a heartbeat every HEARTBEAT seconds and a run event
every RUN seconds through the real sd-bark, for DURATION seconds, into one
Redis (appendonly yes, appendfsync always) and one receiver
(sd-recv --group store -- sd-store --echo). Latency is measured from each
event's `time` (stamped by sd-bark) to the moment sd-store echoed it, i.e.
after its transaction committed.

    python3 bench/fleet.py [--hosts 500] [--duration 60] [--heartbeat 5] [--run 30]
                           [--failover SECONDS]

With --failover, Redis is a master, a replica and three sentinels (the
broker URL names the sentinels), and the master is SIGKILLed SECONDS into
the run: latency is then given before the kill, in the 10 s after it, and
after that. sd-bark runs that find no master keep their event in their
spool (exit 69); the next run of the same host sends it first.

Run from the repository after `cargo build --release`.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")

# Echoed lines pass through this filter on their way back to sd-recv: it
# notes when each one came out of sd-store, and passes it on unchanged.
STAMPER = r"""
import sys, time
log = open(sys.argv[1], "a", buffering=1)
for line in sys.stdin:
    now = time.time()
    sys.stdout.write(line)
    sys.stdout.flush()
    log.write("%.6f %s" % (now, line))
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=500)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--heartbeat", type=float, default=5)
    ap.add_argument("--run", type=float, default=30)
    ap.add_argument("--failover", type=float, default=None)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="sheepdog-fleet-")
    port = free_port()
    servers = []

    def redis_server(port, *extra, name):
        os.makedirs(os.path.join(work, name), exist_ok=True)
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", os.path.join(work, name),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(p)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
                break
            time.sleep(0.05)
        return p

    redis = redis_server(port, name="master")
    broker = f"redis://127.0.0.1:{port}"
    sentinels = []
    if args.failover is not None:
        replica_port = free_port()
        redis_server(replica_port, "--replicaof", "127.0.0.1", str(port), name="replica")
        for i in range(3):
            sport = free_port()
            conf = os.path.join(work, f"sentinel{i}.conf")
            with open(conf, "w") as f:
                f.write(f"port {sport}\nbind 127.0.0.1\ndir {work}\n"
                        f"sentinel monitor mymaster 127.0.0.1 {port} 2\n"
                        "sentinel down-after-milliseconds mymaster 1000\n"
                        "sentinel failover-timeout mymaster 4000\n")
            servers.append(subprocess.Popen(["redis-server", conf, "--sentinel"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            sentinels.append(f"127.0.0.1:{sport}")
        time.sleep(1)
        broker = "redis+sentinel://" + ",".join(sentinels) + "/mymaster"
    env = dict(os.environ, SD_BROKER=broker, SD_CONFIG="/dev/null",
               XDG_STATE_HOME=work, XDG_DATA_HOME=work)

    stamper = os.path.join(work, "stamper.py")
    with open(stamper, "w") as f:
        f.write(STAMPER)
    echoes = os.path.join(work, "echoes.log")
    handler = ["sh", "-c", f'"$0" --echo "$1" | python3 -u {stamper} {echoes}',
               os.path.join(BIN, "sd-store"), os.path.join(work, "events.db")]
    receiver = subprocess.Popen([os.path.join(BIN, "sd-recv"), "--group", "store", "--"] + handler,
                                env=env, stderr=open(os.path.join(work, "recv.err"), "w"))

    sent = []
    lock = threading.Lock()
    bark_ms = []
    stop_at = time.time() + args.duration

    def host(n):
        name = f"sim{n:03d}"
        henv = dict(env, SD_SPOOL=os.path.join(work, f"spool-{n}.db"))
        rnd = random.Random(n)
        next_beat = time.time() + rnd.uniform(0, args.heartbeat)
        next_run = time.time() + rnd.uniform(0, args.run)
        while True:
            now = time.time()
            due = min(next_beat, next_run)
            if due > stop_at:
                return
            if due > now:
                time.sleep(due - now)
            if next_beat <= next_run:
                kind, next_beat = "heartbeat", next_beat + args.heartbeat
            else:
                kind, next_run = "run", next_run + args.run
            event = json.dumps({"host": name, "tag": kind, "kind": kind, "status": "ok",
                                "msg": f"{kind} of {name}"}) + "\n"
            start = time.time()
            p = subprocess.run([os.path.join(BIN, "sd-bark")], input=event.encode(), env=henv,
                               capture_output=True)
            took = time.time() - start
            with lock:
                bark_ms.append(took * 1000)
                # 69: no broker now; the event waits in this host's spool.
                if p.returncode == 0 or (args.failover is not None and p.returncode == 69):
                    sent.append(name)
                else:
                    print(f"{name}: sd-bark exited {p.returncode}: {p.stderr.decode()}", file=sys.stderr)

    started = time.time()
    threads = [threading.Thread(target=host, args=(n,)) for n in range(args.hosts)]
    for t in threads:
        t.start()
    killed_at = None
    if args.failover is not None:
        time.sleep(args.failover)
        killed_at = time.time()
        redis.kill()
    for t in threads:
        t.join()
    produced = time.time() - started
    if killed_at is not None:
        # What still waits in a spool goes out now.
        for n in range(args.hosts):
            subprocess.run([os.path.join(BIN, "sd-bark"), "--flush"], capture_output=True,
                           env=dict(env, SD_SPOOL=os.path.join(work, f"spool-{n}.db")))

    # Wait for the receiver to catch up.
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(echoes) and sum(1 for _ in open(echoes)) >= len(sent):
            break
        time.sleep(0.2)
    receiver.send_signal(signal.SIGTERM)
    receiver.wait(timeout=30)
    for p in servers:
        p.terminate()
        p.wait()

    latencies = []
    phases = {"before": [], "during": [], "after": []}
    seen = set()
    for line in open(echoes):
        stamp, text = line.split(" ", 1)
        event = json.loads(text)
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        ms = (float(stamp) - parse_time(event["time"])) * 1000
        latencies.append(ms)
        if killed_at is not None:
            t = parse_time(event["time"])
            phase = "before" if t < killed_at else "during" if t < killed_at + 10 else "after"
            phases[phase].append(ms)
    print(f"hosts {args.hosts}, {args.duration:.0f} s, heartbeat every {args.heartbeat:g} s, "
          f"run event every {args.run:g} s")
    print(f"events sent {len(sent)}, stored and echoed {len(seen)}, "
          f"sustained {len(sent) / produced:.0f} events/s")
    print(f"latency from the event's time to its commit: p50 {percentile(latencies, 0.50):.1f} ms, "
          f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")
    if killed_at is not None:
        for phase, values in phases.items():
            if values:
                print(f"  {phase} the kill: {len(values)} events, p50 {percentile(values, 0.50):.1f} ms, "
                      f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms")
    print(f"baseline, one sd-bark run (spawn, spool commit, publish): "
          f"p50 {percentile(bark_ms, 0.50):.1f} ms, p99 {percentile(bark_ms, 0.99):.1f} ms")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if len(seen) == len(sent) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The benchmarks' events: python3 bench/events.py N MIX > events.jsonl.

500 `facts` events (one per host), then N - 500 heartbeats over 40 days.
MIX=default: 500 hosts x 20 tags in turn, 1 % failures; MIX=churn: 400
host/tag pairs (20 hosts x 20 tags) in random order, 5 % failures, so
interruption periods open and close constantly. Seeded: the same input
every run.
"""
import json, random, sys, time
rnd = random.Random(42)
n = int(sys.argv[1]); now = time.time(); start = now - 40 * 86400; step = 40 * 86400 / n
churn = sys.argv[2] == "churn"
GIB = 1 << 30
for h in range(500):
    print(json.dumps({"v": 1, "id": f"facts-{h}", "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600)),
                      "host": f"tux{h:03d}", "tag": "facts", "kind": "facts", "status": "info",
                      "facts": {"mem_total_bytes": (2 + h % 8) * GIB, "pkg.nginx": ["1.22.1-9", "1.24.0-2+deb12u1"][h % 2]}},
                     separators=(",", ":")))
for i in range(n - 500):
    t = start + i * step
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)
    host = f"tux{rnd.randrange(20):03d}" if churn else f"tux{i % 500:03d}"
    tag = f"svc{rnd.randrange(20)}" if churn else f"svc{(i // 500) % 20}"
    print(json.dumps({"v": 1, "id": f"ev{i:09d}", "time": stamp, "host": host, "tag": tag,
                      "kind": "heartbeat", "status": "fail" if rnd.random() < (0.05 if churn else 0.01) else "ok",
                      "reason": "http-200",
                      "elapsed_ms": i % 300, "msg": "checked http://localhost/ in 12 ms"}, separators=(",", ":")))

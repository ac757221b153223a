#!/usr/bin/env python3
"""A monitor in Python, speaking sheepdog's public wire format (sheepdog(7)):
it checks that a TCP port accepts connections and XADDs one event to the
stream. Only the standard library.

    monitor.py HOST PORT [--broker URL] [--tag TAG]
"""

import argparse
import json
import os
import socket
import time
import uuid
from datetime import datetime, timezone

from resp import Redis


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--broker", default=os.environ.get("SD_BROKER", "redis://127.0.0.1:6379"))
    p.add_argument("--tag")
    args = p.parse_args()

    start = time.monotonic()
    try:
        socket.create_connection((args.host, args.port), timeout=5).close()
        status, reason = "ok", "connected"
    except OSError as e:
        status, reason = "fail", type(e).__name__
    elapsed_ms = int((time.monotonic() - start) * 1000)
    now = datetime.now(timezone.utc)
    event = {
        "v": 1,
        "id": str(uuid.uuid4()),
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "host": socket.gethostname(),
        "tag": args.tag or f"{args.host}:{args.port}",
        "kind": "check",
        "status": status,
        "reason": reason,
        "elapsed_ms": elapsed_ms,
        "msg": f"{args.host}:{args.port} {reason} in {elapsed_ms} ms",
    }
    line = json.dumps(event, separators=(",", ":"))
    Redis(args.broker).call("XADD", os.environ.get("SD_STREAM", "sheepdog:events"), "*", "event", line)
    print(line)
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())

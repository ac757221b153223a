#!/usr/bin/env python3
"""A receiver in Python, reading sheepdog's public wire format (sheepdog(7))
through its own consumer group: each event printed as one JSON line, then
acknowledged. Stops when the stream has nothing more for it (or, with
--follow, waits for more). Only the standard library.

    receiver.py [--broker URL] [--group GROUP] [--follow]
"""

import argparse
import json
import os
import socket
import sys

from resp import Redis, RedisError


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--broker", default=os.environ.get("SD_BROKER", "redis://127.0.0.1:6379"))
    p.add_argument("--group", default="python")
    p.add_argument("--follow", action="store_true")
    args = p.parse_args()
    stream = os.environ.get("SD_STREAM", "sheepdog:events")
    r = Redis(args.broker)
    try:
        r.call("XGROUP", "CREATE", stream, args.group, "0", "MKSTREAM")
    except RedisError as e:
        if "BUSYGROUP" not in str(e):
            raise
    block = ["BLOCK", "5000"] if args.follow else []
    while True:
        reply = r.call("XREADGROUP", "GROUP", args.group, socket.gethostname(), "COUNT", "100",
                       *block, "STREAMS", stream, ">")
        if not reply:
            if args.follow:
                continue
            return 0
        for _, entries in reply:
            for entry_id, fields in entries:
                values = dict(zip(fields[::2], fields[1::2]))
                try:
                    event = json.loads(values.get("event", ""))
                except ValueError:
                    print(f"receiver.py: entry {entry_id}: not JSON", file=sys.stderr)
                    event = None
                if isinstance(event, dict):
                    # An entry without id or time gets them from its entry ID,
                    # as sheepdog's own receivers do.
                    event.setdefault("id", f"redis-{entry_id}")
                    print(json.dumps(event, separators=(",", ":")), flush=True)
                r.call("XACK", stream, args.group, entry_id)


if __name__ == "__main__":
    raise SystemExit(main())

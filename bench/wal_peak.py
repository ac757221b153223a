#!/usr/bin/env python3
"""The store's WAL at its largest while the reader of its echo is slow.

Feeds 150,000 events (100 hosts x 7 tags, one in 11 a failure) to
`sd-store --echo` and reads the echo, pausing PAUSE seconds after every
20,000 lines (an sd-query runs at each pause, as in the test
store::the_wal_stays_bounded_under_steady_load…); prints the WAL's largest
size. Run from the repository after `cargo build --release`:
    python3 bench/wal_peak.py [PAUSE] [SD_STORE]
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

PAUSE = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
STORE = sys.argv[2] if len(sys.argv) > 2 else "target/release/sd-store"
QUERY = "target/release/sd-query"
N = 150_000


def event(i):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_000_000 + i))
    status = "fail" if i % 11 == 0 else "ok"
    return (f'{{"v":1,"id":"w{i}","time":"{stamp}","host":"h{i % 100}",'
            f'"tag":"t{i % 7}","kind":"run","status":"{status}"}}\n')


with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "events.db")
    data = "".join(event(i) for i in range(N)).encode()
    store = subprocess.Popen([STORE, "--echo", db],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    threading.Thread(target=lambda: store.stdin.write(data), daemon=True).start()
    peak = 0

    def watch():
        global peak
        while store.poll() is None:
            try:
                peak = max(peak, os.path.getsize(db + "-wal"))
            except FileNotFoundError:
                pass
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()
    for n in range(N):
        store.stdout.readline()
        if n % 20_000 == 0 and PAUSE:
            subprocess.run([QUERY, db, "status", "--format", "json"],
                           stdout=subprocess.DEVNULL, check=True)
            time.sleep(PAUSE)
    print(f"largest WAL {peak / (1 << 20):.1f} MiB")
    store.stdin.close()
    store.wait()

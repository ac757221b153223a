#!/usr/bin/python3
"""Write an order sd-obey accepts, from the public wire format alone
(sheepdog(7), ORDERS): the order's JSON, an Ed25519 signature over exactly
those bytes (base64) and the signing key's id, XADDed to
sheepdog:orders:HOST. Uses the `cryptography` package (Debian:
python3-cryptography) for Ed25519 and resp.py for Redis.

    order.py redis://127.0.0.1:6379 /etc/sheepdog/orders.key tux01 block-ip ip=203.0.113.7
"""

import base64
import datetime
import hashlib
import json
import os
import sys
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Redis  # noqa: E402


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    url, key_file, host, action = sys.argv[1:5]
    args = dict(a.split("=", 1) for a in sys.argv[5:])
    # The private key file holds the 32-byte seed in base64 (sd-order keygen).
    with open(key_file) as f:
        seed = base64.b64decode(f.read().strip())
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(public).hexdigest()[:16]
    now = datetime.datetime.now(datetime.timezone.utc)
    order = {
        "v": 1,
        "id": uuid.uuid4().hex,
        "time": rfc3339(now),
        "host": host,
        "action": action,
        "args": args,
        "expires": rfc3339(now + datetime.timedelta(minutes=5)),
        "by": "order.py",
    }
    text = json.dumps(order, separators=(",", ":"))
    sig = base64.b64encode(key.sign(text.encode())).decode()
    Redis(url).call("XADD", f"sheepdog:orders:{host}", "*", "order", text, "sig", sig, "key", key_id)
    print(text)


if __name__ == "__main__":
    main()

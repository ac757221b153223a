"""A minimal Redis client in the Python standard library: enough of the
RESP protocol for sheepdog's wire format (XADD, XGROUP, XREADGROUP, XACK).
Used by monitor.py and receiver.py; a real program may as well use the
`redis` package from PyPI."""

import socket
from urllib.parse import urlparse


class Redis:
    def __init__(self, url):
        u = urlparse(url)
        if u.scheme != "redis":
            raise SystemExit(f"{url}: only redis:// URLs here (use the redis package for TLS)")
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=10)
        self.file = self.sock.makefile("rb")
        if u.password:
            self.call("AUTH", *([u.username] if u.username else []), u.password)
        if u.path and u.path != "/":
            self.call("SELECT", u.path.lstrip("/"))

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError(f"unexpected reply {line!r}")


class RedisError(Exception):
    pass

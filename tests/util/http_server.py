"""A small HTTP server for sd-heartbeat's tests.

    http_server.py --bind ADDR --port P [--status CODE] [--body TEXT] [--log FILE]
                   [--location URL]

Answers every GET and HEAD with CODE (200) and TEXT. With --log, appends
one JSON line per request: the method, the path and the uid owning the
client's socket, read from /proc/net/tcp{,6} — so a test can prove which
user a check really ran as. A POST or PUT (a webhook) is answered the same
and logged with its headers and its body too, for sd-mail's channel tests.
"""

import argparse
import http.server
import json
import socket


def socket_owner(port, server_port):
    """The uid owning the client's socket: the established connection from
    local port `port` to `server_port`. Other entries may share the port: a
    connection in TIME_WAIT (owned by uid 0) whose port Linux reused for
    this one, as it does on loopback."""
    established = "01"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, state = fields[1], fields[2], fields[3]
                    if (int(local.rsplit(":", 1)[1], 16) == port
                            and int(remote.rsplit(":", 1)[1], 16) == server_port
                            and state == established):
                        return int(fields[7])
        except OSError:
            pass
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--body", default="hello from the test server\n")
    parser.add_argument("--log")
    parser.add_argument("--location", help="a Location header on every answer (with --status 3xx)")
    parser.add_argument("--cert", help="serve https with this certificate (and --key)")
    parser.add_argument("--key")
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, with_body):
            port = self.client_address[1]
            if args.log:
                with open(args.log, "a") as log:
                    log.write(json.dumps({"method": self.command, "path": self.path,
                                          "uid": socket_owner(port, args.port)}) + "\n")
            body = args.body.encode()
            self.send_response(args.status)
            if args.location:
                self.send_header("Location", args.location)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self):
            self.answer(True)

        def receive(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            if args.log:
                with open(args.log, "a") as log:
                    log.write(json.dumps({"method": self.command, "path": self.path,
                                          "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body}) + "\n")
            answer = b"{}"
            self.send_response(args.status)
            if args.location:
                self.send_header("Location", args.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_POST(self):
            self.receive()

        def do_PUT(self):
            self.receive()

        def do_HEAD(self):
            self.answer(False)

        def log_message(self, *_):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET

    server = Server((args.bind, args.port), Handler)
    if args.cert:
        import ssl
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bad-engine: a misbehaving Docker Engine API on a unix socket (stdlib only).

    bad-engine.py LISTEN_SOCKET UPSTREAM_SOCKET RULES_FILE REQUEST_LOG

Every request is read whole (request line, headers, Content-Length body).
RULES_FILE is read again for each request; each line is `MODE REGEX`, and
the first REGEX that matches "METHOD PATH" (the API version prefix and the
query string removed, e.g. "POST /exec/abc.../start") picks the fault.
A request no rule matches is passed to the real engine at UPSTREAM_SOCKET
(one request per connection, Connection: close), so the agent finds the
real front and only the chosen call misbehaves. Modes:

    500        HTTP 500 with a JSON {"message"}
    404, 409   the engine's "no such container" / "is not running" answers
    garbage    the expected status, Content-Type JSON, a body that is not JSON
    truncated  Content-Length 4096, 20 bytes, then the connection closes
    huge       the expected status and a 9 MiB JSON-looking body
    objects    the expected status and 8 MiB of [{},{},...] with no length
               (until the connection closes): within the old 8 MiB cap
    manyvalues the expected status and [{},{},...] of 1 MiB, the list's cap
    badframe   a 200 raw stream whose second frame header is invalid
    nohttp     bytes that are not an HTTP answer at all
    old        /version of an engine too old (API 1.12)
    slow       answers nothing for 600 s
    trickle    a 200 JSON answer, one byte every second, never ending
    close      closes the connection without a byte

Each request is logged to REQUEST_LOG as "MODE METHOD PATH" (MODE "pass"
when passed through).
"""
import os
import re
import socket
import threading
import socketserver
import sys
import time

LISTEN, UPSTREAM, RULES, REQLOG = sys.argv[1:5]
VERSION = re.compile(r"^/v[0-9]+\.[0-9]+(/.*)$")


def rule_for(what):
    try:
        with open(RULES) as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and re.search(parts[1], what):
                    return parts[0]
    except FileNotFoundError:
        pass
    return "pass"


def answer(status, body, ctype="application/json", length=None):
    """length None: the body's; False: none (until the connection closes)."""
    h = "HTTP/1.1 %s\r\nContent-Type: %s\r\nConnection: close\r\n" % (status, ctype)
    if length is not False:
        h += "Content-Length: %d\r\n" % (len(body) if length is None else length)
    return h.encode() + b"\r\n" + body


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        head = [self.rfile.readline()]
        n = 0
        while head[-1] not in (b"\r\n", b"\n", b""):
            head.append(self.rfile.readline())
            if head[-1].lower().startswith(b"content-length:"):
                n = int(head[-1].split(b":")[1])
        body = self.rfile.read(n) if n else b""
        parts = head[0].decode("latin-1").split()
        if len(parts) < 2:
            return
        method, path = parts[0], parts[1].split("?")[0]
        m = VERSION.match(path)
        what = "%s %s" % (method, m.group(1) if m else path)
        mode = rule_for(what)
        with open(REQLOG, "a") as f:
            f.write("%s %s\n" % (mode, what))
        ok = "201 Created" if what.endswith("/exec") and method == "POST" else "200 OK"
        w = self.wfile.write
        try:
            if mode == "pass":
                self.relay(head, body)
            elif mode == "500":
                w(answer("500 Internal Server Error", b'{"message":"bad-engine: injected failure"}'))
            elif mode == "404":
                w(answer("404 Not Found", b'{"message":"No such container: gone"}'))
            elif mode == "409":
                w(answer("409 Conflict", b'{"message":"Container gone is not running"}'))
            elif mode == "garbage":
                w(answer(ok, b'{"Id": "abc", oops this is not JSON'))
            elif mode == "truncated":
                w(answer(ok, b'[{"Id":"0123456789ab', length=4096))
            elif mode == "huge":
                w(answer(ok, b"", length=9 * 1024 * 1024))
                chunk = b"[" + b" " * 65535
                for _ in range(9 * 16):
                    w(chunk)
            elif mode == "objects":
                w(answer(ok, b"", length=False))
                body = b"[" + b"{}," * ((8 * 1024 * 1024 - 4) // 3) + b"{}]"
                for i in range(0, len(body), 65536):
                    w(body[i:i + 65536])
            elif mode == "manyvalues":
                w(answer(ok, b"[" + b"{}," * ((1024 * 1024 - 4) // 3) + b"{}]"))
            elif mode == "badframe":
                w(answer(ok, b"", "application/vnd.docker.raw-stream", False))
                w(b"\x01\x00\x00\x00\x00\x00\x00\x03ok\n\x07\x07\x07\x07\x00\x00\x00\x05junk!")
            elif mode == "nohttp":
                w(b"SSH-2.0-OpenSSH_9.2\r\nthis is not an engine\r\n\r\n")
            elif mode == "old":
                w(answer("200 OK", b'{"ApiVersion":"1.12","MinAPIVersion":"1.12"}'))
            elif mode == "slow":
                time.sleep(600)
            elif mode == "trickle":
                w(answer(ok, b"", length=10 * 1024 * 1024))
                self.wfile.flush()
                while True:
                    w(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            elif mode == "close":
                pass
        except (BrokenPipeError, ConnectionResetError):
            pass

    def forward(self, up):
        # the socket, not rfile: closing rfile at the end of the request
        # would wait for this thread's read
        try:
            while True:
                data = self.connection.recv(65536)
                if not data:
                    up.shutdown(socket.SHUT_WR)
                    return
                up.sendall(data)
        except OSError:
            pass

    def relay(self, head, body):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(UPSTREAM)
        upgrade = any(h.lower().startswith(b"upgrade:") for h in head)
        out = [h for h in head if not h.lower().startswith(b"connection:")]
        # a hijacked stream stays a stream: the engine upgrades it (101)
        out.insert(len(out) - 1, b"Connection: Upgrade\r\n" if upgrade else b"Connection: close\r\n")
        up.sendall(b"".join(out) + body)
        # a hijacked stream (an exec's stdin) goes on upstream
        threading.Thread(target=self.forward, args=(up,), daemon=True).start()
        while True:
            data = up.recv(65536)
            if not data:
                break
            self.wfile.write(data)
            self.wfile.flush()
        up.close()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(LISTEN):
    os.unlink(LISTEN)
Server(LISTEN, Handler).serve_forever()

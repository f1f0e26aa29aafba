#!/usr/bin/env python3
"""session-hold: established TLS sessions kept open across the front's reloads.

  session-hold.py [-n SESSIONS] [-i INTERVAL_S] [-l LIFETIME_S] [-C CA] [-s SNI]
                  PROTO=HOST:PORT ...

PROTO: https smtps imaps (implicit TLS), smtp submission (STARTTLS).
Each session connects, completes TLS (and EHLO after STARTTLS), then every
INTERVAL sends one command inside TLS and checks the answer: IMAP
"x NOOP" -> "x OK", SMTP "NOOP" -> 250, HTTPS a keep-alive "GET /" -> 200.
A session that fails (EOF, reset, timeout, wrong answer) is a drop: recorded
with its time and reason, then the session reconnects. After LIFETIME a
session logs out cleanly and starts again: keep it under the servers' own
limits on a session that never logs in, whatever it sends (nginx's mail
`timeout`, 60 s, is not reset by NOOP; dovecot ends pre-login clients after
3 minutes). Runs until SIGTERM/SIGINT, then prints one
JSON object: per endpoint sessions opened, commands answered, drops (and
the drops themselves, with CLOCK_REALTIME microseconds). SIGUSR1 prints
every thread's stack on stderr; a session stuck for long is shown at exit.
"""
import argparse
import json
import signal
import socket
import ssl
import sys
import threading
import time
import traceback

stop = threading.Event()
progress = {}   # thread ident: monotonic time of its last open or answer


def nap(secs):
    """Sleeps secs or until stop; True when stopping. Plain relative sleeps,
    no timed lock waits."""
    end = time.monotonic() + secs
    while not stop.is_set():
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.1))
    return True


class Drop(Exception):
    pass


def now_us():
    return time.time_ns() // 1000


class Session:
    def __init__(self, proto, host, port, ctx, sni):
        self.proto, self.host, self.port, self.ctx, self.sni = proto, host, port, ctx, sni
        self.sock = self.f = None
        self.tag = 0

    def line(self):
        try:
            l = self.f.readline()
        except (OSError, ssl.SSLError) as e:
            raise Drop("read: %s" % e)
        if not l:
            raise Drop("connection closed by the server")
        return l

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:
            raise Drop("write: %s" % e)

    def smtp_reply(self):
        while True:
            l = self.line()
            if l[3:4] != b"-":
                return l

    def open(self):
        try:
            s = socket.create_connection((self.host, self.port), timeout=5)
        except OSError as e:
            raise Drop("connect: %s" % e)
        self.sock, self.f = s, s.makefile("rb")
        if self.proto in ("smtp", "submission"):
            if not self.smtp_reply().startswith(b"220"):
                raise Drop("bad greeting")
            self.send(b"EHLO hold.mca.test\r\n")
            self.smtp_reply()
            self.send(b"STARTTLS\r\n")
            if not self.smtp_reply().startswith(b"220"):
                raise Drop("STARTTLS refused")
        try:
            self.sock = self.ctx.wrap_socket(s, server_hostname=self.sni)
        except (OSError, ssl.SSLError) as e:
            raise Drop("tls: %s" % e)
        self.f = self.sock.makefile("rb")
        if self.proto == "imaps":
            if not self.line().startswith(b"* OK"):
                raise Drop("bad greeting")
        elif self.proto == "smtps":
            if not self.smtp_reply().startswith(b"220"):
                raise Drop("bad greeting")
        if self.proto in ("smtp", "submission", "smtps"):
            self.send(b"EHLO hold.mca.test\r\n")
            if not self.smtp_reply().startswith(b"250"):
                raise Drop("EHLO refused")

    def command(self):
        if self.proto == "imaps":
            self.tag += 1
            t = b"h%d" % self.tag
            self.send(t + b" NOOP\r\n")
            while True:
                l = self.line()
                if l.startswith(t + b" "):
                    break
                if l.startswith(b"* BYE"):
                    raise Drop("BYE: %r" % l[:60])
            if not l.startswith(t + b" OK"):
                raise Drop("NOOP answered %r" % l[:60])
        elif self.proto == "https":
            self.send(b"GET / HTTP/1.1\r\nHost: hold.mca.test\r\n\r\n")
            status, length = self.line(), 0
            while True:
                l = self.line()
                if l in (b"\r\n", b"\n"):
                    break
                if l.lower().startswith(b"content-length:"):
                    length = int(l.split(b":")[1])
            try:
                body = self.f.read(length)
            except (OSError, ssl.SSLError) as e:
                raise Drop("read: %s" % e)
            if not status.startswith(b"HTTP/1.1 200") or len(body) != length:
                raise Drop("GET answered %r" % status[:60])
        else:
            self.send(b"NOOP\r\n")
            l = self.smtp_reply()
            if not l.startswith(b"250"):
                raise Drop("NOOP answered %r" % l[:60])

    def close(self):
        try:
            if self.proto == "imaps":
                self.sock.sendall(b"z LOGOUT\r\n")
            elif self.proto != "https":
                self.sock.sendall(b"QUIT\r\n")
        except (OSError, ssl.SSLError, AttributeError):
            pass
        try:
            self.sock.close()
        except (OSError, AttributeError):
            pass


def run(ep, stats, lock, args, ctx):
    proto, host, port = ep
    me = threading.get_ident()
    progress[me] = time.monotonic()
    while not stop.is_set():
        s = Session(proto, host, port, ctx, args.s)
        born = time.monotonic()
        try:
            s.open()
            progress[me] = time.monotonic()
            with lock:
                stats["opened"] += 1
            while not stop.is_set() and time.monotonic() - born < args.l:
                if nap(args.i):
                    break
                s.command()
                progress[me] = time.monotonic()
                with lock:
                    stats["answered"] += 1
        except Drop as d:
            with lock:
                stats["drops"].append({"time_us": now_us(), "reason": str(d)})
            nap(0.1)
        finally:
            s.close()


def dump_stacks(*_):
    """SIGUSR1: every thread's stack on stderr (debugging a stuck session)."""
    for ident, frame in sys._current_frames().items():
        print("session-hold: thread %s at:\n%s" % (ident, "".join(traceback.format_stack(frame))),
              file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2)
    ap.add_argument("-i", type=float, default=1.0)
    ap.add_argument("-l", type=float, default=45.0)
    ap.add_argument("-C")
    ap.add_argument("-s")
    ap.add_argument("endpoints", nargs="+")
    args = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if args.C:
        ctx.load_verify_locations(args.C)
        ctx.check_hostname = args.s is not None
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, dump_stacks)
    lock = threading.Lock()
    result, threads = {}, []
    for e in args.endpoints:
        proto, addr = e.split("=", 1)
        host, port = addr.rsplit(":", 1)
        stats = result.setdefault(proto, {"opened": 0, "answered": 0, "drops": []})
        for _ in range(args.n):
            t = threading.Thread(target=run, args=((proto, host, int(port)), stats, lock, args, ctx))
            t.start()
            threads.append(t)
    while not nap(0.5):
        pass
    # a session that made no progress for long is a bug here, not a drop:
    # show where it is stuck
    frames = sys._current_frames()
    for t in threads:
        idle = time.monotonic() - progress.get(t.ident, 0)
        if idle > 2 * args.i + 15 and t.ident in frames:
            print("session-hold: thread %s idle for %.0f s at:\n%s" % (
                t.name, idle, "".join(traceback.format_stack(frames[t.ident]))),
                file=sys.stderr)
    for t in threads:
        t.join()
    print(json.dumps(result))


if __name__ == "__main__":
    main()

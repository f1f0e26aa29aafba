#!/usr/bin/env python3
"""metrics-flood: the hostile clients of the metrics server's findings.

  metrics-flood.py [-n IDLE] [-r RENEW_S] [-s SECONDS] HOST PORT

For SECONDS (default 30), two kinds of client against /metrics and /healthz:
  - IDLE (default 16) idle connections: each sends one byte of a request
    head and nothing more; renewed every RENEW_S (default 4.5, under the
    server's 5 s deadline), and reopened 50 ms after the server closes one.
  - one streamer: sends "GET /healthz", reads the answer up to the
    server's EOF, then keeps sending 16 KiB chunks until the server closes
    (a reset); then again. A stream still running at the end counts with
    its length so far.
Then prints one JSON object: idle_opens, idle_closed_by_server,
idle_open_mean (connections open, sampled every 50 ms), answered (streamer
rounds answered 200), not_answered, streams, bytes_streamed and
longest_stream_s. Stdlib only.
"""
import argparse
import json
import socket
import threading
import time

REQ = b"GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n"
stop = threading.Event()
lock = threading.Lock()
stats = {
    "idle_opens": 0, "idle_connect_failed": 0, "idle_closed_by_server": 0,
    "idle_renewed": 0, "idle_open_mean": 0.0, "answered": 0,
    "not_answered": 0, "streams": 0, "bytes_streamed": 0,
    "longest_stream_s": 0.0,
}


def count(key, n=1):
    with lock:
        stats[key] += n


def server_closed(s):
    """True once the server has closed s (EOF or reset), without waiting."""
    try:
        return s.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def idle(host, port, n, renew):
    conns = [None] * n          # (socket, monotonic time opened)
    samples = opened = 0
    while not stop.is_set():
        now = time.monotonic()
        for i in range(n):
            c = conns[i]
            if c is not None and (server_closed(c[0]) or now - c[1] >= renew):
                count("idle_closed_by_server" if now - c[1] < renew else "idle_renewed")
                c[0].close()
                conns[i] = None
                continue        # reopened at the next tick, 50 ms on
            if c is None:
                try:
                    s = socket.create_connection((host, port), timeout=1)
                    s.send(b"G")
                    s.setblocking(False)    # a timeout would make recv wait
                    conns[i] = (s, now)
                    count("idle_opens")
                except OSError:
                    count("idle_connect_failed")
        samples += 1
        opened += sum(c is not None for c in conns)
        with lock:
            stats["idle_open_mean"] = round(opened / samples, 2)
        stop.wait(0.05)
    for c in conns:
        if c is not None:
            c[0].close()


def stream_once(host, port, junk):
    try:
        s = socket.create_connection((host, port), timeout=2)
    except OSError:
        count("not_answered")
        return
    with s:
        resp = b""
        try:
            s.sendall(REQ)
            while True:
                d = s.recv(4096)
                if not d:
                    break
                resp += d
        except OSError:
            pass
        if not resp.startswith(b"HTTP/1.1 200 "):
            count("not_answered")
            return
        count("answered")
        count("streams")
        s.settimeout(0.5)
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                count("bytes_streamed", s.send(junk))
            except socket.timeout:
                pass
            except OSError:
                break
            finally:
                with lock:
                    stats["longest_stream_s"] = round(
                        max(stats["longest_stream_s"], time.monotonic() - t0), 3)


def streamer(host, port):
    junk = b"x" * 16384
    while not stop.is_set():
        stream_once(host, port, junk)
        stop.wait(0.02)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=16, help="idle connections")
    ap.add_argument("-r", type=float, default=4.5, help="renew idle ones after (s)")
    ap.add_argument("-s", type=float, default=30, help="run for (s)")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    a = ap.parse_args()
    ts = [threading.Thread(target=idle, args=(a.host, a.port, a.n, a.r)),
          threading.Thread(target=streamer, args=(a.host, a.port))]
    for t in ts:
        t.start()
    stop.wait(a.s)
    stop.set()
    for t in ts:
        t.join()
    with lock:
        print(json.dumps(stats))


if __name__ == "__main__":
    main()

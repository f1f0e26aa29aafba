#!/usr/bin/env python3
"""When did every port serve the new pair, as seen from outside?

  served.py RECORDS MARKS  -> shell assignments on stdout, e.g. shell_med=512

RECORDS: tests/tools/tls-load's records (-i paced, one thread per port):
  START_US END_US PROTO PORT THREAD ok FINGERPRINT
  START_US END_US PROTO PORT THREAD fail REASON
MARKS: one line per round, written by tests/bench/bench.sh just before the
first `cp` of the round's new pair into the certs dir:
  KIND T_US FINGERPRINT          (KIND: shell or agent)

A port serves a round's pair from the end of the first handshake that got
it after the last one that got another certificate (a port that flips back
and forth counts from its last flip; failed handshakes say nothing). A
round's latency is its slowest port's, from the mark. Every port the
records name must serve the pair before the next round's mark (or within
20 s), else the round counts as missed and is left out of the statistics.

For each KIND: KIND_n, KIND_missed, KIND_med, KIND_p95 (nearest rank),
KIND_min, KIND_max, and KIND_nginx_med / KIND_dovecot_med (the slowest port
of each daemon: 443 and 25 are nginx's, the rest dovecot's). One line per
round on stderr.
"""
import math
import sys

NGINX = {"https", "smtp"}
HORIZON_US = 20 * 1000 * 1000


def pct(vals, p):
    s = sorted(vals)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def served_at(recs, fp, t0, t1):
    """END_US from which the port serves fp in [t0, t1), or None."""
    last_other = None
    first_new = None
    for start, end, ok, got in recs:
        if end < t0 or start >= t1 or not ok:
            continue
        if got != fp:
            last_other = start
            first_new = None
        elif first_new is None and (last_other is None or start > last_other):
            first_new = end
    return first_new


def main():
    ports = {}
    with open(sys.argv[1]) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 7:
                continue
            key = (p[2], p[3])
            ports.setdefault(key, []).append((int(p[0]), int(p[1]), p[5] == "ok", p[6]))
    for recs in ports.values():
        recs.sort()
    marks = []
    with open(sys.argv[2]) as f:
        for line in f:
            p = line.split()
            if len(p) == 3:
                marks.append((p[0], int(p[1]), p[2]))
    stats = {}
    for i, (kind, t0, fp) in enumerate(marks):
        t1 = marks[i + 1][1] if i + 1 < len(marks) else t0 + HORIZON_US
        t1 = min(t1, t0 + HORIZON_US)
        worst = {"nginx": 0, "dovecot": 0}
        missed = []
        for (proto, port), recs in sorted(ports.items()):
            at = served_at(recs, fp, t0, t1)
            if at is None:
                missed.append("%s:%s" % (proto, port))
                continue
            d = "nginx" if proto in NGINX else "dovecot"
            worst[d] = max(worst[d], (at - t0) / 1000.0)
        s = stats.setdefault(kind, {"all": [], "nginx": [], "dovecot": [], "missed": 0})
        if missed or not ports:
            s["missed"] += 1
            print("round %d %s: missed on %s" % (i + 1, kind, ",".join(missed) or "every port"),
                  file=sys.stderr)
            continue
        total = max(worst.values())
        s["all"].append(total)
        s["nginx"].append(worst["nginx"])
        s["dovecot"].append(worst["dovecot"])
        print("round %d %s: %.0f ms (nginx %.0f, dovecot %.0f)" %
              (i + 1, kind, total, worst["nginx"], worst["dovecot"]), file=sys.stderr)
    for kind, s in sorted(stats.items()):
        print("%s_n=%d" % (kind, len(s["all"])))
        print("%s_missed=%d" % (kind, s["missed"]))
        if not s["all"]:
            continue
        print("%s_med=%.0f" % (kind, pct(s["all"], 50)))
        print("%s_p95=%.0f" % (kind, pct(s["all"], 95)))
        print("%s_min=%.0f" % (kind, min(s["all"])))
        print("%s_max=%.0f" % (kind, max(s["all"])))
        print("%s_nginx_med=%.0f" % (kind, pct(s["nginx"], 50)))
        print("%s_dovecot_med=%.0f" % (kind, pct(s["dovecot"], 50)))


if __name__ == "__main__":
    main()

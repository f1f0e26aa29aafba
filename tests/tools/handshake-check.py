#!/usr/bin/env python3
"""handshake-check: judges tls-load's records against the rotations that ran.

  handshake-check.py RECORDS FPS MARKS AGENT_LOG [HOLD]   (one JSON object on stdout)

RECORDS    tls-load's output (START_US END_US PROTO PORT THREAD ok|fail FP|REASON)
FPS        the installed leaves' fingerprints, one a line: leaf 0 (served
           at the start), then leaf k, installed by rotation k
MARKS      "k US": when the test wrote pair k (CLOCK_REALTIME microseconds)
AGENT_LOG  the daemon's JSON events
HOLD       session-hold.py's result: each drop gets the time since the
           latest reload command of its daemon at least 5 s before it (or
           the last one): dovecot's shutdown_clients ends the old processes'
           sessions 6 s after a reload ("sessions")

With FRONT_LOG=FILE (the front's `docker logs -t`), the reloads are the
daemons' own: each nginx master "SIGHUP received ... reconfiguring" and
dovecot master "SIGHUP received - reloading configuration" line, whoever
sent it (a front that reloads itself: Mailu's certificate watcher), not
the agent's reload.exec events; signals closer than 3 s make one reload,
from its first to 0.5 s after its last.

Leaf k's lifetime runs from W[k] (its pair written: it cannot be served
before) to D[k+1], the cycle.done of rotation k+1, which comes only after
every endpoint was verified to serve leaf k+1. A handshake with leaf k is
inside its lifetime when it ended at or after W[k] and started at or before
D[k+1]: a handshake that begins after the next rotation is verified must
get the next leaf. Leaf 0 starts at -inf, the last leaf never ends.

Output fields: handshakes, ok, failed, unknown (a leaf not in FPS),
outside_lifetime, front_burst_greetings (with FRONT_LOG: failed handshakes
on a dovecot port that got a "421" greeting while, or within 1 s after, the
front signalled a dovecot reload less than 3 s from another one, with no
reload.exec of dovecot by the agent within 3 s: dovecot's own effect of
reloads back to back, which Mailu's watcher sends, one per file event),
rotations (cycle.done rotated to leaf k, in order),
during_rotation {old, new} (handshakes overlapping [W[k], D[k]] with leaf
k-1 / leaf k), during_reload (handshakes overlapping a reload: first exec's
start to last exec's end of a cycle), older_after_newer (a load thread got
an older leaf after a newer one: both served at once, inside a rotation),
first_second_after_reload {nginx, dovecot: {old, new, failed}} (handshakes
on that daemon's ports that started within 1 s after its reload command),
both_leaves_ms {nginx, dovecot} (per port and rotation, how long after the
first handshake with the new leaf one still began with the old leaf: the
longest), old_leaf_margin_ms (the smallest D[k+1] - start of a handshake with leaf k:
how close an old leaf came to the end of its lifetime), seconds,
per_second, per_endpoint, reasons (failure reasons, most common first),
bad (the first offending records).
"""
import collections
import datetime
import json
import os
import sys


def us(t):
    """An event's RFC 3339 time (UTC, ms) in microseconds."""
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000000)


SERVICE = {"https": "nginx", "smtp": "nginx"}   # every other port: dovecot
RELOAD_COMMANDS = {"nginx -s reload": "nginx", "dovecot reload": "dovecot"}


def front_reloads(path):
    """The daemons' own reload lines in `docker logs -t` output."""
    signals = {"nginx": [], "dovecot": []}
    for l in open(path, errors="replace"):
        ts, _, text = l.partition(" ")
        if "SIGHUP) received from" in text and "reconfiguring" in text:
            d = "nginx"
        elif "master: Warning: SIGHUP received - reloading configuration" in text:
            d = "dovecot"
        else:
            continue
        # RFC 3339 with nanoseconds: keep the microseconds
        base, _, frac = ts.rstrip("Z").partition(".")
        t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
        signals[d].append(int(t.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1000000
                          + int((frac + "000000")[:6]))
    reloads = []
    for t in sorted(signals["nginx"] + signals["dovecot"]):
        if reloads and t - reloads[-1][1] < 3000000:
            reloads[-1][1] = t + 500000
        else:
            reloads.append([t, t + 500000])
    return signals, [tuple(r) for r in reloads]


def main(recs_f, fps_f, marks_f, log_f, hold_f=None):
    fps = [l.strip() for l in open(fps_f) if l.strip()]
    gen = {fp: i for i, fp in enumerate(fps)}
    n = len(fps) - 1
    inf = float("inf")

    W = {0: -inf}
    for l in open(marks_f):
        k, t = l.split()
        W[int(k)] = int(t)
    ev = [json.loads(l) for l in open(log_f) if l.strip()]
    done = [e for e in ev if e["event"] == "cycle.done"]
    # event times are truncated to the ms: the real time is up to 1 ms later
    D = {k: us(e["time"]) + 1000 for k, e in enumerate(done, 1)}
    rotated = 0
    for k, e in enumerate(done, 1):
        if k > n or e.get("outcome") != "rotated" or e.get("fingerprint") != fps[k]:
            break
        rotated += 1
    for k in range(1, n + 2):
        W.setdefault(k, inf)    # never written: leaf k never lives
        D.setdefault(k, inf)    # never done: leaf k-1 lives on
    if os.environ.get("FRONT_LOG"):
        signals, reloads = front_reloads(os.environ["FRONT_LOG"])
    else:
        spans = collections.defaultdict(list)
        for e in ev:
            if e["event"] == "reload.exec":
                spans[e["cycle"]] += [us(e["time"]) - e["ms"] * 1000, us(e["time"]) + 1000]
        reloads = [(min(v), max(v)) for v in spans.values()]
        # when each daemon was told to reload: its command's exec ended (the
        # command returns once the signal is sent; the exec's own overhead
        # makes this up to some tens of ms late)
        signals = {"nginx": [], "dovecot": []}
        for e in ev:
            if e["event"] == "reload.exec" and e.get("command") in RELOAD_COMMANDS:
                signals[RELOAD_COMMANDS[e["command"]]].append(us(e["time"]))
    after = {d: {"old": 0, "new": 0, "failed": 0} for d in signals}

    # dovecot reloads the front sent back to back (another within 3 s), none
    # near a dovecot reload of the agent's own
    front_log = bool(os.environ.get("FRONT_LOG"))
    ours = [us(e["time"]) for e in ev if e["event"] == "reload.exec" and
            RELOAD_COMMANDS.get(e.get("command")) == "dovecot"]
    dsig = sorted(signals["dovecot"]) if front_log else []
    burst = [t for i, t in enumerate(dsig)
             if any(abs(t - u) < 3000000 for u in dsig[:i] + dsig[i + 1:]) and
             not any(abs(t - u) < 3000000 for u in ours)]

    total = ok = failed = unknown = outside = flaps = during_reload = front_burst = 0
    margin = inf
    first = last = None
    per = {}
    reasons = collections.Counter()
    in_rotation = {"old": 0, "new": 0}
    prev = {}
    bad = []
    first_of = {}   # (leaf, proto): earliest start of a handshake with that leaf
    last_of = {}    # (leaf, proto): latest start
    for l in open(recs_f):
        f = l.rstrip("\n").split("\t")
        if len(f) != 7:
            continue
        s, e, proto, port, thr, res, what = int(f[0]), int(f[1]), f[2], f[3], f[4], f[5], f[6]
        total += 1
        first = s if first is None else min(first, s)
        last = e if last is None else max(last, e)
        p = per.setdefault(proto, {"port": int(port), "ok": 0, "failed": 0,
                                   "unknown": 0, "outside": 0, "older_after_newer": 0})
        if any(s <= b and e >= a for a, b in reloads):
            during_reload += 1
        daemon = SERVICE.get(proto, "dovecot")
        sig = [t for t in signals[daemon] if t <= s < t + 1000000]
        if res != "ok":
            if sig:
                after[daemon]["failed"] += 1
            # dovecot's own effect of reloads back to back, when the front
            # sends them itself (Mailu's watcher: one per file event): a
            # login process of the previous reload already shutting down
            if (daemon == "dovecot" and "greeting 421" in what and
                    any(s - 1000000 <= t <= e for t in burst)):
                front_burst += 1
            failed += 1
            p["failed"] += 1
            reasons[what] += 1
            bad.append(l.rstrip("\n"))
            continue
        ok += 1
        p["ok"] += 1
        k = gen.get(what)
        if k is None:
            unknown += 1
            p["unknown"] += 1
            bad.append(l.rstrip("\n") + "\tunknown leaf")
            continue
        if e < W[k] or s > D[k + 1]:
            outside += 1
            p["outside"] += 1
            bad.append(l.rstrip("\n") + "\tleaf %d lives %s..%s" % (k, W[k], D[k + 1]))
        if D[k + 1] != inf:
            margin = min(margin, D[k + 1] - 1000 - s)
        first_of[(k, proto)] = min(first_of.get((k, proto), s), s)
        last_of[(k, proto)] = max(last_of.get((k, proto), s), s)
        if sig:
            # leaf k is old if the next rotation's signal is this one
            after[daemon]["old" if k < n and W[k + 1] <= sig[0] else "new"] += 1
        if k >= 1 and s <= D[k] and e >= W[k]:
            in_rotation["new"] += 1
        if k < n and s <= D[k + 1] and e >= W[k + 1]:
            in_rotation["old"] += 1
        # a thread's handshakes are sequential, and recorded in order
        if prev.get(thr, -1) > k:
            flaps += 1
            p["older_after_newer"] += 1
        prev[thr] = k
    # both leaves served: the last old-leaf handshake began after the first
    # new-leaf one (an old nginx worker or dovecot login process still
    # accepting beside the new one)
    overlap = {"nginx": 0.0, "dovecot": 0.0}
    for (k, proto), t in first_of.items():
        if k >= 1 and (k - 1, proto) in last_of:
            d = SERVICE.get(proto, "dovecot")
            overlap[d] = max(overlap[d], round((last_of[(k - 1, proto)] - t) / 1000, 1))
    secs = (last - first) / 1e6 if total else 0.0
    sessions = {}
    if hold_f is not None:
        # held sessions (session-hold.py): each drop with the time since the
        # last reload command of the daemon serving that port
        for proto, st in json.load(open(hold_f)).items():
            daemon = SERVICE.get(proto, "dovecot")
            drops = []
            for d in st["drops"]:
                before = [t for t in signals[daemon] if t <= d["time_us"]]
                # the latest reload at least 5 s before (dovecot ends the old
                # processes' sessions 6 s after a reload with shutdown_clients)
                old = [t for t in before if d["time_us"] - t >= 5000000]
                drops.append({"reason": d["reason"], "after_reload_ms":
                              round((d["time_us"] - (old or before or [d["time_us"]])[-1]) / 1000)})
            sessions[proto] = {"opened": st["opened"], "answered": st["answered"],
                               "drops": len(drops),
                               "announced": sum("Shutting down" in d["reason"] for d in drops),
                               "after_reload_ms": sorted(d["after_reload_ms"] for d in drops),
                               "reasons": collections.Counter(d["reason"] for d in drops).most_common(3)}
    return {
        "handshakes": total, "ok": ok, "failed": failed, "unknown": unknown,
        "outside_lifetime": outside, "front_burst_greetings": front_burst,
        "rotations": rotated, "cycles": len(done),
        "during_rotation": in_rotation, "during_reload": during_reload,
        "older_after_newer": flaps, "first_second_after_reload": after,
        "both_leaves_ms": overlap,
        "old_leaf_margin_ms": None if margin == inf else round(margin / 1000, 1),
        "seconds": round(secs, 1),
        "per_second": round(total / secs, 1) if secs else 0.0,
        "per_endpoint": per, "sessions": sessions, "reasons": reasons.most_common(10), "bad": bad[:20],
    }


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    print(json.dumps(main(*sys.argv[1:])))

#!/usr/bin/env python3
"""Per-phase statistics of the rotations in one agent log (JSON lines).

  rotations.py LOG  -> shell assignments on stdout, e.g. total_med=712

For every cycle.done with outcome rotated it takes the timings the agent
logs, and the reload.exec events of the same cycle, and derives:
  detect     detect_ms - settle_ms: from the files landing to the cycle
             starting, less the quiet window (noticing and waking up)
  settle     settle_ms, the quiet window itself
  validate, install           as logged
  exec       the time at least one reload.exec round trip was in flight
             (waiting on the engine: nginx -s reload, dovecot reload;
             the union of their spans, which run side by side:
             each ends at its event's time and lasted its ms)
  reload     reload_ms; reload_own = reload - exec
  verify     verify_ms; verify_net = the time inside probe rounds;
             verify_wait = backoff between rounds (the front not yet
             serving); verify_own = verify - verify_net - verify_wait
  work       validate + install + reload_own + verify_own
  own        the agent's own share: detect + work (with inotify; with poll
             only, detect is waiting for the next poll, so work is the share)
  own_noinst own less install (install mostly waits on fsync)
  total      total_ms: files landing -> cycle.done
  cycle      ms: the cycle alone (validate .. verify)
  rounds     verify probe rounds
Each gets NAME_med and NAME_p95 (nearest rank); n is the number of rotations.
"""
import datetime
import json
import math
import sys


def ms_of(stamp):
    """An event's time (2026-11-28T16:57:01.123Z) in ms since the epoch."""
    t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return round(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def union_ms(spans):
    """The length of the union of (start, end) spans."""
    total, reach = 0, None
    for a, b in sorted(spans):
        if reach is None or a > reach:
            total += b - a
            reach = b
        elif b > reach:
            total += b - reach
            reach = b
    return total


def pct(vals, p):
    s = sorted(vals)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def main():
    events = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
    spans = {}
    for e in events:
        if e.get("event") == "reload.exec":
            end = ms_of(e["time"])
            spans.setdefault(e.get("cycle"), []).append((end - e.get("ms", 0), end))
    execs = {c: union_ms(v) for c, v in spans.items()}
    rows = []
    for e in events:
        if e.get("event") != "cycle.done" or e.get("outcome") != "rotated":
            continue
        t = e.get("timings", {})
        r = {
            "settle": t.get("settle_ms", 0),
            "detect": t.get("detect_ms", 0) - t.get("settle_ms", 0),
            "validate": t.get("validate_ms", 0),
            "install": t.get("install_ms", 0),
            "reload": t.get("reload_ms", 0),
            "exec": execs.get(e.get("cycle"), 0),
            "verify": t.get("verify_ms", 0),
            "verify_net": t.get("verify_probe_ms", 0),
            "verify_wait": t.get("verify_wait_ms", 0),
            "rounds": t.get("verify_rounds", 0),
            "total": e.get("total_ms", 0),
            "cycle": e.get("ms", 0),
        }
        r["reload_own"] = r["reload"] - r["exec"]
        r["verify_own"] = r["verify"] - r["verify_net"] - r["verify_wait"]
        r["work"] = r["validate"] + r["install"] + r["reload_own"] + r["verify_own"]
        r["own"] = r["detect"] + r["work"]
        r["own_noinst"] = r["own"] - r["install"]
        rows.append(r)
    print("n=%d" % len(rows))
    if not rows:
        return
    for k in rows[0]:
        vals = [r[k] for r in rows]
        print("%s_med=%s" % (k, pct(vals, 50)))
        print("%s_p95=%s" % (k, pct(vals, 95)))
        print("%s_max=%s" % (k, max(vals)))


if __name__ == "__main__":
    main()

/*
 * schedule (prefix sched_; not sched.h, which would shadow <sched.h>):
 * what the daemon does next, and when: read the source, run a cycle,
 * verify what is served, re-evaluate expiry, or sleep. No I/O and no
 * clock of its own: the time and what was seen are inputs, the next
 * action and its deadline are outputs, so every rule is reached by a unit
 * test (tests/unit/test_schedule.c), as starttls.c's dialogues are.
 *
 * The rules:
 *  settle    a changed pair is read once its files' stat signature has
 *            been still for the settle window (SCHED_SETTLE_MS), then
 *            re-checked every SCHED_RECHECK_MS; one that never holds
 *            still for AGENT_SETTLE_TIMEOUT is rejected (incomplete_write).
 *  closed    the settle window ends early once inotify saw both files of
 *            the pair closed after writing or renamed into place since
 *            the change began (sched_source_closed): they are read at
 *            once, and taken only as a whole pair (both parse, the key
 *            matches); anything less, and the window goes on, read early
 *            again only after another close. Never in a storm's window.
 *  half      a read that found the other file not yet written (or a link
 *            briefly missing) is read again once the signature moves, or
 *            when AGENT_SETTLE_TIMEOUT runs out.
 *  storm     when the source changed again while a cycle ran, or changes
 *            within SCHED_STORM_MS of a cycle's end, the settle window is
 *            SCHED_STORM_MS: a burst of renewals ends in a few cycles that
 *            take the latest pair, never two reloads in a row.
 *  suppress  a rejected or rolled-back bundle is not read again until its
 *            files change (invariant 4), or until the clock alone lifts a
 *            not_yet_valid / expired rejection (cert_retry_due).
 *  retry     an engine or disk fault retries the same bundle after
 *            SCHED_RETRY_FIRST_MS, doubling up to SCHED_RETRY_MAX_MS; the
 *            same files seen meanwhile wait for it, changed files do not.
 *  poll      every AGENT_POLL_INTERVAL the signature is compared (a change
 *            dated by its mtime), and every SCHED_REHASH_POLLS-th poll the
 *            pair is read again even without a change.
 *  drift     every AGENT_DRIFT_INTERVAL, while the source is quiet, what is
 *            served is verified; after a heal that failed, the next heal
 *            waits a doubling interval (the drift interval up to 1 h).
 *  expiry    re-evaluated after every drift check and every cycle.
 *  trim      going idle for SCHED_TRIM_IDLE_MS or more after work, once.
 *
 * Times are CLOCK_MONOTONIC milliseconds; wall_ns (CLOCK_REALTIME) only
 * dates a change by its files' mtime and lets the clock lift a rejection.
 */
#ifndef MCA_SCHEDULE_H
#define MCA_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cert.h"
#include "source.h"

/*
 * A write in progress changes size or mtime within milliseconds; the
 * window is the longest pause inside one writer's update that must still
 * count as one write: 100 ms (tests/integration/14-settle.sh appends every
 * 100 ms), doubled for scheduling jitter.
 */
#define SCHED_SETTLE_MS		200
#define SCHED_RECHECK_MS	200
#define SCHED_STORM_MS		1000
#define SCHED_REHASH_POLLS	6
#define SCHED_TRIM_IDLE_MS	1000
#define SCHED_RETRY_FIRST_MS	2000
#define SCHED_RETRY_MAX_MS	(5 * 60 * 1000)
#define SCHED_HEAL_MAX_MS	(60 * 60 * 1000)

/* Files inotify saw closed after writing, or renamed into place (sched_source_closed). */
#define SCHED_CLOSED_CERT	1u
#define SCHED_CLOSED_KEY	2u
#define SCHED_CLOSED_BOTH	(SCHED_CLOSED_CERT | SCHED_CLOSED_KEY)

struct sched {
	/* settings */
	long poll_ms;			/* AGENT_POLL_INTERVAL */
	long drift_ms;			/* AGENT_DRIFT_INTERVAL */
	long settle_timeout_ms;		/* AGENT_SETTLE_TIMEOUT */
	/* the source */
	bool dirty;			/* it may have changed: settle, then read */
	long landed;			/* when that change was first seen */
	long stable_since;		/* when its signature last changed */
	long window;			/* the settle window now */
	long cycle_end;			/* when the last cycle ended; 0 none yet */
	unsigned closed;		/* SCHED_CLOSED_* seen since the change began */
	struct source_sig last;		/* the signature last seen */
	bool waiting;			/* the last read found half a pair */
	struct source_sig waited_sig;	/* ... with this signature */
	bool absent_said;		/* source.waiting logged for this absence */
	/* invariant 4 */
	bool have_rejected;
	struct source_sig rejected_sig;
	enum cert_reason rejected_why;	/* and the dates, for cert_retry_due */
	time_t rejected_not_before, rejected_not_after;
	/* after an engine or disk fault */
	bool retry_pending;
	long retry_at, retry_ms;
	struct source_sig retry_sig;
	/* timers */
	long next_poll;
	unsigned polls;
	long next_drift;
	long heal_backoff, heal_after;
	bool expiry_due;
	bool trimmed;
};

enum sched_action {
	SCHED_WAIT,		/* nothing due: sleep sched_wait_ms(), or until an event */
	SCHED_POLL,		/* a poll tick: check the lock, reopen a missing watch */
	SCHED_DRIFT,		/* verify what is served, then sched_drift_done */
	SCHED_EXPIRY,		/* re-evaluate the expiry warnings */
	SCHED_REJECT,		/* the pair never held still: reject it as incomplete_write */
	SCHED_READ,		/* read the source, then sched_settle and sched_read_done or a cycle */
};

/* What sched_step asks for, and what goes with it. */
struct sched_do {
	enum sched_action what;
	bool retry_due;		/* SCHED_POLL: the clock lifted a rejection: say so */
	bool may_heal;		/* SCHED_DRIFT: a stale endpoint may be reloaded */
	bool patient;		/* SCHED_READ: the settle timeout has not run out */
	bool early;		/* SCHED_READ: before the window's end, both files closed */
};

/* Starts with the source to be read (a change made while we were down). */
void sched_init(struct sched *s, long poll_ms, long drift_ms, long settle_timeout_ms,
    const struct source_sig *sig, long now);
/* SIGHUP applied: new settings, and the source is read again. */
void sched_settings(struct sched *s, long poll_ms, long drift_ms,
    long settle_timeout_ms, long now);
/* inotify saw a change (a no-op while a change is already in hand). */
void sched_source_event(struct sched *s, long now);
/*
 * inotify saw which (SCHED_CLOSED_*) closed after writing (IN_CLOSE_WRITE)
 * or renamed into place (IN_MOVED_TO); after sched_source_event.
 */
void sched_source_closed(struct sched *s, unsigned which);

/* How long to sleep from now, at most. */
long sched_wait_ms(const struct sched *s, long now);
/* Going idle for long enough after work: trim once (memtrim.h). */
bool sched_trim_due(struct sched *s, long wait_ms);

/*
 * The next action for this signature and time; call again after carrying
 * it out until it says SCHED_WAIT.
 */
void sched_step(struct sched *s, const struct source_sig *sig, long now,
    int64_t wall_ns, struct sched_do *d);

/* What a read of the source found (SCHED_READ), for the settle rule. */
struct sched_read {
	bool ok;			/* both halves parsed */
	bool same;			/* ... and its leaf is the pair served */
	bool matches;			/* ... and the key belongs to the leaf */
	enum cert_reason why;		/* !ok: why not */
	bool traefik;			/* the source is an acme.json store */
	const struct source_sig *sig;
	bool patient;			/* sched_do.patient */
	bool early;			/* sched_do.early */
};

enum sched_settle {
	SCHED_SETTLE_WAIT,	/* half a pair, or a link missing: read again later */
	SCHED_SETTLE_READY,	/* run a cycle (it rejects what is still wrong) */
	SCHED_SETTLE_SAME,	/* the pair already served */
	SCHED_SETTLE_ABSENT,	/* no certificate there yet: nothing to do */
	SCHED_SETTLE_SETTLE,	/* an early read found no whole pair: the window goes on */
};

enum sched_settle sched_settle(const struct sched_read *r);

/*
 * A read that ended without a cycle (WAIT, SAME, ABSENT, SETTLE). Returns true
 * when source.waiting is to be logged (once per absence).
 */
bool sched_read_done(struct sched *s, enum sched_settle r,
    const struct source_sig *sig);

/* How the cycle run on a READY read ended. */
struct sched_cycle {
	bool rejected;			/* not to be retried until its files change */
	enum cert_reason why;		/* rejected: the reason and the bundle's */
	time_t not_before, not_after;	/* dates, for cert_retry_due */
	bool retry;			/* an engine or disk fault: the same bundle again */
	bool changed_during;		/* the signature moved while it ran (a storm) */
};

/* Returns the retry delay when c->retry (for cycle.retry), else 0. */
long sched_cycle_done(struct sched *s, const struct sched_cycle *c,
    const struct source_sig *sig, long now);

/* A drift check (SCHED_DRIFT) ended; all_match: every endpoint served the pair. */
void sched_drift_done(struct sched *s, bool may_heal, bool all_match, long now);

#endif

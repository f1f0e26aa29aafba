/*
 * schedule: every rule of schedule.h, time as an input. A test drives the
 * scheduler the way daemon.c does: sched_step until SCHED_WAIT, carrying
 * out each action by calling back what its result would be.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "schedule.h"

#define POLL	10000L
#define DRIFT	600000L
#define SETTLE	30000L
#define SEC	1000000000LL
/* the wall clock: files written at WALL0 seconds, as the signatures say */
#define WALL0	1800000000LL

/* A signature for "version n" of the pair, its files written at mtime_s. */
static struct source_sig
sig(int n, long long mtime_s)
{
	struct source_sig g;

	memset(&g, 0, sizeof(g));
	g.cert_ok = g.key_ok = true;
	g.cert_ino = (ino_t)(100 + n);
	g.key_ino = (ino_t)(200 + n);
	g.cert_size = 1000 + n;
	g.key_size = 200;
	g.cert_mtime_ns = g.key_mtime_ns = mtime_s * SEC;
	return g;
}

static void
fresh(struct sched *s, const struct source_sig *g)
{
	sched_init(s, POLL, DRIFT, SETTLE, g, 0);
}

/* One step at now (wall clock WALL0 + now); the action. */
static enum sched_action
step_at(struct sched *s, const struct source_sig *g, long now, struct sched_do *d)
{
	struct sched_do scratch;

	if (d == NULL)
		d = &scratch;
	sched_step(s, g, now, (WALL0 * 1000 + now) * 1000000, d);
	return d->what;
}

/* The first action other than POLL and EXPIRY at now (those are done). */
static enum sched_action
next_at(struct sched *s, const struct source_sig *g, long now, struct sched_do *d)
{
	enum sched_action a;

	while ((a = step_at(s, g, now, d)) == SCHED_POLL || a == SCHED_EXPIRY)
		;
	return a;
}

/* A read found the pair already served: back to quiet. */
static void
read_same(struct sched *s, const struct source_sig *g)
{
	CHECK(!sched_read_done(s, SCHED_SETTLE_SAME, g));
}

/*
 * next_at for a source that does not change: the periodic re-reads find
 * the pair served (read_same), and only the action after them counts.
 */
static enum sched_action
quiet_at(struct sched *s, const struct source_sig *g, long now, struct sched_do *d)
{
	enum sched_action a;

	while ((a = next_at(s, g, now, d)) == SCHED_READ)
		read_same(s, g);
	return a;
}

TEST(settle_window_then_read)
{
	struct source_sig a = sig(1, WALL0), b = sig(2, WALL0);
	struct sched s;

	fresh(&s, &a);
	/* at start the source is read once its signature has been still 200 ms */
	CHECK_INT(next_at(&s, &a, 0, NULL), SCHED_WAIT);
	CHECK_INT(sched_wait_ms(&s, 0), SCHED_SETTLE_MS);
	CHECK_INT(next_at(&s, &a, SCHED_SETTLE_MS - 1, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &a, SCHED_SETTLE_MS, NULL), SCHED_READ);
	read_same(&s, &a);
	CHECK_INT(next_at(&s, &a, SCHED_SETTLE_MS, NULL), SCHED_WAIT);
	CHECK(!s.dirty);
	/* quiet: the next thing is the poll */
	CHECK_INT(sched_wait_ms(&s, 1000), POLL - 1000);

	/* inotify at 1000, the file still moving at 1100: read 200 ms after that */
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &b, 1000, NULL), SCHED_WAIT);
	b.cert_size++;
	CHECK_INT(next_at(&s, &b, 1100, NULL), SCHED_WAIT);
	CHECK_INT(sched_wait_ms(&s, 1100), SCHED_SETTLE_MS);
	CHECK_INT(next_at(&s, &b, 1299, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 1300, NULL), SCHED_READ);
	/* past the window with nothing read yet: re-checked every 200 ms */
	CHECK_INT(sched_wait_ms(&s, 1400), SCHED_RECHECK_MS);
	/* an event while a change is in hand keeps when it landed */
	sched_source_event(&s, 1350);
	CHECK_INT(s.landed, 1000);
}

TEST(never_still_is_incomplete_write)
{
	struct source_sig a = sig(1, WALL0);
	struct sched s;
	long t;
	int i;

	fresh(&s, &a);
	read_same(&s, &a);
	sched_source_event(&s, 1000);
	/*
	 * a writer that changes the files every 100 ms, for ever; appending
	 * to one of them, closed after every append, is no whole pair either
	 */
	for (t = 1000, i = 2; t < 1000 + SETTLE; t += 100, i++) {
		struct source_sig g = sig(i, WALL0);

		sched_source_closed(&s, SCHED_CLOSED_CERT);
		CHECK_INT(next_at(&s, &g, t, NULL), SCHED_WAIT);
	}
	{
		struct source_sig g = sig(i, WALL0), h = sig(i + 1, WALL0);
		struct sched_do d;

		CHECK_INT(next_at(&s, &g, t, &d), SCHED_REJECT);
		CHECK(!s.dirty && s.have_rejected);
		CHECK_INT(s.rejected_why, CERT_INCOMPLETE_WRITE);
		/* the same files again (an event, a poll): not read, not rejected again */
		sched_source_event(&s, t + 10);
		CHECK_INT(next_at(&s, &g, t + 10, NULL), SCHED_WAIT);
		CHECK(!s.dirty);
		/* changed files: a fresh settle */
		sched_source_event(&s, t + 20);
		CHECK_INT(next_at(&s, &h, t + 20, NULL), SCHED_WAIT);
		CHECK(!s.have_rejected);
		CHECK_INT(next_at(&s, &h, t + 20 + SCHED_SETTLE_MS, NULL), SCHED_READ);
	}
}

TEST(half_pair_waits_for_a_move)
{
	struct source_sig a = sig(1, WALL0), half = sig(2, WALL0), whole = sig(3, WALL0);
	struct sched_do d;
	struct sched s;

	fresh(&s, &a);
	read_same(&s, &a);
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &half, 1000, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &half, 1200, &d), SCHED_READ);
	CHECK(d.patient);
	/* the key is not written yet */
	CHECK(!sched_read_done(&s, SCHED_SETTLE_WAIT, &half));
	CHECK_INT(next_at(&s, &half, 1400, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &half, 5000, NULL), SCHED_WAIT);
	/* it moved: read once the new signature is still */
	CHECK_INT(next_at(&s, &whole, 5100, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &whole, 5300, &d), SCHED_READ);
	/* the second file never comes: once patience runs out, read (and reject) */
	CHECK(!sched_read_done(&s, SCHED_SETTLE_WAIT, &whole));
	CHECK_INT(next_at(&s, &whole, 1000 + SETTLE - 1, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &whole, 1000 + SETTLE, &d), SCHED_READ);
	CHECK(!d.patient);
}

/* READY: a cycle ran; c describes how it ended. */
static long
cycle(struct sched *s, const struct source_sig *g, long now, bool rejected,
    enum cert_reason why, bool retry, bool storm)
{
	struct sched_cycle c = { rejected, why, 0, 0, retry, storm };

	return sched_cycle_done(s, &c, g, now);
}

TEST(storm_widens_the_next_window)
{
	struct source_sig a = sig(1, WALL0), b = sig(2, WALL0), c = sig(3, WALL0);
	struct sched s;

	fresh(&s, &a);
	CHECK_INT(next_at(&s, &a, 200, NULL), SCHED_READ);
	/* the source changed again while the cycle ran */
	CHECK_INT(cycle(&s, &a, 900, false, CERT_OK, false, true), 0);
	CHECK_INT(s.window, SCHED_STORM_MS);
	sched_source_event(&s, 900);
	CHECK_INT(next_at(&s, &b, 900, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 900 + SCHED_SETTLE_MS, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 900 + SCHED_STORM_MS - 1, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 900 + SCHED_STORM_MS, NULL), SCHED_READ);
	/* a quiet cycle: back to the short window */
	cycle(&s, &b, 2000, false, CERT_OK, false, false);
	CHECK_INT(s.window, SCHED_SETTLE_MS);
	sched_source_event(&s, 3000);
	CHECK_INT(next_at(&s, &c, 3000, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &c, 3000 + SCHED_SETTLE_MS, NULL), SCHED_READ);
}

TEST(storm_right_after_a_cycle)
{
	struct source_sig a = sig(1, WALL0), b = sig(2, WALL0), c = sig(3, WALL0);
	struct sched_do d;
	struct sched s;

	fresh(&s, &a);
	CHECK_INT(next_at(&s, &a, 200, NULL), SCHED_READ);
	/* a quiet cycle, and the next renewal 500 ms after it: the storm's window */
	cycle(&s, &a, 1000, false, CERT_OK, false, false);
	CHECK_INT(s.window, SCHED_SETTLE_MS);
	sched_source_event(&s, 1500);
	CHECK_INT(s.window, SCHED_STORM_MS);
	CHECK_INT(next_at(&s, &b, 1500, NULL), SCHED_WAIT);
	/* even written whole: no early read */
	sched_source_closed(&s, SCHED_CLOSED_BOTH);
	CHECK_INT(next_at(&s, &b, 1500 + SCHED_SETTLE_MS, &d), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 1500 + SCHED_STORM_MS, NULL), SCHED_READ);
	/* a change a whole storm window after the cycle: the short window */
	cycle(&s, &b, 3000, false, CERT_OK, false, false);
	sched_source_event(&s, 3000 + SCHED_STORM_MS);
	CHECK_INT(s.window, SCHED_SETTLE_MS);
	CHECK_INT(next_at(&s, &c, 3000 + SCHED_STORM_MS, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &c, 3000 + SCHED_STORM_MS + SCHED_SETTLE_MS, NULL), SCHED_READ);
}

TEST(closed_pair_ends_the_window)
{
	struct source_sig half = sig(2, WALL0), whole = sig(3, WALL0);
	struct sched_do d;
	struct sched s;

	fresh(&s, &whole);
	read_same(&s, &whole);
	/* a close before any change in hand is no news */
	sched_source_closed(&s, SCHED_CLOSED_BOTH);
	CHECK_INT(s.closed, 0);
	/* cp cert.pem: one file closed, the window runs */
	sched_source_event(&s, 1000);
	sched_source_closed(&s, SCHED_CLOSED_CERT);
	CHECK_INT(next_at(&s, &half, 1000, NULL), SCHED_WAIT);
	CHECK_INT(sched_wait_ms(&s, 1000), SCHED_SETTLE_MS);
	/* cp key.pem 4 ms later: both closed, read at once */
	sched_source_event(&s, 1004);
	sched_source_closed(&s, SCHED_CLOSED_KEY);
	CHECK_INT(next_at(&s, &whole, 1004, &d), SCHED_READ);
	CHECK(d.early);
	CHECK(d.patient);
	/* a whole pair: the cycle runs on it */
	cycle(&s, &whole, 1300, false, CERT_OK, false, false);
	CHECK(!s.dirty);
	CHECK_INT(s.closed, 0);

	/* both closed, but the read finds no whole pair: the window goes on */
	sched_source_event(&s, 5000);
	sched_source_closed(&s, SCHED_CLOSED_BOTH);
	CHECK_INT(next_at(&s, &half, 5000, &d), SCHED_READ);
	CHECK(d.early);
	CHECK(!sched_read_done(&s, SCHED_SETTLE_SETTLE, &half));
	CHECK(s.dirty);
	CHECK(!s.waiting);
	/* not read early again without another close */
	CHECK_INT(next_at(&s, &half, 5010, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &half, 5000 + SCHED_SETTLE_MS - 1, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &half, 5000 + SCHED_SETTLE_MS, &d), SCHED_READ);
	CHECK(!d.early);
	/* the key lands: another close, an early read again */
	CHECK(!sched_read_done(&s, SCHED_SETTLE_WAIT, &half));
	sched_source_event(&s, 5600);
	sched_source_closed(&s, SCHED_CLOSED_KEY);
	CHECK_INT(next_at(&s, &whole, 5600, NULL), SCHED_WAIT);	/* the key alone */
	sched_source_closed(&s, SCHED_CLOSED_CERT);
	CHECK_INT(next_at(&s, &whole, 5601, &d), SCHED_READ);
	CHECK(d.early);
}

TEST(closed_pair_in_a_storm_waits)
{
	struct source_sig a = sig(1, WALL0), b = sig(2, WALL0);
	struct sched_do d;
	struct sched s;

	fresh(&s, &a);
	CHECK_INT(next_at(&s, &a, 200, NULL), SCHED_READ);
	cycle(&s, &a, 900, false, CERT_OK, false, true);
	/* renewals keep landing whole: the storm's window holds, no early read */
	sched_source_event(&s, 900);
	sched_source_closed(&s, SCHED_CLOSED_BOTH);
	CHECK_INT(next_at(&s, &b, 900, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 900 + SCHED_SETTLE_MS, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 900 + SCHED_STORM_MS, &d), SCHED_READ);
	CHECK(!d.early);
	/* after a quiet cycle, the next whole pair is read early again */
	cycle(&s, &b, 2000, false, CERT_OK, false, false);
	sched_source_event(&s, 3000);
	sched_source_closed(&s, SCHED_CLOSED_BOTH);
	CHECK_INT(next_at(&s, &a, 3000, &d), SCHED_READ);
	CHECK(d.early);
}

TEST(rejected_not_read_until_its_files_change)
{
	struct source_sig a = sig(1, WALL0), bad = sig(2, WALL0), good = sig(3, WALL0);
	struct sched s;
	long t;

	fresh(&s, &a);
	read_same(&s, &a);
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &bad, 1000, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &bad, 1200, NULL), SCHED_READ);
	cycle(&s, &bad, 1300, true, CERT_HOSTNAME_MISMATCH, false, false);
	/* polls, re-hashes and events for the same files read nothing */
	for (t = POLL; t <= 20 * POLL; t += POLL) {
		sched_source_event(&s, t);
		CHECK_INT(next_at(&s, &bad, t, NULL), SCHED_WAIT);
	}
	CHECK(s.have_rejected);
	/* a rolled-back bundle is the same rule: rejected, then new files */
	sched_source_event(&s, 21 * POLL);
	CHECK_INT(next_at(&s, &good, 21 * POLL, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &good, 21 * POLL + SCHED_SETTLE_MS, NULL), SCHED_READ);
}

TEST(clock_lifts_a_date_rejection)
{
	struct source_sig a = sig(1, WALL0), early = sig(2, WALL0);
	struct sched_cycle c = { true, CERT_NOT_YET_VALID, 0, 0, false, false };
	struct sched_do d;
	struct sched s;

	fresh(&s, &a);
	read_same(&s, &a);
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &early, 1000, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &early, 1200, NULL), SCHED_READ);
	/* valid from 25 s after WALL0 */
	c.not_before = (time_t)(WALL0 + 25);
	c.not_after = (time_t)(WALL0 + 90 * 86400);
	sched_cycle_done(&s, &c, &early, 1300);
	CHECK_INT(step_at(&s, &early, POLL, &d), SCHED_POLL);
	CHECK(!d.retry_due);
	CHECK_INT(next_at(&s, &early, POLL, NULL), SCHED_WAIT);
	CHECK_INT(step_at(&s, &early, 2 * POLL, &d), SCHED_POLL);
	CHECK(!d.retry_due);
	/* the wall clock passed notBefore: said once, read again */
	CHECK_INT(step_at(&s, &early, 3 * POLL, &d), SCHED_POLL);
	CHECK(d.retry_due);
	CHECK_INT(next_at(&s, &early, 3 * POLL, NULL), SCHED_READ);
	/* any other reason never expires by itself */
	cycle(&s, &early, 3 * POLL, true, CERT_KEY_MISMATCH, false, false);
	for (long t = 4 * POLL; t < 30 * POLL; t += POLL) {
		CHECK_INT(step_at(&s, &early, t, &d), SCHED_POLL);
		CHECK(!d.retry_due);
		CHECK_INT(next_at(&s, &early, t, NULL), SCHED_WAIT);
	}
}

TEST(fault_retry_backs_off)
{
	struct source_sig a = sig(1, WALL0), b = sig(2, WALL0), c = sig(3, WALL0);
	long want = SCHED_RETRY_FIRST_MS, t = 1200, delay;
	struct sched s;
	int i;

	/* a drift interval beyond the test: only the retry timer is due */
	sched_init(&s, POLL, 1000L * DRIFT, SETTLE, &a, 0);
	read_same(&s, &a);
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &b, 1000, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, t, NULL), SCHED_READ);
	/* 2 s, doubling, at most 5 min; the same files meanwhile wait */
	for (i = 0; i < 12; i++) {
		delay = cycle(&s, &b, t, false, CERT_OK, true, false);
		CHECK_INT(delay, want);
		CHECK_INT(sched_wait_ms(&s, t) <= delay, 1);
		sched_source_event(&s, t + 1);
		CHECK_INT(next_at(&s, &b, t + 1, NULL), SCHED_WAIT);
		CHECK_INT(next_at(&s, &b, t + delay - 1, NULL), SCHED_WAIT);
		CHECK_INT(next_at(&s, &b, t + delay, NULL), SCHED_READ);
		CHECK(s.retry_pending);
		t += delay;
		want = want * 2 > SCHED_RETRY_MAX_MS ? SCHED_RETRY_MAX_MS : want * 2;
	}
	CHECK_INT(delay, SCHED_RETRY_MAX_MS);
	/* new files do not wait for the backoff (right after a cycle: a storm's window) */
	cycle(&s, &b, t, false, CERT_OK, true, false);
	sched_source_event(&s, t + 10);
	CHECK_INT(next_at(&s, &c, t + 10, NULL), SCHED_WAIT);
	CHECK(s.retry_at > t + 10 + SCHED_STORM_MS);
	CHECK_INT(next_at(&s, &c, t + 10 + SCHED_STORM_MS, NULL), SCHED_READ);
	/* a cycle without a fault starts the backoff over */
	CHECK_INT(cycle(&s, &c, t + 500, false, CERT_OK, false, false), 0);
	CHECK(!s.retry_pending);
	CHECK_INT(s.retry_ms, SCHED_RETRY_FIRST_MS);
}

TEST(poll_dates_a_change_and_rehashes)
{
	struct source_sig a = sig(1, WALL0), b;
	struct sched_do d;
	struct sched s;
	int reads = 0;

	fresh(&s, &a);
	read_same(&s, &a);
	/* no inotify (NFS): the poll finds files written 3 s before it */
	b = sig(2, WALL0 + POLL / 1000 - 3);
	CHECK_INT(step_at(&s, &b, POLL, &d), SCHED_POLL);
	CHECK(s.dirty);
	CHECK_INT(s.landed, POLL - 3000);
	CHECK_INT(next_at(&s, &b, POLL, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, POLL, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, POLL + SCHED_SETTLE_MS, NULL), SCHED_READ);
	read_same(&s, &b);
	/* an mtime from the future or older than a period: dated now */
	s.polls = 1;
	{
		struct source_sig old = sig(3, WALL0 - 3600);

		CHECK_INT(step_at(&s, &old, 2 * POLL, NULL), SCHED_POLL);
		CHECK_INT(s.landed, 2 * POLL);
		CHECK_INT(next_at(&s, &old, 2 * POLL, NULL), SCHED_WAIT);
		CHECK_INT(next_at(&s, &old, 2 * POLL + SCHED_SETTLE_MS, NULL), SCHED_READ);
		read_same(&s, &old);
		/* nothing changes: every 6th poll reads the pair again */
		for (long t = 3 * POLL; t <= 20 * POLL; t += POLL) {
			if (next_at(&s, &old, t, NULL) == SCHED_READ) {
				reads++;
				read_same(&s, &old);
			}
		}
		CHECK_INT(reads, 3);
		/* not while a retry waits: its timer rules */
		cycle(&s, &old, 21 * POLL, false, CERT_OK, true, false);
		s.polls = SCHED_REHASH_POLLS - 1;
		CHECK_INT(step_at(&s, &old, 21 * POLL + 100, NULL), SCHED_POLL);
		CHECK(!s.dirty);
	}
}

TEST(drift_heal_backs_off)
{
	struct source_sig a = sig(1, WALL0);
	long t = DRIFT, backoff = DRIFT;
	struct sched_do d;
	struct sched s;
	int i;

	fresh(&s, &a);
	/* not while the source is unsettled */
	CHECK_INT(next_at(&s, &a, 100, NULL), SCHED_WAIT);
	CHECK_INT(sched_wait_ms(&s, 100), SCHED_SETTLE_MS - 100);
	read_same(&s, &a);
	CHECK_INT(quiet_at(&s, &a, t - 1, NULL), SCHED_WAIT);
	CHECK_INT(quiet_at(&s, &a, t, &d), SCHED_DRIFT);
	CHECK(d.may_heal);
	/* the heal failed: the next drift check may not reload for a while */
	sched_drift_done(&s, true, false, t);
	CHECK_INT(step_at(&s, &a, t, NULL), SCHED_EXPIRY);
	CHECK_INT(quiet_at(&s, &a, t, NULL), SCHED_WAIT);
	for (i = 0; i < 10; i++) {
		long heal_at = t + backoff;

		/* checks inside the backoff: detected, not healed */
		for (t += DRIFT; t < heal_at; t += DRIFT) {
			CHECK_INT(quiet_at(&s, &a, t, &d), SCHED_DRIFT);
			CHECK(!d.may_heal);
			sched_drift_done(&s, false, false, t);
		}
		CHECK_INT(quiet_at(&s, &a, t, &d), SCHED_DRIFT);
		CHECK(d.may_heal);
		sched_drift_done(&s, true, false, t);
		backoff = backoff * 2 > SCHED_HEAL_MAX_MS ? SCHED_HEAL_MAX_MS : backoff * 2;
		CHECK_INT(s.heal_backoff, backoff);
	}
	CHECK_INT(s.heal_backoff, SCHED_HEAL_MAX_MS);
	/* healthy again: the backoff is forgotten */
	t += DRIFT;
	while (quiet_at(&s, &a, t, &d) != SCHED_DRIFT)
		t += DRIFT;
	sched_drift_done(&s, d.may_heal, true, t);
	CHECK_INT(s.heal_backoff, 0);
	t += DRIFT;
	CHECK_INT(quiet_at(&s, &a, t, &d), SCHED_DRIFT);
	CHECK(d.may_heal);
}

TEST(expiry_after_every_drift_check_and_cycle)
{
	struct source_sig a = sig(1, WALL0), b = sig(2, WALL0);
	struct sched s;

	fresh(&s, &a);
	CHECK_INT(next_at(&s, &a, 200, NULL), SCHED_READ);
	read_same(&s, &a);
	CHECK_INT(step_at(&s, &a, 300, NULL), SCHED_WAIT);	/* a read alone: no */
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &b, 1000, NULL), SCHED_WAIT);
	CHECK_INT(next_at(&s, &b, 1200, NULL), SCHED_READ);
	cycle(&s, &b, 1500, false, CERT_OK, false, false);
	CHECK_INT(step_at(&s, &b, 1500, NULL), SCHED_EXPIRY);
	CHECK_INT(step_at(&s, &b, 1500, NULL), SCHED_WAIT);	/* once */
	CHECK_INT(next_at(&s, &b, DRIFT, NULL), SCHED_DRIFT);
	sched_drift_done(&s, true, true, DRIFT + 50);
	CHECK_INT(step_at(&s, &b, DRIFT + 50, NULL), SCHED_EXPIRY);
	CHECK_INT(s.next_drift, 2 * DRIFT + 50);
}

TEST(trim_once_when_idle_after_work)
{
	struct source_sig a = sig(1, WALL0);
	struct sched s;

	fresh(&s, &a);
	CHECK(!sched_trim_due(&s, 5000));	/* a change in hand */
	CHECK_INT(next_at(&s, &a, 200, NULL), SCHED_READ);
	read_same(&s, &a);
	CHECK(!sched_trim_due(&s, SCHED_TRIM_IDLE_MS - 1));
	CHECK(sched_trim_due(&s, SCHED_TRIM_IDLE_MS));
	CHECK(!sched_trim_due(&s, POLL));		/* once */
	/* work again: one more trim after it */
	sched_source_event(&s, 1000);
	CHECK_INT(next_at(&s, &a, 1200, NULL), SCHED_READ);
	read_same(&s, &a);
	CHECK(sched_trim_due(&s, POLL));
	CHECK_INT(next_at(&s, &a, DRIFT, NULL), SCHED_DRIFT);
	sched_drift_done(&s, true, true, DRIFT);
	CHECK(sched_trim_due(&s, POLL));
}

TEST(settle_rule)
{
	struct source_sig present = sig(1, WALL0), none, empty = sig(2, WALL0);
	struct sched_read r;

	memset(&none, 0, sizeof(none));
	empty.cert_size = 0;
	memset(&r, 0, sizeof(r));
	r.sig = &present;
	r.ok = true;
	r.same = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_SAME);
	r.same = false;
	r.matches = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_READY);
	r.matches = false;		/* one file written, the other not yet */
	r.patient = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_WAIT);
	r.patient = false;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_READY);
	/* certbot has not issued: neither file */
	memset(&r, 0, sizeof(r));
	r.sig = &none;
	r.why = CERT_UNREADABLE;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_ABSENT);
	/* a link briefly missing, acme.json mid-write: wait, while patient */
	r.sig = &present;
	r.patient = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_WAIT);
	r.why = CERT_BAD_ACME_JSON;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_WAIT);
	r.patient = false;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_READY);
	/* anything else: the cycle rejects it with its reason */
	r.patient = true;
	r.why = CERT_HOSTNAME_MISMATCH;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_READY);
	r.why = CERT_NO_CERTIFICATE;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_READY);
	/* Traefik with no certificate yet, or an empty store */
	r.traefik = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_ABSENT);
	r.why = CERT_BAD_ACME_JSON;
	r.sig = &empty;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_ABSENT);
	/* read early (both files closed): a whole pair, or settle on */
	memset(&r, 0, sizeof(r));
	r.sig = &present;
	r.early = r.patient = true;
	r.ok = r.matches = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_READY);
	r.same = true;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_SAME);
	r.same = r.matches = false;	/* the key does not match the cert (yet) */
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_SETTLE);
	r.patient = false;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_SETTLE);
	r.ok = false;
	r.why = CERT_NOT_PEM;		/* caught mid-write: no rejection from an early read */
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_SETTLE);
	r.sig = &none;
	r.why = CERT_UNREADABLE;
	CHECK_INT(sched_settle(&r), SCHED_SETTLE_SETTLE);
}

TEST(absence_said_once)
{
	struct source_sig none;
	struct sched s;

	memset(&none, 0, sizeof(none));
	fresh(&s, &none);
	CHECK_INT(next_at(&s, &none, 200, NULL), SCHED_READ);
	CHECK(sched_read_done(&s, SCHED_SETTLE_ABSENT, &none));
	for (long t = POLL; t <= 12 * POLL; t += POLL) {
		if (next_at(&s, &none, t, NULL) == SCHED_READ)
			CHECK(!sched_read_done(&s, SCHED_SETTLE_ABSENT, &none));
	}
	/* after a cycle, a new absence is said again */
	cycle(&s, &none, 13 * POLL, false, CERT_OK, false, false);
	sched_source_event(&s, 13 * POLL);
	CHECK_INT(next_at(&s, &none, 13 * POLL + SCHED_SETTLE_MS, NULL), SCHED_READ);
	CHECK(sched_read_done(&s, SCHED_SETTLE_ABSENT, &none));
}

TEST(sighup_applies_settings_and_reads)
{
	struct source_sig a = sig(1, WALL0);
	struct sched s;

	fresh(&s, &a);
	read_same(&s, &a);
	sched_settings(&s, 2000, 60000, 5000, 3000);
	CHECK(s.dirty);
	CHECK_INT(s.landed, 3000);
	CHECK_INT(next_at(&s, &a, 3000, NULL), SCHED_READ);	/* still since 0 */
	read_same(&s, &a);
	/* the next poll is at the old deadline, then every 2 s */
	CHECK_INT(step_at(&s, &a, POLL, NULL), SCHED_POLL);
	CHECK_INT(s.next_poll, POLL + 2000);
}

TEST(wait_is_the_nearest_deadline)
{
	struct source_sig a = sig(1, WALL0);
	struct sched s;

	fresh(&s, &a);
	read_same(&s, &a);
	CHECK_INT(sched_wait_ms(&s, 0), POLL);
	CHECK_INT(sched_wait_ms(&s, 2 * POLL), 0);	/* late: never negative */
	s.next_drift = 500;
	CHECK_INT(sched_wait_ms(&s, 0), 500);
	cycle(&s, &a, 100, false, CERT_OK, true, false);
	CHECK_INT(sched_wait_ms(&s, 100), 400);
	s.next_drift = 100000;
	CHECK_INT(sched_wait_ms(&s, 100), SCHED_RETRY_FIRST_MS);
}

HARNESS_MAIN("schedule", RUN(settle_window_then_read), RUN(never_still_is_incomplete_write),
    RUN(storm_right_after_a_cycle), RUN(closed_pair_ends_the_window), RUN(closed_pair_in_a_storm_waits),
    RUN(half_pair_waits_for_a_move), RUN(storm_widens_the_next_window),
    RUN(rejected_not_read_until_its_files_change), RUN(clock_lifts_a_date_rejection),
    RUN(fault_retry_backs_off), RUN(poll_dates_a_change_and_rehashes),
    RUN(drift_heal_backs_off), RUN(expiry_after_every_drift_check_and_cycle),
    RUN(trim_once_when_idle_after_work), RUN(settle_rule), RUN(absence_said_once),
    RUN(sighup_applies_settings_and_reads), RUN(wait_is_the_nearest_deadline))

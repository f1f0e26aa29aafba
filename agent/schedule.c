/*
 * schedule: the daemon's decisions, as pure functions of what was seen
 * and when (the rules are listed in schedule.h). daemon.c carries them out.
 */
#include <string.h>

#include "schedule.h"

/*
 * The source may have changed at `when`: settle from there. A change
 * within SCHED_STORM_MS of a cycle's end is a storm too: cycles now take
 * less than a burst's renewals are apart, and a second dovecot reload
 * right after one cuts off the login processes the first started.
 */
static void
touch(struct sched *s, long when)
{
	s->dirty = true;
	s->landed = when;
	s->closed = 0;
	if (s->cycle_end > 0 && when - s->cycle_end < SCHED_STORM_MS)
		s->window = SCHED_STORM_MS;
}

void
sched_init(struct sched *s, long poll_ms, long drift_ms, long settle_timeout_ms,
    const struct source_sig *sig, long now)
{
	memset(s, 0, sizeof(*s));
	s->poll_ms = poll_ms;
	s->drift_ms = drift_ms;
	s->settle_timeout_ms = settle_timeout_ms;
	s->last = *sig;
	s->window = SCHED_SETTLE_MS;
	s->retry_ms = SCHED_RETRY_FIRST_MS;
	/* a change made while we were down counts from now */
	s->stable_since = now;
	touch(s, now);
	s->next_poll = now + poll_ms;
	s->next_drift = now + drift_ms;
}

void
sched_settings(struct sched *s, long poll_ms, long drift_ms,
    long settle_timeout_ms, long now)
{
	s->poll_ms = poll_ms;
	s->drift_ms = drift_ms;
	s->settle_timeout_ms = settle_timeout_ms;
	touch(s, now);
}

void
sched_source_event(struct sched *s, long now)
{
	if (!s->dirty)
		touch(s, now);
}

void
sched_source_closed(struct sched *s, unsigned which)
{
	if (s->dirty)
		s->closed |= which & SCHED_CLOSED_BOTH;
}

long
sched_wait_ms(const struct sched *s, long now)
{
	long wait = s->next_poll - now;

	if (s->dirty) {
		/* wake exactly when the settle window ends, then re-check slowly */
		long settle = s->stable_since + s->window - now;

		if (settle <= 0)
			settle = SCHED_RECHECK_MS;
		if (settle < wait)
			wait = settle;
	}
	if (s->retry_pending && s->retry_at - now < wait)
		wait = s->retry_at - now;
	if (s->next_drift - now < wait)
		wait = s->next_drift - now;
	return wait < 0 ? 0 : wait;
}

bool
sched_trim_due(struct sched *s, long wait_ms)
{
	if (s->dirty || s->trimmed || wait_ms < SCHED_TRIM_IDLE_MS)
		return false;
	s->trimmed = true;
	return true;
}

/* How long ago a change the poll found happened (newest mtime), within one period. */
static long
poll_age_ms(const struct source_sig *sig, int64_t wall_ns, long period_ms)
{
	int64_t m = sig->cert_mtime_ns > sig->key_mtime_ns ? sig->cert_mtime_ns :
	    sig->key_mtime_ns;
	int64_t age = (wall_ns - m) / 1000000;

	return age < 0 || age > period_ms ? 0 : (long)age;
}

/* The poll tick's own rules: a clock that lifts a rejection, a change, a re-read. */
static void
poll_tick(struct sched *s, const struct source_sig *sig, long now, int64_t wall_ns,
    struct sched_do *d)
{
	s->next_poll = now + s->poll_ms;
	if (s->have_rejected && cert_retry_due(s->rejected_why,
	    s->rejected_not_before, s->rejected_not_after,
	    (time_t)(wall_ns / 1000000000))) {
		d->retry_due = true;
		s->have_rejected = false;
		sched_source_event(s, now);
	}
	if (!source_sig_equal(sig, &s->last) && !s->dirty)
		touch(s, now - poll_age_ms(sig, wall_ns, s->poll_ms));
	else if (++s->polls % SCHED_REHASH_POLLS == 0 && !s->dirty &&
	    !s->retry_pending)
		/* a rewrite that kept size and mtime; a pending retry keeps its backoff */
		touch(s, now);
	d->what = SCHED_POLL;
}

void
sched_step(struct sched *s, const struct source_sig *sig, long now,
    int64_t wall_ns, struct sched_do *d)
{
	memset(d, 0, sizeof(*d));
	if (now >= s->next_poll) {
		poll_tick(s, sig, now, wall_ns, d);
		return;
	}
	if (s->expiry_due) {
		s->expiry_due = false;
		d->what = SCHED_EXPIRY;
		return;
	}
	if (now >= s->next_drift && !s->dirty) {
		d->what = SCHED_DRIFT;
		d->may_heal = now >= s->heal_after;
		return;
	}
	if (s->retry_pending && now >= s->retry_at && !s->dirty) {
		touch(s, now);
		s->have_rejected = false;
	}
	d->what = SCHED_WAIT;
	if (!s->dirty) {
		s->waiting = false;
		return;
	}
	s->trimmed = false;
	if (!source_sig_equal(sig, &s->last)) {
		s->last = *sig;
		s->stable_since = now;
		s->have_rejected = false;
	}
	/* invariant 4: not again until its files change */
	if (s->have_rejected && source_sig_equal(sig, &s->rejected_sig)) {
		s->dirty = false;
		return;
	}
	/* the bundle waiting for its retry, seen again: it waits for its backoff */
	if (s->retry_pending && now < s->retry_at &&
	    source_sig_equal(sig, &s->retry_sig)) {
		s->dirty = false;
		return;
	}
	if (now - s->stable_since < s->window) {
		if (now - s->landed >= s->settle_timeout_ms) {
			/* never still long enough to be read whole */
			s->rejected_sig = *sig;
			s->rejected_why = CERT_INCOMPLETE_WRITE;
			s->have_rejected = true;
			s->dirty = false;
			d->what = SCHED_REJECT;
		} else if (s->closed == SCHED_CLOSED_BOTH && s->window == SCHED_SETTLE_MS) {
			/* both written whole: read now (a storm keeps its window) */
			s->closed = 0;
			d->what = SCHED_READ;
			d->early = true;
			d->patient = true;
		}
		return;
	}
	d->patient = now - s->landed < s->settle_timeout_ms;
	/* half a pair: read again only once something moved */
	if (s->waiting && source_sig_equal(sig, &s->waited_sig) && d->patient)
		return;
	s->waiting = false;
	d->what = SCHED_READ;
}

enum sched_settle
sched_settle(const struct sched_read *r)
{
	/* read before the window's end: a whole pair, or the window goes on */
	if (r->early && !(r->ok && (r->same || r->matches)))
		return SCHED_SETTLE_SETTLE;
	if (r->ok) {
		if (r->same)
			return SCHED_SETTLE_SAME;
		if (r->matches)
			return SCHED_SETTLE_READY;	/* the cycle validates these very bytes */
		/* one file written, the other not yet */
		return r->patient ? SCHED_SETTLE_WAIT : SCHED_SETTLE_READY;
	}
	/* certbot, or Traefik, has not issued yet */
	if ((r->why == CERT_UNREADABLE && !r->sig->cert_ok && !r->sig->key_ok) ||
	    (r->traefik && (r->why == CERT_NO_CERTIFICATE || r->sig->cert_size == 0)))
		return SCHED_SETTLE_ABSENT;
	/* a link briefly missing, or acme.json caught mid-write */
	if ((r->why == CERT_UNREADABLE || r->why == CERT_BAD_ACME_JSON) && r->patient)
		return SCHED_SETTLE_WAIT;
	return SCHED_SETTLE_READY;	/* let the cycle reject it with its reason */
}

bool
sched_read_done(struct sched *s, enum sched_settle r, const struct source_sig *sig)
{
	bool say = false;

	switch (r) {
	case SCHED_SETTLE_WAIT:
		s->waiting = true;
		s->waited_sig = *sig;
		break;
	case SCHED_SETTLE_SAME:
		s->dirty = false;
		s->retry_pending = false;
		s->absent_said = false;
		break;
	case SCHED_SETTLE_ABSENT:
		say = !s->absent_said;
		s->absent_said = true;
		s->dirty = false;
		break;
	case SCHED_SETTLE_READY:
		break;		/* a cycle runs: sched_cycle_done */
	case SCHED_SETTLE_SETTLE:
		break;		/* still settling, as if not read */
	}
	return say;
}

long
sched_cycle_done(struct sched *s, const struct sched_cycle *c,
    const struct source_sig *sig, long now)
{
	long delay = 0;

	s->absent_said = false;
	s->window = c->changed_during ? SCHED_STORM_MS : SCHED_SETTLE_MS;
	s->cycle_end = now;
	if (c->rejected) {
		s->rejected_sig = *sig;
		s->rejected_why = c->why;
		s->rejected_not_before = c->not_before;
		s->rejected_not_after = c->not_after;
		s->have_rejected = true;
	}
	s->retry_pending = c->retry;
	if (c->retry) {
		s->retry_sig = *sig;
		delay = s->retry_ms;
		s->retry_at = now + delay;
		s->retry_ms = s->retry_ms * 2 > SCHED_RETRY_MAX_MS ? SCHED_RETRY_MAX_MS :
		    s->retry_ms * 2;
	} else {
		s->retry_ms = SCHED_RETRY_FIRST_MS;
	}
	/*
	 * last stays the signature before the cycle: a change made while it
	 * ran is seen at the next step (our own rollback of a certs-dir pair
	 * too, and it settles as the pair served).
	 */
	s->dirty = false;
	s->expiry_due = true;
	return delay;
}

void
sched_drift_done(struct sched *s, bool may_heal, bool all_match, long now)
{
	if (all_match) {
		/* healthy again: a later breakage is healed at once */
		s->heal_backoff = 0;
		s->heal_after = 0;
	} else if (may_heal) {
		/* a front that stays broken is reloaded once per doubling interval */
		s->heal_backoff = s->heal_backoff == 0 ? s->drift_ms : s->heal_backoff * 2;
		if (s->heal_backoff > SCHED_HEAL_MAX_MS)
			s->heal_backoff = SCHED_HEAL_MAX_MS;
		s->heal_after = now + s->heal_backoff;
	}
	s->trimmed = false;
	s->next_drift = now + s->drift_ms;
	s->expiry_due = true;
}

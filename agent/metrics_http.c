/*
 * metrics_http: the metrics server's pure decisions, apart from its I/O
 * (agent/metrics.c) so unit tests and the fuzzer reach them: what a
 * request head asks for, and which slot a new connection takes.
 */
#include <stdbool.h>
#include <string.h>

#include "metrics.h"

static bool
is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

int
metrics_parse_request(const char *req, size_t len, enum metrics_page *page)
{
	const char *eol, *sp1, *sp2, *q;

	*page = METRICS_PAGE_NONE;
	if (memmem(req, len, "\r\n\r\n", 4) == NULL &&
	    memmem(req, len, "\n\n", 2) == NULL)
		return len >= METRICS_REQ_MAX ? 431 : 0;
	eol = memchr(req, '\n', len);
	sp1 = memchr(req, ' ', (size_t)(eol - req));
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (sp2 == NULL || sp1 == req || sp2 == sp1 + 1 || eol - sp2 < 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return 400;
	if (!is(req, (size_t)(sp1 - req), "GET"))
		return 405;
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	if (q == NULL)
		q = sp2;
	if (is(sp1 + 1, (size_t)(q - sp1 - 1), "/metrics"))
		*page = METRICS_PAGE_METRICS;
	else if (is(sp1 + 1, (size_t)(q - sp1 - 1), "/healthz"))
		*page = METRICS_PAGE_HEALTHZ;
	else
		return 404;
	return 200;
}

int
metrics_pick_slot(const enum metrics_conn *state, const unsigned long long *seq,
    size_t n)
{
	int head = -1, drain = -1;

	for (size_t i = 0; i < n; i++) {
		if (state[i] == METRICS_CONN_FREE)
			return (int)i;
		if (state[i] == METRICS_CONN_HEAD && (head < 0 || seq[i] < seq[head]))
			head = (int)i;
		if (state[i] == METRICS_CONN_DRAIN && (drain < 0 || seq[i] < seq[drain]))
			drain = (int)i;
	}
	return head >= 0 ? head : drain;
}

/*
 * metrics_render: what /metrics shows (struct metrics_values, filled by
 * agent/metrics.c under its lock) and the exposition text of it, pure:
 * no lock, no I/O, so unit tests reach every line of it directly.
 */
#ifndef MCA_METRICS_RENDER_H
#define MCA_METRICS_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

/*
 * Table sizes. A label value is cut to its size - 1 bytes (never inside a
 * UTF-8 sequence); what does not fit a table is counted in
 * metrics_series_dropped_total.
 */
#define METRICS_MAX_EP		128	/* (endpoint, key type) pairs */
#define METRICS_MAX_SERIES	64	/* reload_exec_total label sets */
#define METRICS_URL_MAX		256
#define METRICS_KEY_TYPE_MAX	16
#define METRICS_FP_MAX		65	/* SHA-256, hex */
#define METRICS_LEAF_NAME_MAX	128	/* subject, issuer */
#define METRICS_LABEL_MAX	128	/* front, command */
#define METRICS_RESULT_MAX	32
#define METRICS_VERSION_MAX	64
#define METRICS_REASON_MAX	128
#define METRICS_OCSP_MAX	16	/* an OCSP staple status */

/* verify_duration_seconds' buckets (upper bounds, seconds), +Inf aside. */
#define METRICS_VERIFY_BUCKETS	11
extern const double metrics_verify_buckets[METRICS_VERIFY_BUCKETS];

struct metrics_ep {
	char url[METRICS_URL_MAX];
	char key_type[METRICS_KEY_TYPE_MAX];
	enum metrics_ep_state state;
	/* the served leaf, when state != METRICS_EP_UNREACHABLE */
	char fp[METRICS_FP_MAX];
	char subject[METRICS_LEAF_NAME_MAX];
	char issuer[METRICS_LEAF_NAME_MAX];
	long long not_after;
	char ocsp[METRICS_OCSP_MAX];	/* staple status, "" unknown */
	unsigned long long gen;		/* the report that set it last */
};

struct metrics_reload {
	char front[METRICS_LABEL_MAX], command[METRICS_LABEL_MAX];
	char result[METRICS_RESULT_MAX];
	unsigned long long n;
};

/* Everything the exposition shows. */
struct metrics_values {
	char version[METRICS_VERSION_MAX];
	bool has_installed;
	long long installed;		/* installed notAfter */
	struct metrics_ep ep[METRICS_MAX_EP];
	size_t nep;
	unsigned long long gen;		/* the report under way */
	unsigned long long rotations[OUTCOME__MAX];
	long long last_success;		/* 0 before any rotation */
	/* the histogram: le[i] counts observations <= buckets[i] */
	unsigned long long verify_le[METRICS_VERIFY_BUCKETS];
	unsigned long long verify_count;
	double verify_sum;
	struct metrics_reload ser[METRICS_MAX_SERIES];
	size_t nser;
	unsigned long long dropped;	/* series refused by the bounds */
	bool healthy;
	char reason[METRICS_REASON_MAX];
};

/*
 * The largest body the tables can make: every line is at most
 * METRICS_LINE_FIXED bytes besides its label values, and an escaped value
 * at most twice its bytes. metrics_render.c asserts it fits the server's
 * response bound, so a full table never cuts the exposition.
 */
#define METRICS_LINE_FIXED	192
#define METRICS_ESC(size)	(2 * ((size) - 1))
#define METRICS_EP_BYTES	(6 * (METRICS_LINE_FIXED + METRICS_ESC(METRICS_URL_MAX) + \
	METRICS_ESC(METRICS_KEY_TYPE_MAX)) + METRICS_ESC(METRICS_FP_MAX) + \
	2 * METRICS_ESC(METRICS_LEAF_NAME_MAX) + METRICS_ESC(METRICS_OCSP_MAX))
#define METRICS_SERIES_BYTES	(METRICS_LINE_FIXED + 2 * METRICS_ESC(METRICS_LABEL_MAX) + \
	METRICS_ESC(METRICS_RESULT_MAX))
#define METRICS_BODY_WORST	(METRICS_MAX_EP * METRICS_EP_BYTES + \
	METRICS_MAX_SERIES * METRICS_SERIES_BYTES + \
	(32 + OUTCOME__MAX + METRICS_VERIFY_BUCKETS) * METRICS_LINE_FIXED + \
	METRICS_ESC(METRICS_VERSION_MAX))
/* The server's bound on a body (the head is apart). */
#define METRICS_BODY_MAX	(1024 * 1024)

/* A growing text, bounded by METRICS_BODY_MAX; over: the text is cut. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool over;
};

/* Appends the exposition (Prometheus text 0.0.4) of v to b; b->p is malloc'd. */
void metrics_render(const struct metrics_values *v, struct metrics_buf *b);

/* Copies src (NULL: ""), cut to size - 1 bytes but never inside a UTF-8 sequence. */
void metrics_copy_cut(char *dst, size_t size, const char *src);

#endif

/*
 * acme_pick: which entry of Traefik's store to serve, judged one entry at
 * a time as acme_json.c's walk of the store hands them over; and the
 * base64 the store's values are in. Only acme_json.c uses this header:
 * the traefik source's interface is acme_json.h.
 */
#ifndef MCA_ACME_PICK_H
#define MCA_ACME_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "cert.h"
#include "jsonscan.h"

/* base64 of at most CERT_FILE_MAX bytes: a longer value is not kept. */
#define ACME_TEXT_MAX ((size_t)(CERT_FILE_MAX + 2) / 3 * 4)

/* The two spellings of an entry: Traefik 1.x, and 2.x/3.x. */
enum acme_layout {
	ACME_LAYOUT_V1,
	ACME_LAYOUT_V2,
	ACME_LAYOUT__MAX
};

/* The key of the best entry: what its member held. */
enum acme_key {
	ACME_KEY_MISSING,		/* absent, or not a string */
	ACME_KEY_STRING,
	ACME_KEY_TOO_LARGE,
	ACME_KEY__MAX
};

/*
 * One entry as read, before it is judged: each member in each spelling
 * ([0] v1's, [1] v2's; the layout's own wins, as jansson lookups did).
 */
struct acme_entry {
	bool cert_seen[2], cert_str[2];
	struct jsonscan_buf cert[2];	/* the base64, as read */
	bool key_seen[2], key_str[2];
	struct jsonscan_buf key[2];
	bool dom_seen[2], dom_obj[2];
	bool main_seen[2][2], main_str[2][2];
	struct jsonscan_buf main[2][2];	/* first 64 bytes: for detail only */
};

/* One layout's reading of the store: what it looks for and found. */
struct acme_scan {
	enum acme_layout layout;
	size_t entries;			/* entries seen */
	size_t skipped;			/* of them, unparsable */
	size_t expired;			/* covering, but expired at now */
	time_t expired_at;		/* the latest notAfter among those */
	char domains[128];		/* "a, b, ..." for detail */
	char err[160];			/* the first Certificates of a wrong type */
	/* the best covering entry so far */
	bool have_best;
	char best_resolver[65];		/* "" for v1 */
	size_t best_index;
	int best_tier;			/* 2 valid now, 1 not valid yet */
	time_t best_nb, best_na;
	unsigned char *best_pem;	/* its decoded certificate chain */
	size_t best_len;
	char best_fp[CERT_FP_HEX + 1];
	char best_main[72];
	enum acme_key best_key;
	struct jsonscan_buf best_key_text;	/* base64, not decoded */
};

/* What an entry must be to be chosen, and the judge's scratch buffers. */
struct acme_pick {
	char *const *hostnames;
	size_t n_hostnames;
	time_t now;
	struct acme_host *hosts;	/* NULL: no leaf look, judge every entry */
	struct jsonscan_buf tmp;	/* a leaf's decoded prefix, its DER */
	struct jsonscan_buf tmp2;
};

/* For hostnames at now (not copied: they must outlive pk); -1 without memory. */
int acme_pick_init(struct acme_pick *pk, char *const *hostnames,
    size_t n_hostnames, time_t now);
/* Frees and wipes what pk holds; safe after a failed init. */
void acme_pick_free(struct acme_pick *pk);

/*
 * Judges entry e, the index'th of resolver ("" for v1) in layout
 * sc->layout, once read: counts it in sc, and makes it sc's best (its
 * decoded chain, and its key's base64 taken from e) if it covers the
 * host names and ranks above the best so far.
 */
void acme_pick_judge(struct acme_pick *pk, struct acme_scan *sc,
    struct acme_entry *e, const char *resolver, size_t index);

/*
 * Standard base64 with padding, as Go's encoding/json writes []byte.
 * *out is malloc'd with a NUL after *olen bytes; free with cert_buf_free.
 */
int acme_pick_b64_decode(const unsigned char *in, size_t len, unsigned char **out,
    size_t *olen);

#endif

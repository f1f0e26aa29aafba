/*
 * acme_json: Traefik's certificate store, read in one pass by jsonscan
 * (no tree, and from a file in chunks, so the store is never held
 * whole), in both of its layouts at once. Each entry is handed to
 * acme_pick_judge as soon as its object ends, then dropped; once the
 * store is read, the layout it has decides, and the detail says what
 * was chosen or why nothing was. Only the chosen entry's key is decoded.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "acme_json.h"
#include "acme_pick.h"
#include "jsonscan.h"

static const char *const layout_names[ACME_LAYOUT__MAX] = { "v1", "v2" };

/* An entry's members, by layout. */
enum field {
	F_CERT,
	F_KEY,
	F_DOMAIN,
	F_MAIN,
	F__MAX
};

static const char *const field_names[ACME_LAYOUT__MAX][F__MAX] = {
	{ "Certificate", "Key", "Domain", "Main" },
	{ "certificate", "key", "domain", "main" },
};

static const char *const key_state_names[ACME_KEY__MAX] = {
	"missing", "not base64", "too large",
};

/* The whole selection. */
struct sel {
	struct jsonscan s;
	const char *resolver;		/* NULL: every resolver (v2) */
	struct acme_pick pick;		/* the host names, now, and the judge's */
	struct acme_scan sc[ACME_LAYOUT__MAX];
	struct acme_entry e;
	/* the top level, for the layout and for detail */
	bool has_certs;			/* "Certificates" at the top: v1 */
	bool has_account;		/* "Account" at the top */
	bool account_certs;		/* and it holds "Certificates": v2 */
	int res_state;			/* the named resolver: 0 absent, 1 object, 2 other */
	char not_obj[65];		/* the first top-level member not an object */
	bool any_not_obj;
	char have[96];			/* top-level members, for detail */
	size_t have_used;
	bool have_full;
	bool nomem;
};

static void __attribute__((format(printf, 3, 4)))
say(char *detail, size_t dlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, dlen, fmt, ap);
	va_end(ap);
}

/*
 * jansson no longer reads the store, but the promise of acme_json.h
 * stands: a free function that wipes each block (its usable size, so
 * blocks allocated before it was installed are covered too). It is
 * installed once and only over jansson's defaults: the allocator stays
 * malloc, so blocks from before and after mix safely, and another
 * module's choice is kept.
 */
static void
wiping_free(void *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static void
install_wiping_free(void)
{
	json_malloc_t m;
	json_free_t f;

	json_get_alloc_funcs(&m, &f);
	if (m == malloc && f == free)
		json_set_alloc_funcs(malloc, wiping_free);
}

/* Which field and spelling a member name is, or -1. */
static int
field_of(const struct jsonscan *s, enum field f)
{
	for (int sp = 0; sp < 2; sp++)
		if (jsonscan_name_is(s, field_names[sp][f]))
			return sp;
	return -1;
}

/* A string member into buf (reset first); seen and is-string noted. */
static int
read_member(struct jsonscan *s, bool *seen, bool *str, struct jsonscan_buf *buf)
{
	*seen = true;
	*str = jsonscan_type(s) == JSONSCAN_STRING;
	jsonscan_buf_reset(buf);
	return *str ? jsonscan_string(s, buf) : 0;
}

static int
read_domain(struct jsonscan *s, struct acme_entry *e, int d)
{
	int r, m;

	e->dom_seen[d] = true;
	if (jsonscan_type(s) != JSONSCAN_OBJECT)
		return 0;
	e->dom_obj[d] = true;
	if (jsonscan_enter(s) != 0)
		return -1;
	while ((r = jsonscan_next(s)) == 1)
		if ((m = field_of(s, F_MAIN)) >= 0 && read_member(s, &e->main_seen[d][m],
		    &e->main_str[d][m], &e->main[d][m]) != 0)
			return -1;
	return r;
}

/* One element of a Certificates array: read, then judged. */
static int
read_entry(struct sel *sel, struct acme_scan *sc, const char *resolver, size_t index)
{
	struct jsonscan *s = &sel->s;
	struct acme_entry *e = &sel->e;
	int r, sp;

	sc->entries++;
	if (jsonscan_type(s) != JSONSCAN_OBJECT) {
		sc->skipped++;
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		e->cert_seen[i] = e->cert_str[i] = e->key_seen[i] = e->key_str[i] = false;
		e->dom_seen[i] = e->dom_obj[i] = false;
		e->main_seen[i][0] = e->main_seen[i][1] = false;
	}
	if (jsonscan_enter(s) != 0)
		return -1;
	while ((r = jsonscan_next(s)) == 1) {
		if ((sp = field_of(s, F_CERT)) >= 0)
			r = read_member(s, &e->cert_seen[sp], &e->cert_str[sp], &e->cert[sp]);
		else if ((sp = field_of(s, F_KEY)) >= 0)
			r = read_member(s, &e->key_seen[sp], &e->key_str[sp], &e->key[sp]);
		else if ((sp = field_of(s, F_DOMAIN)) >= 0)
			r = read_domain(s, e, sp);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	acme_pick_judge(&sel->pick, sc, e, resolver, index);
	/* the key it held, unless it is now the best's */
	jsonscan_buf_reset(&e->key[0]);
	jsonscan_buf_reset(&e->key[1]);
	return 0;
}

/* One resolver's (or v1's) Certificates: null or an array. */
static int
read_certificates(struct sel *sel, struct acme_scan *sc, const char *resolver)
{
	struct jsonscan *s = &sel->s;
	int t = jsonscan_type(s), r;
	size_t i = 0;

	if (t == JSONSCAN_NULL || t < 0)
		return t < 0 ? -1 : 0;
	if (t != JSONSCAN_ARRAY) {
		if (sc->err[0] == '\0')
			say(sc->err, sizeof(sc->err), "Certificates%s%.64s is not an array",
			    resolver[0] != '\0' ? " of resolver " : "", resolver);
		return 0;
	}
	if (jsonscan_enter(s) != 0)
		return -1;
	while ((r = jsonscan_next(s)) == 1)
		if (read_entry(sel, sc, resolver, i++) != 0)
			return -1;
	return r;
}

/* A top-level object: a v2 resolver (or v1's Account). */
static int
read_resolver(struct sel *sel, const char *name, bool wanted, bool account)
{
	struct jsonscan *s = &sel->s;
	int r;

	if (jsonscan_enter(s) != 0)
		return -1;
	while ((r = jsonscan_next(s)) == 1) {
		if (!jsonscan_name_is(s, "Certificates"))
			continue;
		sel->account_certs |= account;
		if (wanted && read_certificates(sel, &sel->sc[ACME_LAYOUT_V2], name) != 0)
			return -1;
	}
	return r;
}

/* Lists a top-level member for detail, as "a, b, ...". */
static void
note_member(struct sel *sel, const char *name)
{
	int n;

	if (sel->have_full)
		return;
	n = snprintf(sel->have + sel->have_used, sizeof(sel->have) - sel->have_used,
	    "%s%.48s", sel->have_used > 0 ? ", " : "", name);
	if (n < 0 || (size_t)n >= sizeof(sel->have) - sel->have_used) {
		sel->have[sel->have_used] = '\0';
		sel->have_full = true;
		return;
	}
	sel->have_used += (size_t)n;
}

/*
 * The top level, read for both layouts at once (which one it is shows
 * only at its end): v1 has Certificates (or only an Account) at the
 * top, v2/v3 one object per resolver, each with its own Certificates.
 * 0 with sel->s.err unset: read through, the top level an object.
 */
static int
read_store(struct sel *sel, bool *is_object)
{
	struct jsonscan *s = &sel->s;
	char name[65];
	bool wanted, account;
	int r, t;

	*is_object = false;
	if (jsonscan_next(s) != 1 || (t = jsonscan_type(s)) < 0)
		return -1;
	if (t != JSONSCAN_OBJECT)
		return jsonscan_next(s) == 0 ? 0 : -1;
	*is_object = true;
	if (jsonscan_enter(s) != 0)
		return -1;
	while ((r = jsonscan_next(s)) == 1) {
		snprintf(name, sizeof(name), "%s", s->name);
		note_member(sel, s->name);
		wanted = sel->resolver == NULL || jsonscan_name_is(s, sel->resolver);
		account = jsonscan_name_is(s, "Account");
		sel->has_account |= account;
		if (jsonscan_name_is(s, "Certificates")) {
			sel->has_certs = true;
			r = read_certificates(sel, &sel->sc[ACME_LAYOUT_V1], "");
		} else if ((t = jsonscan_type(s)) == JSONSCAN_OBJECT) {
			if (sel->resolver != NULL && wanted)
				sel->res_state = 1;
			r = read_resolver(sel, name, wanted, account);
		} else if (t < 0) {
			r = -1;
		} else {
			if (sel->resolver != NULL && wanted)
				sel->res_state = 2;
			if (!sel->any_not_obj)
				snprintf(sel->not_obj, sizeof(sel->not_obj), "%s", name);
			sel->any_not_obj = true;
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	return jsonscan_next(s) == 0 ? 0 : -1;
}

/* Why no entry was chosen, once the whole store was read. */
static enum cert_reason
no_choice(const struct sel *sel, const struct acme_scan *sc, char *detail, size_t dlen)
{
	char when[32];

	if (sc->entries == 0) {
		say(detail, dlen, "no certificate in the store%s%.64s",
		    sel->resolver != NULL && sc->layout == ACME_LAYOUT_V2 ? " for resolver " : "",
		    sel->resolver != NULL && sc->layout == ACME_LAYOUT_V2 ? sel->resolver : "");
		return CERT_NO_CERTIFICATE;
	}
	if (sc->skipped == sc->entries) {
		say(detail, dlen, "none of %zu entries has a base64 PEM certificate",
		    sc->entries);
		return CERT_BAD_ACME_JSON;
	}
	if (sc->expired > 0) {
		cert_format_time(sc->expired_at, when);
		say(detail, dlen, "%zu covering entries, all expired (latest %s); "
		    "%zu unparsable", sc->expired, when, sc->skipped);
		return CERT_EXPIRED;
	}
	if (sel->pick.n_hostnames == 1)
		say(detail, dlen, "none of %zu entries covers %.64s (%s); %zu unparsable",
		    sc->entries, sel->pick.hostnames[0], sc->domains, sc->skipped);
	else
		say(detail, dlen, "none of %zu entries covers all %zu host names "
		    "(%s); %zu unparsable", sc->entries, sel->pick.n_hostnames, sc->domains,
		    sc->skipped);
	return CERT_HOSTNAME_MISMATCH;
}

/* The store's shape is wrong for the layout it has: detail says how. */
static bool
shape_error(struct sel *sel, const struct acme_scan *sc, char *detail, size_t dlen)
{
	if (sc->layout == ACME_LAYOUT_V2 && sel->resolver != NULL && sel->res_state != 1) {
		say(detail, dlen, "resolver %.64s %s (store has: %s)", sel->resolver,
		    sel->res_state == 0 ? "not found" : "is not an object",
		    sel->have[0] != '\0' ? sel->have : "none");
		return true;
	}
	if (sc->layout == ACME_LAYOUT_V2 && sel->resolver == NULL && sel->any_not_obj) {
		say(detail, dlen, "resolver %.64s is not an object", sel->not_obj);
		return true;
	}
	if (sc->err[0] != '\0') {
		say(detail, dlen, "%s", sc->err);
		return true;
	}
	return false;
}

static void
sel_free(struct sel *sel)
{
	struct acme_entry *e = &sel->e;

	jsonscan_free(&sel->s);
	for (int i = 0; i < 2; i++) {
		jsonscan_buf_free(&e->cert[i]);
		jsonscan_buf_free(&e->key[i]);
		jsonscan_buf_free(&e->main[i][0]);
		jsonscan_buf_free(&e->main[i][1]);
		jsonscan_buf_free(&sel->sc[i].best_key_text);
		cert_buf_free(&sel->sc[i].best_pem, sel->sc[i].best_len);
	}
	acme_pick_free(&sel->pick);
}

static void
sel_init(struct sel *sel, const char *resolver, char *const *hostnames,
    size_t n_hostnames, time_t now)
{
	struct acme_entry *e = &sel->e;

	sel->resolver = resolver;
	for (int i = 0; i < 2; i++) {
		jsonscan_buf_init(&e->cert[i], ACME_TEXT_MAX);
		jsonscan_buf_init(&e->key[i], ACME_TEXT_MAX);
		jsonscan_buf_init(&e->main[i][0], 64);
		jsonscan_buf_init(&e->main[i][1], 64);
		jsonscan_buf_init(&sel->sc[i].best_key_text, ACME_TEXT_MAX);
		sel->sc[i].layout = (enum acme_layout)i;
	}
	if (acme_pick_init(&sel->pick, hostnames, n_hostnames, now) != 0)
		sel->nomem = true;
}

/* Reads the store from sel->s and picks; the body of both entry points. */
static int
select_store(struct sel *sel, struct install_pair *out, enum cert_reason *why,
    char *detail, size_t dlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct jsonscan *s = &sel->s;
	struct acme_scan *sc;
	unsigned char *kbuf = NULL;
	size_t klen = 0;
	bool is_object;

	pthread_once(&once, install_wiping_free);
	if (sel->nomem || read_store(sel, &is_object) != 0) {
		jsonscan_drain(s);
		if (sel->nomem || s->grew || s->err == JSONSCAN_READ ||
		    s->err == JSONSCAN_NOMEM) {
			say(detail, dlen, "%s", sel->nomem ? "out of memory" : s->grew ?
			    "the file grew while it was read" : s->why);
			*why = CERT_UNREADABLE;
			return -1;
		}
		/* the position only: a message quoting the text could quote a key */
		say(detail, dlen, "not JSON: %s (line %zu, column %zu)",
		    s->why != NULL ? s->why : "unreadable", s->err_line, s->err_col);
		return -1;
	}
	if (!is_object) {
		say(detail, dlen, "the top level is not an object");
		return -1;
	}
	sc = &sel->sc[sel->has_certs || (sel->has_account && !sel->account_certs) ?
	    ACME_LAYOUT_V1 : ACME_LAYOUT_V2];
	if (shape_error(sel, sc, detail, dlen))
		return -1;
	if (!sc->have_best) {
		*why = no_choice(sel, sc, detail, dlen);
		return -1;
	}
	if (sc->best_key != ACME_KEY_STRING || acme_pick_b64_decode(sc->best_key_text.p,
	    sc->best_key_text.len, &kbuf, &klen) != 0) {
		say(detail, dlen, "the key of entry %zu%s%.64s is %s", sc->best_index,
		    sc->best_resolver[0] != '\0' ? " of resolver " : "", sc->best_resolver,
		    key_state_names[sc->best_key]);
		return -1;
	}
	say(detail, dlen, "%s store: %s%.64s%sentry %zu (%.64s); %zu scanned, "
	    "%zu unparsable", layout_names[sc->layout],
	    sc->best_resolver[0] != '\0' ? "resolver " : "", sc->best_resolver,
	    sc->best_resolver[0] != '\0' ? ", " : "", sc->best_index,
	    sc->best_main, sc->entries, sc->skipped);
	out->cert_pem = sc->best_pem;
	out->cert_len = sc->best_len;
	out->key_pem = kbuf;
	out->key_len = klen;
	memcpy(out->fingerprint, sc->best_fp, sizeof(out->fingerprint));
	sc->best_pem = NULL;
	*why = CERT_OK;
	return 0;
}

static int
select_begin(struct install_pair *out, enum cert_reason *why, char *detail)
{
	memset(out, 0, sizeof(*out));
	detail[0] = '\0';
	*why = CERT_BAD_ACME_JSON;
	return 0;
}

int
acme_json_select(const unsigned char *json, size_t len, const char *resolver,
    char *const *hostnames, size_t n_hostnames, time_t now, struct install_pair *out,
    enum cert_reason *why, char *detail, size_t dlen)
{
	struct sel sel;
	int rc;

	select_begin(out, why, detail);
	if (len > ACME_JSON_MAX) {
		say(detail, dlen, "%zu bytes (at most %d)", len, ACME_JSON_MAX);
		*why = CERT_TOO_LARGE;
		return -1;
	}
	memset(&sel, 0, sizeof(sel));
	jsonscan_init_mem(&sel.s, json, len);
	sel_init(&sel, resolver, hostnames, n_hostnames, now);
	rc = select_store(&sel, out, why, detail, dlen);
	sel_free(&sel);
	ERR_clear_error();
	return rc;
}

int
acme_json_select_fd(int fd, size_t size, const char *resolver,
    char *const *hostnames, size_t n_hostnames, time_t now, struct install_pair *out,
    enum cert_reason *why, char *detail, size_t dlen)
{
	struct sel sel;
	int rc;

	select_begin(out, why, detail);
	if (size > ACME_JSON_MAX) {
		say(detail, dlen, "%zu bytes (at most %d)", size, ACME_JSON_MAX);
		*why = CERT_TOO_LARGE;
		return -1;
	}
	memset(&sel, 0, sizeof(sel));
	if (jsonscan_init_fd(&sel.s, fd, size) != 0)
		sel.nomem = true;
	sel_init(&sel, resolver, hostnames, n_hostnames, now);
	rc = select_store(&sel, out, why, detail, dlen);
	sel_free(&sel);
	ERR_clear_error();
	return rc;
}

/*
 * acme_json: Traefik's certificate store, read once into a jansson DOM
 * and scanned for the entry to serve. The certificate of every
 * candidate entry is decoded and judged on its own (names, dates); the
 * JSON's domain names are only used to describe entries in detail.
 * Only the chosen entry's key is decoded.
 */
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "acme_json.h"

/* The two spellings of an entry: Traefik 1.x, and 2.x/3.x. */
enum layout {
	LAYOUT_V1,
	LAYOUT_V2,
	LAYOUT__MAX
};

static const char *const layout_names[LAYOUT__MAX] = { "v1", "v2" };

/* An entry's members, by layout. */
enum field {
	F_CERT,
	F_KEY,
	F_DOMAIN,
	F_MAIN,
	F__MAX
};

static const char *const field_names[LAYOUT__MAX][F__MAX] = {
	{ "Certificate", "Key", "Domain", "Main" },
	{ "certificate", "key", "domain", "main" },
};

/* One scan over the store: what it looks for and what it found. */
struct scan {
	enum layout layout;
	char *const *hostnames;
	size_t n_hostnames;
	time_t now;
	size_t entries;			/* entries seen */
	size_t skipped;			/* of them, unparsable */
	size_t expired;			/* covering, but expired at now */
	time_t expired_at;		/* the latest notAfter among those */
	char domains[128];		/* "a, b, ..." for detail */
	/* the best covering entry so far */
	json_t *best;			/* borrowed from the DOM */
	const char *best_resolver;	/* "" for v1 */
	size_t best_index;
	int best_tier;			/* 2 valid now, 1 not valid yet */
	time_t best_nb, best_na;
	unsigned char *best_pem;	/* its decoded certificate chain */
	size_t best_len;
	char best_fp[CERT_FP_HEX + 1];
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
 * jansson frees its lexer's buffers and the DOM's strings without
 * wiping them, and the lexer's token buffer holds each string of the
 * file in turn, keys included. A free function that wipes each block
 * (its usable size, so blocks allocated before it was installed are
 * covered too) leaves nothing behind. It is installed once and only
 * over jansson's defaults: the allocator stays malloc, so blocks from
 * before and after mix safely, and another module's choice is kept.
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

/*
 * Wipes in place every string at or below a member named Key or
 * PrivateKey (everything below, once below is_key). The strings are
 * jansson's own malloc'd copies behind a const accessor; the DOM is
 * about to be freed and nothing reads them again, so writing through
 * the cast is sound. Depth is bounded by jansson's parser (2048).
 */
static void
wipe_keys(json_t *j, bool is_key)
{
	const char *name;
	json_t *v;
	size_t i;

	if (json_is_string(j) && is_key) {
		OPENSSL_cleanse((char *)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, name, v)
			wipe_keys(v, is_key || strcasecmp(name, "key") == 0 ||
			    strcasecmp(name, "privatekey") == 0);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			wipe_keys(v, is_key);
	}
}

static void
store_free(json_t **root)
{
	if (*root == NULL)
		return;
	wipe_keys(*root, false);
	json_decref(*root);
	*root = NULL;
}

/* The account key is never needed: wiped and freed right after parsing. */
static void
drop_account(json_t *obj)
{
	json_t *acct = json_object_get(obj, "Account");

	if (acct == NULL)
		return;
	wipe_keys(acct, true);
	json_object_del(obj, "Account");
}

static bool
b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Standard base64 with padding, as Go's encoding/json writes []byte.
 * EVP_DecodeBlock reads '=' anywhere as zero bits and counts padding in
 * its length, so the alphabet and the padding are checked here first.
 * *out is malloc'd with a NUL after *olen bytes; free with cert_buf_free.
 */
static int
b64_decode(const char *in, size_t len, unsigned char **out, size_t *olen)
{
	unsigned char *buf;
	size_t pad = 0;
	int n;

	*out = NULL;
	if (len == 0 || len % 4 != 0 || len > INT_MAX)
		return -1;
	pad = in[len - 1] != '=' ? 0 : in[len - 2] != '=' ? 1 : 2;
	for (size_t i = 0; i < len - pad; i++)
		if (!b64_char((unsigned char)in[i]))
			return -1;
	if ((buf = malloc(len / 4 * 3 + 1)) == NULL)
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n != len / 4 * 3) {
		cert_buf_free(&buf, len / 4 * 3 + 1);
		ERR_clear_error();
		return -1;
	}
	*olen = (size_t)n - pad;
	buf[*olen] = '\0';
	*out = buf;
	return 0;
}

/*
 * A member in the layout's spelling, or else in the other one (Traefik
 * reads JSON names case-insensitively, so both spellings load there).
 */
static json_t *
member(json_t *obj, enum layout l, enum field f)
{
	json_t *v = json_object_get(obj, field_names[l][f]);

	return v != NULL ? v : json_object_get(obj, field_names[!l][f]);
}

/* The entry's main domain as the JSON names it: for detail only. */
static const char *
main_domain(const struct scan *sc, json_t *e)
{
	json_t *m = member(member(e, sc->layout, F_DOMAIN), sc->layout, F_MAIN);

	return json_is_string(m) && json_string_length(m) > 0 ?
	    json_string_value(m) : "(no domain)";
}

static void
note_domain(struct scan *sc, json_t *e)
{
	const char *name = main_domain(sc, e);
	size_t used = strlen(sc->domains);

	if (used + 5 >= sizeof(sc->domains))
		return;
	if (used + strlen(name) + 8 >= sizeof(sc->domains))
		name = "...";
	snprintf(sc->domains + used, sizeof(sc->domains) - used, "%s%.64s",
	    used > 0 ? ", " : "", name);
}

static bool
covers(X509 *leaf, char *const *hostnames, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* RFC 6125, as cert_validate checks it */
		if (X509_check_host(leaf, hostnames[i], 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
			ERR_clear_error();
			return false;
		}
	}
	return true;
}

/* Decodes and judges one entry's certificate; keeps it if it is the best. */
static void
judge(struct scan *sc, json_t *e, const char *resolver, size_t index)
{
	struct cert_pair p;
	enum cert_reason r;
	unsigned char *pem = NULL;
	size_t len = 0;
	json_t *c = json_is_object(e) ? member(e, sc->layout, F_CERT) : NULL;
	int tier;

	memset(&p, 0, sizeof(p));
	sc->entries++;
	if (!json_is_string(c) ||
	    b64_decode(json_string_value(c), json_string_length(c), &pem, &len) != 0 ||
	    cert_parse_chain(pem, len, &p, &r) != 0) {
		sc->skipped++;
		goto out;
	}
	note_domain(sc, e);
	if (!covers(p.leaf, sc->hostnames, sc->n_hostnames))
		goto out;
	if (p.not_after <= sc->now) {
		sc->expired++;
		if (p.not_after > sc->expired_at)
			sc->expired_at = p.not_after;
		goto out;
	}
	tier = p.not_before <= sc->now ? 2 : 1;
	if (sc->best != NULL && (tier < sc->best_tier || (tier == sc->best_tier &&
	    (p.not_after < sc->best_na || (p.not_after == sc->best_na &&
	    p.not_before <= sc->best_nb)))))
		goto out;
	cert_buf_free(&sc->best_pem, sc->best_len);
	sc->best = e;
	sc->best_resolver = resolver;
	sc->best_index = index;
	sc->best_tier = tier;
	sc->best_nb = p.not_before;
	sc->best_na = p.not_after;
	sc->best_pem = pem;
	sc->best_len = len;
	memcpy(sc->best_fp, p.fingerprint, sizeof(sc->best_fp));
	pem = NULL;
out:
	cert_pair_free(&p);
	cert_buf_free(&pem, len);
}

/* One resolver's (or v1's) Certificates: null or an array. */
static int
scan_certificates(struct scan *sc, json_t *holder, const char *resolver,
    char *detail, size_t dlen)
{
	json_t *certs = json_object_get(holder, "Certificates"), *e;
	size_t i;

	if (certs == NULL || json_is_null(certs))
		return 0;
	if (!json_is_array(certs)) {
		say(detail, dlen, "Certificates%s%.64s is not an array",
		    resolver[0] != '\0' ? " of resolver " : "", resolver);
		return -1;
	}
	json_array_foreach(certs, i, e)
		judge(sc, e, resolver, i);
	return 0;
}

/* Lists the resolvers of a v2 store into buf, for detail. */
static void
list_resolvers(json_t *root, char *buf, size_t len)
{
	const char *name;
	json_t *v;
	size_t used = 0;

	buf[0] = '\0';
	json_object_foreach(root, name, v) {
		int n = snprintf(buf + used, len - used, "%s%.48s",
		    used > 0 ? ", " : "", name);

		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

/*
 * v1 has Certificates (or only an Account) at the top; v2/v3 has one
 * object per resolver, each with its own Account and Certificates.
 */
static enum layout
detect(json_t *root)
{
	json_t *acct = json_object_get(root, "Account");

	if (json_object_get(root, "Certificates") != NULL)
		return LAYOUT_V1;
	if (acct != NULL && json_object_get(acct, "Certificates") == NULL)
		return LAYOUT_V1;
	return LAYOUT_V2;
}

static int
scan_store(struct scan *sc, json_t *root, const char *resolver, char *detail,
    size_t dlen)
{
	const char *name;
	json_t *res;

	if (sc->layout == LAYOUT_V1) {
		drop_account(root);
		return scan_certificates(sc, root, "", detail, dlen);
	}
	if (resolver != NULL) {
		char have[96];

		res = json_object_get(root, resolver);
		if (!json_is_object(res)) {
			list_resolvers(root, have, sizeof(have));
			say(detail, dlen, "resolver %.64s %s (store has: %s)", resolver,
			    res == NULL ? "not found" : "is not an object",
			    have[0] != '\0' ? have : "none");
			return -1;
		}
		drop_account(res);
		return scan_certificates(sc, res, resolver, detail, dlen);
	}
	json_object_foreach(root, name, res) {
		if (!json_is_object(res)) {
			say(detail, dlen, "resolver %.64s is not an object", name);
			return -1;
		}
		drop_account(res);
	}
	json_object_foreach(root, name, res)
		if (scan_certificates(sc, res, name, detail, dlen) != 0)
			return -1;
	return 0;
}

/* Why no entry was chosen, once the whole store was scanned. */
static enum cert_reason
no_choice(const struct scan *sc, const char *resolver, char *detail, size_t dlen)
{
	char when[32];

	if (sc->entries == 0) {
		say(detail, dlen, "no certificate in the store%s%.64s",
		    resolver != NULL && sc->layout == LAYOUT_V2 ? " for resolver " : "",
		    resolver != NULL && sc->layout == LAYOUT_V2 ? resolver : "");
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
	if (sc->n_hostnames == 1)
		say(detail, dlen, "none of %zu entries covers %.64s (%s); %zu unparsable",
		    sc->entries, sc->hostnames[0], sc->domains, sc->skipped);
	else
		say(detail, dlen, "none of %zu entries covers all %zu host names "
		    "(%s); %zu unparsable", sc->entries, sc->n_hostnames, sc->domains,
		    sc->skipped);
	return CERT_HOSTNAME_MISMATCH;
}

int
acme_json_select(const unsigned char *json, size_t len, const char *resolver,
    char *const *hostnames, size_t n_hostnames, time_t now, struct install_pair *out,
    enum cert_reason *why, char *detail, size_t dlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct scan sc;
	json_error_t jerr;
	json_t *root = NULL, *key;
	unsigned char *kbuf = NULL;
	size_t klen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&sc, 0, sizeof(sc));
	sc.hostnames = hostnames;
	sc.n_hostnames = n_hostnames;
	sc.now = now;
	detail[0] = '\0';
	*why = CERT_BAD_ACME_JSON;
	if (len > ACME_JSON_MAX) {
		say(detail, dlen, "%zu bytes (at most %d)", len, ACME_JSON_MAX);
		*why = CERT_TOO_LARGE;
		return -1;
	}
	pthread_once(&once, install_wiping_free);
	/* Duplicate members could hide an entry from one reader and not another. */
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jerr.text quotes the text near the error, which can be a key
		 * of a truncated file: only the position is reported. */
		say(detail, dlen, "not JSON (line %d, column %d)", jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		say(detail, dlen, "the top level is not an object");
		goto out;
	}
	sc.layout = detect(root);
	if (scan_store(&sc, root, resolver, detail, dlen) != 0)
		goto out;
	if (sc.best == NULL) {
		*why = no_choice(&sc, resolver, detail, dlen);
		goto out;
	}
	key = member(sc.best, sc.layout, F_KEY);
	if (!json_is_string(key) ||
	    b64_decode(json_string_value(key), json_string_length(key), &kbuf, &klen) != 0) {
		say(detail, dlen, "the key of entry %zu%s%.64s is %s", sc.best_index,
		    sc.best_resolver[0] != '\0' ? " of resolver " : "", sc.best_resolver,
		    json_is_string(key) ? "not base64" : "missing");
		goto out;
	}
	say(detail, dlen, "%s store: %s%.64s%sentry %zu (%.64s); %zu scanned, "
	    "%zu unparsable", layout_names[sc.layout],
	    sc.best_resolver[0] != '\0' ? "resolver " : "", sc.best_resolver,
	    sc.best_resolver[0] != '\0' ? ", " : "", sc.best_index,
	    main_domain(&sc, sc.best), sc.entries, sc.skipped);
	/* The DOM is done with: its key strings go before the output is built. */
	store_free(&root);
	out->cert_pem = sc.best_pem;
	out->cert_len = sc.best_len;
	out->key_pem = kbuf;
	out->key_len = klen;
	memcpy(out->fingerprint, sc.best_fp, sizeof(out->fingerprint));
	sc.best_pem = NULL;
	kbuf = NULL;
	*why = CERT_OK;
	rc = 0;
out:
	OPENSSL_cleanse(&jerr, sizeof(jerr));
	store_free(&root);
	cert_buf_free(&sc.best_pem, sc.best_len);
	cert_buf_free(&kbuf, klen);
	ERR_clear_error();
	return rc;
}

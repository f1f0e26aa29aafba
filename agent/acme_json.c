/*
 * acme_json: Traefik's certificate store, read in one pass by jsonscan
 * (no tree, and from a file in chunks, so the store is never held
 * whole). Each entry is judged as soon as its object ends, then dropped:
 * only the best entry so far is kept (its decoded chain and its key's
 * base64, not decoded). The certificate of an entry is what counts, not
 * the JSON's domain names; most entries are ruled out by a cheap look at
 * their leaf (see leaf_may_cover), the rest get the full judgement.
 * Only the chosen entry's key is decoded.
 */
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "acme_json.h"
#include "jsonscan.h"

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

/* base64 of at most CERT_FILE_MAX bytes: a longer value is not kept. */
#define TEXT_MAX ((size_t)(CERT_FILE_MAX + 2) / 3 * 4)
/* How much of a certificate's base64 is decoded first to find its leaf. */
#define LEAF_PREFIX 3072

/* The key of the best entry: what its member held. */
enum key_state {
	KEY_MISSING,			/* absent, or not a string */
	KEY_STRING,
	KEY_TOO_LARGE,
	KEY__MAX
};

static const char *const key_state_names[KEY__MAX] = {
	"missing", "not base64", "too large",
};

/*
 * One entry as read, before it is judged: each member in each spelling
 * ([0] v1's, [1] v2's; the layout's own wins, as jansson lookups did).
 */
struct entry {
	bool cert_seen[2], cert_str[2];
	struct jsonscan_buf cert[2];	/* the base64, as read */
	bool key_seen[2], key_str[2];
	struct jsonscan_buf key[2];
	bool dom_seen[2], dom_obj[2];
	bool main_seen[2][2], main_str[2][2];
	struct jsonscan_buf main[2][2];	/* first 64 bytes: for detail only */
};

/* One layout's reading of the store: what it looks for and found. */
struct scan {
	enum layout layout;
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
	enum key_state best_key;
	struct jsonscan_buf best_key_text;	/* base64, not decoded */
};

/* Host names as the leaf look compares them: lower case, and as a wildcard. */
struct host {
	char *name;
	size_t len;
	char *wild;			/* "*" and name from its first dot; or NULL */
	size_t wlen;
};

/* The whole selection. */
struct sel {
	struct jsonscan s;
	const char *resolver;		/* NULL: every resolver (v2) */
	char *const *hostnames;
	size_t n_hostnames;
	time_t now;
	struct host *hosts;		/* NULL: no leaf look, judge every entry */
	struct scan sc[LAYOUT__MAX];
	struct entry e;
	struct jsonscan_buf tmp;	/* a leaf's decoded prefix, its DER */
	struct jsonscan_buf tmp2;
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

/* Base64 digit values (0 for '=' and for what is not base64: checked first). */
static const unsigned char b64_dec[256] = {
	['A'] = 0, ['B'] = 1, ['C'] = 2, ['D'] = 3, ['E'] = 4, ['F'] = 5,
	['G'] = 6, ['H'] = 7, ['I'] = 8, ['J'] = 9, ['K'] = 10, ['L'] = 11,
	['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17,
	['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23,
	['Y'] = 24, ['Z'] = 25, ['a'] = 26, ['b'] = 27, ['c'] = 28, ['d'] = 29,
	['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35,
	['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41,
	['q'] = 42, ['r'] = 43, ['s'] = 44, ['t'] = 45, ['u'] = 46, ['v'] = 47,
	['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53,
	['2'] = 54, ['3'] = 55, ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59,
	['8'] = 60, ['9'] = 61, ['+'] = 62, ['/'] = 63,
};

static bool
b64_char(unsigned char c)
{
	return (unsigned char)(c - 'A') < 26 || (unsigned char)(c - 'a') < 26 ||
	    (unsigned char)(c - '0') < 10 || c == '+' || c == '/';
}

/* Sixteen bytes, as GCC and clang vectorise them (SSE2, NEON, or plain code). */
typedef unsigned char v16 __attribute__((vector_size(16)));

/* Sixteen base64 digits? */
static bool
b64_vec(const unsigned char *in)
{
	v16 v, ok;

	memcpy(&v, in, sizeof(v));
	/* unsigned wrap-around: c - lo < n tests lo <= c < lo + n */
	ok = ((v16)(v - 'A') < 26) | ((v16)(v - 'a') < 26) | ((v16)(v - '0') < 10) |
	    (v == '+') | (v == '/');
	for (size_t i = 0; i < sizeof(ok); i += 8) {
		uint64_t w;

		memcpy(&w, (const unsigned char *)&ok + i, 8);
		if (w != UINT64_MAX)
			return false;
	}
	return true;
}

/*
 * Standard base64 with padding, as Go's encoding/json writes []byte:
 * the padding it has (0, 1 or 2), or -1. Sixteen bytes at a time: the
 * certificate value of every entry passes here.
 */
static int
b64_check(const unsigned char *in, size_t len)
{
	size_t pad, i = 0;

	if (len == 0 || len % 4 != 0 || len > INT_MAX)
		return -1;
	pad = in[len - 1] != '=' ? 0 : in[len - 2] != '=' ? 1 : 2;
	for (; i + 16 <= len - pad; i += 16)
		if (!b64_vec(in + i))
			return -1;
	for (; i < len - pad; i++)
		if (!b64_char(in[i]))
			return -1;
	return (int)pad;
}

/* Decodes checked base64 (len a multiple of 4) into out[len / 4 * 3]. */
static size_t
b64_block(unsigned char *out, const unsigned char *in, size_t len, int pad)
{
	unsigned char *o = out;

	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = (uint32_t)b64_dec[in[i]] << 18 | (uint32_t)b64_dec[in[i + 1]] << 12 |
		    (uint32_t)b64_dec[in[i + 2]] << 6 | b64_dec[in[i + 3]];

		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		o += 3;
	}
	return (size_t)(o - out) - (size_t)pad;
}

/* *out is malloc'd with a NUL after *olen bytes; free with cert_buf_free. */
static int
b64_decode(const unsigned char *in, size_t len, unsigned char **out, size_t *olen)
{
	unsigned char *buf;
	int pad = b64_check(in, len);

	*out = NULL;
	if (pad < 0 || (buf = malloc(len / 4 * 3 + 1)) == NULL)
		return -1;
	*olen = b64_block(buf, in, len, pad);
	buf[*olen] = '\0';
	*out = buf;
	return 0;
}

/*
 * The leaf look. X509_check_host matches a host name against the
 * leaf's DNS names, or else its subject's CNs, case-insensitively; a
 * full-label wildcard "*.rest" matches one label before "rest". So a
 * leaf it accepts holds the name, or "*" and the name from its first
 * dot, as bytes of its DER, provided those names are stored as plain
 * bytes: no BER constructed or indefinite-length encoding around them,
 * and no CN as BMPString or UniversalString (two or four bytes a
 * character). Parsing a certificate costs OpenSSL 3 about a million
 * instructions (its public key goes through the decoder framework); the
 * look is a TLV walk and a byte search. It can only rule a leaf out; a
 * leaf not ruled out gets the full judgement.
 */
struct tlv {
	const unsigned char *body;
	long len;
	int tag;
	int cls;
	bool cons;
};

/* The next TLV of [*p, end): definite length only. */
static bool
tlv_next(const unsigned char **p, const unsigned char *end, struct tlv *t)
{
	const unsigned char *q = *p;
	int r;

	if (q >= end)
		return false;
	r = ASN1_get_object(&q, &t->len, &t->tag, &t->cls, end - q);
	if ((r & 0x80) != 0 || (r & 0x01) != 0)
		return false;
	t->body = q;
	t->cons = (r & V_ASN1_CONSTRUCTED) != 0;
	*p = q + t->len;
	return true;
}

static bool
tlv_is(const struct tlv *t, int cls, int tag, bool cons)
{
	return t->cls == cls && t->tag == tag && t->cons == cons;
}

/* Every CN of a Name is stored as plain bytes. */
static bool
name_plain(const struct tlv *name)
{
	static const unsigned char cn[] = { 0x55, 0x04, 0x03 };
	const unsigned char *p = name->body, *end = p + name->len, *q, *qe;
	struct tlv rdn, atv, oid, val;

	while (p < end) {
		if (!tlv_next(&p, end, &rdn) || !tlv_is(&rdn, V_ASN1_UNIVERSAL, V_ASN1_SET, true))
			return false;
		for (q = rdn.body, qe = q + rdn.len; q < qe;) {
			const unsigned char *a;

			if (!tlv_next(&q, qe, &atv) ||
			    !tlv_is(&atv, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true))
				return false;
			a = atv.body;
			if (!tlv_next(&a, atv.body + atv.len, &oid) ||
			    !tlv_next(&a, atv.body + atv.len, &val))
				return false;
			if (oid.len == sizeof(cn) && memcmp(oid.body, cn, sizeof(cn)) == 0 &&
			    (val.cls != V_ASN1_UNIVERSAL || val.cons ||
			    val.tag == V_ASN1_BMPSTRING || val.tag == V_ASN1_UNIVERSALSTRING))
				return false;
		}
	}
	return true;
}

/* The DNS names of a subjectAltName value are stored as plain bytes. */
static bool
san_plain(const struct tlv *octets)
{
	const unsigned char *p = octets->body, *end = p + octets->len, *q, *qe;
	struct tlv seq, gn;

	if (!tlv_next(&p, end, &seq) || !tlv_is(&seq, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true))
		return false;
	for (q = seq.body, qe = q + seq.len; q < qe;)
		if (!tlv_next(&q, qe, &gn) || tlv_is(&gn, V_ASN1_CONTEXT_SPECIFIC, GEN_DNS, true))
			return false;
	return true;
}

/* Each extension, and a subjectAltName's names, stored as plain bytes. */
static bool
extensions_plain(const struct tlv *explicit)
{
	static const unsigned char san[] = { 0x55, 0x1D, 0x11 };
	const unsigned char *p = explicit->body, *end = p + explicit->len, *q, *e;
	struct tlv seq, ext, oid, v;

	if (!tlv_next(&p, end, &seq) || !tlv_is(&seq, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true))
		return false;
	for (q = seq.body, e = q + seq.len; q < e;) {
		const unsigned char *x;

		if (!tlv_next(&q, e, &ext) || !tlv_is(&ext, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true))
			return false;
		x = ext.body;
		if (!tlv_next(&x, ext.body + ext.len, &oid) ||
		    !tlv_next(&x, ext.body + ext.len, &v))
			return false;
		if (tlv_is(&v, V_ASN1_UNIVERSAL, V_ASN1_BOOLEAN, false) &&
		    !tlv_next(&x, ext.body + ext.len, &v))
			return false;
		if (!tlv_is(&v, V_ASN1_UNIVERSAL, V_ASN1_OCTET_STRING, false))
			return false;
		if (oid.len == sizeof(san) && memcmp(oid.body, san, sizeof(san)) == 0 &&
		    !san_plain(&v))
			return false;
	}
	return true;
}

/* A certificate's DER, walked as X509_CINF lays it out. */
static bool
der_plain(const unsigned char *der, size_t len)
{
	const unsigned char *p = der, *q, *qe;
	struct tlv cert, tbs, f;

	if (len > LONG_MAX || !tlv_next(&p, der + len, &cert) ||
	    !tlv_is(&cert, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true))
		return false;
	p = cert.body;
	if (!tlv_next(&p, cert.body + cert.len, &tbs) ||
	    !tlv_is(&tbs, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true))
		return false;
	q = tbs.body;
	qe = q + tbs.len;
	if (!tlv_next(&q, qe, &f))
		return false;
	if (tlv_is(&f, V_ASN1_CONTEXT_SPECIFIC, 0, true) && !tlv_next(&q, qe, &f))
		return false;
	/* f: the serial; then signature, issuer, validity, subject */
	for (int i = 0; i < 4; i++)
		if (!tlv_next(&q, qe, &f))
			return false;
	/* then the key, and the optional [1], [2] and [3] */
	if (!tlv_is(&f, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true) || !name_plain(&f) ||
	    !tlv_next(&q, qe, &f))
		return false;
	while (q < qe) {
		if (!tlv_next(&q, qe, &f) || f.cls != V_ASN1_CONTEXT_SPECIFIC)
			return false;
		if (f.tag == 3 && (!f.cons || !extensions_plain(&f)))
			return false;
	}
	return true;
}

/*
 * The first PEM block of the decoded prefix in sel->tmp, when it is a
 * plain CERTIFICATE block (BEGIN line, lines of base64, END line: what
 * Traefik and every ACME client write), its base64 body gathered in
 * sel->tmp2: 1. 0: not a plain block; -1: cut off by the end of the
 * prefix (more: there is more), decode further.
 */
static int
leaf_block(struct sel *sel, bool more)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----",
	    end[] = "-----END CERTIFICATE-----";
	struct jsonscan_buf *d = &sel->tmp2;
	const unsigned char *p = sel->tmp.p, *pe = p + sel->tmp.len;
	const int cut = more ? -1 : 0;

	jsonscan_buf_reset(d);
	if ((size_t)(pe - p) < sizeof(begin) + 1)
		return cut;
	if (memcmp(p, begin, sizeof(begin) - 1) != 0)
		return 0;
	p += sizeof(begin) - 1;
	p += *p == '\r';
	if (*p++ != '\n')
		return 0;
	/* lines up to the END line; b64_check judges what they hold */
	while (p < pe && *p != '-') {
		const unsigned char *nl = memchr(p, '\n', (size_t)(pe - p));
		size_t n;

		if (nl == NULL)
			return cut;
		n = (size_t)(nl - p) - (nl > p && nl[-1] == '\r');
		if (n == 0 || n > 76 || jsonscan_buf_add(d, p, n) != 0)
			return 0;
		p = nl + 1;
	}
	if (p == pe)
		return cut;
	/* the END line, then a line break or the end of the text */
	if ((size_t)(pe - p) < sizeof(end) + 1 && more)
		return -1;
	if ((size_t)(pe - p) < sizeof(end) - 1 || memcmp(p, end, sizeof(end) - 1) != 0)
		return 0;
	p += sizeof(end) - 1;
	return p == pe || *p == '\n' || (*p == '\r' && p + 1 < pe && p[1] == '\n');
}

/*
 * The leaf of a certificate value, as PEM_read_bio and d2i_X509 would
 * read it, when the value opens with a plain CERTIFICATE block: its DER
 * in sel->tmp. The value is decoded only as far as the leaf reaches
 * (about 2 KB of a chain's 4 to 6); false for anything else.
 */
static bool
leaf_der(struct sel *sel, const unsigned char *text, size_t len, int pad)
{
	struct jsonscan_buf *t = &sel->tmp, *d = &sel->tmp2;
	size_t pre = len < LEAF_PREFIX ? len : LEAF_PREFIX, done = 0;
	int r, bpad;

	jsonscan_buf_reset(t);
	for (;;) {
		if (jsonscan_buf_reserve(t, pre / 4 * 3) != 0)
			return false;
		t->len += b64_block(t->p + t->len, text + done, pre - done,
		    pre == len ? pad : 0);
		t->p[t->len] = '\0';
		done = pre;
		if ((r = leaf_block(sel, pre < len)) >= 0)
			break;
		pre = len - pre <= pre ? len : 2 * pre;
	}
	/* the body: base64 with its padding at the very end only */
	if (r == 0 || (bpad = b64_check(d->p, d->len)) < 0)
		return false;
	jsonscan_buf_reset(t);
	if (jsonscan_buf_reserve(t, d->len / 4 * 3) != 0)
		return false;
	t->len = b64_block(t->p, d->p, d->len, bpad);
	return true;
}

/* False only when the leaf cannot cover every host name. */
static bool
leaf_may_cover(struct sel *sel, const unsigned char *text, size_t len, int pad)
{
	unsigned char *der;
	size_t n;

	if (sel->hosts == NULL || !leaf_der(sel, text, len, pad) ||
	    !der_plain(sel->tmp.p, sel->tmp.len)) {
		ERR_clear_error();
		return true;
	}
	der = sel->tmp.p;
	n = sel->tmp.len;
	for (size_t i = 0; i < n; i++)
		if (der[i] >= 'A' && der[i] <= 'Z')
			der[i] = (unsigned char)(der[i] - 'A' + 'a');
	for (size_t i = 0; i < sel->n_hostnames; i++) {
		const struct host *h = &sel->hosts[i];

		if (memmem(der, n, h->name, h->len) == NULL && (h->wild == NULL ||
		    memmem(der, n, h->wild, h->wlen) == NULL))
			return false;
	}
	return true;
}

static void
note_domain(struct scan *sc, const char *name)
{
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

/* Which spelling of a member counts: the layout's own, else the other. */
static int
pick(const bool seen[2], enum layout l)
{
	return seen[l] ? (int)l : seen[!l] ? (int)!l : -1;
}

/* The entry's main domain as the JSON names it: for detail only. */
static const char *
main_domain(const struct entry *e, enum layout l)
{
	int d = pick(e->dom_seen, l), m;

	if (d < 0 || !e->dom_obj[d] || (m = pick(e->main_seen[d], l)) < 0 ||
	    !e->main_str[d][m] || e->main[d][m].len == 0)
		return "(no domain)";
	return (const char *)e->main[d][m].p;
}

/* Makes the entry the best of sc: its chain, and its key's base64. */
static void
keep_best(struct scan *sc, struct entry *e, const struct cert_pair *p,
    unsigned char **pem, size_t len, const char *resolver, size_t index, int tier)
{
	int k = pick(e->key_seen, sc->layout);
	struct jsonscan_buf swap;

	cert_buf_free(&sc->best_pem, sc->best_len);
	sc->have_best = true;
	snprintf(sc->best_resolver, sizeof(sc->best_resolver), "%s", resolver);
	sc->best_index = index;
	sc->best_tier = tier;
	sc->best_nb = p->not_before;
	sc->best_na = p->not_after;
	sc->best_pem = *pem;
	sc->best_len = len;
	*pem = NULL;
	memcpy(sc->best_fp, p->fingerprint, sizeof(sc->best_fp));
	snprintf(sc->best_main, sizeof(sc->best_main), "%s", main_domain(e, sc->layout));
	jsonscan_buf_reset(&sc->best_key_text);
	sc->best_key = KEY_MISSING;
	if (k >= 0 && e->key_str[k]) {
		sc->best_key = e->key[k].over ? KEY_TOO_LARGE : KEY_STRING;
		swap = sc->best_key_text;
		sc->best_key_text = e->key[k];
		e->key[k] = swap;
	}
}

/* Judges one entry object once read; keeps it if it is the best. */
static void
judge(struct sel *sel, struct scan *sc, const char *resolver, size_t index)
{
	struct entry *e = &sel->e;
	struct cert_pair p;
	enum cert_reason r;
	unsigned char *pem = NULL;
	size_t len = 0;
	int c = pick(e->cert_seen, sc->layout), pad = -1, tier;
	const struct jsonscan_buf *text = c >= 0 ? &e->cert[c] : NULL;

	memset(&p, 0, sizeof(p));
	if (text == NULL || !e->cert_str[c] || text->over ||
	    (pad = b64_check(text->p, text->len)) < 0) {
		sc->skipped++;
		return;
	}
	if (!leaf_may_cover(sel, text->p, text->len, pad)) {
		note_domain(sc, main_domain(e, sc->layout));
		return;
	}
	if (b64_decode(text->p, text->len, &pem, &len) != 0 ||
	    cert_parse_chain(pem, len, &p, &r) != 0) {
		sc->skipped++;
		goto out;
	}
	note_domain(sc, main_domain(e, sc->layout));
	if (!covers(p.leaf, sel->hostnames, sel->n_hostnames))
		goto out;
	if (p.not_after <= sel->now) {
		sc->expired++;
		if (p.not_after > sc->expired_at)
			sc->expired_at = p.not_after;
		goto out;
	}
	tier = p.not_before <= sel->now ? 2 : 1;
	if (sc->have_best && (tier < sc->best_tier || (tier == sc->best_tier &&
	    (p.not_after < sc->best_na || (p.not_after == sc->best_na &&
	    p.not_before <= sc->best_nb)))))
		goto out;
	keep_best(sc, e, &p, &pem, len, resolver, index, tier);
out:
	cert_pair_free(&p);
	cert_buf_free(&pem, len);
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
read_domain(struct jsonscan *s, struct entry *e, int d)
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
read_entry(struct sel *sel, struct scan *sc, const char *resolver, size_t index)
{
	struct jsonscan *s = &sel->s;
	struct entry *e = &sel->e;
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
	judge(sel, sc, resolver, index);
	/* the key it held, unless it is now the best's */
	jsonscan_buf_reset(&e->key[0]);
	jsonscan_buf_reset(&e->key[1]);
	return 0;
}

/* One resolver's (or v1's) Certificates: null or an array. */
static int
read_certificates(struct sel *sel, struct scan *sc, const char *resolver)
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
		if (wanted && read_certificates(sel, &sel->sc[LAYOUT_V2], name) != 0)
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
			r = read_certificates(sel, &sel->sc[LAYOUT_V1], "");
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
no_choice(const struct sel *sel, const struct scan *sc, char *detail, size_t dlen)
{
	char when[32];

	if (sc->entries == 0) {
		say(detail, dlen, "no certificate in the store%s%.64s",
		    sel->resolver != NULL && sc->layout == LAYOUT_V2 ? " for resolver " : "",
		    sel->resolver != NULL && sc->layout == LAYOUT_V2 ? sel->resolver : "");
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
	if (sel->n_hostnames == 1)
		say(detail, dlen, "none of %zu entries covers %.64s (%s); %zu unparsable",
		    sc->entries, sel->hostnames[0], sc->domains, sc->skipped);
	else
		say(detail, dlen, "none of %zu entries covers all %zu host names "
		    "(%s); %zu unparsable", sc->entries, sel->n_hostnames, sc->domains,
		    sc->skipped);
	return CERT_HOSTNAME_MISMATCH;
}

/* The store's shape is wrong for the layout it has: detail says how. */
static bool
shape_error(struct sel *sel, const struct scan *sc, char *detail, size_t dlen)
{
	if (sc->layout == LAYOUT_V2 && sel->resolver != NULL && sel->res_state != 1) {
		say(detail, dlen, "resolver %.64s %s (store has: %s)", sel->resolver,
		    sel->res_state == 0 ? "not found" : "is not an object",
		    sel->have[0] != '\0' ? sel->have : "none");
		return true;
	}
	if (sc->layout == LAYOUT_V2 && sel->resolver == NULL && sel->any_not_obj) {
		say(detail, dlen, "resolver %.64s is not an object", sel->not_obj);
		return true;
	}
	if (sc->err[0] != '\0') {
		say(detail, dlen, "%s", sc->err);
		return true;
	}
	return false;
}

static int
hosts_init(struct sel *sel)
{
	if (sel->n_hostnames == 0)
		return 0;
	if ((sel->hosts = calloc(sel->n_hostnames, sizeof(*sel->hosts))) == NULL)
		return -1;
	for (size_t i = 0; i < sel->n_hostnames; i++) {
		struct host *h = &sel->hosts[i];
		const char *dot;

		if ((h->name = strdup(sel->hostnames[i])) == NULL)
			return -1;
		for (char *c = h->name; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		h->len = strlen(h->name);
		if ((dot = strchr(h->name, '.')) != NULL) {
			if (asprintf(&h->wild, "*%s", dot) < 0) {
				h->wild = NULL;
				return -1;
			}
			h->wlen = strlen(h->wild);
		}
	}
	return 0;
}

static void
sel_free(struct sel *sel)
{
	struct entry *e = &sel->e;

	jsonscan_free(&sel->s);
	for (int i = 0; i < 2; i++) {
		jsonscan_buf_free(&e->cert[i]);
		jsonscan_buf_free(&e->key[i]);
		jsonscan_buf_free(&e->main[i][0]);
		jsonscan_buf_free(&e->main[i][1]);
		jsonscan_buf_free(&sel->sc[i].best_key_text);
		cert_buf_free(&sel->sc[i].best_pem, sel->sc[i].best_len);
	}
	jsonscan_buf_free(&sel->tmp);
	jsonscan_buf_free(&sel->tmp2);
	for (size_t i = 0; sel->hosts != NULL && i < sel->n_hostnames; i++) {
		free(sel->hosts[i].name);
		free(sel->hosts[i].wild);
	}
	free(sel->hosts);
	sel->hosts = NULL;
}

static void
sel_init(struct sel *sel, const char *resolver, char *const *hostnames,
    size_t n_hostnames, time_t now)
{
	struct entry *e = &sel->e;

	sel->resolver = resolver;
	sel->hostnames = hostnames;
	sel->n_hostnames = n_hostnames;
	sel->now = now;
	for (int i = 0; i < 2; i++) {
		jsonscan_buf_init(&e->cert[i], TEXT_MAX);
		jsonscan_buf_init(&e->key[i], TEXT_MAX);
		jsonscan_buf_init(&e->main[i][0], 64);
		jsonscan_buf_init(&e->main[i][1], 64);
		jsonscan_buf_init(&sel->sc[i].best_key_text, TEXT_MAX);
		sel->sc[i].layout = (enum layout)i;
	}
	jsonscan_buf_init(&sel->tmp, TEXT_MAX);
	jsonscan_buf_init(&sel->tmp2, TEXT_MAX);
	if (hosts_init(sel) != 0)
		sel->nomem = true;
}

/* Reads the store from sel->s and picks; the body of both entry points. */
static int
select_store(struct sel *sel, struct install_pair *out, enum cert_reason *why,
    char *detail, size_t dlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct jsonscan *s = &sel->s;
	struct scan *sc;
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
	    LAYOUT_V1 : LAYOUT_V2];
	if (shape_error(sel, sc, detail, dlen))
		return -1;
	if (!sc->have_best) {
		*why = no_choice(sel, sc, detail, dlen);
		return -1;
	}
	if (sc->best_key != KEY_STRING || b64_decode(sc->best_key_text.p,
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

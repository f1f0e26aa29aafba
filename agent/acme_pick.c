/*
 * acme_pick: the judgement of each entry of Traefik's store (acme_pick.h).
 * The certificate of an entry is what counts, not the JSON's domain
 * names; most entries are ruled out by a cheap look at their leaf (see
 * leaf_may_cover), the rest get the full judgement. Only the best entry
 * so far is kept: its decoded chain and its key's base64, not decoded.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "acme_pick.h"

/* How much of a certificate's base64 is decoded first to find its leaf. */
#define LEAF_PREFIX 3072

/* Host names as the leaf look compares them: lower case, and as a wildcard. */
struct acme_host {
	char *name;
	size_t len;
	char *wild;			/* "*" and name from its first dot; or NULL */
	size_t wlen;
};

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

int
acme_pick_b64_decode(const unsigned char *in, size_t len, unsigned char **out,
    size_t *olen)
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
 * The first PEM block of the decoded prefix in pk->tmp, when it is a
 * plain CERTIFICATE block (BEGIN line, lines of base64, END line: what
 * Traefik and every ACME client write), its base64 body gathered in
 * pk->tmp2: 1. 0: not a plain block; -1: cut off by the end of the
 * prefix (more: there is more), decode further.
 */
static int
leaf_block(struct acme_pick *pk, bool more)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----",
	    end[] = "-----END CERTIFICATE-----";
	struct jsonscan_buf *d = &pk->tmp2;
	const unsigned char *p = pk->tmp.p, *pe = p + pk->tmp.len;
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
 * in pk->tmp. The value is decoded only as far as the leaf reaches
 * (about 2 KB of a chain's 4 to 6); false for anything else.
 */
static bool
leaf_der(struct acme_pick *pk, const unsigned char *text, size_t len, int pad)
{
	struct jsonscan_buf *t = &pk->tmp, *d = &pk->tmp2;
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
		if ((r = leaf_block(pk, pre < len)) >= 0)
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
leaf_may_cover(struct acme_pick *pk, const unsigned char *text, size_t len, int pad)
{
	unsigned char *der;
	size_t n;

	if (pk->hosts == NULL || !leaf_der(pk, text, len, pad) ||
	    !der_plain(pk->tmp.p, pk->tmp.len)) {
		ERR_clear_error();
		return true;
	}
	der = pk->tmp.p;
	n = pk->tmp.len;
	for (size_t i = 0; i < n; i++)
		if (der[i] >= 'A' && der[i] <= 'Z')
			der[i] = (unsigned char)(der[i] - 'A' + 'a');
	for (size_t i = 0; i < pk->n_hostnames; i++) {
		const struct acme_host *h = &pk->hosts[i];

		if (memmem(der, n, h->name, h->len) == NULL && (h->wild == NULL ||
		    memmem(der, n, h->wild, h->wlen) == NULL))
			return false;
	}
	return true;
}

static void
note_domain(struct acme_scan *sc, const char *name)
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
pick(const bool seen[2], enum acme_layout l)
{
	return seen[l] ? (int)l : seen[!l] ? (int)!l : -1;
}

/* The entry's main domain as the JSON names it: for detail only. */
static const char *
main_domain(const struct acme_entry *e, enum acme_layout l)
{
	int d = pick(e->dom_seen, l), m;

	if (d < 0 || !e->dom_obj[d] || (m = pick(e->main_seen[d], l)) < 0 ||
	    !e->main_str[d][m] || e->main[d][m].len == 0)
		return "(no domain)";
	return (const char *)e->main[d][m].p;
}

/* Makes the entry the best of sc: its chain, and its key's base64. */
static void
keep_best(struct acme_scan *sc, struct acme_entry *e, const struct cert_pair *p,
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
	sc->best_key = ACME_KEY_MISSING;
	if (k >= 0 && e->key_str[k]) {
		sc->best_key = e->key[k].over ? ACME_KEY_TOO_LARGE : ACME_KEY_STRING;
		swap = sc->best_key_text;
		sc->best_key_text = e->key[k];
		e->key[k] = swap;
	}
}

void
acme_pick_judge(struct acme_pick *pk, struct acme_scan *sc, struct acme_entry *e,
    const char *resolver, size_t index)
{
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
	if (!leaf_may_cover(pk, text->p, text->len, pad)) {
		note_domain(sc, main_domain(e, sc->layout));
		return;
	}
	if (acme_pick_b64_decode(text->p, text->len, &pem, &len) != 0 ||
	    cert_parse_chain(pem, len, &p, &r) != 0) {
		sc->skipped++;
		goto out;
	}
	note_domain(sc, main_domain(e, sc->layout));
	if (!covers(p.leaf, pk->hostnames, pk->n_hostnames))
		goto out;
	if (p.not_after <= pk->now) {
		sc->expired++;
		if (p.not_after > sc->expired_at)
			sc->expired_at = p.not_after;
		goto out;
	}
	tier = p.not_before <= pk->now ? 2 : 1;
	if (sc->have_best && (tier < sc->best_tier || (tier == sc->best_tier &&
	    (p.not_after < sc->best_na || (p.not_after == sc->best_na &&
	    p.not_before <= sc->best_nb)))))
		goto out;
	keep_best(sc, e, &p, &pem, len, resolver, index, tier);
out:
	cert_pair_free(&p);
	cert_buf_free(&pem, len);
}

static int
hosts_init(struct acme_pick *pk)
{
	if (pk->n_hostnames == 0)
		return 0;
	if ((pk->hosts = calloc(pk->n_hostnames, sizeof(*pk->hosts))) == NULL)
		return -1;
	for (size_t i = 0; i < pk->n_hostnames; i++) {
		struct acme_host *h = &pk->hosts[i];
		const char *dot;

		if ((h->name = strdup(pk->hostnames[i])) == NULL)
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

int
acme_pick_init(struct acme_pick *pk, char *const *hostnames,
    size_t n_hostnames, time_t now)
{
	memset(pk, 0, sizeof(*pk));
	pk->hostnames = hostnames;
	pk->n_hostnames = n_hostnames;
	pk->now = now;
	jsonscan_buf_init(&pk->tmp, ACME_TEXT_MAX);
	jsonscan_buf_init(&pk->tmp2, ACME_TEXT_MAX);
	return hosts_init(pk);
}

void
acme_pick_free(struct acme_pick *pk)
{
	jsonscan_buf_free(&pk->tmp);
	jsonscan_buf_free(&pk->tmp2);
	for (size_t i = 0; pk->hosts != NULL && i < pk->n_hostnames; i++) {
		free(pk->hosts[i].name);
		free(pk->hosts[i].wild);
	}
	free(pk->hosts);
	pk->hosts = NULL;
}

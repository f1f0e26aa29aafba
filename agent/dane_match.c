/*
 * dane_match: TLSA records out of a DNS answer, and judged against a
 * bundle (see dane_match.h). Pure: no I/O, no clock.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dane_match.h"
#include "endpoint.h"

const char *const dane_usable_names[DANE_UNUSABLE__MAX] = {
	"usable", "pkix_usage", "unknown_usage", "unknown_selector",
	"unknown_mtype", "bad_length",
};

void
dane_answer_free(struct dane_answer *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

int
dane_parse_answer(const unsigned char *msg, size_t len, struct dane_answer *a)
{
	ns_msg m;
	ns_rr rr;
	int an;

	memset(a, 0, sizeof(*a));
	/* a header (RFC 1035 4.1.1) and no more than the bound */
	if (len < NS_HFIXEDSZ || len > DANE_ANSWER_MAX)
		return -1;
	if ((a->buf = malloc(len)) == NULL)
		return -1;
	memcpy(a->buf, msg, len);
	if (ns_initparse(a->buf, (int)len, &m) != 0)
		goto bad;
	/* the header's flags: QR must be set; RCODE and AD for the caller */
	if ((a->buf[2] & 0x80) == 0)
		goto bad;
	a->rcode = a->buf[3] & 0x0f;
	a->ad = (a->buf[3] & 0x20) != 0;
	an = ns_msg_count(m, ns_s_an);
	for (int i = 0; i < an; i++) {
		const unsigned char *rd;

		if (ns_parserr(&m, ns_s_an, i, &rr) != 0)
			goto bad;
		if (ns_rr_type(rr) != DANE_T_TLSA || ns_rr_class(rr) != ns_c_in)
			continue;	/* a CNAME of the chain, an RRSIG, ... */
		/* usage, selector, matching type, and at least one byte of data */
		if (ns_rr_rdlen(rr) < 4)
			goto bad;
		if (a->n == DANE_RECORDS_MAX) {
			a->more = true;
			continue;
		}
		rd = ns_rr_rdata(rr);
		a->rec[a->n].usage = rd[0];
		a->rec[a->n].selector = rd[1];
		a->rec[a->n].mtype = rd[2];
		a->rec[a->n].data = rd + 3;
		a->rec[a->n].len = (size_t)ns_rr_rdlen(rr) - 3;
		a->n++;
	}
	return 0;
bad:
	dane_answer_free(a);
	return -1;
}

enum dane_usable
dane_record_usable(const struct dane_record *r)
{
	if (r->usage == DANE_PKIX_TA || r->usage == DANE_PKIX_EE)
		return DANE_UNUSABLE_PKIX;
	if (r->usage != DANE_TA && r->usage != DANE_EE)
		return DANE_UNUSABLE_USAGE;
	if (r->selector != DANE_SEL_CERT && r->selector != DANE_SEL_SPKI)
		return DANE_UNUSABLE_SELECTOR;
	switch (r->mtype) {
	case DANE_MT_FULL:
		return r->len > 0 ? DANE_USABLE : DANE_UNUSABLE_LENGTH;
	case DANE_MT_SHA256:
		return r->len == 32 ? DANE_USABLE : DANE_UNUSABLE_LENGTH;
	case DANE_MT_SHA512:
		return r->len == 64 ? DANE_USABLE : DANE_UNUSABLE_LENGTH;
	default:
		return DANE_UNUSABLE_MTYPE;
	}
}

/* The DER a selector picks of x: the whole certificate, or its SPKI. */
static int
selected_der(X509 *x, int selector, unsigned char **der)
{
	*der = NULL;
	if (selector == DANE_SEL_CERT)
		return i2d_X509(x, der);
	return i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), der);
}

/* True when r's data is what its selector and matching type make of x. */
static bool
matches_cert(const struct dane_record *r, X509 *x)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = x != NULL ? selected_der(x, r->selector, &der) : -1;
	bool ok = false;

	if (n <= 0)
		goto out;
	switch (r->mtype) {
	case DANE_MT_FULL:
		ok = (size_t)n == r->len && memcmp(der, r->data, r->len) == 0;
		break;
	case DANE_MT_SHA256:
	case DANE_MT_SHA512:
		if (EVP_Digest(der, (size_t)n, md, &mdlen, r->mtype == DANE_MT_SHA256 ?
		    EVP_sha256() : EVP_sha512(), NULL) != 1)
			goto out;
		ok = mdlen == r->len && memcmp(md, r->data, r->len) == 0;
		break;
	default:
		break;
	}
out:
	OPENSSL_free(der);
	return ok;
}

bool
dane_record_matches(const struct dane_record *r, X509 *leaf, STACK_OF(X509) *chain)
{
	if (dane_record_usable(r) != DANE_USABLE)
		return false;
	if (r->usage == DANE_EE)
		return matches_cert(r, leaf);
	/* DANE-TA: the server must send the trust anchor (RFC 7671 5.2.2) */
	for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++)
		if (matches_cert(r, sk_X509_value(chain, i)))
			return true;
	return false;
}

enum dane_verdict
dane_judge(const struct dane_answer *a, X509 *leaf, STACK_OF(X509) *chain,
    size_t *matched, size_t *usable)
{
	*matched = 0;
	*usable = 0;
	if (a->rcode == ns_r_nxdomain)
		return DANE_V_NONE;
	if (a->rcode != ns_r_noerror)
		return DANE_V_UNAVAILABLE;
	for (size_t i = 0; i < a->n; i++) {
		if (dane_record_usable(&a->rec[i]) != DANE_USABLE)
			continue;
		(*usable)++;
		if (dane_record_matches(&a->rec[i], leaf, chain)) {
			*matched = i;
			return DANE_V_OK;
		}
	}
	/* records past the bound were not read: one of them might match */
	if (a->more)
		return DANE_V_UNAVAILABLE;
	return *usable > 0 ? DANE_V_MISMATCH : DANE_V_NONE;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
dane_record_text(const struct dane_record *r, char out[DANE_RECORD_TEXT])
{
	size_t show = r->len * 2 > DANE_SHOW_HEX && r->len != 64 ?
	    DANE_SHOW_HEX / 2 : r->len;
	int n = snprintf(out, DANE_RECORD_TEXT, "%u %u %u ", r->usage, r->selector,
	    r->mtype);

	/* 16 bytes of "u s m " at most; a SHA-512 is shown whole */
	hex(r->data, show, out + n);
	if (show < r->len)
		strcat(out + n, "...");
}

int
dane_record_for(X509 *leaf, char out[DANE_RECORD_TEXT])
{
	struct dane_record r = { DANE_EE, DANE_SEL_SPKI, DANE_MT_SHA256, NULL, 32 };
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n = selected_der(leaf, DANE_SEL_SPKI, &der), rc = -1;

	if (n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32) {
		r.data = md;
		dane_record_text(&r, out);
		rc = 0;
	}
	OPENSSL_free(der);
	return rc;
}

/* True when both DERs (as the selector picks them) are the same bytes. */
static bool
same_der(X509 *a, X509 *b, int selector)
{
	unsigned char *da = NULL, *db = NULL;
	int na = selected_der(a, selector, &da), nb = selected_der(b, selector, &db);
	bool same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0;

	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

bool
dane_same_binding(X509 *leaf_a, STACK_OF(X509) *chain_a, X509 *leaf_b,
    STACK_OF(X509) *chain_b)
{
	int n = chain_a != NULL ? sk_X509_num(chain_a) : 0;

	if (leaf_a == NULL || leaf_b == NULL ||
	    !same_der(leaf_a, leaf_b, DANE_SEL_SPKI) ||
	    n != (chain_b != NULL ? sk_X509_num(chain_b) : 0))
		return false;
	for (int i = 0; i < n; i++)
		if (!same_der(sk_X509_value(chain_a, i), sk_X509_value(chain_b, i),
		    DANE_SEL_CERT))
			return false;
	return true;
}

int
dane_server_parse(const char *s, struct dane_server *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = strchr(s, ':'), *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->port = 53;
	if (s[0] == '[') {
		/* [v6] or [v6]:port */
		if ((end = strchr(s, ']')) == NULL || (n = (size_t)(end - s - 1)) == 0 ||
		    n >= sizeof(host))
			return -1;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (end[1] != '\0' && (end[1] != ':' || endpoint_parse_port(end + 2,
		    &out->port) != 0))
			return -1;
		out->family = AF_INET6;
		return inet_pton(AF_INET6, host, &out->v6) == 1 ? 0 : -1;
	}
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* two colons or more: a bare v6 address, no port */
		out->family = AF_INET6;
		return inet_pton(AF_INET6, s, &out->v6) == 1 ? 0 : -1;
	}
	n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon != NULL && endpoint_parse_port(colon + 1, &out->port) != 0)
		return -1;
	out->family = AF_INET;
	return inet_pton(AF_INET, host, &out->v4) == 1 ? 0 : -1;
}

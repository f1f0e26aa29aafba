/*
 * Unit tests for agent/dane_match.c (the TLSA records of an answer, each
 * record judged against a bundle, the verdict, the record to publish,
 * AGENT_DNS_SERVER's parser) on certificates made here, and for
 * dane_lookup in agent/dane.c against a UDP responder on loopback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "dane.h"
#include "dane_match.h"
#include "log.h"
#include "harness.h"

static EVP_PKEY *kca, *kleaf, *kother;
static X509 *ca, *leaf, *leaf_same_key, *leaf_other, *ca2;
static STACK_OF(X509) *chain, *chain2, *nochain;

static EVP_PKEY *
ec_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static X509 *
make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *cn, long serial)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
	X509_sign(x, signer, EVP_sha256());
	return x;
}

/* The DER a selector picks, and its digest as the matching type says. */
static size_t
digest_of(X509 *x, int selector, int mtype, unsigned char *out)
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int n = selector == 0 ? i2d_X509(x, &der) :
	    i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	size_t len = (size_t)n;

	if (mtype == 0)
		memcpy(out, der, len);
	else
		EVP_Digest(der, len, out, &mdlen, mtype == 1 ? EVP_sha256() :
		    EVP_sha512(), NULL);
	OPENSSL_free(der);
	return mtype == 0 ? len : mdlen;
}

/* A record of usage u over x's selector s, matching type m (data owned here). */
static unsigned char recbuf[16][4096];
static struct dane_record
rec(int slot, int u, int s, int m, X509 *x)
{
	struct dane_record r = { (uint8_t)u, (uint8_t)s, (uint8_t)m, recbuf[slot], 0 };

	r.len = digest_of(x, s, m > 2 ? 1 : m, recbuf[slot]);
	return r;
}

TEST(setup)
{
	kca = ec_key();
	kleaf = ec_key();
	kother = ec_key();
	ca = make_cert(kca, kca, NULL, "Test CA", 1);
	ca2 = make_cert(kother, kother, NULL, "Other CA", 2);
	leaf = make_cert(kleaf, kca, ca, "mail.example.test", 10);
	leaf_same_key = make_cert(kleaf, kca, ca, "mail.example.test", 11);
	leaf_other = make_cert(kother, kca, ca, "mail.example.test", 12);
	chain = sk_X509_new_null();
	sk_X509_push(chain, ca);
	chain2 = sk_X509_new_null();
	sk_X509_push(chain2, ca2);
	nochain = sk_X509_new_null();
	CHECK(kca != NULL && kleaf != NULL && kother != NULL && leaf != NULL);
}

TEST(usable)
{
	/* usage, selector, matching type, data length: the verdict */
	static const struct {
		uint8_t u, s, m;
		size_t len;
		enum dane_usable want;
	} cases[] = {
		{ 3, 1, 1, 32, DANE_USABLE }, { 2, 1, 1, 32, DANE_USABLE },
		{ 3, 0, 2, 64, DANE_USABLE }, { 2, 0, 0, 1, DANE_USABLE },
		{ 0, 1, 1, 32, DANE_UNUSABLE_PKIX }, { 1, 1, 1, 32, DANE_UNUSABLE_PKIX },
		{ 4, 1, 1, 32, DANE_UNUSABLE_USAGE }, { 255, 1, 1, 32, DANE_UNUSABLE_USAGE },
		{ 3, 2, 1, 32, DANE_UNUSABLE_SELECTOR }, { 3, 255, 1, 32, DANE_UNUSABLE_SELECTOR },
		{ 3, 1, 3, 32, DANE_UNUSABLE_MTYPE }, { 3, 1, 255, 32, DANE_UNUSABLE_MTYPE },
		/* a digest of the wrong length, either way; no data at all */
		{ 3, 1, 1, 31, DANE_UNUSABLE_LENGTH }, { 3, 1, 1, 33, DANE_UNUSABLE_LENGTH },
		{ 3, 1, 2, 32, DANE_UNUSABLE_LENGTH }, { 3, 1, 2, 63, DANE_UNUSABLE_LENGTH },
		{ 3, 1, 2, 65, DANE_UNUSABLE_LENGTH }, { 3, 1, 0, 0, DANE_UNUSABLE_LENGTH },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dane_record r = { cases[i].u, cases[i].s, cases[i].m, recbuf[0],
		    cases[i].len };

		if (dane_record_usable(&r) != cases[i].want)
			fprintf(stderr, "  case %zu\n", i);
		CHECK_INT(dane_record_usable(&r), cases[i].want);
	}
	CHECK_STR(dane_usable_names[DANE_UNUSABLE_PKIX], "pkix_usage");
}

TEST(ee_matches_leaf)
{
	/* every selector and matching type of DANE-EE, against the leaf */
	for (int s = 0; s <= 1; s++)
		for (int m = 0; m <= 2; m++) {
			struct dane_record r = rec(0, 3, s, m, leaf);

			CHECK(dane_record_matches(&r, leaf, chain));
			CHECK(!dane_record_matches(&r, leaf_other, chain));
			/* EE never looks at the chain */
			CHECK(!dane_record_matches(&r, leaf_other, NULL));
		}
	{
		/* 3 1 x binds the key: a renewal with the same key still matches */
		struct dane_record spki = rec(0, 3, 1, 1, leaf);
		struct dane_record cert = rec(1, 3, 0, 1, leaf);

		CHECK(dane_record_matches(&spki, leaf_same_key, chain));
		CHECK(!dane_record_matches(&cert, leaf_same_key, chain));
	}
	{
		/* the CA's hash as DANE-EE is no match for the leaf */
		struct dane_record r = rec(0, 3, 1, 1, ca);

		CHECK(!dane_record_matches(&r, leaf, chain));
	}
}

TEST(ta_matches_chain)
{
	for (int s = 0; s <= 1; s++)
		for (int m = 0; m <= 2; m++) {
			struct dane_record r = rec(0, 2, s, m, ca);

			CHECK(dane_record_matches(&r, leaf, chain));
			CHECK(dane_record_matches(&r, leaf_other, chain));
			/* the TA must be in the chain the server sends */
			CHECK(!dane_record_matches(&r, leaf, nochain));
			CHECK(!dane_record_matches(&r, leaf, NULL));
			CHECK(!dane_record_matches(&r, leaf, chain2));
		}
	{
		/* DANE-TA over the leaf itself is not a match */
		struct dane_record r = rec(0, 2, 1, 1, leaf);

		CHECK(!dane_record_matches(&r, leaf, chain));
	}
}

TEST(wrong_lengths_and_types_never_match)
{
	/*
	 * A record made right over the leaf (or the CA), then spoiled: its
	 * length moved by dlen, its type fields replaced (-1: kept).
	 */
	static const struct {
		int u, s, m;
		bool ca;
		long dlen;
		int as_s, as_m;
	} cases[] = {
		{ 3, 1, 1, false, -1, -1, -1 },		/* a SHA-256 cut short */
		{ 3, 1, 2, false, -1, -1, -1 },		/* a SHA-512 cut short */
		{ 3, 0, 0, false, -1, -1, -1 },		/* full DER, a byte short */
		{ 3, 0, 0, false, 1, -1, -1 },		/* ... and a byte long */
		{ 3, 1, 1, false, 0, -1, 3 },		/* an unknown matching type */
		{ 3, 1, 1, false, 0, 7, -1 },		/* an unknown selector */
		{ 1, 1, 1, false, 0, -1, -1 },		/* PKIX-EE of the leaf */
		{ 0, 1, 1, true, 0, -1, -1 },		/* PKIX-TA of the CA */
		{ 3, 1, 2, false, -32, -1, 1 },		/* SHA-512's half as SHA-256 */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dane_record r = rec(0, cases[i].u, cases[i].s, cases[i].m,
		    cases[i].ca ? ca : leaf);

		r.len = (size_t)((long)r.len + cases[i].dlen);
		if (cases[i].as_s >= 0)
			r.selector = (uint8_t)cases[i].as_s;
		if (cases[i].as_m >= 0)
			r.mtype = (uint8_t)cases[i].as_m;
		if (dane_record_matches(&r, leaf, chain))
			fprintf(stderr, "  case %zu matched\n", i);
		CHECK(!dane_record_matches(&r, leaf, chain));
	}
}

static struct dane_answer
answer_of(int rcode, bool more, size_t n, const struct dane_record *r)
{
	struct dane_answer a;

	memset(&a, 0, sizeof(a));
	a.rcode = rcode;
	a.more = more;
	a.n = n;
	if (n > 0)
		memcpy(a.rec, r, n * sizeof(*r));
	return a;
}

TEST(judge_several_records)
{
	struct dane_record r[4] = {
		rec(0, 1, 1, 1, leaf),		/* PKIX-EE of the leaf: not used */
		rec(1, 3, 1, 1, leaf_other),	/* the old key */
		rec(2, 3, 1, 1, leaf),		/* the new key */
		rec(3, 2, 1, 1, ca2),		/* another CA */
	};
	struct dane_answer a = answer_of(0, false, 4, r);
	size_t m = 99, u = 99;

	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_OK);
	CHECK_INT(m, 2);
	CHECK_INT(u, 2);
	{
		struct dane_answer b = answer_of(0, false, 2, (struct dane_record[]){
		    r[1], r[3] });

		CHECK_INT(dane_judge(&b, leaf, chain, &m, &u), DANE_V_MISMATCH);
		CHECK_INT(u, 2);
		/* the new chain's CA named: DANE-TA matches whatever the leaf */
		b.rec[1] = rec(4, 2, 1, 1, ca);
		CHECK_INT(dane_judge(&b, leaf, chain, &m, &u), DANE_V_OK);
		CHECK_INT(m, 1);
	}
}

TEST(judge_none_and_unavailable)
{
	struct dane_record pkix[2] = { rec(0, 0, 1, 1, ca), rec(1, 1, 1, 1, leaf) };
	struct dane_record bad[2] = { rec(2, 3, 1, 1, leaf), rec(3, 3, 1, 1, leaf) };
	struct dane_answer a;
	size_t m, u;

	a = answer_of(0, false, 0, NULL);		/* NODATA */
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_NONE);
	a = answer_of(3, false, 0, NULL);		/* NXDOMAIN */
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_NONE);
	a = answer_of(2, false, 0, NULL);		/* SERVFAIL */
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_UNAVAILABLE);
	a = answer_of(5, false, 0, NULL);		/* REFUSED */
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_UNAVAILABLE);
	/* only PKIX-* records: nothing a DANE sender uses either */
	a = answer_of(0, false, 2, pkix);
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_NONE);
	CHECK_INT(u, 0);
	/* records of a wrong length only: unusable, so none */
	bad[0].len = 20;
	bad[1].mtype = 9;
	a = answer_of(0, false, 2, bad);
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_NONE);
	/* more records than were read, none of the read ones matches */
	bad[0] = rec(2, 3, 1, 1, leaf_other);
	a = answer_of(0, true, 1, bad);
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_UNAVAILABLE);
	/* ... but one that does is enough */
	bad[1] = rec(3, 3, 1, 1, leaf);
	a = answer_of(0, true, 2, bad);
	CHECK_INT(dane_judge(&a, leaf, chain, &m, &u), DANE_V_OK);
}

/* --- DNS messages, built here byte by byte ------------------------------ */

struct msg {
	unsigned char b[40000];
	size_t n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(m, b, 2);
}

static void
put_name(struct msg *m, const char *name)
{
	while (*name != '\0') {
		size_t l = strcspn(name, ".");
		unsigned char c = (unsigned char)l;

		put(m, &c, 1);
		put(m, name, l);
		name += l + (name[l] == '.');
	}
	put(m, "", 1);
}

/* A response header and the question _25._tcp.mail.example.test TLSA. */
static void
head(struct msg *m, unsigned id, unsigned flags, unsigned an)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	put_name(m, "_25._tcp.mail.example.test");
	put16(m, DANE_T_TLSA);
	put16(m, 1);
}

/* An answer RR owned by the question's name (a compression pointer). */
static void
rr(struct msg *m, unsigned type, const void *rdata, size_t len)
{
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, (unsigned)len);
	put(m, rdata, len);
}

static void
tlsa_rr(struct msg *m, const struct dane_record *r)
{
	unsigned char rd[4096];

	rd[0] = r->usage;
	rd[1] = r->selector;
	rd[2] = r->mtype;
	memcpy(rd + 3, r->data, r->len);
	rr(m, DANE_T_TLSA, rd, r->len + 3);
}

TEST(parse_answers)
{
	static struct msg m;
	struct dane_record want = rec(0, 3, 1, 1, leaf), full = rec(1, 3, 0, 0, leaf);
	struct dane_answer a;
	unsigned char addr[4] = { 192, 0, 2, 1 };

	/* a CNAME-free answer: an A record (skipped), two TLSA; AD set */
	head(&m, 7, 0x81a0, 3);
	rr(&m, 1, addr, 4);
	tlsa_rr(&m, &want);
	tlsa_rr(&m, &full);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), 0);
	CHECK_INT(a.n, 2);
	CHECK_INT(a.rcode, 0);
	CHECK(a.ad);
	CHECK(!a.more);
	CHECK_INT(a.rec[0].usage, 3);
	CHECK_INT(a.rec[0].selector, 1);
	CHECK_INT(a.rec[0].mtype, 1);
	CHECK_INT(a.rec[0].len, 32);
	CHECK(memcmp(a.rec[0].data, want.data, 32) == 0);
	CHECK_INT(a.rec[1].len, full.len);
	CHECK(dane_record_matches(&a.rec[1], leaf, chain));
	dane_answer_free(&a);

	/* NXDOMAIN, no AD */
	head(&m, 7, 0x8183, 0);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), 0);
	CHECK_INT(a.rcode, 3);
	CHECK(!a.ad);
	CHECK_INT(a.n, 0);
	dane_answer_free(&a);

	/* more TLSA records than are kept */
	head(&m, 7, 0x8180, DANE_RECORDS_MAX + 3);
	for (int i = 0; i < DANE_RECORDS_MAX + 3; i++)
		tlsa_rr(&m, &want);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), 0);
	CHECK_INT(a.n, DANE_RECORDS_MAX);
	CHECK(a.more);
	dane_answer_free(&a);
}

TEST(parse_refuses_malformed)
{
	static struct msg m;
	struct dane_record want = rec(0, 3, 1, 1, leaf);
	struct dane_answer a;
	unsigned char three[3] = { 3, 1, 1 };

	/* shorter than a header */
	CHECK_INT(dane_parse_answer((const unsigned char *)"\0\0\x81\x80", 4, &a), -1);
	CHECK(a.buf == NULL && a.n == 0);
	/* a query (QR clear), not an answer */
	head(&m, 7, 0x0100, 1);
	tlsa_rr(&m, &want);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), -1);
	/* a TLSA rdata of usage, selector and type with no data */
	head(&m, 7, 0x8180, 1);
	rr(&m, DANE_T_TLSA, three, 3);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), -1);
	/* an RR cut in the middle of its rdata */
	head(&m, 7, 0x8180, 1);
	tlsa_rr(&m, &want);
	CHECK_INT(dane_parse_answer(m.b, m.n - 5, &a), -1);
	CHECK(a.buf == NULL);
	/* the header counts more answers than there are */
	head(&m, 7, 0x8180, 2);
	tlsa_rr(&m, &want);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), -1);
	/* a compression pointer to itself */
	head(&m, 7, 0x8180, 1);
	put16(&m, 0xc000 | (unsigned)m.n);
	put16(&m, DANE_T_TLSA);
	CHECK_INT(dane_parse_answer(m.b, m.n, &a), -1);
	/* larger than the bound: not read at all */
	head(&m, 7, 0x8180, 0);
	CHECK_INT(dane_parse_answer(m.b, DANE_ANSWER_MAX + 1, &a), -1);
	dane_answer_free(&a);
}

TEST(record_text)
{
	struct dane_record r = rec(0, 3, 1, 1, leaf), full = rec(1, 3, 0, 0, leaf);
	struct dane_record sha512 = rec(2, 2, 1, 2, ca);
	char t[DANE_RECORD_TEXT], pub[DANE_RECORD_TEXT], hexd[65];

	for (size_t i = 0; i < 32; i++)
		snprintf(hexd + 2 * i, 3, "%02x", r.data[i]);
	dane_record_text(&r, t);
	CHECK(strncmp(t, "3 1 1 ", 6) == 0 && strcmp(t + 6, hexd) == 0);
	/* the record to publish for the leaf's key is that one */
	CHECK_INT(dane_record_for(leaf, pub), 0);
	CHECK_STR(pub, t);
	CHECK_INT(dane_record_for(leaf_same_key, pub), 0);
	CHECK_STR(pub, t);
	CHECK_INT(dane_record_for(leaf_other, pub), 0);
	CHECK(strcmp(pub, t) != 0);
	/* a whole certificate is shortened; a SHA-512 is not */
	dane_record_text(&full, t);
	CHECK(strncmp(t, "3 0 0 ", 6) == 0);
	CHECK_INT(strlen(t), 6 + DANE_SHOW_HEX + 3);
	CHECK(strcmp(t + strlen(t) - 3, "...") == 0);
	dane_record_text(&sha512, t);
	CHECK_INT(strlen(t), 6 + 128);
}

TEST(same_binding)
{
	CHECK(dane_same_binding(leaf, chain, leaf_same_key, chain));
	CHECK(dane_same_binding(leaf, nochain, leaf_same_key, NULL));
	CHECK(!dane_same_binding(leaf, chain, leaf_other, chain));
	CHECK(!dane_same_binding(leaf, chain, leaf_same_key, chain2));
	CHECK(!dane_same_binding(leaf, chain, leaf_same_key, nochain));
	CHECK(!dane_same_binding(leaf, chain, NULL, chain));
}

TEST(server_parse)
{
	struct dane_server s;
	char buf[INET6_ADDRSTRLEN];

	CHECK_INT(dane_server_parse("127.0.0.1", &s), 0);
	CHECK_INT(s.family, AF_INET);
	CHECK_INT(s.port, 53);
	CHECK_INT(dane_server_parse("127.0.0.1:26053", &s), 0);
	CHECK_INT(s.port, 26053);
	CHECK_STR(inet_ntop(AF_INET, &s.v4, buf, sizeof(buf)), "127.0.0.1");
	CHECK_INT(dane_server_parse("::1", &s), 0);
	CHECK_INT(s.family, AF_INET6);
	CHECK_INT(s.port, 53);
	CHECK_INT(dane_server_parse("[2001:db8::1]:5353", &s), 0);
	CHECK_INT(s.family, AF_INET6);
	CHECK_INT(s.port, 5353);
	CHECK_STR(inet_ntop(AF_INET6, &s.v6, buf, sizeof(buf)), "2001:db8::1");
	CHECK_INT(dane_server_parse("[::1]", &s), 0);
	CHECK_INT(s.port, 53);
	const char *bad[] = { "", "ns.example.test", "ns.example.test:53",
	    "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x",
	    "127.0.0.1:-1", "127.0.0.1: 53", "[::1", "[::1]x", "[::1]:", "[]:53",
	    "[127.0.0.1]:53", "::1:53:", "1.2.3", "1.2.3.4.5", ":53",
	    "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:53" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dane_server_parse(bad[i], &s) == 0)
			fprintf(stderr, "  accepted '%s'\n", bad[i]);
		CHECK(dane_server_parse(bad[i], &s) != 0);
	}
}

/* --- dane_lookup against a responder on loopback ----------------------- */

struct responder {
	int fd;
	unsigned short port;
	int mode;		/* 0: silent, 1: answer with the records */
	unsigned char query_flags;	/* the query's 4th header byte */
	pthread_t t;
};

static void *
respond(void *arg)
{
	struct responder *r = arg;
	unsigned char q[512];
	static struct msg m;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	struct pollfd p = { r->fd, POLLIN, 0 };
	struct dane_record want = rec(8, 3, 1, 1, leaf);
	ssize_t n;

	if (poll(&p, 1, 3000) != 1)
		return NULL;
	n = recvfrom(r->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
	if (n < 12 || r->mode == 0)
		return NULL;
	r->query_flags = q[3];
	/* the same id and question (with its EDNS OPT dropped), then one TLSA */
	head(&m, (unsigned)(q[0] << 8 | q[1]), 0x8180, 1);
	memcpy(m.b + 12, q + 12, m.n - 12);
	tlsa_rr(&m, &want);
	sendto(r->fd, m.b, m.n, 0, (struct sockaddr *)&from, fl);
	return NULL;
}

static void
responder_start(struct responder *r, int mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(r->fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(r->fd, (struct sockaddr *)&a, &al);
	r->port = ntohs(a.sin_port);
	pthread_create(&r->t, NULL, respond, r);
}

static void
responder_stop(struct responder *r)
{
	pthread_join(r->t, NULL);
	close(r->fd);
}

TEST(lookup_answers)
{
	struct responder r;
	struct dane_server s;
	struct dane_host h[1];
	char where[32];
	size_t m, u;

	responder_start(&r, 1);
	snprintf(where, sizeof(where), "127.0.0.1:%u", r.port);
	CHECK_INT(dane_server_parse(where, &s), 0);
	memset(h, 0, sizeof(h));
	h[0].host = "mail.example.test";
	dane_lookup(&s, h, 1, 2000);
	responder_stop(&r);
	CHECK(h[0].done);
	CHECK(h[0].fail == NULL);
	CHECK_STR(h[0].qname, "_25._tcp.mail.example.test");
	CHECK_INT(h[0].ans.n, 1);
	CHECK_INT(dane_judge(&h[0].ans, leaf, chain, &m, &u), DANE_V_OK);
	/* the query asked for AD, and for recursion */
	CHECK((r.query_flags & 0x20) != 0);
	dane_answer_free(&h[0].ans);
}

TEST(lookup_timeout_is_bounded)
{
	struct responder r;
	struct dane_server s;
	struct dane_host h[2];
	char where[32];
	long t0;

	responder_start(&r, 0);
	snprintf(where, sizeof(where), "127.0.0.1:%u", r.port);
	CHECK_INT(dane_server_parse(where, &s), 0);
	memset(h, 0, sizeof(h));
	h[0].host = "mail.example.test";
	h[1].host = "mx2.example.test";
	t0 = clock_ms();
	dane_lookup(&s, h, 2, 400);
	CHECK(clock_ms() - t0 < 1000);
	responder_stop(&r);
	for (int i = 0; i < 2; i++) {
		CHECK(h[i].done);
		CHECK_STR(h[i].fail, "timeout");
	}
}

TEST(lookup_refused_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct dane_server s;
	struct dane_host h[1];
	char where[32];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	/* a port nothing listens on any more: ICMP port unreachable */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	close(fd);
	snprintf(where, sizeof(where), "127.0.0.1:%u", ntohs(a.sin_port));
	CHECK_INT(dane_server_parse(where, &s), 0);
	memset(h, 0, sizeof(h));
	h[0].host = "mail.example.test";
	dane_lookup(&s, h, 1, 2000);
	CHECK(h[0].done);
	CHECK(h[0].fail != NULL);
	if (h[0].fail != NULL)
		CHECK(strcmp(h[0].fail, "connection_refused") == 0 ||
		    strcmp(h[0].fail, "timeout") == 0);
}

TEST(teardown)
{
	sk_X509_free(chain);
	sk_X509_free(chain2);
	sk_X509_free(nochain);
	X509_free(ca);
	X509_free(ca2);
	X509_free(leaf);
	X509_free(leaf_same_key);
	X509_free(leaf_other);
	EVP_PKEY_free(kca);
	EVP_PKEY_free(kleaf);
	EVP_PKEY_free(kother);
}

int
main(void)
{
	static const struct harness_test tests[] = {
		RUN(setup),
		RUN(usable),
		RUN(ee_matches_leaf),
		RUN(ta_matches_chain),
		RUN(wrong_lengths_and_types_never_match),
		RUN(judge_several_records),
		RUN(judge_none_and_unavailable),
		RUN(parse_answers),
		RUN(parse_refuses_malformed),
		RUN(record_text),
		RUN(same_binding),
		RUN(server_parse),
		RUN(lookup_answers),
		RUN(lookup_timeout_is_bounded),
		RUN(lookup_refused_port),
		RUN(teardown),
	};

	log_init(stderr, LOG_LEVEL_ERROR);
	return harness_main("dane", tests, sizeof(tests) / sizeof(tests[0]));
}

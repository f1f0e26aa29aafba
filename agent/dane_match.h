/*
 * dane_match: the pure half of the DANE check (RFC 6698, 7671, 7672):
 * a DNS answer's TLSA records (read with the libc's ns_initparse and
 * ns_parserr, never by hand), each record judged against a bundle's leaf
 * and chain, the verdict for one host, the record to publish for a key,
 * and AGENT_DNS_SERVER's parser. No I/O, no clock: unit-tested and
 * fuzzed; agent/dane.c does the lookups and the events.
 */
#ifndef MCA_DANE_MATCH_H
#define MCA_DANE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <openssl/x509.h>

#define DANE_T_TLSA 52			/* the TLSA RR type */
#define DANE_ANSWER_MAX 32768		/* a larger answer is not judged */
#define DANE_RECORDS_MAX 32		/* TLSA records kept per host */
#define DANE_SHOW_HEX 64		/* data shown in an event, hex digits */
/* "3 1 1 " + 128 hex digits (SHA-512), or a shortened mtype-0 record */
#define DANE_RECORD_TEXT (16 + 2 * 64 + 4)

/* Certificate usages, selectors and matching types (RFC 6698 2.1). */
enum { DANE_PKIX_TA, DANE_PKIX_EE, DANE_TA, DANE_EE };
enum { DANE_SEL_CERT, DANE_SEL_SPKI };
enum { DANE_MT_FULL, DANE_MT_SHA256, DANE_MT_SHA512 };

/* One TLSA record; data points into its struct dane_answer's copy. */
struct dane_record {
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t len;
};

/* The TLSA records of one answer, and what its header said. */
struct dane_answer {
	unsigned char *buf;		/* a copy of the answer */
	int rcode;			/* 0 NOERROR, 3 NXDOMAIN, ... */
	bool ad;			/* Authentic Data: never validated here */
	bool more;			/* more TLSA records than DANE_RECORDS_MAX */
	size_t n;
	struct dane_record rec[DANE_RECORDS_MAX];
};

/*
 * Reads the TLSA records (class IN) of a DNS answer's answer section,
 * whatever their owner (a CNAME chain's target included). A record's
 * rdata shorter than 4 bytes is malformed: the answer is refused.
 * Returns 0, or -1 (not a DNS message, too large, malformed, no memory)
 * with a. empty. Free with dane_answer_free either way.
 */
int dane_parse_answer(const unsigned char *msg, size_t len, struct dane_answer *a);
void dane_answer_free(struct dane_answer *a);

/* Why a record cannot be judged, or DANE_USABLE. */
enum dane_usable {
	DANE_USABLE,
	DANE_UNUSABLE_PKIX,		/* usage 0 or 1: out of scope (RFC 7672 3.1.3) */
	DANE_UNUSABLE_USAGE,
	DANE_UNUSABLE_SELECTOR,
	DANE_UNUSABLE_MTYPE,
	DANE_UNUSABLE_LENGTH,		/* a digest of the wrong size, or no data */
	DANE_UNUSABLE__MAX
};

extern const char *const dane_usable_names[DANE_UNUSABLE__MAX];

enum dane_usable dane_record_usable(const struct dane_record *r);

/*
 * True when the usable record r matches the bundle: DANE-EE (3) its leaf,
 * DANE-TA (2) one of the certificates after it.
 */
bool dane_record_matches(const struct dane_record *r, X509 *leaf,
    STACK_OF(X509) *chain);

/* The verdict for one host's answer. */
enum dane_verdict {
	DANE_V_OK,			/* a usable record matches */
	DANE_V_MISMATCH,		/* usable records, none matches */
	DANE_V_NONE,			/* no record (NXDOMAIN, NODATA), or none usable */
	DANE_V_UNAVAILABLE,		/* an error answer, or records left unread */
};

/*
 * Judges a parsed answer against the bundle; *matched is the index of the
 * first matching record (DANE_V_OK), *usable the count of usable records.
 */
enum dane_verdict dane_judge(const struct dane_answer *a, X509 *leaf,
    STACK_OF(X509) *chain, size_t *matched, size_t *usable);

/*
 * r as a zone file writes it, "3 1 1 ab12...": the data in full up to
 * DANE_SHOW_HEX hex digits, else cut with "...".
 */
void dane_record_text(const struct dane_record *r, char out[DANE_RECORD_TEXT]);

/* The "3 1 1 <SHA-256 of the SPKI>" record of leaf's key. Returns 0 or -1. */
int dane_record_for(X509 *leaf, char out[DANE_RECORD_TEXT]);

/*
 * True when a TLSA record could not tell the two bundles apart: the same
 * leaf key (SPKI) and the same chain after the leaf, certificate for
 * certificate. Then nothing a 3 1 x or 2 x x record binds has changed.
 */
bool dane_same_binding(X509 *leaf_a, STACK_OF(X509) *chain_a, X509 *leaf_b,
    STACK_OF(X509) *chain_b);

/* AGENT_DNS_SERVER: an IPv4 or IPv6 address, with an optional port. */
struct dane_server {
	int family;			/* AF_INET or AF_INET6 */
	struct in_addr v4;
	struct in6_addr v6;
	uint16_t port;			/* 53 unless given */
};

/*
 * "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:5353".
 * Returns 0, or -1 when s is none of these (a name is refused: the
 * resolver must be reachable without a resolver).
 */
int dane_server_parse(const char *s, struct dane_server *out);

#endif

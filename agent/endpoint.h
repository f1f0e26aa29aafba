/* endpoint: what to probe (URL form) and Mailu's default port set. */
#ifndef MCA_ENDPOINT_H
#define MCA_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The dialogue spoken before the TLS handshake. */
enum starttls_kind {
	STARTTLS_NONE,		/* implicit TLS */
	STARTTLS_SMTP,
	STARTTLS_IMAP,
	STARTTLS_POP3,
	STARTTLS_SIEVE,
	STARTTLS__MAX
};

/* Which daemon in Mailu's front serves a port: names the one to blame. */
enum service {
	SERVICE_NGINX,
	SERVICE_DOVECOT,
	SERVICE__MAX
};

enum proto {
	PROTO_HTTPS,
	PROTO_SMTP,		/* 25, STARTTLS, nginx */
	PROTO_SMTPS,		/* 465, submissions */
	PROTO_SUBMISSION,	/* 587, STARTTLS */
	PROTO_IMAPS,
	PROTO_IMAP,
	PROTO_POP3S,
	PROTO_POP3,
	PROTO_SIEVE,
	PROTO__MAX
};

struct proto_info {
	const char *scheme;		/* URL scheme, e.g. "imap+starttls" */
	uint16_t port;			/* Mailu's port for it */
	enum starttls_kind starttls;
	enum service service;
};

extern const struct proto_info proto_table[PROTO__MAX];
extern const char *const service_names[SERVICE__MAX];
extern const char *const starttls_names[STARTTLS__MAX];

#define ENDPOINT_HOST_MAX 255

struct endpoint {
	enum proto proto;
	char host[ENDPOINT_HOST_MAX + 1];	/* name or address, no brackets */
	uint16_t port;
	bool proxy;				/* send a PROXY v2 header first */
	char url[ENDPOINT_HOST_MAX + 64];	/* canonical form, for events */
};

/* A port number, 1..65535, digits only. Returns 0, or -1. */
int endpoint_parse_port(const char *s, uint16_t *out);

/* Parses "scheme://host[:port]". Returns 0, or -1 with err filled in. */
int endpoint_parse(const char *s, struct endpoint *ep, char *err, size_t errlen);

/*
 * Parses a comma-separated list. Returns 0 with *eps (malloc'd) and *n,
 * or -1 with err filled in.
 */
int endpoint_list_parse(const char *csv, struct endpoint **eps, size_t *n,
    char *err, size_t errlen);

/*
 * A set of Mailu port numbers, as in Mailu's PORTS and PROXY_PROTOCOL
 * ("25,465,993", or the words "mail", "all-but-http", "all").
 */
struct port_set {
	size_t n;
	uint16_t ports[64];
};

int port_set_parse(const char *s, struct port_set *set, char *err, size_t errlen);
bool port_set_has(const struct port_set *set, uint16_t port);

/*
 * Which TLS services Mailu's front listens on, by Mailu's own rules
 * (core/base socrate system.py sets PORT_n and TLS_n; core/nginx's
 * nginx.conf and dovecot/proxy.conf listen by them): with TLS off
 * (TLS_FLAVOR=notls) none; else SMTP 25 always (Mailu: "ports 25, 465 and
 * 993 cannot be disabled"); HTTPS 443, SMTPS 465 and IMAPS 993 when in
 * tls (Mailu's TLS, default all); POP3S 995 when in tls and in ports;
 * IMAP 143, POP3 110, submission 587 and ManageSieve 4190 (STARTTLS)
 * when in ports (Mailu's PORTS).
 */
bool endpoint_mailu_serves(enum proto p, const struct port_set *ports,
    const struct port_set *tls, bool tls_on);

/*
 * Mailu's TLS endpoints on one host, as endpoint_mailu_serves says.
 * Returns the number written to out (at most PROTO__MAX).
 */
size_t endpoint_defaults(const char *host, const struct port_set *ports,
    const struct port_set *tls, bool tls_on, struct endpoint out[PROTO__MAX]);

/* Marks endpoints whose Mailu port or actual port is in proxy_ports. */
void endpoint_mark_proxy(struct endpoint *eps, size_t n,
    const struct port_set *proxy_ports);

/* Checks a DNS host name (letters, digits, '-', '.', optional "*." prefix). */
bool endpoint_valid_hostname(const char *s, bool allow_wildcard);

#endif

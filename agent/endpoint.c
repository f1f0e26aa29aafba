/*
 * endpoint: parsing of endpoint URLs and Mailu's port lists. Everything
 * here comes from settings, so it is validated strictly and early.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

const struct proto_info proto_table[PROTO__MAX] = {
	[PROTO_HTTPS] = { "https", 443, STARTTLS_NONE, SERVICE_NGINX },
	[PROTO_SMTP] = { "smtp+starttls", 25, STARTTLS_SMTP, SERVICE_NGINX },
	[PROTO_SMTPS] = { "smtps", 465, STARTTLS_NONE, SERVICE_DOVECOT },
	[PROTO_SUBMISSION] = { "submission+starttls", 587, STARTTLS_SMTP,
	    SERVICE_DOVECOT },
	[PROTO_IMAPS] = { "imaps", 993, STARTTLS_NONE, SERVICE_DOVECOT },
	[PROTO_IMAP] = { "imap+starttls", 143, STARTTLS_IMAP, SERVICE_DOVECOT },
	[PROTO_POP3S] = { "pop3s", 995, STARTTLS_NONE, SERVICE_DOVECOT },
	[PROTO_POP3] = { "pop3+starttls", 110, STARTTLS_POP3, SERVICE_DOVECOT },
	[PROTO_SIEVE] = { "sieve+starttls", 4190, STARTTLS_SIEVE,
	    SERVICE_DOVECOT },
};

const char *const service_names[SERVICE__MAX] = { "nginx", "dovecot" };

const char *const starttls_names[STARTTLS__MAX] = {
	"none", "smtp", "imap", "pop3", "sieve",
};

/* Accepted spellings beside the canonical scheme names. */
static const struct {
	const char *alias;
	enum proto proto;
} scheme_aliases[] = {
	{ "submissions", PROTO_SMTPS },
	{ "managesieve+starttls", PROTO_SIEVE },
};

/* Mailu's groups for PROXY_PROTOCOL (core/base socrate clean_env). */
static const uint16_t ports_mail[] = { 25, 110, 995, 143, 993, 587, 465, 4190 };

static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

bool
endpoint_valid_hostname(const char *s, bool allow_wildcard)
{
	size_t len = strlen(s), label = 0;

	if (allow_wildcard && strncmp(s, "*.", 2) == 0) {
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 253)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 || s[len - 1] == '.';
}

static bool
valid_host(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1 ||
	    endpoint_valid_hostname(h, false);
}

int
endpoint_parse_port(const char *s, uint16_t *out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
endpoint_parse(const char *s, struct endpoint *ep, char *err, size_t errlen)
{
	const char *sep, *hs, *he, *ps = NULL;
	char scheme[32], port[8];
	size_t slen, hlen;
	int proto = -1;

	memset(ep, 0, sizeof(*ep));
	sep = strstr(s, "://");
	if (sep == NULL || (slen = (size_t)(sep - s)) == 0 ||
	    slen >= sizeof(scheme))
		return fail(err, errlen, "endpoint '%.80s' is not scheme://host[:port]", s);
	memcpy(scheme, s, slen);
	scheme[slen] = '\0';
	for (size_t i = 0; i < slen; i++)
		scheme[i] = (char)tolower((unsigned char)scheme[i]);
	for (int i = 0; i < PROTO__MAX; i++)
		if (strcmp(scheme, proto_table[i].scheme) == 0)
			proto = i;
	for (size_t i = 0; i < sizeof(scheme_aliases) / sizeof(scheme_aliases[0]); i++)
		if (strcmp(scheme, scheme_aliases[i].alias) == 0)
			proto = (int)scheme_aliases[i].proto;
	if (proto < 0)
		return fail(err, errlen, "unknown endpoint scheme '%.31s'", scheme);
	ep->proto = (enum proto)proto;

	/* host is a name, an IPv4 address, or an IPv6 address in brackets */
	hs = sep + 3;
	if (*hs == '[') {
		hs++;
		he = strchr(hs, ']');
		if (he == NULL)
			return fail(err, errlen, "endpoint '%.80s': missing ']'", s);
		if (he[1] == ':')
			ps = he + 2;
		else if (he[1] != '\0')
			return fail(err, errlen, "endpoint '%.80s': junk after host", s);
	} else {
		he = strchr(hs, ':');
		if (he != NULL)
			ps = he + 1;
		else
			he = hs + strlen(hs);
	}
	hlen = (size_t)(he - hs);
	if (hlen == 0 || hlen > ENDPOINT_HOST_MAX)
		return fail(err, errlen, "endpoint '%.80s': bad host", s);
	memcpy(ep->host, hs, hlen);
	ep->host[hlen] = '\0';
	if (!valid_host(ep->host))
		return fail(err, errlen, "endpoint '%.80s': bad host", s);

	if (ps == NULL) {
		ep->port = proto_table[proto].port;
	} else {
		if (strlen(ps) >= sizeof(port) || strchr(ps, '/') != NULL)
			return fail(err, errlen, "endpoint '%.80s': bad port", s);
		snprintf(port, sizeof(port), "%s", ps);
		if (endpoint_parse_port(port, &ep->port) != 0)
			return fail(err, errlen, "endpoint '%.80s': bad port", s);
	}
	snprintf(ep->url, sizeof(ep->url),
	    strchr(ep->host, ':') != NULL ? "%s://[%s]:%u" : "%s://%s:%u",
	    proto_table[proto].scheme, ep->host, (unsigned)ep->port);
	return 0;
}

int
endpoint_list_parse(const char *csv, struct endpoint **eps, size_t *n,
    char *err, size_t errlen)
{
	struct endpoint *list = NULL, *grown;
	char *copy, *tok, *save = NULL;
	size_t count = 0;
	int rc = -1;

	*eps = NULL;
	*n = 0;
	if ((copy = strdup(csv)) == NULL)
		return fail(err, errlen, "%s", "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (char *e = tok + strlen(tok); e > tok &&
		    isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (*tok == '\0')
			continue;
		if (count >= 256) {
			fail(err, errlen, "%s", "more than 256 endpoints");
			goto out;
		}
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (grown == NULL) {
			fail(err, errlen, "%s", "out of memory");
			goto out;
		}
		list = grown;
		if (endpoint_parse(tok, &list[count], err, errlen) != 0)
			goto out;
		count++;
	}
	if (count == 0) {
		fail(err, errlen, "%s", "no endpoint given");
		goto out;
	}
	*eps = list;
	*n = count;
	list = NULL;
	rc = 0;
out:
	free(list);
	free(copy);
	return rc;
}

static int
port_set_add(struct port_set *set, uint16_t port)
{
	if (port_set_has(set, port))
		return 0;
	if (set->n >= sizeof(set->ports) / sizeof(set->ports[0]))
		return -1;
	set->ports[set->n++] = port;
	return 0;
}

int
port_set_parse(const char *s, struct port_set *set, char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL;
	uint16_t port;

	memset(set, 0, sizeof(*set));
	if (strlen(s) >= sizeof(buf))
		return fail(err, errlen, "%s", "port list too long");
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		bool mail = strcmp(tok, "mail") == 0;
		bool nohttp = strcmp(tok, "all-but-http") == 0;
		bool all = strcmp(tok, "all") == 0;

		if (mail || nohttp || all) {
			for (size_t i = 0; i < sizeof(ports_mail) / sizeof(ports_mail[0]); i++)
				port_set_add(set, ports_mail[i]);
			if (nohttp || all)
				port_set_add(set, 443);
			if (all)
				port_set_add(set, 80);
			continue;
		}
		if (endpoint_parse_port(tok, &port) != 0)
			return fail(err, errlen, "'%.32s' is not a port number", tok);
		if (port_set_add(set, port) != 0)
			return fail(err, errlen, "%s", "too many ports");
	}
	return 0;
}

bool
port_set_has(const struct port_set *set, uint16_t port)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ports[i] == port)
			return true;
	return false;
}

bool
endpoint_mailu_serves(enum proto p, const struct port_set *ports,
    const struct port_set *tls, bool tls_on)
{
	uint16_t port = proto_table[p].port;

	if (!tls_on)
		return false;
	switch (p) {
	case PROTO_SMTP:
		return true;
	case PROTO_HTTPS:
	case PROTO_SMTPS:
	case PROTO_IMAPS:
		return port_set_has(tls, port);
	case PROTO_POP3S:
		return port_set_has(tls, port) && port_set_has(ports, port);
	default:
		return port_set_has(ports, port);
	}
}

size_t
endpoint_defaults(const char *host, const struct port_set *ports,
    const struct port_set *tls, bool tls_on, struct endpoint out[PROTO__MAX])
{
	char url[ENDPOINT_HOST_MAX + 64], err[128];
	size_t n = 0;

	for (int i = 0; i < PROTO__MAX; i++) {
		const struct proto_info *pi = &proto_table[i];

		if (!endpoint_mailu_serves((enum proto)i, ports, tls, tls_on))
			continue;
		snprintf(url, sizeof(url),
		    strchr(host, ':') != NULL ? "%s://[%s]" : "%s://%s",
		    pi->scheme, host);
		if (endpoint_parse(url, &out[n], err, sizeof(err)) == 0)
			n++;
	}
	return n;
}

void
endpoint_mark_proxy(struct endpoint *eps, size_t n,
    const struct port_set *proxy_ports)
{
	for (size_t i = 0; i < n; i++)
		eps[i].proxy = port_set_has(proxy_ports,
		    proto_table[eps[i].proto].port) ||
		    port_set_has(proxy_ports, eps[i].port);
}

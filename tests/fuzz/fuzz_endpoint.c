/*
 * fuzz_endpoint: endpoint URL lists and Mailu's port lists
 * (agent/endpoint.c), as AGENT_ENDPOINTS, PORTS and PROXY_PROTOCOL reach
 * them. The input is cut at its first NUL: the first part goes to
 * endpoint_list_parse, port_set_parse and endpoint_valid_hostname, the
 * second to port_set_parse, and the set is used to mark PROXY endpoints
 * and to build the defaults for the first endpoint's host. Checks: each
 * parsed endpoint has a port, a valid host and a canonical URL that
 * parses back to the same endpoint; a port set holds distinct non-zero
 * ports; and every default endpoint passes the same checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_set(const char *s, struct port_set *set, bool *ok)
{
	char err[160];

	memset(err, 'x', sizeof(err));
	*ok = port_set_parse(s, set, err, sizeof(err)) == 0;
	if (!*ok) {
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		return;
	}
	if (set->n > sizeof(set->ports) / sizeof(set->ports[0]))
		abort();
	for (size_t i = 0; i < set->n; i++) {
		if (set->ports[i] == 0 || !port_set_has(set, set->ports[i]))
			abort();
		for (size_t j = 0; j < i; j++)
			if (set->ports[j] == set->ports[i])
				abort();
	}
}

static void
check_endpoint(const struct endpoint *ep)
{
	struct endpoint again;
	char err[128];

	if (ep->port == 0 || ep->proto >= PROTO__MAX || ep->host[0] == '\0' ||
	    memchr(ep->host, '\0', sizeof(ep->host)) == NULL ||
	    memchr(ep->url, '\0', sizeof(ep->url)) == NULL)
		abort();
	if (endpoint_parse(ep->url, &again, err, sizeof(err)) != 0 ||
	    again.proto != ep->proto || again.port != ep->port ||
	    strcmp(again.host, ep->host) != 0 || strcmp(again.url, ep->url) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct endpoint *eps = NULL, defs[PROTO__MAX];
	struct port_set set;
	char *s, *ports, err[160];
	size_t n = 0, nd;
	bool ok;

	/* s = the first part, ports = the second (or "") */
	if ((s = malloc(size + 2)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = s[size + 1] = '\0';
	ports = s + strlen(s) + 1;

	memset(err, 'x', sizeof(err));
	if (endpoint_list_parse(s, &eps, &n, err, sizeof(err)) == 0) {
		if (eps == NULL || n == 0 || n > 256)
			abort();
		for (size_t i = 0; i < n; i++)
			check_endpoint(&eps[i]);
	} else if (eps != NULL || n != 0 || memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}

	check_set(s, &set, &ok);
	check_set(ports, &set, &ok);
	if (ok && n > 0) {
		endpoint_mark_proxy(eps, n, &set);
		for (size_t i = 0; i < n; i++)
			if (eps[i].proxy != (port_set_has(&set, eps[i].port) ||
			    port_set_has(&set, proto_table[eps[i].proto].port)))
				abort();
		nd = endpoint_defaults(eps[0].host, &set, &set, true, defs);
		if (nd > PROTO__MAX)
			abort();
		for (size_t i = 0; i < nd; i++)
			check_endpoint(&defs[i]);
	}

	endpoint_valid_hostname(s, true);
	endpoint_valid_hostname(s, false);
	free(eps);
	free(s);
	return 0;
}

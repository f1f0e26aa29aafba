/* Endpoint URLs, Mailu's PORTS/PROXY_PROTOCOL lists and the default set. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <netinet/in.h>

#include "endpoint.h"
#include "harness.h"
#include "proxyproto.h"

TEST(parse_forms)
{
	struct endpoint ep;
	char err[160];

	CHECK_INT(endpoint_parse("imaps://front:993", &ep, err, sizeof(err)), 0);
	CHECK_INT(ep.proto, PROTO_IMAPS);
	CHECK_STR(ep.host, "front");
	CHECK_INT(ep.port, 993);
	CHECK_INT(endpoint_parse("smtp+starttls://127.0.0.1", &ep, err, sizeof(err)), 0);
	CHECK_INT(ep.port, 25);
	CHECK_STR(ep.url, "smtp+starttls://127.0.0.1:25");
	CHECK_INT(endpoint_parse("SIEVE+STARTTLS://[::1]:4190", &ep, err, sizeof(err)), 0);
	CHECK_STR(ep.host, "::1");
	CHECK_STR(ep.url, "sieve+starttls://[::1]:4190");
	CHECK_INT(endpoint_parse("submissions://mail.example.com", &ep, err, sizeof(err)), 0);
	CHECK_INT(ep.proto, PROTO_SMTPS);
	CHECK_INT(ep.port, 465);
}

TEST(parse_rejects)
{
	static const char *const bad[] = {
		"front:993", "ftp://front", "imaps://", "imaps://front:0",
		"imaps://front:65536", "imaps://front:99x", "imaps://fr ont",
		"imaps://[::1", "imaps://[::1]x", "imaps://front:993/path",
		"://front", "imaps://front:-1",
	};
	struct endpoint ep;
	char err[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(endpoint_parse(bad[i], &ep, err, sizeof(err)), -1);
		CHECK(err[0] != '\0');
	}
}

TEST(list_parse)
{
	struct endpoint *eps = NULL;
	size_t n = 0;
	char err[160];

	CHECK_INT(endpoint_list_parse(" https://a:1, imaps://b ,,pop3s://c:3", &eps, &n,
	    err, sizeof(err)), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(eps[1].url, "imaps://b:993");
		CHECK_INT(eps[2].port, 3);
	}
	free(eps);
	CHECK_INT(endpoint_list_parse(" , ", &eps, &n, err, sizeof(err)), -1);
	CHECK_INT(endpoint_list_parse("https://a,nope", &eps, &n, err, sizeof(err)), -1);
	CHECK(eps == NULL);
}

TEST(port_sets_follow_mailu)
{
	struct port_set set;
	char err[160];

	CHECK_INT(port_set_parse("25,443", &set, err, sizeof(err)), 0);
	CHECK(port_set_has(&set, 25) && port_set_has(&set, 443));
	CHECK(!port_set_has(&set, 993));
	CHECK_INT(port_set_parse("mail", &set, err, sizeof(err)), 0);
	CHECK_INT(set.n, 8);
	CHECK(!port_set_has(&set, 443));
	CHECK_INT(port_set_parse("all-but-http", &set, err, sizeof(err)), 0);
	CHECK(port_set_has(&set, 443) && !port_set_has(&set, 80));
	CHECK_INT(port_set_parse("all", &set, err, sizeof(err)), 0);
	CHECK(port_set_has(&set, 80));
	CHECK_INT(port_set_parse("", &set, err, sizeof(err)), 0);
	CHECK_INT(set.n, 0);
	CHECK_INT(port_set_parse("25,http", &set, err, sizeof(err)), -1);
}

/* The Mailu ports a front serves with TLS, as a string of ports in proto order. */
static void
served(const char *ports_s, const char *tls_s, bool tls_on, char *out, size_t len)
{
	struct endpoint eps[PROTO__MAX];
	struct port_set ports, tls;
	char err[160];
	size_t n, used = 0;

	CHECK_INT(port_set_parse(ports_s, &ports, err, sizeof(err)), 0);
	CHECK_INT(port_set_parse(tls_s, &tls, err, sizeof(err)), 0);
	n = endpoint_defaults("front", &ports, &tls, tls_on, eps);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%u", i ? "," : "",
		    (unsigned)proto_table[eps[i].proto].port);
}

/*
 * Mailu's rules (socrate's PORT_n/TLS_n, nginx.conf, dovecot proxy.conf):
 * 25 always; 443, 465, 993 when in TLS; 995 in TLS and PORTS; 110, 143,
 * 587, 4190 in PORTS; notls serves none.
 */
TEST(defaults_follow_mailus_rules)
{
	static const struct {
		const char *ports, *tls;
		bool on;
		const char *want;
	} t[] = {
		/* Mailu's default PORTS, TLS unset (all) */
		{ "25,80,443,465,993,995,4190", "25,80,443,465,993,995,4190", true,
		  "443,25,465,993,995,4190" },
		/* the Helm chart's PORTS: 25, 465, 993 cannot be disabled */
		{ "80,443,4190", "25,80,443,465,993,995,4190", true,
		  "443,25,465,993,4190" },
		/* 110, 143, 587 appended */
		{ "25,80,443,465,993,995,4190,110,143,587", "25,80,443,465,993,995,4190",
		  true, "443,25,465,587,993,143,995,110,4190" },
		/* a TLS restriction: no HTTPS, no POP3S */
		{ "25,80,443,465,993,995,4190", "465,993", true, "25,465,993,4190" },
		/* 995 needs both lists */
		{ "25,80,443,465,993,4190", "25,80,443,465,993,995,4190", true,
		  "443,25,465,993,4190" },
		/* TLS_FLAVOR=notls: no TLS at all */
		{ "25,80,443,465,993,995,4190,110,143,587", "25,80,443,465,993,995,4190",
		  false, "" },
	};
	char got[128];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		served(t[i].ports, t[i].tls, t[i].on, got, sizeof(got));
		CHECK_STR(got, t[i].want);
	}
}

TEST(defaults_hosts_and_proxy)
{
	struct endpoint out[PROTO__MAX];
	struct port_set set, tls, proxy;
	char err[160];
	size_t n;

	port_set_parse("25,80,443,465,993,995,4190,110,143,587", &set, err, sizeof(err));
	port_set_parse("443,465,993,995", &tls, err, sizeof(err));
	CHECK_INT(endpoint_defaults("front", &set, &tls, true, out), 9);
	n = endpoint_defaults("::1", &set, &tls, true, out);
	CHECK_STR(out[0].url, "https://[::1]:443");

	port_set_parse("993,41465", &proxy, err, sizeof(err));
	n = endpoint_defaults("front", &set, &tls, true, out);
	endpoint_mark_proxy(out, n, &proxy);
	for (size_t i = 0; i < n; i++)
		CHECK_INT(out[i].proxy, out[i].proto == PROTO_IMAPS);
	/* the actual port counts too (a test bed on high ports) */
	CHECK_INT(endpoint_parse("smtps://127.0.0.1:41465", &out[0], err, sizeof(err)), 0);
	endpoint_mark_proxy(out, 1, &proxy);
	CHECK(out[0].proxy);
}

TEST(hostnames)
{
	CHECK(endpoint_valid_hostname("mail.example.com", false));
	CHECK(!endpoint_valid_hostname("*.example.com", false));
	CHECK(endpoint_valid_hostname("*.example.com", true));
	CHECK(!endpoint_valid_hostname("a..b", false));
	CHECK(!endpoint_valid_hostname("", false));
	CHECK(!endpoint_valid_hostname("a b", false));
}

TEST(proxy_v2_header)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(40000) };
	struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons(993) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	unsigned char out[PROXYPROTO_V2_MAX];
	int n;

	inet_pton(AF_INET, "127.0.0.2", &s.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
	n = proxyproto_v2((struct sockaddr *)&s, (struct sockaddr *)&d, out, sizeof(out));
	CHECK_INT(n, 28);
	CHECK(memcmp(out, "\r\n\r\n\0\r\nQUIT\n", 12) == 0);
	CHECK_INT(out[12], 0x21);
	CHECK_INT(out[13], 0x11);
	CHECK_INT(out[15], 12);
	CHECK_INT(out[16], 127);
	CHECK_INT(out[19], 2);
	CHECK_INT(out[24] * 256 + out[25], 40000);
	CHECK_INT(out[26] * 256 + out[27], 993);
	/* mixed families and short buffers are refused */
	CHECK_INT(proxyproto_v2((struct sockaddr *)&s6, (struct sockaddr *)&d, out,
	    sizeof(out)), -1);
	CHECK_INT(proxyproto_v2((struct sockaddr *)&s, (struct sockaddr *)&d, out, 20), -1);
}

HARNESS_MAIN("endpoint", RUN(parse_forms), RUN(parse_rejects), RUN(list_parse),
    RUN(port_sets_follow_mailu), RUN(defaults_follow_mailus_rules), RUN(defaults_hosts_and_proxy),
    RUN(hostnames), RUN(proxy_v2_header))

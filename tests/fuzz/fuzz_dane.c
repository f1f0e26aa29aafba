/*
 * fuzz_dane: the DNS answers the DANE check reads (agent/dane_match.c):
 * dane_parse_answer over arbitrary bytes, then every record it kept
 * judged against a fixed bundle (the leaf and CA of
 * corpus/cert/chain-only.pem, embedded below) with dane_record_usable,
 * dane_record_matches, dane_record_text and dane_judge. Checks: a refused
 * answer leaves nothing behind; a kept record lies inside the copy of the
 * answer; only a usable record matches; the verdict agrees with the
 * records (a match names a matching record, a mismatch has usable
 * records and none left unread). The input's first 64 bytes also go
 * through dane_server_parse (AGENT_DNS_SERVER).
 * Seeds (corpus/dane): answers holding this leaf's 3 1 1 and the CA's
 * 2 1 1, 3 0 0, NXDOMAIN, a CNAME then TLSA, too many records, a cut RR.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "dane_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char bundle_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBrzCCAVSgAwIBAgIUdzir5aGBEfgpq13Ix3IxrkSsKXAwCgYIKoZIzj0EAwIw\n"
	"FzEVMBMGA1UEAwwMZnV6eiB0ZXN0IENBMB4XDTI2MTEyODEwMTkyOFoXDTM2MTEy\n"
	"NTEwMTkyOFowHDEaMBgGA1UEAwwRbWFpbC5leGFtcGxlLnRlc3QwWTATBgcqhkjO\n"
	"PQIBBggqhkjOPQMBBwNCAAQ2ysk3afuJB2SRlpF6PCrnQuWBHq/t7z9UrB01dXwE\n"
	"7W6gvE7bhN86J8R5B+5lao3djGJQRQ7iaIEPYY2828KLo3kwdzAqBgNVHREEIzAh\n"
	"ghFtYWlsLmV4YW1wbGUudGVzdIIMZXhhbXBsZS50ZXN0MAkGA1UdEwQCMAAwHQYD\n"
	"VR0OBBYEFJDfBTUiRRJzDRChO5kkLL1WMRnMMB8GA1UdIwQYMBaAFD+9tskUSRAu\n"
	"dTFQBaXJXNaS1DWZMAoGCCqGSM49BAMCA0kAMEYCIQDqd8fjevwrgDDk5ediJSGV\n"
	"/an4AL+p7LhY/m5gLcHWJAIhAIHXV8cUrXUV1nHlPBUPfGxV8H5MCP+lhGWkWg3O\n"
	"mGXG\n"
	"-----END CERTIFICATE-----\n"
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBgjCCASmgAwIBAgIUafhrFign3N+imr9zDrhC1x17TTQwCgYIKoZIzj0EAwIw\n"
	"FzEVMBMGA1UEAwwMZnV6eiB0ZXN0IENBMB4XDTI2MTEyODEwMTkyN1oXDTM2MTEy\n"
	"NTEwMTkyN1owFzEVMBMGA1UEAwwMZnV6eiB0ZXN0IENBMFkwEwYHKoZIzj0CAQYI\n"
	"KoZIzj0DAQcDQgAEv4eAB0XVlp4WIq+bGJC5TyBODmBW5HWQkbDFKvuYSe2fbh/J\n"
	"Y4JAXEQlIsBzOScrOLmBiryf4brJ/OLfw125NqNTMFEwHQYDVR0OBBYEFD+9tskU\n"
	"SRAudTFQBaXJXNaS1DWZMB8GA1UdIwQYMBaAFD+9tskUSRAudTFQBaXJXNaS1DWZ\n"
	"MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgcsoYiV9KjB4ECrNO\n"
	"sESkW5sAxFRsba84yfO4h2+WL/ICIFi7zPqw4WDQ5m19Uve3k9TqytSU3MOBzSTp\n"
	"oQuAYrUs\n"
	"-----END CERTIFICATE-----\n"
;

static struct cert_pair bundle;

static void
check_server(const uint8_t *data, size_t size)
{
	char s[65];
	struct dane_server ds;
	size_t n = size < 64 ? size : 64;

	memcpy(s, data, n);
	s[n] = '\0';
	if (dane_server_parse(s, &ds) != 0)
		return;
	if ((ds.family != AF_INET && ds.family != AF_INET6) || ds.port == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dane_answer a;
	char text[DANE_RECORD_TEXT];
	size_t matched, usable, n_usable = 0;
	enum cert_reason why;
	enum dane_verdict v;

	if (bundle.leaf == NULL && cert_parse_chain((const unsigned char *)bundle_pem,
	    sizeof(bundle_pem) - 1, &bundle, &why) != 0)
		abort();
	check_server(data, size);
	if (dane_parse_answer(data, size, &a) != 0) {
		if (a.buf != NULL || a.n != 0)
			abort();
		return 0;
	}
	if (a.n > DANE_RECORDS_MAX || (a.more && a.n != DANE_RECORDS_MAX))
		abort();
	for (size_t i = 0; i < a.n; i++) {
		const struct dane_record *r = &a.rec[i];
		bool usable_one = dane_record_usable(r) == DANE_USABLE;

		if (r->len == 0 || r->data < a.buf + 3 || r->data + r->len > a.buf + size)
			abort();
		dane_record_text(r, text);
		if (strlen(text) >= sizeof(text))
			abort();
		if (dane_record_matches(r, bundle.leaf, bundle.chain) && !usable_one)
			abort();
		n_usable += usable_one;
	}
	v = dane_judge(&a, bundle.leaf, bundle.chain, &matched, &usable);
	if (a.rcode == 0 && usable > n_usable)
		abort();
	switch (v) {
	case DANE_V_OK:
		if (matched >= a.n || !dane_record_matches(&a.rec[matched],
		    bundle.leaf, bundle.chain))
			abort();
		break;
	case DANE_V_MISMATCH:
		if (usable == 0 || a.more || a.rcode != 0)
			abort();
		break;
	case DANE_V_NONE:
		if (a.rcode == 0 && (n_usable > 0 || a.more))
			abort();
		break;
	case DANE_V_UNAVAILABLE:
		if (a.rcode == 0 && !a.more)
			abort();
		break;
	}
	dane_answer_free(&a);
	return 0;
}

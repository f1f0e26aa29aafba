/*
 * fuzz_acme_json: Traefik's acme.json (agent/acme_json.c), only through
 * its public acme_json_select, as source_read's traefik path uses it: the
 * store bytes, then the chosen pair's certificate and key parsed by
 * cert.c. Each input is judged twice: for Mailu's host names in any
 * resolver, and for resolver "le" with no host names (newest wins).
 * Checks the contract in acme_json.h: the documented reasons only, a
 * complete pair on success whose fingerprint is its leaf's, and a
 * NUL-terminated detail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "acme_json.h"
#include "cert.h"
#include "install.h"

/* 2027-06-01T00:00:00Z, as in fuzz_cert.c. */
#define FUZZ_NOW ((time_t)1811808000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one(const uint8_t *data, size_t size, const char *resolver, char *const *names,
    size_t n_names)
{
	struct install_pair out;
	struct cert_pair parsed;
	enum cert_reason why = CERT__MAX;
	char detail[256];
	int rc;

	memset(&out, 0, sizeof(out));
	memset(&parsed, 0, sizeof(parsed));
	memset(detail, 'x', sizeof(detail));
	rc = acme_json_select(data, size, resolver, names, n_names, FUZZ_NOW, &out,
	    &why, detail, sizeof(detail));
	if (memchr(detail, '\0', sizeof(detail)) == NULL)
		abort();
	if (rc != 0) {
		if (rc != -1 || (why != CERT_BAD_ACME_JSON &&
		    why != CERT_HOSTNAME_MISMATCH && why != CERT_EXPIRED &&
		    why != CERT_TOO_LARGE && why != CERT_NO_CERTIFICATE))
			abort();
		install_pair_free(&out);
		return;
	}
	if (out.cert_pem == NULL || out.cert_len == 0 || out.key_pem == NULL ||
	    strlen(out.fingerprint) != CERT_FP_HEX)
		abort();
	/* what source_read does next: the chosen certificate always parses */
	if (cert_parse_chain(out.cert_pem, out.cert_len, &parsed, &why) != 0 ||
	    strcmp(parsed.fingerprint, out.fingerprint) != 0)
		abort();
	cert_parse_key(out.key_pem, out.key_len, &parsed, &why);
	cert_pair_free(&parsed);
	install_pair_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const names[] = { "mail.example.test", "example.test" };

	one(data, size, NULL, names, 2);
	one(data, size, "le", NULL, 0);
	ERR_clear_error();
	return 0;
}

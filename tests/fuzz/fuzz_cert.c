/*
 * fuzz_cert: PEM bundle loading (agent/cert.c), as every source hands
 * bytes to it: cert_parse_chain and cert_parse_key over the same bytes
 * (a combined PEM is legal), then what the pipeline does with a parsed
 * pair: key match, SAN names, and cert_validate's checks in their fixed
 * order; for a chain of two or more, once more with its last certificate
 * as AGENT_CA_FILE (a memfd, no file is written), which reaches the chain
 * verification. Checks the reason-code contract: -1 always comes with a
 * reason other than ok, 0 with ok and a complete pair.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "cert.h"

/* 2027-06-01T00:00:00Z: the seeds are valid then, one is long expired. */
#define FUZZ_NOW ((time_t)1811808000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reason(int rc, enum cert_reason why)
{
	if (why >= CERT__MAX || cert_reason_names[why] == NULL)
		abort();
	if ((rc == 0) != (why == CERT_OK) || (rc != 0 && rc != -1))
		abort();
}

static void
check_hex(const char *fp)
{
	if (strlen(fp) != CERT_FP_HEX ||
	    strspn(fp, "0123456789abcdef") != CERT_FP_HEX)
		abort();
}

/* The last certificate of p's chain as a CA file: its path, or NULL. */
static const char *
anchor_file(const struct cert_pair *p)
{
	static int fd = -1;
	static char path[64];
	BIO *bio;
	char *pem;
	long len;
	int ok;

	if (sk_X509_num(p->chain) < 1)
		return NULL;
	if (fd < 0) {
		if ((fd = memfd_create("fuzz-ca.pem", MFD_CLOEXEC)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, sk_X509_value(p->chain,
	    sk_X509_num(p->chain) - 1)) != 1)
		abort();
	len = BIO_get_mem_data(bio, &pem);
	ok = ftruncate(fd, 0) == 0 && pwrite(fd, pem, (size_t)len, 0) == len;
	BIO_free(bio);
	if (!ok)
		abort();
	return path;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const names[] = { "mail.example.test", "example.test" };
	struct cert_policy pol = {
		.hostnames = names, .n_hostnames = 2, .ca_file = NULL,
		.now = FUZZ_NOW, .installed_not_before = FUZZ_NOW - 86400,
		.installed_not_after = FUZZ_NOW + 86400,
	};
	struct cert_pair p;
	enum cert_reason why = CERT__MAX;
	char detail[256], when[32];
	json_t *sans;
	int rc, chain_rc;

	memset(&p, 0, sizeof(p));
	rc = chain_rc = cert_parse_chain(data, size, &p, &why);
	check_reason(rc, why);
	if (rc == 0) {
		if (p.leaf == NULL || p.chain == NULL)
			abort();
		check_hex(p.fingerprint);
		cert_format_time(p.not_after, when);
		if ((sans = cert_names_json(p.leaf)) == NULL || !json_is_array(sans))
			abort();
		json_decref(sans);
	}

	why = CERT__MAX;
	rc = cert_parse_key(data, size, &p, &why);
	check_reason(rc, why);
	if ((rc == 0) != (p.key != NULL))
		abort();

	/* as source_read: only a parsed chain and key are validated */
	if (chain_rc == 0 && p.key != NULL) {
		why = CERT__MAX;
		detail[0] = 'x';
		rc = cert_validate(&p, &pol, &why, detail, sizeof(detail));
		check_reason(rc, why);
		if (memchr(detail, '\0', sizeof(detail)) == NULL)
			abort();
		if (rc == 0 && !cert_key_matches(&p))
			abort();
		/* --force lifts only not_newer */
		pol.force = true;
		if (cert_validate(&p, &pol, &why, detail, sizeof(detail)) != 0 &&
		    why == CERT_NOT_NEWER)
			abort();
		if ((pol.ca_file = anchor_file(&p)) != NULL) {
			rc = cert_validate(&p, &pol, &why, detail, sizeof(detail));
			check_reason(rc, why);
		}
	}
	cert_pair_free(&p);
	if (p.leaf != NULL || p.chain != NULL || p.key != NULL)
		abort();
	ERR_clear_error();
	return 0;
}

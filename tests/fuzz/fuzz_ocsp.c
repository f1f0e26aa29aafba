/*
 * fuzz_ocsp: ocsp_check (agent/ocsp.c) over the bytes of a staple, as a
 * probe hands them over, with the fixed chain of ocsp_chain.h (the leaf
 * and CA the seeds of corpus/ocsp, answers of `openssl ocsp`, are about):
 * at a time the good seeds hold, at one after they all expired, and
 * with the issuer missing from the chain. Checks the verdict's contract:
 * a status in range, none exactly for no bytes, invalid past the size
 * bound or without the issuer, a terminated detail that is empty for
 * good and says why for invalid and revoked, and an OpenSSL error queue
 * left empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ocsp.h"
#include "ocsp_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct ocsp_verdict *v, enum ocsp_staple st, size_t size)
{
	if (st != v->status || (unsigned)st >= OCSP_STAPLE__MAX)
		abort();
	if ((st == OCSP_STAPLE_NONE) != (size == 0))
		abort();
	if (size > OCSP_STAPLE_MAX && st != OCSP_STAPLE_INVALID)
		abort();
	if (memchr(v->detail, '\0', sizeof(v->detail)) == NULL)
		abort();
	if ((st == OCSP_STAPLE_GOOD || st == OCSP_STAPLE_NONE) != (v->detail[0] == '\0'))
		abort();
	if (v->next_update != 0 && st == OCSP_STAPLE_NONE)
		abort();
	if (ERR_peek_error() != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static STACK_OF(X509) *chain, *leaf_only;
	struct ocsp_verdict v;
	enum ocsp_staple st;

	if (chain == NULL) {
		chain = ocsp_fuzz_chain();
		leaf_only = sk_X509_new_null();
		if (chain == NULL || sk_X509_num(chain) != 2 || leaf_only == NULL)
			abort();
		sk_X509_push(leaf_only, sk_X509_value(chain, 0));
		ERR_clear_error();	/* the PEM reader's end of input */
	}
	st = ocsp_check(data, size, chain, OCSP_FUZZ_NOW, &v);
	check(&v, st, size);
	st = ocsp_check(data, size, chain, OCSP_FUZZ_LATE, &v);
	check(&v, st, size);
	st = ocsp_check(data, size, leaf_only, OCSP_FUZZ_NOW, &v);
	check(&v, st, size);
	if (size > 0 && st != OCSP_STAPLE_INVALID)
		abort();
	return 0;
}

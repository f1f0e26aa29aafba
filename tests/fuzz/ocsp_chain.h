/*
 * fuzz_ocsp's fixed chain, which tests/unit/test_ocsp.c reads too: the
 * leaf and CA the seeds of corpus/ocsp are about (ocsp_chain_pem.h, made
 * with them by make-ocsp-seeds.sh; throwaway keys, of no value).
 */
#ifndef MCA_FUZZ_OCSP_CHAIN_H
#define MCA_FUZZ_OCSP_CHAIN_H

#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ocsp_chain_pem.h"

/* 2027-06-01T00:00:00Z: the good seeds hold then (made for 10 years) */
#define OCSP_FUZZ_NOW ((time_t)1811808000)
/* 2040-01-01T00:00:00Z: every seed has expired */
#define OCSP_FUZZ_LATE ((time_t)2208988800)

/* The chain as a server sends it, leaf first; NULL if it does not parse. */
static inline STACK_OF(X509) *
ocsp_fuzz_chain(void)
{
	BIO *b = BIO_new_mem_buf(ocsp_fuzz_pem, (int)sizeof(ocsp_fuzz_pem) - 1);
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;

	while (b != NULL && sk != NULL &&
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	BIO_free(b);
	return sk;
}

#endif

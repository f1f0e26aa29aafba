/*
 * fuzz_proxyproto: the PROXY protocol v2 header writer (agent/proxyproto.c)
 * over arbitrary address pairs and buffer sizes. The input fills two
 * sockaddr_storage (families forced to AF_INET or AF_INET6 by two bits,
 * else kept as they come) and picks the output size. A header that is
 * written is read back by an independent reader here (signature, version
 * and command, family and protocol, length, addresses, ports); anything
 * the writer cannot express must be refused without touching the buffer.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage src, dst;
	unsigned char out[PROXYPROTO_V2_MAX + 16], canary[sizeof(out)];
	size_t outlen;
	int n, fam;

	if (size < 2 + 2 * sizeof(src))
		return 0;
	memcpy(&src, data + 2, sizeof(src));
	memcpy(&dst, data + 2 + sizeof(src), sizeof(dst));
	if (data[0] & 1)
		src.ss_family = data[0] & 2 ? AF_INET6 : AF_INET;
	if (data[0] & 4)
		dst.ss_family = data[0] & 8 ? AF_INET6 : AF_INET;
	outlen = data[1] % (sizeof(out) + 1);
	memset(out, 0xa5, sizeof(out));
	memcpy(canary, out, sizeof(out));

	n = proxyproto_v2((struct sockaddr *)&src, (struct sockaddr *)&dst, out, outlen);
	fam = src.ss_family;
	if (fam != dst.ss_family || (fam != AF_INET && fam != AF_INET6) ||
	    outlen < (fam == AF_INET ? 28u : 52u)) {
		if (n != -1 || memcmp(out, canary, sizeof(out)) != 0)
			abort();
		return 0;
	}
	if (n != (fam == AF_INET ? 28 : 52) ||
	    memcmp(out + n, canary + n, sizeof(out) - (size_t)n) != 0 ||
	    memcmp(out, sig, sizeof(sig)) != 0 || out[12] != 0x21 ||
	    out[13] != (fam == AF_INET ? 0x11 : 0x21) ||
	    (size_t)(out[14] << 8 | out[15]) != (size_t)n - 16)
		abort();
	if (fam == AF_INET) {
		const struct sockaddr_in *s = (const void *)&src, *d = (const void *)&dst;

		if (memcmp(out + 16, &s->sin_addr, 4) != 0 ||
		    memcmp(out + 20, &d->sin_addr, 4) != 0 ||
		    memcmp(out + 24, &s->sin_port, 2) != 0 ||
		    memcmp(out + 26, &d->sin_port, 2) != 0)
			abort();
	} else {
		const struct sockaddr_in6 *s = (const void *)&src, *d = (const void *)&dst;

		if (memcmp(out + 16, &s->sin6_addr, 16) != 0 ||
		    memcmp(out + 32, &d->sin6_addr, 16) != 0 ||
		    memcmp(out + 48, &s->sin6_port, 2) != 0 ||
		    memcmp(out + 50, &d->sin6_port, 2) != 0)
			abort();
	}
	return 0;
}

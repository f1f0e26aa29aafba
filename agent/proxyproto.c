/*
 * proxyproto: we announce our own connection (source = our address), so
 * the front logs the agent as the client, which it is.
 */
#include <netinet/in.h>
#include <string.h>

#include "proxyproto.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

int
proxyproto_v2(const struct sockaddr *src, const struct sockaddr *dst,
    unsigned char *out, size_t outlen)
{
	size_t alen;

	if (src->sa_family != dst->sa_family)
		return -1;
	if (src->sa_family == AF_INET)
		alen = 12;
	else if (src->sa_family == AF_INET6)
		alen = 36;
	else
		return -1;
	if (outlen < 16 + alen)
		return -1;
	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = 0x21;		/* version 2, PROXY command */
	out[13] = src->sa_family == AF_INET ? 0x11 : 0x21;	/* TCP over v4/v6 */
	out[14] = 0;
	out[15] = (unsigned char)alen;
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;

		memcpy(out + 16, &s->sin_addr, 4);
		memcpy(out + 20, &d->sin_addr, 4);
		memcpy(out + 24, &s->sin_port, 2);
		memcpy(out + 26, &d->sin_port, 2);
	} else {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;

		memcpy(out + 16, &s->sin6_addr, 16);
		memcpy(out + 32, &d->sin6_addr, 16);
		memcpy(out + 48, &s->sin6_port, 2);
		memcpy(out + 50, &d->sin6_port, 2);
	}
	return (int)(16 + alen);
}

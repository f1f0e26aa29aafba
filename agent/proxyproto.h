/* proxyproto: the PROXY protocol v2 header Mailu's front expects behind Traefik. */
#ifndef MCA_PROXYPROTO_H
#define MCA_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXYPROTO_V2_MAX 52	/* 16-byte header + two IPv6 addresses and ports */

/*
 * Writes a v2 PROXY header for a TCP connection from src to dst (both
 * AF_INET or both AF_INET6) into out. Returns its length, or -1.
 */
int proxyproto_v2(const struct sockaddr *src, const struct sockaddr *dst,
    unsigned char *out, size_t outlen);

#endif

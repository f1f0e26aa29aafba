/*
 * fuzz_docker_session: the session shell's stdout as the agent reads it
 * (agent/docker_session.c: the command's output, then "TOKEN STATUS").
 * The first byte seeds the chunking; the rest is the stream, read with
 * the token "0123456789abcdef". Fed once whole and once in pseudo-random
 * chunks: both must give the same verdict, status and output bytes; the
 * output is never more than the input; a status is 0..255; a completed
 * status line is the input's last line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct got {
	unsigned char *buf;
	size_t len, cap;
};

static void
collect(void *arg, const unsigned char *p, size_t n)
{
	struct got *g = arg;

	if (n == 0 || g->len + n > g->cap)
		abort();
	memcpy(g->buf + g->len, p, n);
	g->len += n;
}

static int
scan_all(const uint8_t *p, size_t n, unsigned seed, struct got *g,
    struct docker_session_scan *sc)
{
	size_t i = 0;
	int r = 0;

	memset(sc, 0, sizeof(*sc));
	strcpy(sc->token, "0123456789abcdef");
	while (i < n && r == 0) {
		size_t step = seed == 0 ? n - i : 1 + (seed = seed * 1103515245u + 12345u) % 37;

		step = step > n - i ? n - i : step;
		r = docker_session_scan(sc, p + i, step, collect, g);
		i += step;
	}
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_session_scan a, b;
	struct got ga = { 0 }, gb = { 0 };
	int ra, rb;

	if (size < 1)
		return 0;
	ga.cap = gb.cap = size;
	if ((ga.buf = malloc(size)) == NULL || (gb.buf = malloc(size)) == NULL)
		abort();
	ra = scan_all(data + 1, size - 1, 0, &ga, &a);
	rb = scan_all(data + 1, size - 1, data[0] | 1u, &gb, &b);
	if (ra < -1 || ra > 1 || ga.len > size - 1)
		abort();
	/* a verdict reached in the middle of a chunk is the same verdict */
	if (ra == 1 && (rb != 1 || a.code != b.code || a.code < 0 || a.code > 255 ||
	    data[size - 1] != '\n'))
		abort();
	if (ra == 0 && rb != 0)
		abort();
	if (ra == 0 && (ga.len != gb.len || memcmp(ga.buf, gb.buf, ga.len) != 0))
		abort();
	free(ga.buf);
	free(gb.buf);
	return 0;
}

/*
 * fuzz_docker_demux: the exec and logs stream demultiplexer of
 * agent/docker_http.c (8-byte header: stream, 3 zero bytes, big-endian
 * u32 length; then the payload). The first byte seeds the chunking and picks
 * the frame bound (the agent's 1 MiB, or a small one to reach the
 * oversize refusal); the rest is the stream. It is fed once whole and
 * once in pseudo-random chunks, as libcurl would hand it over: both must
 * give the same payload bytes per stream, the same verdict and the same
 * final state, and the bytes handed out must add up with the headers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct got {
	unsigned char *out[3];
	size_t len[3];
	size_t cap;
	size_t calls;
};

static void
collect(void *arg, int stream, const unsigned char *p, size_t n)
{
	struct got *g = arg;

	if (stream < 0 || stream > 2 || n == 0 || g->len[stream] + n > g->cap)
		abort();
	memcpy(g->out[stream] + g->len[stream], p, n);
	g->len[stream] += n;
	g->calls++;
}

static int
got_init(struct got *g, size_t cap)
{
	memset(g, 0, sizeof(*g));
	g->cap = cap;
	for (int i = 0; i < 3; i++)
		if ((g->out[i] = malloc(cap + 1)) == NULL)
			return -1;
	return 0;
}

static void
got_free(struct got *g)
{
	for (int i = 0; i < 3; i++)
		free(g->out[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_demux whole, chunked;
	struct got a, b;
	uint32_t seed, max_frame;
	const unsigned char *buf = data + 1;
	size_t len = size - 1, off = 0, payload;
	int ra, rb = 0;

	if (size < 1)
		return 0;
	seed = data[0] * 2654435761u + 1;
	max_frame = data[0] & 1 ? 1024 * 1024 : data[0];
	if (got_init(&a, len) != 0 || got_init(&b, len) != 0)
		abort();

	docker_demux_init(&whole, max_frame);
	ra = docker_demux_feed(&whole, buf, len, collect, &a);

	docker_demux_init(&chunked, max_frame);
	while (off < len && rb == 0) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 17;
		if ((seed & 0x300) == 0)
			n = len - off;		/* now and then, all the rest */
		n = n < len - off ? n : len - off;
		/* an empty chunk is a no-op */
		if (docker_demux_feed(&chunked, buf + off, 0, collect, &b) != 0)
			abort();
		rb = docker_demux_feed(&chunked, buf + off, n, collect, &b);
		off += n;
	}
	if (ra != rb || (ra != 0 && ra != -1) || whole.broken != chunked.broken ||
	    whole.left != chunked.left || whole.stream != chunked.stream)
		abort();
	if (ra == 0 && whole.hdr_have != chunked.hdr_have)
		abort();
	payload = 0;
	for (int i = 0; i < 3; i++) {
		if (a.len[i] != b.len[i] || memcmp(a.out[i], b.out[i], a.len[i]) != 0)
			abort();
		payload += a.len[i];
	}
	/* every byte is header, payload, or the undelivered rest of a frame */
	if (ra == 0 && (len - payload - whole.hdr_have) % 8 != 0)
		abort();
	if (whole.left > max_frame || whole.hdr_have >= 8)
		abort();
	/* once broken, it stays broken */
	if (ra != 0 && docker_demux_feed(&whole, (const unsigned char *)"", 1,
	    collect, &a) != -1)
		abort();
	got_free(&a);
	got_free(&b);
	return 0;
}

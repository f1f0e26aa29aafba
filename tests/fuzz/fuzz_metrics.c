/*
 * fuzz_metrics: the request parser of the /metrics and /healthz server
 * (agent/metrics_http.c, metrics_parse_request). The input is what a client
 * sends; the server reads it into a METRICS_REQ_MAX buffer and parses
 * after every read. Fed here in pseudo-random reads (the first byte seeds
 * them) exactly as on_event does, until an answer is decided. Checks: the
 * statuses the server knows, 0 (read more) only below the bound, a 200
 * only for GET /metrics or /healthz, and the same answer whatever the
 * reads, as for the whole head at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum metrics_page page = METRICS_PAGE_NONE, page1;
	const char *req = (const char *)data + 1;
	size_t len, have = 0;
	uint32_t seed;
	int code = 0, code1;

	if (size < 1)
		return 0;
	seed = data[0] * 2654435761u + 7;
	len = size - 1 < METRICS_REQ_MAX ? size - 1 : METRICS_REQ_MAX;
	/* the server's reads: at most what is left of the buffer each */
	while (have < len && code == 0) {
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 16) % 700;
		have += n < len - have ? n : len - have;
		code = metrics_parse_request(req, have, &page);
	}
	switch (code) {
	case 0:
		if (have >= METRICS_REQ_MAX || page != METRICS_PAGE_NONE)
			abort();
		break;
	case 200:
		if (page == METRICS_PAGE_METRICS ?
		    memcmp(req, "GET /metrics", 12) != 0 :
		    page == METRICS_PAGE_HEALTHZ ?
		    memcmp(req, "GET /healthz", 12) != 0 : 1)
			abort();
		break;
	case 400: case 404: case 405: case 431:
		if (page != METRICS_PAGE_NONE)
			abort();
		break;
	default:
		abort();
	}
	/* the whole of it at once: same answer (431 only needs more bytes) */
	code1 = metrics_parse_request(req, len, &page1);
	if (code != 0 && (code1 != code || page1 != page))
		abort();
	return 0;
}

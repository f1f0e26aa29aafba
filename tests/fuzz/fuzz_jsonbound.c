/*
 * fuzz_jsonbound: agent/jsonbound.c against jansson. The count is what
 * every parse of an engine answer relies on (docker_http.c's docker_parse_json) to
 * refuse a body before jansson builds a tree too large, so this target
 * holds it to both halves of its claim, for any bytes:
 *  - of a document jansson accepts, the count is exactly the values of
 *    jansson's tree plus its empty containers (never fewer values than
 *    jansson built);
 *  - whether jansson accepts or refuses, the bytes it allocates while
 *    parsing (live at the peak, counted through json_set_alloc_funcs)
 *    stay within COST_VALUE bytes a counted value plus COST_BYTE bytes
 *    an input byte, the cost tests/unit/test_jsonbound.c measures and
 *    docker.h's DOCKER_MAX_VALUES is derived from.
 * Parsed with the flags of docker_parse_json (JSON_REJECT_DUPLICATES) and with
 * none (duplicates replace a value: fewer values than counted).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "jsonbound.h"
#include "../unit/jansson_cost.h"

#define COST_VALUE 160
#define COST_BYTE 4
#define COST_FIXED 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const char *s, size_t len, size_t flags, size_t bound)
{
	size_t values = 0, empty = 0;
	json_t *j;

	live = peak = 0;
	j = json_loadb(s, len, flags, NULL);
	if (peak > COST_VALUE * bound + COST_BYTE * len + COST_FIXED) {
		fprintf(stderr, "fuzz_jsonbound: %zu bytes, count %zu: jansson peaked at "
		    "%zu bytes\n", len, bound, peak);
		abort();
	}
	if (j != NULL) {
		values = tree_values(j, &empty);
		if (flags != 0 ? bound != values + empty : bound < values) {
			fprintf(stderr, "fuzz_jsonbound: %zu bytes, count %zu: jansson "
			    "built %zu values (%zu empty containers)\n", len, bound,
			    values, empty);
			abort();
		}
	}
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t bound = jsonbound_values(s, size, SIZE_MAX);

	/* the stop: the count up to it, or one past it */
	if (jsonbound_values(s, size, bound) != bound ||
	    (bound > 1 && jsonbound_values(s, size, bound - 2) != bound - 1))
		abort();
	json_set_alloc_funcs(counting_malloc, counting_free);
	check(s, size, JSON_REJECT_DUPLICATES, bound);
	check(s, size, 0, bound);
	return 0;
}

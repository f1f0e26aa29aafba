/*
 * jansson_cost: what jansson allocates while it parses (install
 * counting_malloc/counting_free with json_set_alloc_funcs; live and peak
 * are bytes), and how many values a tree holds. Shared by
 * tests/unit/test_jsonbound.c and tests/fuzz/fuzz_jsonbound.c, which check
 * jsonbound's count against both.
 */
#ifndef MCA_JANSSON_COST_H
#define MCA_JANSSON_COST_H

#include <malloc.h>
#include <stdlib.h>

#include <jansson.h>

static size_t live, peak;

static void *
counting_malloc(size_t n)
{
	void *p = malloc(n);

	if (p != NULL && (live += malloc_usable_size(p)) > peak)
		peak = live;
	return p;
}

static void
counting_free(void *p)
{
	if (p != NULL)
		live -= malloc_usable_size(p);
	free(p);
}

/* The values of a tree, and how many of them are empty containers. */
static size_t
tree_values(json_t *j, size_t *empty)
{
	const char *k;
	size_t n = 1, i;
	json_t *v;

	if (json_is_object(j)) {
		*empty += json_object_size(j) == 0;
		json_object_foreach(j, k, v)
			n += tree_values(v, empty);
	} else if (json_is_array(j)) {
		*empty += json_array_size(j) == 0;
		json_array_foreach(j, i, v)
			n += tree_values(v, empty);
	}
	return n;
}

#endif

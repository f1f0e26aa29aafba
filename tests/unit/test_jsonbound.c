/*
 * jsonbound: the count by hand at its edges (strings holding brackets
 * and commas, escapes, nesting, input cut short, the stop), then against
 * jansson itself: of a valid document it is the values jansson built
 * plus its empty containers, and for any bytes, accepted or not, what
 * jansson allocates while parsing them stays within COST_VALUE bytes a
 * counted value plus COST_BYTE bytes an input byte: the claim behind
 * DOCKER_MAX_VALUES (docker.h).
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "harness.h"
#include "jsonbound.h"
#include "jansson_cost.h"
#include "mutate.h"

#define COST_VALUE 160
#define COST_BYTE 4
#define COST_FIXED 4096

static size_t
count(const char *s)
{
	return jsonbound_values(s, strlen(s), SIZE_MAX);
}

TEST(edges)
{
	static const struct {
		const char *doc;
		size_t want;
	} t[] = {
		{ "", 1 },
		{ "[]", 2 },			/* one more for an empty container */
		{ "{}", 2 },
		{ "[1,2,3]", 4 },
		{ "[1, 2 ,\n3]", 4 },
		{ "{\"a\":1,\"b\":[2,3]}", 5 },
		{ "[[[[1]]]]", 5 },
		{ "[[[[]]]]", 5 },
		{ "[{},{},{}]", 7 },
		/* strings: brackets, braces and commas in them are no values */
		{ "[\"[,{\"]", 2 },
		{ "[\"a,b\",\"[[[\",\"{{{\",\",,,\"]", 5 },
		{ "{\"a,[{\":1}", 2 },
		{ "{\"[\":\"]\",\"{\":\"}\"}", 3 },
		/* escapes: \" does not end a string, \\ does not escape the quote */
		{ "[\"\\\",[\"]", 2 },
		{ "[\"\\\\\",[1]]", 4 },
		{ "[\"\\\\\\\",[1]\"]", 2 },
		{ "[\"\\u005b\\u002c\\u007b\",1]", 3 },
		{ "[\"\\/,\\b,\\f,\\n,\\r,\\t\"]", 2 },
		/* a key ending in an escaped backslash */
		{ "{\"k\\\\\":[1,2]}", 4 },
		/* input cut short: inside a string nothing more counts */
		{ "[\"abc,[{,", 2 },
		{ "[\"\\", 2 },
		{ "[1,", 3 },
		/* what is not JSON still counts its commas and brackets */
		{ ",,,", 4 },
		{ "]]]", 1 },
		{ "'[,]'", 3 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t got = count(t[i].doc);

		if (got != t[i].want)
			fprintf(stderr, "  %s: %zu, expected %zu\n", t[i].doc, got, t[i].want);
		CHECK_INT(got, t[i].want);
	}
	/* the length counts, not a NUL: bytes after a NUL, none past len */
	CHECK_INT(jsonbound_values("[1,\0,2]", 7, SIZE_MAX), 4);
	CHECK_INT(jsonbound_values("[1,2,3]", 3, SIZE_MAX), 3);
	CHECK_INT(jsonbound_values(NULL, 0, SIZE_MAX), 1);
	/* a backslash as the last byte of a string cut short reads nothing past len */
	CHECK_INT(jsonbound_values("[\"\\,,,", 3, SIZE_MAX), 2);
}

TEST(stop)
{
	static const char doc[] = "[0,1,2,3,4,5,6,7,8,9]";

	CHECK_INT(jsonbound_values(doc, sizeof(doc) - 1, SIZE_MAX), 11);
	CHECK_INT(jsonbound_values(doc, sizeof(doc) - 1, 11), 11);
	CHECK_INT(jsonbound_values(doc, sizeof(doc) - 1, 10), 11);
	CHECK_INT(jsonbound_values(doc, sizeof(doc) - 1, 3), 4);
	CHECK_INT(jsonbound_values(doc, sizeof(doc) - 1, 0), 1);
	CHECK_INT(jsonbound_values("", 0, 0), 1);
}

/*
 * Parses len bytes with the counting allocator: 1 accepted, 0 refused.
 * Checks the allocation bound whatever the outcome, and the count of an
 * accepted document; *bad counts the failures (reported up to 5).
 */
static int
against_jansson(const char *s, size_t len, size_t *bad)
{
	size_t bound = jsonbound_values(s, len, SIZE_MAX), values = 0, empty = 0;
	json_malloc_t m0;
	json_free_t f0;
	json_error_t err;
	json_t *j;
	int ok;

	json_get_alloc_funcs(&m0, &f0);
	json_set_alloc_funcs(counting_malloc, counting_free);
	live = peak = 0;
	j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
	if ((ok = j != NULL))
		values = tree_values(j, &empty);
	json_decref(j);
	json_set_alloc_funcs(m0, f0);
	if (peak > COST_VALUE * bound + COST_BYTE * len + COST_FIXED ||
	    (ok && bound != values + empty)) {
		if ((*bad)++ < 5)
			fprintf(stderr, "  %zu bytes: bound %zu, %s %zu values (%zu empty), "
			    "peak %zu bytes\n", len, bound, ok ? "built" : "refused",
			    values, empty, peak);
	}
	return ok;
}

static size_t
against_str(const char *s)
{
	size_t bad = 0;

	CHECK_INT(against_jansson(s, strlen(s), &bad), 1);
	return bad;
}

/*
 * pre, reps copies of unit joined by sep, post; with a key, each copy is
 * the value of a member named key and its index.
 */
static char *
repeat(const char *pre, const char *key, const char *unit, const char *sep,
    const char *post, size_t reps, size_t *len)
{
	size_t each = strlen(unit) + strlen(sep) + (key != NULL ? strlen(key) + 24 : 0);
	char *b = malloc(strlen(pre) + reps * each + strlen(post) + 1), *p;

	if (b == NULL)
		return NULL;
	p = b + sprintf(b, "%s", pre);
	for (size_t i = 0; i < reps; i++) {
		p += sprintf(p, "%s", i > 0 ? sep : "");
		if (key != NULL)
			p += sprintf(p, "\"%s%zu\":%s", key, i, unit);
		else
			p += sprintf(p, "%s", unit);
	}
	p += sprintf(p, "%s", post);
	*len = (size_t)(p - b);
	return b;
}

/* Valid documents, the costliest shapes per value among them. */
TEST(shapes)
{
	static const struct {
		const char *pre, *key, *unit, *sep, *post;
	} t[] = {
		{ "[", NULL, "{}", ",", "]" },
		{ "[", NULL, "[]", ",", "]" },
		{ "[", NULL, "\"\"", ",", "]" },
		{ "[", NULL, "0", ",", "]" },
		{ "[", NULL, "-1.5e3", ",", "]" },
		{ "[", NULL, "null", ",", "]" },
		{ "{", "", "0", ",", "}" },
		{ "{", "", "{}", ",", "}" },
		{ "{", "a long member name, longer than most, ", "{}", ",", "}" },
		{ "[", NULL, "[{}]", ",", "]" },
		{ "[", NULL, "{\"a\":[]}", ",", "]" },
		{ "[\"", NULL, "a", "", "\"]" },
		{ "[\"", NULL, "\\u00e9\\\"", "", "\"]" },
	};
	size_t bad = 0, len;
	char *doc;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if ((doc = repeat(t[i].pre, t[i].key, t[i].unit, t[i].sep, t[i].post,
		    20000, &len)) == NULL) {
			CHECK(doc != NULL);
			continue;
		}
		CHECK_INT(against_jansson(doc, len, &bad), 1);
		free(doc);
	}
	bad += against_str("{\"Id\":\"0123\",\"Names\":[\"/a\",\"/b,[\"],\"Labels\":"
	    "{\"k\\\"[\":\"v\\\\\",\"e\":\"\"},\"Ports\":[],\"HostConfig\":{},"
	    "\"N\":[1,-2.5,true,false,null,{\"x\":[[],{}]}]}");
	bad += against_str("[[[[[[[[[[[[[[[[[[[[{\"a\":[{},[],\"]]]]\"]}]]]]]]]]]]]]]]]]]]]]");
	CHECK_INT(bad, 0);
}

/*
 * A list-shaped document mutated thousands of ways (a byte replaced,
 * deleted or inserted, from JSON's structural bytes and escapes): for
 * every one, accepted or refused, jansson's allocations stay within the
 * bound, and an accepted one is counted exactly.
 */
TEST(mutations)
{
	static const char base[] =
	    "[{\"Id\":\"0123456789abcdef\",\"Names\":[\"/front\",\"/a,[b]\"],"
	    "\"State\":\"running\",\"Labels\":{\"com.docker.compose.project\":\"m\\\"[\","
	    "\"k\\\\\":\"{,}\",\"e\":\"\\u005b\"},\"Ports\":[{\"PrivatePort\":25,"
	    "\"Type\":\"tcp\"},{}],\"HostConfig\":{\"NetworkMode\":\"host\"},"
	    "\"NetworkSettings\":{\"Networks\":{\"n\":{\"IPAddress\":\"172.18.0.2\","
	    "\"Links\":null,\"Aliases\":[]}}},\"Mounts\":[],\"X\":[1,-2.5e1,true,false]},{}]";
	static const char alphabet[] = "{}[]\",:\\ 0u";
	size_t len = sizeof(base) - 1, bad = 0, accepted = 0;
	char *s = malloc(len + 8);
	uint32_t seed = 4242;

	if (s == NULL) {
		CHECK(s != NULL);
		return;
	}
	CHECK_INT(against_jansson(base, len, &bad), 1);
	for (int i = 0; i < 6000; i++) {
		size_t at, n = mutate(s, base, len, &seed, alphabet, sizeof(alphabet) - 1, &at);

		accepted += (size_t)against_jansson(s, n, &bad);
	}
	CHECK_INT(bad, 0);
	/* both sides of the line are reached */
	CHECK(accepted > 300);
	CHECK(accepted < 5700);
	printf("  6000 mutations: %zu accepted, %zu over the bound or miscounted\n",
	    accepted, bad);
	free(s);
}

HARNESS_MAIN("jsonbound", RUN(edges), RUN(stop), RUN(shapes), RUN(mutations))

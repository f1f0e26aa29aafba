/*
 * The jsonscan module: every document is read both from memory and from
 * a file in chunks, and what it accepts is compared with jansson's
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY): hand-picked
 * documents, then thousands of mutations of a store-shaped one.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonscan.h"
#include "harness.h"
#include "mutate.h"

/* A file holding exactly len bytes of s, open for reading. */
static int
file_of(const char *s, size_t len)
{
	FILE *f = tmpfile();
	int fd;

	if (f == NULL)
		return -1;
	fwrite(s, 1, len, f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Walks a whole document, reading every string; 0 when it is accepted. */
static int
walk(struct jsonscan *s)
{
	struct jsonscan_buf b;
	int r, t;

	jsonscan_buf_init(&b, 1 << 20);
	for (;;) {
		size_t depth = s->depth;

		if ((r = jsonscan_next(s)) < 0)
			break;
		if (r == 0) {
			if (depth == 0)		/* the document itself ended */
				break;
			continue;
		}
		if ((t = jsonscan_type(s)) < 0) {
			r = -1;
			break;
		}
		if (t == JSONSCAN_OBJECT || t == JSONSCAN_ARRAY)
			r = jsonscan_enter(s);
		else if (t == JSONSCAN_STRING)
			r = jsonscan_string(s, &b);
		else
			r = jsonscan_skip(s);
		jsonscan_buf_reset(&b);
		if (r < 0)
			break;
	}
	jsonscan_buf_free(&b);
	return r < 0 ? -1 : 0;
}

static int
scan_mem(const char *doc, size_t len)
{
	struct jsonscan s;
	int rc;

	jsonscan_init_mem(&s, (const unsigned char *)doc, len);
	rc = walk(&s);
	CHECK(rc == 0 || s.err != JSONSCAN_OK);
	CHECK(rc == 0 || s.why != NULL);
	jsonscan_free(&s);
	return rc;
}

static int
scan_fd(const char *doc, size_t len)
{
	struct jsonscan s;
	int fd = file_of(doc, len), rc;

	CHECK(fd >= 0);
	if (jsonscan_init_fd(&s, fd, len) != 0)
		return -2;
	rc = walk(&s);
	jsonscan_free(&s);
	close(fd);
	return rc;
}

static int
jansson_accepts(const char *doc, size_t len)
{
	json_error_t e;
	json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

	json_decref(j);
	return j != NULL;
}

/* Both readers agree with jansson on doc. */
static void
same_as_jansson(const char *doc, size_t len)
{
	int want = jansson_accepts(doc, len);
	int mem = scan_mem(doc, len) == 0, fd = scan_fd(doc, len) == 0;

	if (mem != want || fd != want)
		fprintf(stderr, "  jansson %d, mem %d, fd %d: %.*s\n", want, mem, fd,
		    (int)(len < 200 ? len : 200), doc);
	CHECK_INT(mem, want);
	CHECK_INT(fd, want);
}

static void
same(const char *doc)
{
	same_as_jansson(doc, strlen(doc));
}

TEST(grammar)
{
	static const char *const docs[] = {
		"{}", "[]", "{\"a\":1}", " {\"a\" : [1, 2.5, -3e2, true, false, null]} ",
		"\t\r\n[\n]\n", "\"x\"", "0", "-0", "1.5e+3", "1E-3", "null", "true",
		"", " ", "{", "}", "[", "]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]",
		"[,1]", "{,}", "{\"a\":1 \"b\":2}", "[1 2]", "{a:1}", "{'a':1}", "[01]",
		"[1.]", "[.1]", "[-]", "[1e]", "[1e+]", "[+1]", "[--1]", "[0x10]",
		"[1.5.5]", "[tru]", "[truex]", "[nul]", "[True]", "[NaN]", "[Infinity]",
		"{} {}", "[] x", "{}\x01", "[\"a\"\"b\"]", "{\"a\":1}}", "[[]]]",
		"{\"\":0}", "{\"a\":{\"a\":{\"a\":1}}}", "[1e400]", "[-1e400]", "[1e-400]",
		"[9223372036854775807]", "[9223372036854775808]",
		"[-9223372036854775808]", "[-9223372036854775809]",
		"[123456789012345678901234567890.5]", "[0.0000000000000000000001]",
		"\xef\xbb\xbf{}", "{}\n", "[\x00]",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		same(docs[i]);
	same_as_jansson("[\"a\x00\"]", 6);
	same_as_jansson("[1]\x00", 4);
	/* jansson's lexer drops a NUL byte pushed back after a token; not here */
	CHECK(jansson_accepts("[null\x00]", 7));
	CHECK_INT(scan_mem("[null\x00]", 7), -1);
	CHECK_INT(scan_mem("[12\x00]", 5), -1);
}

TEST(strings)
{
	static const char *const docs[] = {
		"[\"plain\"]", "[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"]", "[\"\\u0041\\u00e9\"]",
		"[\"\\u20AC\"]", "[\"\\ud83d\\ude00\"]", "[\"\\u0000\"]", "[\"\\ud800\"]",
		"[\"\\udc00\"]", "[\"\\ud800x\"]", "[\"\\ud800\\u0041\"]",
		"[\"\\ud800\\udbff\"]", "[\"\\u12\"]", "[\"\\u12g4\"]", "[\"\\x\"]",
		"[\"\\'\"]", "[\"a\tb\"]", "[\"a\nb\"]", "[\"\x1f\"]", "[\"\x7f\"]",
		"[\"\xc3\xa9\"]", "[\"\xe2\x82\xac\"]", "[\"\xf0\x9f\x98\x80\"]",
		"[\"\xc3\"]", "[\"\xc3(\"]", "[\"\xc0\xaf\"]", "[\"\xc1\xbf\"]",
		"[\"\xe0\x80\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]",
		"[\"\xf5\x80\x80\x80\"]", "[\"\xff\"]", "[\"\x80\"]", "[\"\xf0\x9f\x98\"]",
		"[\"unterminated]", "[\"\\", "[\"\\u", "\"\\ud83d\\ude00\"",
		"{\"\\u00e9\":1, \"\xc3\xa9\":2}", "{\"a\":1, \"\\u0061\":2}",
		"{\"a\\u0000\":1}", "{\"a\":1, \"A\":2}", "{\"ab\":1, \"a\":2, \"b\":3}",
		"{\"a\":{\"b\":1}, \"b\":{\"a\":1}}", "{\"a\":[{\"a\":1}], \"x\":{\"a\":2}}",
		"[{\"a\":1, \"a\":1}]",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		same(docs[i]);
}

/* An object of n members, the last named dup (or a new name). */
static char *
big_object(size_t n, const char *dup)
{
	size_t cap = n * 24 + 64, used = 0;
	char *s = malloc(cap);

	used += (size_t)snprintf(s + used, cap - used, "{");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(s + used, cap - used, "%s\"m%zu\":%zu",
		    i > 0 ? "," : "", (i * 7919) % n, i);
	if (dup != NULL)
		used += (size_t)snprintf(s + used, cap - used, ",\"%s\":0", dup);
	snprintf(s + used, cap - used, "}");
	return s;
}

/* Names are compared after unescaping, in objects of every size. */
TEST(duplicates)
{
	char *s;

	for (size_t n = 1; n < 40; n++) {
		s = big_object(n, NULL);
		same(s);
		CHECK_INT(scan_mem(s, strlen(s)), 0);
		free(s);
		s = big_object(n, "m0");
		same(s);
		CHECK_INT(scan_mem(s, strlen(s)), -1);
		free(s);
		s = big_object(n, "\\u006d0");		/* "m0" again */
		CHECK_INT(scan_mem(s, strlen(s)), -1);
		free(s);
	}
	s = big_object(5000, "m4999");
	CHECK_INT(scan_mem(s, strlen(s)), -1);
	same(s);
	free(s);
	s = big_object(5000, "m5000");
	CHECK_INT(scan_mem(s, strlen(s)), 0);
	free(s);
}

/* n opening brackets, then n closing ones. */
static char *
nested(size_t n, char open, char close)
{
	char *s = malloc(2 * n + 1);

	memset(s, open, n);
	memset(s + n, close, n);
	s[2 * n] = '\0';
	return s;
}

TEST(depth)
{
	char *s;

	for (size_t n = 2046; n <= 2050; n++) {
		s = nested(n, '[', ']');
		same(s);
		CHECK_INT(scan_mem(s, strlen(s)), n <= JSONSCAN_MAX_DEPTH ? 0 : -1);
		free(s);
	}
	/* a scalar counts as a level, as in jansson: 2048 arrays may not hold one */
	for (size_t n = 2046; n <= 2049; n++) {
		s = malloc(2 * n + 2);
		memset(s, '[', n);
		s[n] = '1';
		memset(s + n + 1, ']', n);
		s[2 * n + 1] = '\0';
		same(s);
		CHECK_INT(scan_mem(s, strlen(s)), n < JSONSCAN_MAX_DEPTH ? 0 : -1);
		CHECK_INT(scan_fd(s, strlen(s)), n < JSONSCAN_MAX_DEPTH ? 0 : -1);
		free(s);
	}
	/* a million deep: rejected at 2049, no recursion */
	s = nested(1000000, '[', ']');
	CHECK_INT(scan_mem(s, strlen(s)), -1);
	CHECK_INT(scan_fd(s, strlen(s)), -1);
	free(s);
	/* objects count too */
	s = malloc(2049 * 5 + 2049 + 8);
	s[0] = '\0';
	for (int i = 0; i < 2049; i++)
		strcat(s, "{\"a\":");
	strcat(s, "1");
	for (int i = 0; i < 2049; i++)
		strcat(s, "}");
	CHECK_INT(scan_mem(s, strlen(s)), -1);
	same(s);
	free(s);
}

/* Bounds of its own: names open at once, their bytes, numbers. */
TEST(bounds)
{
	size_t n = 40 * 1024 * 1024;
	char *s = malloc(n + 16), *num;
	struct jsonscan_buf b;
	struct jsonscan js;

	/* a 40 MB name: past JSONSCAN_MAX_NAME_BYTES */
	s[0] = '{';
	s[1] = '"';
	memset(s + 2, 'a', n);
	memcpy(s + 2 + n, "\":1}", 5);
	CHECK_INT(scan_mem(s, strlen(s)), -1);
	/* a 40 MB string value is fine, and kept only up to max */
	s[0] = '[';
	memcpy(s + 2 + n, "\"]", 3);
	CHECK_INT(scan_mem(s, strlen(s)), 0);
	jsonscan_init_mem(&js, (const unsigned char *)s, strlen(s));
	jsonscan_buf_init(&b, 1000);
	CHECK_INT(jsonscan_next(&js), 1);
	CHECK_INT(jsonscan_enter(&js), 0);
	CHECK_INT(jsonscan_next(&js), 1);
	CHECK_INT(jsonscan_string(&js, &b), 0);
	CHECK(b.over);
	CHECK_INT(b.len, 1000);
	CHECK(b.cap <= 1001);
	CHECK_INT(jsonscan_next(&js), 0);
	CHECK_INT(jsonscan_next(&js), 0);
	jsonscan_buf_free(&b);
	jsonscan_free(&js);
	free(s);
	/* names in 2,000 nested objects, then more in one object than JSONSCAN_MAX_NAMES */
	s = malloc(70000 * 12 + 16);
	s[0] = '\0';
	{
		size_t used = 0;

		for (int i = 0; i < 2000; i++)
			used += (size_t)sprintf(s + used, "{\"k%d\":1,\"n\":", i);
		used += (size_t)sprintf(s + used, "%s", "1");
		for (int i = 0; i < 2000; i++)
			s[used++] = '}';
		s[used] = '\0';
	}
	CHECK_INT(scan_mem(s, strlen(s)), 0);
	free(s);
	s = big_object(JSONSCAN_MAX_NAMES + 1, NULL);
	CHECK_INT(scan_mem(s, strlen(s)), -1);
	free(s);
	/* numbers: up to JSONSCAN_MAX_NUMBER bytes */
	num = malloc(JSONSCAN_MAX_NUMBER + 16);
	num[0] = '[';
	num[1] = '0';
	num[2] = '.';
	memset(num + 3, '1', JSONSCAN_MAX_NUMBER - 2);
	strcpy(num + JSONSCAN_MAX_NUMBER + 1, "]");
	CHECK_INT(scan_mem(num, strlen(num)), 0);
	same(num);
	memset(num + 3, '1', JSONSCAN_MAX_NUMBER - 1);
	strcpy(num + JSONSCAN_MAX_NUMBER + 2, "]");
	CHECK_INT(scan_mem(num, strlen(num)), -1);
	free(num);
}

/* Escapes and UTF-8 sequences cut by the 64 KiB chunk edge, at every offset. */
TEST(chunk_edges)
{
	static const char *const pieces[] = {
		"\\u00e9", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\\\"", "\xed\xa0\x80", "\\u0000", "\\ud800x",
	};
	size_t len = JSONSCAN_CHUNK + 64;
	char *s = malloc(len + 1);

	for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		size_t pl = strlen(pieces[p]);

		for (size_t at = JSONSCAN_CHUNK - 14; at < JSONSCAN_CHUNK + 2; at++) {
			/* ["aaaa...<piece>bbb"] with the piece starting at at */
			memset(s, 'a', len);
			s[0] = '[';
			s[1] = '"';
			memcpy(s + at, pieces[p], pl);
			s[len - 2] = '"';
			s[len - 1] = ']';
			s[len] = '\0';
			same_as_jansson(s, len);
		}
	}
	/* a name and a number across the edge */
	memset(s, ' ', len);
	s[0] = '{';
	memcpy(s + JSONSCAN_CHUNK - 3, "\"name\":-12.5e3}", 15);
	same_as_jansson(s, JSONSCAN_CHUNK + 12);
	CHECK_INT(scan_fd(s, JSONSCAN_CHUNK + 12), 0);
	free(s);
}

/* A file longer than the size it was opened with is being written. */
TEST(file_grew)
{
	static const char doc[] = "{\"a\": [1, 2, 3]}    ";
	struct jsonscan s;
	int fd = file_of(doc, sizeof(doc) - 1);

	CHECK_INT(jsonscan_init_fd(&s, fd, 16), 0);
	CHECK_INT(walk(&s), -1);
	CHECK(s.grew);
	CHECK_INT(s.err, JSONSCAN_GREW);
	jsonscan_free(&s);
	/* after a syntax error, drain tells it too */
	close(fd);
	{
		size_t n = 3 * JSONSCAN_CHUNK;
		char *big = malloc(n);

		memset(big, ' ', n);
		memcpy(big, "[1,,", 4);
		fd = file_of(big, n);
		free(big);
		CHECK_INT(jsonscan_init_fd(&s, fd, n - 10), 0);
		CHECK_INT(walk(&s), -1);
		CHECK_INT(s.err, JSONSCAN_SYNTAX);
		CHECK(!s.grew);
		jsonscan_drain(&s);
		CHECK(s.grew);
		jsonscan_free(&s);
		/* and not when it did not grow */
		lseek(fd, 0, SEEK_SET);
		CHECK_INT(jsonscan_init_fd(&s, fd, n), 0);
		CHECK_INT(walk(&s), -1);
		jsonscan_drain(&s);
		CHECK(!s.grew);
		jsonscan_free(&s);
	}
	/* a read error */
	close(fd);
	fd = open("/", O_RDONLY | O_DIRECTORY);
	CHECK_INT(jsonscan_init_fd(&s, fd, 100), 0);
	CHECK_INT(walk(&s), -1);
	CHECK_INT(s.err, JSONSCAN_READ);
	jsonscan_free(&s);
	close(fd);
}

/* A value left alone is skipped; names read as C strings; errors stay. */
TEST(walking)
{
	static const char doc[] = "{\"skip\": {\"x\": [1, {\"y\": \"z\"}]}, \"take\": \"v\\u0041\", "
	    "\"arr\": [\"a\", [\"b\"]], \"last\": null}";
	struct jsonscan_buf b;
	struct jsonscan s;

	jsonscan_init_mem(&s, (const unsigned char *)doc, strlen(doc));
	jsonscan_buf_init(&b, 100);
	CHECK_INT(jsonscan_next(&s), 1);
	CHECK_INT(jsonscan_type(&s), JSONSCAN_OBJECT);
	CHECK_INT(jsonscan_enter(&s), 0);
	CHECK_INT(jsonscan_next(&s), 1);
	CHECK_STR(s.name, "skip");
	CHECK_INT(jsonscan_next(&s), 1);		/* skipped {"x": ...} */
	CHECK(jsonscan_name_is(&s, "take"));
	CHECK(!jsonscan_name_is(&s, "tak"));
	CHECK_INT(jsonscan_type(&s), JSONSCAN_STRING);
	CHECK_INT(jsonscan_string(&s, &b), 0);
	CHECK_STR((char *)b.p, "vA");
	CHECK_INT(jsonscan_next(&s), 1);
	CHECK_STR(s.name, "arr");
	CHECK_INT(jsonscan_string(&s, &b), -1);	/* not a string */
	CHECK_INT(s.err, JSONSCAN_SYNTAX);
	CHECK_INT(jsonscan_next(&s), -1);
	CHECK_INT(jsonscan_type(&s), -1);
	jsonscan_buf_free(&b);
	jsonscan_free(&s);
	/* an empty string into a fresh buffer: still a C string */
	jsonscan_init_mem(&s, (const unsigned char *)"\"\"", 2);
	jsonscan_buf_init(&b, 100);
	CHECK_INT(jsonscan_next(&s), 1);
	CHECK_INT(jsonscan_string(&s, &b), 0);
	CHECK(b.p != NULL && b.len == 0);
	CHECK_STR((char *)b.p, "");
	CHECK_INT(jsonscan_next(&s), 0);
	jsonscan_buf_free(&b);
	jsonscan_free(&s);
	/* the error's position: line and column */
	{
		static const char bad[] = "{\n  \"a\": [1,\n  ]}";

		jsonscan_init_mem(&s, (const unsigned char *)bad, strlen(bad));
	}
	CHECK_INT(walk(&s), -1);
	CHECK_INT(s.err_line, 3);
	CHECK_INT(s.err_col, 3);
	jsonscan_free(&s);
}

/* A store-shaped document, mutated thousands of ways: jansson agrees. */
TEST(mutations)
{
	static const char base[] =
	    "{\"le\": {\"Account\": {\"Email\": \"a@b.test\", \"Registration\": {\"body\": "
	    "{\"status\": \"valid\", \"contact\": [\"mailto:a@b.test\"]}, \"uri\": "
	    "\"https://x/acct/1\"}, \"PrivateKey\": \"TUlJRXZR\", \"KeyType\": \"4096\"}, "
	    "\"Certificates\": [{\"domain\": {\"main\": \"m\\u00e9.test\", \"sans\": null}, "
	    "\"certificate\": \"TFMwdExTMUNSVWRKVGc9PQ==\", \"key\": \"S0VZ\", "
	    "\"Store\": \"default\"}, {\"domain\": {\"main\": \"x\", \"sans\": [\"y\", \"z\"]}, "
	    "\"certificate\": \"QQ==\", \"key\": \"Qg==\", \"Store\": \"default\", "
	    "\"n\": [0, -1.5e3, true, false, null, 123456789]}]}}";
	static const char alphabet[] = "{}[]\",:\\/ \n0123456789.-+eEtrufalsn\x00\x01\x7f\x80"
	    "\xc3\xa9\xed\xa0\xff\xf0\x9f";
	size_t len = sizeof(base) - 1, disagree = 0, accepted = 0, nul = 0;
	char *s = malloc(len + 8);
	uint32_t seed = 12345;

	same(base);
	for (int i = 0; i < 6000; i++) {
		size_t at, n = mutate(s, base, len, &seed, alphabet, sizeof(alphabet) - 1, &at);
		int want = jansson_accepts(s, n), got = scan_mem(s, n) == 0;

		/* jansson drops a NUL byte after a literal or a number */
		if (want && !got && memchr(s, '\0', n) != NULL) {
			nul++;
			continue;
		}

		accepted += (size_t)want;
		if (want != got && disagree++ < 5) {
			fprintf(stderr, "  mutation %d: jansson %d, jsonscan %d at %zu:", i,
			    want, got, at);
			for (size_t k = at > 10 ? at - 10 : 0; k < at + 10 && k < n; k++)
				fprintf(stderr, " %02x", (unsigned char)s[k]);
			fprintf(stderr, "\n");
		}
		if (i % 200 == 0)
			CHECK_INT(scan_fd(s, n) == 0, want);
	}
	CHECK_INT(disagree, 0);
	/* the mutations reach both sides of the line */
	CHECK(accepted > 500);
	CHECK(accepted < 5500);
	printf("  6000 mutations: %zu accepted, %zu disagreements, %zu NUL bytes jansson let by\n",
	    accepted, disagree, nul);
	free(s);
}

HARNESS_MAIN("jsonscan", RUN(grammar), RUN(strings), RUN(duplicates), RUN(depth),
    RUN(bounds), RUN(chunk_edges), RUN(file_grew), RUN(walking), RUN(mutations))

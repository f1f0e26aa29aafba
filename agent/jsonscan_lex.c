/*
 * jsonscan_lex: jsonscan's byte level (jsonscan_lex.h): the input, from
 * one buffer or from a file in chunks, the position an error names, the
 * string buffers, and RFC 8259's strings, numbers and literals read byte
 * by byte with jansson's extra rules (see jsonscan.h). Nothing is built:
 * a value is checked as it streams by, and a string is copied out only
 * when the caller asks for it. The one fast path is the run of plain
 * characters inside a string, which is where the bytes of a certificate
 * store are.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonscan.h"
#include "jsonscan_lex.h"

/* A byte that stands for itself inside a string. */
static bool
plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void
jsonscan_buf_init(struct jsonscan_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
jsonscan_buf_reset(struct jsonscan_buf *b)
{
	if (b->p != NULL) {
		explicit_bzero(b->p, b->len);
		b->p[0] = '\0';
	}
	b->len = 0;
	b->over = false;
}

void
jsonscan_buf_free(struct jsonscan_buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->over = false;
}

/* Grows b to hold n bytes and a NUL; by copy, so the old block can be wiped. */
static int
grow(struct jsonscan_buf *b, size_t n)
{
	unsigned char *np;
	size_t cap;

	if (n + 1 <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < n + 1)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if ((np = malloc(cap)) == NULL)
		return -1;
	if (b->p != NULL) {
		memcpy(np, b->p, b->len + 1);
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

int
jsonscan_buf_reserve(struct jsonscan_buf *b, size_t n)
{
	if (n > b->max)
		return -1;
	if (grow(b, n) != 0)
		return -1;
	if (b->len == 0)
		b->p[0] = '\0';
	return 0;
}

int
jsonscan_buf_put(struct jsonscan_buf *b, const unsigned char *src, size_t n)
{
	if (n > b->max - b->len) {
		b->over = true;
		n = b->max - b->len;
	}
	if (n == 0)
		return 0;
	if (grow(b, b->len + n) != 0)
		return -1;
	memcpy(b->p + b->len, src, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
jsonscan_buf_add(struct jsonscan_buf *b, const unsigned char *src, size_t n)
{
	return jsonscan_buf_put(b, src, n) != 0 || b->over ? -1 : 0;
}

size_t
jsonscan_offset(const struct jsonscan *s)
{
	return s->before + (size_t)(s->p - s->base);
}

static int
fail(struct jsonscan *s, enum jsonscan_err err, const char *why)
{
	if (s->err == JSONSCAN_OK) {
		s->err = err;
		s->why = why;
		s->err_line = s->line;
		s->err_col = jsonscan_offset(s) - s->line_start + 1;
	}
	return -1;
}

int
jsonscan_bad(struct jsonscan *s, const char *why)
{
	return fail(s, JSONSCAN_SYNTAX, why);
}

int
jsonscan_nomem(struct jsonscan *s)
{
	return fail(s, JSONSCAN_NOMEM, "out of memory");
}

static void
init_common(struct jsonscan *s)
{
	s->line = 1;
	s->stack_cap = 16;
	s->stack = calloc(s->stack_cap, sizeof(*s->stack));
	if (s->stack == NULL)
		jsonscan_nomem(s);
	jsonscan_buf_init(&s->names, JSONSCAN_MAX_NAME_BYTES);
}

void
jsonscan_init_mem(struct jsonscan *s, const unsigned char *buf, size_t len)
{
	static const unsigned char none[1];

	if (buf == NULL) {
		buf = none;
		len = 0;
	}
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->p = s->base = buf;
	s->end = buf + len;
	init_common(s);
}

int
jsonscan_init_fd(struct jsonscan *s, int fd, size_t size)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->size = size;
	s->chunk = malloc(JSONSCAN_CHUNK);
	s->p = s->end = s->base = s->chunk;
	init_common(s);
	if (s->chunk == NULL)
		jsonscan_nomem(s);
	return s->err == JSONSCAN_OK ? 0 : -1;
}

void
jsonscan_free(struct jsonscan *s)
{
	if (s->chunk != NULL)
		explicit_bzero(s->chunk, JSONSCAN_CHUNK);
	free(s->chunk);
	s->chunk = NULL;
	free(s->stack);
	s->stack = NULL;
	jsonscan_buf_free(&s->names);
	free(s->recs);
	s->recs = NULL;
	s->p = s->end = s->base = NULL;
}

/* Reads the next chunk of a file: bytes read, 0 at the end, -1 on error. */
static ssize_t
read_chunk(struct jsonscan *s)
{
	ssize_t got;

	s->before += (size_t)(s->end - s->base);
	s->p = s->end = s->base = s->chunk;
	do
		got = read(s->fd, s->chunk, JSONSCAN_CHUNK);
	while (got < 0 && errno == EINTR);
	if (got > 0) {
		s->end = s->chunk + got;
		s->grew = s->before + (size_t)got > s->size;
	}
	return got;
}

/* The next chunk: 1 read, 0 at the end, -1 on error. */
static int
refill(struct jsonscan *s)
{
	ssize_t got;

	if (s->fd < 0)
		return 0;
	if ((got = read_chunk(s)) < 0)
		return fail(s, JSONSCAN_READ, "read failed");
	if (s->grew)
		return fail(s, JSONSCAN_GREW, "the file grew while it was read");
	return got > 0;
}

void
jsonscan_drain(struct jsonscan *s)
{
	while (s->fd >= 0 && !s->grew && read_chunk(s) > 0)
		;
}

/* The next byte, consumed; -1 at the end. */
static int
get(struct jsonscan *s)
{
	if (s->p == s->end && refill(s) <= 0)
		return -1;
	return *s->p++;
}

int
jsonscan_skip_ws(struct jsonscan *s)
{
	for (;;) {
		while (s->p < s->end) {
			unsigned char c = *s->p;

			if (c == '\n') {
				s->p++;
				s->line++;
				s->line_start = jsonscan_offset(s);
			} else if (c == ' ' || c == '\t' || c == '\r') {
				s->p++;
			} else {
				return c;
			}
		}
		if (refill(s) <= 0)
			return -1;
	}
}

static int
hex4(struct jsonscan *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int c = get(s);

		if (c >= '0' && c <= '9')
			v = v * 16 + c - '0';
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + c - 'A' + 10;
		else
			return jsonscan_bad(s, "invalid \\u escape");
	}
	return v;
}

static int
put_utf8(struct jsonscan *s, struct jsonscan_buf *out, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (out == NULL)
		return 0;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return jsonscan_buf_put(out, u, n) == 0 ? 0 : jsonscan_nomem(s);
}

/* After a backslash. */
static int
escape(struct jsonscan *s, struct jsonscan_buf *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	int c = get(s), hi, lo;

	if (c > 0 && c != 'u' && (e = strchr(from, c)) != NULL)
		return put_utf8(s, out, (uint32_t)(unsigned char)to[e - from]);
	if (c != 'u')
		return jsonscan_bad(s, "invalid escape");
	if ((hi = hex4(s)) < 0)
		return -1;
	if (hi == 0)
		return jsonscan_bad(s, "\\u0000 in a string");
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return jsonscan_bad(s, "lone low surrogate");
	if (hi < 0xD800 || hi > 0xDBFF)
		return put_utf8(s, out, (uint32_t)hi);
	if (get(s) != '\\' || get(s) != 'u')
		return jsonscan_bad(s, "lone high surrogate");
	if ((lo = hex4(s)) < 0)
		return -1;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return jsonscan_bad(s, "lone high surrogate");
	return put_utf8(s, out, 0x10000 + ((uint32_t)(hi - 0xD800) << 10) +
	    (uint32_t)(lo - 0xDC00));
}

/* A UTF-8 sequence whose first byte c (0x80 or above) was just read. */
static int
utf8(struct jsonscan *s, int c, struct jsonscan_buf *out)
{
	unsigned char u[4];
	uint32_t cp;
	int n;

	if (c < 0xC2 || c > 0xF4)
		return jsonscan_bad(s, "invalid UTF-8");
	n = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
	cp = (uint32_t)c & (0x3Fu >> n);
	u[0] = (unsigned char)c;
	for (int i = 1; i <= n; i++) {
		int b = get(s);

		if (b < 0 || (b & 0xC0) != 0x80)
			return jsonscan_bad(s, "invalid UTF-8");
		u[i] = (unsigned char)b;
		cp = cp << 6 | ((uint32_t)b & 0x3F);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return jsonscan_bad(s, "invalid UTF-8");
	if (out != NULL && jsonscan_buf_put(out, u, (size_t)n + 1) != 0)
		return jsonscan_nomem(s);
	return 0;
}

/* Sixteen bytes, as GCC and clang vectorise them (SSE2, NEON, or plain code). */
typedef unsigned char v16 __attribute__((vector_size(16)));

/* Do the sixteen bytes at p all stand for themselves in a string? */
static bool
plain16(const unsigned char *p)
{
	v16 v, stop;
	uint64_t w[2];

	memcpy(&v, p, sizeof(v));
	stop = (v < 0x20) | (v >= 0x80) | (v == '"') | (v == '\\');
	memcpy(w, &stop, sizeof(w));
	return (w[0] | w[1]) == 0;
}

int
jsonscan_lex_string(struct jsonscan *s, struct jsonscan_buf *out)
{
	for (;;) {
		const unsigned char *q = s->p;
		int c;

		while (s->end - q >= 16 && plain16(q))
			q += 16;
		while (q < s->end && plain(*q))
			q++;
		if (out != NULL && jsonscan_buf_put(out, s->p, (size_t)(q - s->p)) != 0)
			return jsonscan_nomem(s);
		s->p = q;
		if (q == s->end) {
			if ((c = refill(s)) <= 0)
				return c < 0 ? -1 : jsonscan_bad(s, "unterminated string");
			continue;
		}
		c = *s->p++;
		if (c == '"')
			return 0;
		if (c == '\\') {
			if (escape(s, out) != 0)
				return -1;
		} else if (c < 0x20) {
			return jsonscan_bad(s, "control character in a string");
		} else if (utf8(s, c, out) != 0) {
			return -1;
		}
	}
}

static bool
digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Appends the next byte to a number's text. */
static int
take(struct jsonscan *s, char *text, size_t *n)
{
	if (*n == JSONSCAN_MAX_NUMBER)
		return jsonscan_bad(s, "number too long");
	text[(*n)++] = (char)get(s);
	return 0;
}

static int
digits(struct jsonscan *s, char *text, size_t *n)
{
	if (s->p == s->end && refill(s) < 0)
		return -1;
	if (s->p == s->end || !digit(*s->p))
		return jsonscan_bad(s, "invalid number");
	do {
		if (take(s, text, n) != 0)
			return -1;
	} while ((s->p < s->end || refill(s) > 0) && digit(*s->p));
	return s->err == JSONSCAN_OK ? 0 : -1;
}

/* The next byte, not consumed; -1 at the end. */
static int
peek(struct jsonscan *s)
{
	if (s->p == s->end && refill(s) <= 0)
		return -1;
	return *s->p;
}

/*
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, then as jansson: an
 * integer must fit in 64 bits, a real must not overflow.
 */
int
jsonscan_lex_number(struct jsonscan *s)
{
	char text[JSONSCAN_MAX_NUMBER + 1];
	size_t n = 0;
	bool real = false;
	int c;

	if (peek(s) == '-' && take(s, text, &n) != 0)
		return -1;
	if (peek(s) == '0') {
		if (take(s, text, &n) != 0)
			return -1;
	} else if (digits(s, text, &n) != 0) {
		return -1;
	}
	if (peek(s) == '.') {
		real = true;
		if (take(s, text, &n) != 0 || digits(s, text, &n) != 0)
			return -1;
	}
	if ((c = peek(s)) == 'e' || c == 'E') {
		real = true;
		if (take(s, text, &n) != 0)
			return -1;
		if (((c = peek(s)) == '+' || c == '-') && take(s, text, &n) != 0)
			return -1;
		if (digits(s, text, &n) != 0)
			return -1;
	}
	if (s->err != JSONSCAN_OK)
		return -1;
	text[n] = '\0';
	errno = 0;
	if (real) {
		double d = strtod(text, NULL);

		if (errno == ERANGE && (d > 1.0 || d < -1.0))
			return jsonscan_bad(s, "real number overflow");
	} else {
		(void)strtoll(text, NULL, 10);
		if (errno == ERANGE)
			return jsonscan_bad(s, "integer beyond 64 bits");
	}
	return 0;
}

int
jsonscan_lex_literal(struct jsonscan *s, const char *word)
{
	for (; *word != '\0'; word++)
		if (get(s) != (unsigned char)*word)
			return jsonscan_bad(s, "invalid literal");
	return 0;
}

int
jsonscan_type(struct jsonscan *s)
{
	int c;

	if (s->err != JSONSCAN_OK)
		return -1;
	switch (c = jsonscan_skip_ws(s)) {
	case '{':
		return JSONSCAN_OBJECT;
	case '[':
		return JSONSCAN_ARRAY;
	case '"':
		return JSONSCAN_STRING;
	case 't':
		return JSONSCAN_TRUE;
	case 'f':
		return JSONSCAN_FALSE;
	case 'n':
		return JSONSCAN_NULL;
	default:
		if (c == '-' || digit(c))
			return JSONSCAN_NUMBER;
		if (s->err != JSONSCAN_OK)
			return -1;
		return jsonscan_bad(s, c < 0 ? "unexpected end of input" :
		    "a value expected");
	}
}

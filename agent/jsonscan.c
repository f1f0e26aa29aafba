/*
 * jsonscan: the walk of jsonscan.h: the open containers on a stack, the
 * member names of the open objects, checked for a duplicate when each
 * closes, and the skipping of what the caller leaves alone. The bytes
 * themselves are read by jsonscan_lex.c.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "jsonscan_lex.h"

/* The value at hand is being read: its container no longer waits for it. */
static void
taken(struct jsonscan *s)
{
	s->stack[s->depth].pending = false;
}

int
jsonscan_enter(struct jsonscan *s)
{
	int t = jsonscan_type(s);
	struct jsonscan_frame *f;

	if (t != JSONSCAN_OBJECT && t != JSONSCAN_ARRAY)
		return t < 0 ? -1 : jsonscan_bad(s, "not a container");
	taken(s);
	if (s->depth == JSONSCAN_MAX_DEPTH)
		return jsonscan_bad(s, "nested too deep");
	if (s->depth + 1 == s->stack_cap) {
		size_t cap = s->stack_cap * 2;
		struct jsonscan_frame *ns = realloc(s->stack, cap * sizeof(*ns));

		if (ns == NULL)
			return jsonscan_nomem(s);
		s->stack = ns;
		s->stack_cap = cap;
	}
	f = &s->stack[++s->depth];
	memset(f, 0, sizeof(*f));
	f->kind = *s->p++;
	f->names = s->nrecs;
	f->name_bytes = s->names.len;
	return 0;
}

static int
name_cmp(const struct jsonscan *s, const struct jsonscan_name *a,
    const struct jsonscan_name *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(s->names.p + a->off, s->names.p + b->off, a->len);
}

static void
sift(const struct jsonscan *s, struct jsonscan_name *r, size_t i, size_t n)
{
	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		struct jsonscan_name t;

		if (c + 1 < n && name_cmp(s, &r[c], &r[c + 1]) < 0)
			c++;
		if (name_cmp(s, &r[i], &r[c]) >= 0)
			return;
		t = r[i];
		r[i] = r[c];
		r[c] = t;
	}
}

/* Any two equal names among n records (reordered)? Heapsort, no recursion. */
static bool
has_duplicate(const struct jsonscan *s, struct jsonscan_name *r, size_t n)
{
	if (n < 2)
		return false;
	if (n < 16) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (name_cmp(s, &r[i], &r[j]) == 0)
					return true;
		return false;
	}
	for (size_t i = n / 2; i-- > 0;)
		sift(s, r, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		struct jsonscan_name t = r[0];

		r[0] = r[end];
		r[end] = t;
		sift(s, r, 0, end);
	}
	for (size_t i = 1; i < n; i++)
		if (name_cmp(s, &r[i - 1], &r[i]) == 0)
			return true;
	return false;
}

/* Closes the container at hand (its closing byte is next). */
static int
leave(struct jsonscan *s)
{
	struct jsonscan_frame *f = &s->stack[s->depth];

	s->p++;
	if (f->kind == '{') {
		if (s->nrecs - f->names > 1 &&
		    has_duplicate(s, s->recs + f->names, s->nrecs - f->names))
			return jsonscan_bad(s, "duplicate member name");
		s->nrecs = f->names;
		s->names.len = f->name_bytes;
	}
	s->depth--;
	s->name = NULL;
	s->name_len = 0;
	return 0;
}

/* A member's name (its opening quote is next) and the colon after it. */
static int
member_name(struct jsonscan *s)
{
	struct jsonscan_name *r;
	size_t off = s->names.len;

	s->p++;
	if (s->nrecs == JSONSCAN_MAX_NAMES)
		return jsonscan_bad(s, "too many member names");
	if (s->nrecs == s->recs_cap) {
		size_t cap = s->recs_cap < 16 ? 16 : s->recs_cap * 2;
		struct jsonscan_name *nr = realloc(s->recs, cap * sizeof(*nr));

		if (nr == NULL)
			return jsonscan_nomem(s);
		s->recs = nr;
		s->recs_cap = cap;
	}
	if (jsonscan_lex_string(s, &s->names) != 0)
		return -1;
	/* a NUL after each name, so s->name is a C string */
	if (s->names.over ||
	    jsonscan_buf_put(&s->names, (const unsigned char *)"", 1) != 0 ||
	    s->names.over)
		return s->names.over ? jsonscan_bad(s, "member names too long") :
		    jsonscan_nomem(s);
	r = &s->recs[s->nrecs++];
	r->off = off;
	r->len = s->names.len - off - 1;
	if (jsonscan_skip_ws(s) != ':')
		return s->err != JSONSCAN_OK ? -1 : jsonscan_bad(s, "':' expected");
	s->p++;
	s->name = (const char *)s->names.p + r->off;
	s->name_len = r->len;
	return 0;
}

int
jsonscan_next(struct jsonscan *s)
{
	struct jsonscan_frame *f;
	int c;

	if (s->err != JSONSCAN_OK)
		return -1;
	if (s->stack[s->depth].pending && jsonscan_skip(s) != 0)
		return -1;
	f = &s->stack[s->depth];
	c = jsonscan_skip_ws(s);
	if (s->err != JSONSCAN_OK)
		return -1;
	if (f->kind == 0) {
		if (f->count > 0 && c >= 0)
			return jsonscan_bad(s, "end of input expected");
		if (f->count > 0)
			return 0;
	} else if (c == (f->kind == '{' ? '}' : ']')) {
		return leave(s) == 0 ? 0 : -1;
	} else if (f->count > 0) {
		if (c != ',')
			return jsonscan_bad(s, f->kind == '{' ? "',' or '}' expected" :
			    "',' or ']' expected");
		s->p++;
		c = jsonscan_skip_ws(s);
	}
	if (f->kind == '{') {
		if (c != '"')
			return s->err != JSONSCAN_OK ? -1 :
			    jsonscan_bad(s, "a member name expected");
		if (member_name(s) != 0)
			return -1;
	}
	/* as jansson, a value inside JSONSCAN_MAX_DEPTH containers is too deep, a scalar too */
	if (s->depth == JSONSCAN_MAX_DEPTH)
		return jsonscan_bad(s, "nested too deep");
	f->count++;
	f->pending = true;
	return 1;
}

int
jsonscan_string(struct jsonscan *s, struct jsonscan_buf *out)
{
	int t = jsonscan_type(s);

	if (t != JSONSCAN_STRING)
		return t < 0 ? -1 : jsonscan_bad(s, "not a string");
	/* a NUL follows the len bytes, also when the first string read is empty */
	if (out != NULL && out->p == NULL && jsonscan_buf_reserve(out, 0) != 0)
		return jsonscan_nomem(s);
	taken(s);
	s->p++;
	return jsonscan_lex_string(s, out);
}

/* Reads the scalar at hand. */
static int
scalar(struct jsonscan *s, int t)
{
	taken(s);
	switch (t) {
	case JSONSCAN_STRING:
		s->p++;
		return jsonscan_lex_string(s, NULL);
	case JSONSCAN_NUMBER:
		return jsonscan_lex_number(s);
	case JSONSCAN_TRUE:
		return jsonscan_lex_literal(s, "true");
	case JSONSCAN_FALSE:
		return jsonscan_lex_literal(s, "false");
	default:
		return jsonscan_lex_literal(s, "null");
	}
}

int
jsonscan_skip(struct jsonscan *s)
{
	size_t base = s->depth;
	int t, r;

	for (;;) {
		if ((t = jsonscan_type(s)) < 0)
			return -1;
		if (t == JSONSCAN_OBJECT || t == JSONSCAN_ARRAY) {
			if (jsonscan_enter(s) != 0)
				return -1;
		} else if (scalar(s, t) != 0) {
			return -1;
		}
		/* climb out of what ended, down to the next value to skip */
		while (s->depth > base) {
			if ((r = jsonscan_next(s)) < 0)
				return -1;
			if (r == 1)
				break;
		}
		if (s->depth == base)
			return 0;
	}
}

bool
jsonscan_name_is(const struct jsonscan *s, const char *name)
{
	return s->name != NULL && strlen(name) == s->name_len &&
	    memcmp(s->name, name, s->name_len) == 0;
}

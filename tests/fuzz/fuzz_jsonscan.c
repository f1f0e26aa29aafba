/*
 * fuzz_jsonscan: agent/jsonscan.c against jansson, differentially.
 * jsonscan.h claims it reads what json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY) reads and rejects what it rejects; this target holds
 * it to that, and to the decoded content. Each input is walked four
 * ways, and all four must agree (verdict, error kind, text and place):
 *  1. from memory, entering every container and reading every string
 *     and number, building a jansson tree from the walk;
 *  2. the same through jsonscan_init_fd, from an AF_UNIX SOCK_SEQPACKET
 *     socket fed by a thread in pieces of 1 to max(64, size/16) bytes, a
 *     quarter of them 1 to 8 (each read(2) returns one piece, so the chunk
 *     edges fall at every kind of place, deterministically: the sizes come
 *     from a hash of the input);
 *  3. from memory, jsonscan_skip of the whole document;
 *  4. from memory, entering every container but leaving every scalar
 *     for jsonscan_next to skip.
 * Then jansson loads the input, and the target aborts when the verdicts
 * differ, or when both accept and the tree built from walk 1 (and 2)
 * serialises differently from jansson's (json_dumps with
 * JSON_ENCODE_ANY | JSON_COMPACT, with and without JSON_SORT_KEYS: the
 * member order must match too), or when walk 1 saw a duplicate name in an
 * object it accepted.
 *
 * The documented differences (jsonscan.h, /work/notes/acme.md), the only
 * ones allowed, and each checked rather than assumed:
 *  - jansson drops a NUL byte right after a literal or a number (`[1\0]`
 *    loads: its stream takes an unread NUL for the end of its one-char
 *    buffer); jsonscan rejects it. Allowed only when jansson accepts and
 *    the input with those NULs removed is accepted by jsonscan with the
 *    same content as jansson's tree.
 *  - jsonscan's own bounds: a number longer than JSONSCAN_MAX_NUMBER
 *    bytes (allowed only when the input holds such a run of number
 *    bytes), more than JSONSCAN_MAX_NAMES names or JSONSCAN_MAX_NAME_BYTES
 *    of names open at once (allowed only when the input is long enough to
 *    hold them; run.sh's -max_len keeps inputs below that).
 * Nesting is not a difference: both stop at 2048 (JSONSCAN_MAX_DEPTH,
 * JSON_PARSER_MAX_DEPTH).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)
#define DUMP_SORTED (JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS)
#define DUMP_ORDER (JSON_ENCODE_ANY | JSON_COMPACT)

/* What one walk ended with. */
struct verdict {
	bool ok;
	enum jsonscan_err err;
	const char *why;
	size_t line, col;
	json_t *tree;		/* walks 1 and 2, when ok */
	bool dup;		/* walks 1 and 2: a name seen twice in one object */
};

static void __attribute__((noreturn))
disagree(const char *what, const uint8_t *data, size_t size, const struct verdict *v,
    const json_error_t *je, bool jansson_ok)
{
	fprintf(stderr, "fuzz_jsonscan: %s (%zu bytes)\n", what, size);
	fprintf(stderr, "  jsonscan: %s", v->ok ? "accepts" : "rejects");
	if (!v->ok)
		fprintf(stderr, " (err %d, %s, line %zu column %zu)", (int)v->err,
		    v->why != NULL ? v->why : "?", v->line, v->col);
	fprintf(stderr, "\n  jansson:  %s", jansson_ok ? "accepts" : "rejects");
	if (!jansson_ok && je != NULL)
		fprintf(stderr, " (%s, line %d column %d)", je->text, je->line, je->column);
	fprintf(stderr, "\n");
	(void)data;
	abort();
}

/* A number's text as jansson's lexer reads it: a real has '.' or an exponent. */
static __attribute__((noinline)) json_t *
number_of(const uint8_t *p, size_t n)
{
	char text[JSONSCAN_MAX_NUMBER + 1];	/* not in build's recursive frame */

	memcpy(text, p, n);
	text[n] = '\0';
	return strpbrk(text, ".eE") != NULL ? json_real(strtod(text, NULL)) :
	    json_integer(strtoll(text, NULL, 10));
}

/*
 * The value at hand, as a jansson value built from the walk; NULL when
 * jsonscan set an error. Scalars are left alone when lazy (then only the
 * shape is built, with null for every scalar).
 */
static json_t *
build(struct jsonscan *s, const uint8_t *data, struct jsonscan_buf *buf, bool lazy,
    bool *dup)
{
	int t = jsonscan_type(s), r;
	size_t from, to;
	json_t *c, *v;

	switch (t) {
	case JSONSCAN_OBJECT:
	case JSONSCAN_ARRAY:
		if (jsonscan_enter(s) != 0)
			return NULL;
		c = t == JSONSCAN_OBJECT ? json_object() : json_array();
		if (c == NULL)
			abort();
		while ((r = jsonscan_next(s)) == 1) {
			char *key = NULL;
			size_t key_len = 0;

			if (t == JSONSCAN_OBJECT) {
				/* s->name lasts only until the value is read */
				if (s->name == NULL || s->name[s->name_len] != '\0')
					abort();
				key_len = s->name_len;
				if ((key = malloc(key_len + 1)) == NULL)
					abort();
				memcpy(key, s->name, key_len + 1);
			}
			if ((v = build(s, data, buf, lazy, dup)) == NULL) {
				free(key);
				json_decref(c);
				return NULL;
			}
			if (t == JSONSCAN_ARRAY) {
				if (json_array_append_new(c, v) != 0)
					abort();
				continue;
			}
			if (json_object_getn(c, key, key_len) != NULL)
				*dup = true;
			/* fails only for a name that is not UTF-8: jsonscan let it by */
			if (json_object_setn_new(c, key, key_len, v) != 0) {
				fprintf(stderr, "fuzz_jsonscan: a member name jansson refuses\n");
				abort();
			}
			free(key);
		}
		if (r < 0) {
			json_decref(c);
			return NULL;
		}
		return c;
	case JSONSCAN_STRING:
		if (lazy)
			return json_null();
		jsonscan_buf_reset(buf);
		if (jsonscan_string(s, buf) != 0)
			return NULL;
		if (buf->over || buf->p == NULL || buf->p[buf->len] != '\0')
			abort();
		/* NULL for invalid UTF-8 or a NUL byte: jsonscan let it by */
		if ((v = json_stringn((const char *)buf->p, buf->len)) == NULL) {
			fprintf(stderr, "fuzz_jsonscan: a string jansson refuses\n");
			abort();
		}
		return v;
	case JSONSCAN_NUMBER:
		if (lazy)
			return json_null();
		from = jsonscan_offset(s);
		if (jsonscan_skip(s) != 0)
			return NULL;
		to = jsonscan_offset(s);
		if (to <= from || to - from > JSONSCAN_MAX_NUMBER) {
			fprintf(stderr, "fuzz_jsonscan: number at %zu..%zu\n", from, to);
			abort();
		}
		v = number_of(data + from, to - from);
		if (v == NULL)
			abort();
		return v;
	case JSONSCAN_TRUE:
	case JSONSCAN_FALSE:
	case JSONSCAN_NULL:
		if (lazy)
			return json_null();
		if (jsonscan_skip(s) != 0)
			return NULL;
		return t == JSONSCAN_TRUE ? json_true() : t == JSONSCAN_FALSE ?
		    json_false() : json_null();
	default:
		return NULL;
	}
}

/* Walks the whole document s reads: mode 'b'uild, 'l'azy or 's'kip. */
static void
walk(struct jsonscan *s, const uint8_t *data, char mode, struct verdict *v)
{
	struct jsonscan_buf buf;
	json_t *root = NULL;
	int r;

	memset(v, 0, sizeof(*v));
	jsonscan_buf_init(&buf, 1 << 20);
	if ((r = jsonscan_next(s)) == 1) {
		if (mode == 's') {
			if (jsonscan_skip(s) == 0)
				root = json_null();
		} else {
			root = build(s, data, &buf, mode == 'l', &v->dup);
		}
		if (root != NULL && (r = jsonscan_next(s)) != 0) {
			if (r > 0 || s->err == JSONSCAN_OK)	/* one value only */
				abort();
			json_decref(root);
			root = NULL;
		}
	} else if (r == 0 || s->err == JSONSCAN_OK) {
		abort();	/* the document holds one value, or an error */
	}
	jsonscan_buf_free(&buf);
	v->ok = root != NULL;
	if (v->ok != (s->err == JSONSCAN_OK))
		abort();
	/* every call after an error fails */
	if (!v->ok && (jsonscan_next(s) != -1 || jsonscan_type(s) != -1 ||
	    jsonscan_skip(s) != -1))
		abort();
	v->err = s->err;
	v->why = s->why;
	v->line = s->err_line;
	v->col = s->err_col;
	if (mode == 'b')
		v->tree = root;
	else
		json_decref(root);
}

static void
walk_mem(const uint8_t *data, size_t size, char mode, struct verdict *v)
{
	struct jsonscan s;

	jsonscan_init_mem(&s, data, size);
	walk(&s, data, mode, v);
	jsonscan_free(&s);
}

/* The pieces the writer thread sends the input in. */
struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
	uint64_t seed;
};

static uint64_t
next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void *
writer(void *arg)
{
	struct feed *f = arg;
	size_t off = 0, most = f->size / 16 > 64 ? f->size / 16 : 64;
	uint64_t x = f->seed | 1;

	while (off < f->size) {
		uint64_t r = next_rand(&x);
		/* a quarter tiny pieces (1..8), the rest 1..max(64, size/16) */
		size_t n = (r & 3) == 0 ? 1 + (size_t)(r >> 8) % 8 : 1 + (size_t)(r >> 8) % most;
		ssize_t w;

		if (n > f->size - off)
			n = f->size - off;
		w = send(f->fd, f->data + off, n, MSG_NOSIGNAL);
		if (w < 0)
			break;		/* the reader stopped early */
		if ((size_t)w != n)
			abort();	/* a packet is sent whole */
		off += n;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* FNV-1a of the input: the piece sizes are the input's own. */
static uint64_t
hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3u;
	return h;
}

/* Walk 2: through the chunked reader; false if it could not be set up. */
static bool
walk_fd(const uint8_t *data, size_t size, struct verdict *v)
{
	struct jsonscan s;
	struct feed f;
	pthread_t th;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return false;
	f.fd = sv[1];
	f.data = data;
	f.size = size;
	f.seed = hash(data, size);
	if (pthread_create(&th, NULL, writer, &f) != 0) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	if (jsonscan_init_fd(&s, sv[0], size) != 0)
		abort();
	walk(&s, data, 'b', v);
	/* read as far as the input went: never more than its size */
	if (v->ok && jsonscan_offset(&s) != size)
		abort();
	if (s.grew)
		abort();
	jsonscan_free(&s);
	shutdown(sv[0], SHUT_RDWR);	/* a writer still sending gets EPIPE */
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	return true;
}

static bool
same_error(const struct verdict *a, const struct verdict *b)
{
	return a->ok == b->ok && a->err == b->err && a->why == b->why &&
	    a->line == b->line && a->col == b->col;
}

/* Both dumps of a and b are the same text. */
static bool
same_tree(const json_t *a, const json_t *b)
{
	static const size_t flags[] = { DUMP_SORTED, DUMP_ORDER };
	bool same = json_equal(a, b) != 0;

	for (size_t i = 0; i < 2 && same; i++) {
		char *x = json_dumps(a, flags[i]), *y = json_dumps(b, flags[i]);

		if (x == NULL || y == NULL)
			abort();
		same = strcmp(x, y) == 0;
		free(x);
		free(y);
	}
	return same;
}

/*
 * jansson accepted, jsonscan rejected, and the input holds a NUL: is it
 * jansson's dropped NUL? The input without the NULs that follow a letter
 * or a digit must read the same in jsonscan as in jansson.
 */
static bool
dropped_nul(const uint8_t *data, size_t size, const json_t *theirs)
{
	struct verdict v;
	uint8_t *clean;
	size_t n = 0;
	bool ok;

	if (memchr(data, '\0', size) == NULL || (clean = malloc(size)) == NULL)
		return false;
	for (size_t i = 0; i < size; i++) {
		uint8_t p = i > 0 ? data[i - 1] : 0;

		if (data[i] == '\0' && ((p >= '0' && p <= '9') || (p >= 'a' && p <= 'z') ||
		    (p >= 'A' && p <= 'Z')))
			continue;
		clean[n++] = data[i];
	}
	walk_mem(clean, n, 'b', &v);
	ok = v.ok && !v.dup && same_tree(v.tree, theirs);
	json_decref(v.tree);
	free(clean);
	return ok;
}

/* A run of more than JSONSCAN_MAX_NUMBER number bytes. */
static bool
long_number(const uint8_t *data, size_t size)
{
	size_t run = 0;

	for (size_t i = 0; i < size; i++) {
		if (strchr("0123456789+-.eE", data[i]) != NULL && data[i] != '\0') {
			if (++run > JSONSCAN_MAX_NUMBER)
				return true;
		} else {
			run = 0;
		}
	}
	return false;
}

/* jsonscan rejected what jansson accepted: one of the documented bounds? */
static bool
documented(const uint8_t *data, size_t size, const struct verdict *v, const json_t *theirs)
{
	if (v->err != JSONSCAN_SYNTAX || v->why == NULL)
		return false;
	if (strcmp(v->why, "number too long") == 0)
		return long_number(data, size);
	if (strcmp(v->why, "too many member names") == 0)
		return size > 4 * (size_t)JSONSCAN_MAX_NAMES;
	if (strcmp(v->why, "member names too long") == 0)
		return size > JSONSCAN_MAX_NAME_BYTES;
	return dropped_nul(data, size, theirs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict mem, fd, skip, lazy;
	json_error_t je;
	json_t *theirs;
	bool have_fd;

	walk_mem(data, size, 'b', &mem);
	walk_mem(data, size, 's', &skip);
	walk_mem(data, size, 'l', &lazy);
	have_fd = walk_fd(data, size, &fd);
	if (!same_error(&mem, &skip))
		disagree("the walk and jsonscan_skip differ", data, size, &skip, NULL, false);
	if (!same_error(&mem, &lazy))
		disagree("the walk and the lazy walk differ", data, size, &lazy, NULL, false);
	if (have_fd && !same_error(&mem, &fd))
		disagree("memory and the chunked reader differ", data, size, &fd, NULL, false);
	if (have_fd && mem.ok && !same_tree(mem.tree, fd.tree))
		disagree("memory and the chunked reader decode differently", data, size,
		    &fd, NULL, false);
	if (mem.ok && mem.dup)
		disagree("jsonscan accepted a duplicate member name", data, size, &mem,
		    NULL, false);

	theirs = json_loadb((const char *)data, size, FLAGS, &je);
	if (mem.ok && theirs == NULL)
		disagree("jsonscan accepts, jansson rejects", data, size, &mem, &je, false);
	if (!mem.ok && theirs != NULL && !documented(data, size, &mem, theirs))
		disagree("jansson accepts, jsonscan rejects", data, size, &mem, &je, true);
	if (mem.ok && !same_tree(mem.tree, theirs)) {
		char *x = json_dumps(mem.tree, DUMP_ORDER), *y = json_dumps(theirs, DUMP_ORDER);

		fprintf(stderr, "jsonscan: %.300s\njansson:  %.300s\n", x ? x : "?", y ? y : "?");
		free(x);
		free(y);
		disagree("jsonscan and jansson decode differently", data, size, &mem, NULL, true);
	}
	json_decref(theirs);
	json_decref(mem.tree);
	if (have_fd)
		json_decref(fd.tree);
	return 0;
}

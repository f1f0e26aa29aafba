/*
 * jsonscan: a strict, bounded, streaming JSON reader. It reads what
 * jansson's json_loadb(JSON_REJECT_DUPLICATES) reads, and rejects what
 * it rejects (bad syntax, invalid UTF-8, \u0000, lone surrogates,
 * duplicate member names after unescaping, integers beyond 64 bits,
 * reals that overflow, values nested deeper than 2048 (any value inside
 * 2048 open containers, a scalar too), anything after the value), without building a tree: the caller walks the document and
 * keeps only what it needs. Input comes from one buffer or from a file
 * descriptor, read in chunks, so a large file is never held whole.
 *
 * Walking: jsonscan_next() steps to the next value of the container at
 * hand (an object's member, with its name in s->name, or an array's
 * element; the document itself is a container of one value) and returns
 * 1, or 0 once the container ends. The value is then read with
 * jsonscan_string(), or entered with jsonscan_enter() (then walked with
 * jsonscan_next() until 0), or skipped; a value left alone is skipped by
 * the next jsonscan_next(). jsonscan_type() tells what the value is.
 * Every call returns -1 once an error is set, and the first error stays.
 *
 * Bounds beyond jansson's: at most JSONSCAN_MAX_NAMES member names (and
 * JSONSCAN_MAX_NAME_BYTES of them) in the objects open at once, kept for
 * the duplicate check; numbers of at most JSONSCAN_MAX_NUMBER bytes.
 * Error texts never quote the input.
 */
#ifndef MCA_JSONSCAN_H
#define MCA_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JSONSCAN_MAX_DEPTH 2048		/* as jansson's parser */
#define JSONSCAN_MAX_NAMES 65536
#define JSONSCAN_MAX_NAME_BYTES (4 * 1024 * 1024)
#define JSONSCAN_MAX_NUMBER 4096
#define JSONSCAN_CHUNK (64 * 1024)	/* read size from a file descriptor */

enum jsonscan_type {
	JSONSCAN_OBJECT,
	JSONSCAN_ARRAY,
	JSONSCAN_STRING,
	JSONSCAN_NUMBER,
	JSONSCAN_TRUE,
	JSONSCAN_FALSE,
	JSONSCAN_NULL,
	JSONSCAN__MAX
};

enum jsonscan_err {
	JSONSCAN_OK,
	JSONSCAN_SYNTAX,		/* not JSON, or beyond a bound */
	JSONSCAN_READ,			/* read(2) failed */
	JSONSCAN_GREW,			/* the file is longer than its size */
	JSONSCAN_NOMEM,
	JSONSCAN_ERR__MAX
};

/*
 * A growable byte buffer a string is read into, decoded. It holds at
 * most max bytes: the rest of a longer string is checked but not kept,
 * and over is set. A NUL always follows the len bytes. Growing and
 * jsonscan_buf_free wipe what the buffer held.
 */
struct jsonscan_buf {
	unsigned char *p;
	size_t len;
	size_t cap;
	size_t max;
	bool over;
};

/* One open container. */
struct jsonscan_frame {
	unsigned char kind;		/* '{', '[', or 0: the document */
	bool pending;			/* next() gave a value not read yet */
	size_t count;			/* members or elements so far */
	size_t names;			/* first name record of this object */
	size_t name_bytes;		/* names.len when it opened */
};

/* Where a member name lies in names. */
struct jsonscan_name {
	size_t off;
	size_t len;
};

struct jsonscan {
	/* input: the unread bytes of the current chunk */
	const unsigned char *p, *end;
	const unsigned char *base;	/* start of the current chunk */
	size_t before;			/* input bytes before base */
	int fd;				/* -1: one buffer */
	size_t size;			/* fd: bytes expected; more is JSONSCAN_GREW */
	bool grew;			/* fd: more than size bytes were there */
	unsigned char *chunk;		/* fd: the read buffer */
	/* position, for errors */
	size_t line;
	size_t line_start;		/* offset of the line's first byte */
	/* open containers; stack[0] is the document */
	struct jsonscan_frame *stack;
	size_t depth;
	size_t stack_cap;
	/* member names of the open objects, for the duplicate check */
	struct jsonscan_buf names;
	struct jsonscan_name *recs;
	size_t nrecs;
	size_t recs_cap;
	/* the member next() just stepped to (valid until the next read) */
	const char *name;
	size_t name_len;
	/* the first error */
	enum jsonscan_err err;
	const char *why;		/* static text, never input bytes */
	size_t err_line;
	size_t err_col;
};

/* Reading from len bytes at buf (not copied: they must outlive s). */
void jsonscan_init_mem(struct jsonscan *s, const unsigned char *buf, size_t len);
/* Reading from fd, a file of size bytes; returns -1 without memory. */
int jsonscan_init_fd(struct jsonscan *s, int fd, size_t size);
/* Frees and wipes everything s holds (the read buffer too). */
void jsonscan_free(struct jsonscan *s);

/* 1: a value follows (s->name set in objects), 0: the container ended. */
int jsonscan_next(struct jsonscan *s);
/* The type of the value at hand, or -1. */
int jsonscan_type(struct jsonscan *s);
/* Enters the object or array at hand. */
int jsonscan_enter(struct jsonscan *s);
/* Reads the string at hand into out (NULL: checked only); -1 if not a string. */
int jsonscan_string(struct jsonscan *s, struct jsonscan_buf *out);
/* Skips the value at hand, checking all of it. */
int jsonscan_skip(struct jsonscan *s);
/* True when the member next() stepped to is named name. */
bool jsonscan_name_is(const struct jsonscan *s, const char *name);
/* fd: reads what is left after an error, so a file that grew sets grew. */
void jsonscan_drain(struct jsonscan *s);
/* Input bytes read so far. */
size_t jsonscan_offset(const struct jsonscan *s);

void jsonscan_buf_init(struct jsonscan_buf *b, size_t max);
/* Appends n bytes: -1 without memory or past max (then over is set). */
int jsonscan_buf_add(struct jsonscan_buf *b, const unsigned char *src, size_t n);
/* Room for n bytes and a NUL (n <= max), content kept: -1 without memory. */
int jsonscan_buf_reserve(struct jsonscan_buf *b, size_t n);
void jsonscan_buf_reset(struct jsonscan_buf *b);	/* wipes, keeps the memory */
void jsonscan_buf_free(struct jsonscan_buf *b);

#endif

/*
 * starttls: the plain-text dialogues that come before a STARTTLS
 * handshake (SMTP, IMAP, POP3, ManageSieve), as a pure state machine fed
 * one server line at a time, so it is testable and fuzzable without I/O.
 */
#ifndef MCA_STARTTLS_H
#define MCA_STARTTLS_H

#include <stddef.h>

#include "endpoint.h"

/* A server may send this many lines in one reply before we give up. */
#define STARTTLS_MAX_LINES 100
/* RFC 5321 allows 512 octets a line; be generous, but bounded. */
#define STARTTLS_MAX_LINE 2048

enum starttls_action {
	STARTTLS_READ,		/* read another line */
	STARTTLS_SEND,		/* send *out, then read */
	STARTTLS_HANDSHAKE,	/* start TLS now */
	STARTTLS_FAIL,		/* *out names what went wrong */
};

struct starttls_state {
	enum starttls_kind kind;
	int phase;		/* 0 greeting, 1 capabilities, 2 STARTTLS reply */
	int lines;		/* lines seen in this phase */
	int offered;		/* the server advertised STARTTLS */
};

void starttls_init(struct starttls_state *st, enum starttls_kind kind);

/*
 * Feeds one line (without CR LF; not NUL-terminated). Returns what to do
 * next; for STARTTLS_SEND *out is the command, for STARTTLS_FAIL a short
 * static reason.
 */
enum starttls_action starttls_feed(struct starttls_state *st,
    const char *line, size_t len, const char **out);

/* SMTP reply line: 3-digit code and whether it is the last line. */
int starttls_smtp_reply(const char *line, size_t len, int *code, int *last);

#endif

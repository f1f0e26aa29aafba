/*
 * jsonscan_lex: jsonscan's byte level, shared by jsonscan_lex.c and the
 * walk in jsonscan.c only (callers use jsonscan.h): the input, the
 * position and first error, and the reading of one string, number or
 * literal. Each function returns -1 once an error is set in s.
 */
#ifndef MCA_JSONSCAN_LEX_H
#define MCA_JSONSCAN_LEX_H

#include "jsonscan.h"

/* Sets a syntax error (the first error stays); returns -1. */
int jsonscan_bad(struct jsonscan *s, const char *why);
/* Sets JSONSCAN_NOMEM (the first error stays); returns -1. */
int jsonscan_nomem(struct jsonscan *s);

/* The next byte that is not white space, not consumed; -1 at the end. */
int jsonscan_skip_ws(struct jsonscan *s);

/* Appends what fits under max (over set for the rest); -1 only without memory. */
int jsonscan_buf_put(struct jsonscan_buf *b, const unsigned char *src, size_t n);

/* The rest of a string (its opening quote read), decoded into out; NULL: checked only. */
int jsonscan_lex_string(struct jsonscan *s, struct jsonscan_buf *out);
/* A number, its first byte next; bounded by JSONSCAN_MAX_NUMBER. */
int jsonscan_lex_number(struct jsonscan *s);
/* The literal word (true, false, null), its first byte next. */
int jsonscan_lex_literal(struct jsonscan *s, const char *word);

#endif

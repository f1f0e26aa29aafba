/*
 * starttls: each dialogue is greeting -> (capabilities) -> STARTTLS ->
 * positive reply. We ask for nothing else and log in as nobody.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "starttls.h"

#define EHLO "EHLO mailu-cert-agent\r\n"

void
starttls_init(struct starttls_state *st, enum starttls_kind kind)
{
	memset(st, 0, sizeof(*st));
	st->kind = kind;
}

static int
starts_with(const char *line, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && strncasecmp(line, prefix, plen) == 0;
}

/* Case-insensitive search for a word inside a bounded line. */
static int
contains(const char *line, size_t len, const char *word)
{
	size_t wlen = strlen(word);

	for (size_t i = 0; i + wlen <= len; i++)
		if (strncasecmp(line + i, word, wlen) == 0)
			return 1;
	return 0;
}

int
starttls_smtp_reply(const char *line, size_t len, int *code, int *last)
{
	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]))
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	*last = len == 3 || line[3] == ' ';
	return 0;
}

static enum starttls_action
fail(const char **out, const char *why)
{
	*out = why;
	return STARTTLS_FAIL;
}

static enum starttls_action
next_phase(struct starttls_state *st, const char **out, const char *cmd)
{
	st->phase++;
	st->lines = 0;
	*out = cmd;
	return STARTTLS_SEND;
}

static enum starttls_action
feed_smtp(struct starttls_state *st, const char *line, size_t len,
    const char **out)
{
	int code, last;

	if (starttls_smtp_reply(line, len, &code, &last) != 0)
		return fail(out, "smtp_bad_reply");
	switch (st->phase) {
	case 0:
		if (code != 220)
			return fail(out, "smtp_greeting_refused");
		return last ? next_phase(st, out, EHLO) : STARTTLS_READ;
	case 1:
		if (code != 250)
			return fail(out, "smtp_ehlo_refused");
		if (len > 4 && contains(line + 4, len - 4, "STARTTLS"))
			st->offered = 1;
		if (!last)
			return STARTTLS_READ;
		if (!st->offered)
			return fail(out, "starttls_not_offered");
		return next_phase(st, out, "STARTTLS\r\n");
	default:
		if (!last)
			return STARTTLS_READ;
		return code == 220 ? STARTTLS_HANDSHAKE :
		    fail(out, "starttls_refused");
	}
}

static enum starttls_action
feed_imap(struct starttls_state *st, const char *line, size_t len,
    const char **out)
{
	if (st->phase == 0) {
		if (starts_with(line, len, "* OK"))
			return next_phase(st, out, "a1 STARTTLS\r\n");
		return fail(out, "imap_greeting_refused");
	}
	if (starts_with(line, len, "* "))
		return STARTTLS_READ;	/* untagged data before our answer */
	if (starts_with(line, len, "a1 OK"))
		return STARTTLS_HANDSHAKE;
	return fail(out, "starttls_refused");
}

static enum starttls_action
feed_pop3(struct starttls_state *st, const char *line, size_t len,
    const char **out)
{
	if (!starts_with(line, len, "+OK"))
		return fail(out, st->phase == 0 ? "pop3_greeting_refused" :
		    "starttls_refused");
	if (st->phase == 0)
		return next_phase(st, out, "STLS\r\n");
	return STARTTLS_HANDSHAKE;
}

/* ManageSieve (RFC 5804): capability lines are quoted, the end is OK. */
static enum starttls_action
feed_sieve(struct starttls_state *st, const char *line, size_t len,
    const char **out)
{
	if (len > 0 && line[0] == '"') {
		if (st->phase == 1)
			return fail(out, "sieve_bad_reply");
		if (starts_with(line, len, "\"STARTTLS\""))
			st->offered = 1;
		return STARTTLS_READ;
	}
	if (starts_with(line, len, "OK") && (len == 2 || line[2] == ' ')) {
		if (st->phase == 1)
			return STARTTLS_HANDSHAKE;
		if (!st->offered)
			return fail(out, "starttls_not_offered");
		return next_phase(st, out, "STARTTLS\r\n");
	}
	return fail(out, st->phase == 0 ? "sieve_greeting_refused" :
	    "starttls_refused");
}

enum starttls_action
starttls_feed(struct starttls_state *st, const char *line, size_t len,
    const char **out)
{
	*out = NULL;
	if (len > STARTTLS_MAX_LINE)
		return fail(out, "line_too_long");
	if (++st->lines > STARTTLS_MAX_LINES)
		return fail(out, "too_many_lines");
	switch (st->kind) {
	case STARTTLS_SMTP:
		return feed_smtp(st, line, len, out);
	case STARTTLS_IMAP:
		return feed_imap(st, line, len, out);
	case STARTTLS_POP3:
		return feed_pop3(st, line, len, out);
	case STARTTLS_SIEVE:
		return feed_sieve(st, line, len, out);
	default:
		return fail(out, "no_dialogue");
	}
}

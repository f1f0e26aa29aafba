/* Each STARTTLS dialogue's line parser, fed the lines real servers send. */
#include "harness.h"
#include "starttls.h"

/* Feeds lines; returns the action of the last one, *sent the last command. */
static enum starttls_action
feed_all(struct starttls_state *st, const char *const *lines, size_t n,
    const char **out)
{
	enum starttls_action a = STARTTLS_READ;

	for (size_t i = 0; i < n; i++) {
		a = starttls_feed(st, lines[i], strlen(lines[i]), out);
		if (a == STARTTLS_FAIL || a == STARTTLS_HANDSHAKE)
			break;
	}
	return a;
}

TEST(smtp_full_dialogue)
{
	struct starttls_state st;
	const char *out;

	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(starttls_feed(&st, "220-mail.example.com ESMTP", 26, &out), STARTTLS_READ);
	CHECK_INT(starttls_feed(&st, "220 ready", 9, &out), STARTTLS_SEND);
	CHECK_STR(out, "EHLO mailu-cert-agent\r\n");
	CHECK_INT(starttls_feed(&st, "250-mail.example.com", 20, &out), STARTTLS_READ);
	CHECK_INT(starttls_feed(&st, "250-STARTTLS", 12, &out), STARTTLS_READ);
	CHECK_INT(starttls_feed(&st, "250 8BITMIME", 12, &out), STARTTLS_SEND);
	CHECK_STR(out, "STARTTLS\r\n");
	CHECK_INT(starttls_feed(&st, "220 2.0.0 Start TLS", 19, &out), STARTTLS_HANDSHAKE);
}

TEST(smtp_no_starttls_offered)
{
	static const char *const lines[] = { "220 hi", "250-x", "250 AUTH PLAIN" };
	struct starttls_state st;
	const char *out;

	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(feed_all(&st, lines, 3, &out), STARTTLS_FAIL);
	CHECK_STR(out, "starttls_not_offered");
}

TEST(smtp_refusals_and_garbage)
{
	struct starttls_state st;
	const char *out;

	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(starttls_feed(&st, "554 go away", 11, &out), STARTTLS_FAIL);
	CHECK_STR(out, "smtp_greeting_refused");
	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(starttls_feed(&st, "HTTP/1.1 400", 12, &out), STARTTLS_FAIL);
	CHECK_STR(out, "smtp_bad_reply");
	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(starttls_feed(&st, "22", 2, &out), STARTTLS_FAIL);
	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(starttls_feed(&st, "220x", 4, &out), STARTTLS_FAIL);
	/* a bare code is a last line */
	starttls_init(&st, STARTTLS_SMTP);
	CHECK_INT(starttls_feed(&st, "220", 3, &out), STARTTLS_SEND);
	static const char *const rest[] = { "250 STARTTLS", "454 TLS not available" };
	CHECK_INT(feed_all(&st, rest, 2, &out), STARTTLS_FAIL);
	CHECK_STR(out, "starttls_refused");
}

TEST(smtp_reply_parser)
{
	int code = 0, last = 0;

	CHECK_INT(starttls_smtp_reply("250-PIPELINING", 14, &code, &last), 0);
	CHECK_INT(code, 250);
	CHECK_INT(last, 0);
	CHECK_INT(starttls_smtp_reply("250 OK", 6, &code, &last), 0);
	CHECK_INT(last, 1);
	CHECK_INT(starttls_smtp_reply("2a0 OK", 6, &code, &last), -1);
	CHECK_INT(starttls_smtp_reply("", 0, &code, &last), -1);
}

TEST(smtp_endless_multiline_is_bounded)
{
	struct starttls_state st;
	const char *out = NULL;
	enum starttls_action a = STARTTLS_READ;
	int i;

	starttls_init(&st, STARTTLS_SMTP);
	for (i = 0; i < 1000 && a == STARTTLS_READ; i++)
		a = starttls_feed(&st, "220-more", 8, &out);
	CHECK_INT(a, STARTTLS_FAIL);
	CHECK_STR(out, "too_many_lines");
	CHECK(i <= STARTTLS_MAX_LINES + 1);
}

TEST(imap_dialogue)
{
	struct starttls_state st;
	const char *out;

	starttls_init(&st, STARTTLS_IMAP);
	CHECK_INT(starttls_feed(&st, "* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.",
	    51, &out), STARTTLS_SEND);
	CHECK_STR(out, "a1 STARTTLS\r\n");
	CHECK_INT(starttls_feed(&st, "* CAPABILITY IMAP4rev1", 22, &out), STARTTLS_READ);
	CHECK_INT(starttls_feed(&st, "a1 OK Begin TLS negotiation now.", 32, &out),
	    STARTTLS_HANDSHAKE);

	starttls_init(&st, STARTTLS_IMAP);
	CHECK_INT(starttls_feed(&st, "* BYE shutting down", 19, &out), STARTTLS_FAIL);
	CHECK_STR(out, "imap_greeting_refused");
	starttls_init(&st, STARTTLS_IMAP);
	starttls_feed(&st, "* OK hi", 7, &out);
	CHECK_INT(starttls_feed(&st, "a1 BAD TLS already active", 25, &out), STARTTLS_FAIL);
	CHECK_STR(out, "starttls_refused");
}

TEST(pop3_dialogue)
{
	struct starttls_state st;
	const char *out;

	starttls_init(&st, STARTTLS_POP3);
	CHECK_INT(starttls_feed(&st, "+OK Dovecot ready.", 18, &out), STARTTLS_SEND);
	CHECK_STR(out, "STLS\r\n");
	CHECK_INT(starttls_feed(&st, "+OK Begin TLS negotiation now.", 30, &out),
	    STARTTLS_HANDSHAKE);
	starttls_init(&st, STARTTLS_POP3);
	starttls_feed(&st, "+OK", 3, &out);
	CHECK_INT(starttls_feed(&st, "-ERR no", 7, &out), STARTTLS_FAIL);
	CHECK_STR(out, "starttls_refused");
}

TEST(sieve_dialogue)
{
	static const char *const greet[] = {
		"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"",
		"\"SIEVE\" \"fileinto reject\"",
		"\"STARTTLS\"",
		"\"VERSION\" \"1.0\"",
		"OK \"Dovecot ready.\"",
	};
	struct starttls_state st;
	const char *out;

	starttls_init(&st, STARTTLS_SIEVE);
	CHECK_INT(feed_all(&st, greet, 5, &out), STARTTLS_SEND);
	CHECK_STR(out, "STARTTLS\r\n");
	CHECK_INT(starttls_feed(&st, "OK \"Begin TLS negotiation now.\"", 31, &out),
	    STARTTLS_HANDSHAKE);

	/* no STARTTLS capability */
	starttls_init(&st, STARTTLS_SIEVE);
	CHECK_INT(feed_all(&st, (const char *const[]){ "\"SIEVE\" \"x\"", "OK" }, 2, &out),
	    STARTTLS_FAIL);
	CHECK_STR(out, "starttls_not_offered");
	/* NO to STARTTLS, and OKAY is not OK */
	starttls_init(&st, STARTTLS_SIEVE);
	CHECK_INT(feed_all(&st, greet, 5, &out), STARTTLS_SEND);
	CHECK_INT(starttls_feed(&st, "NO \"later\"", 10, &out), STARTTLS_FAIL);
	starttls_init(&st, STARTTLS_SIEVE);
	CHECK_INT(starttls_feed(&st, "OKAY", 4, &out), STARTTLS_FAIL);
}

TEST(overlong_line)
{
	static char big[STARTTLS_MAX_LINE + 10];
	struct starttls_state st;
	const char *out;

	memset(big, 'A', sizeof(big));
	starttls_init(&st, STARTTLS_POP3);
	CHECK_INT(starttls_feed(&st, big, sizeof(big), &out), STARTTLS_FAIL);
	CHECK_STR(out, "line_too_long");
}

HARNESS_MAIN("starttls", RUN(smtp_full_dialogue), RUN(smtp_no_starttls_offered),
    RUN(smtp_refusals_and_garbage), RUN(smtp_reply_parser),
    RUN(smtp_endless_multiline_is_bounded), RUN(imap_dialogue),
    RUN(pop3_dialogue), RUN(sieve_dialogue), RUN(overlong_line))

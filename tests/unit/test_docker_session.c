/* docker_session's pure parts: the command line it writes, the status it reads. */
#include <string.h>

#include "harness.h"
#include "docker_session.h"

TEST(session_quote)
{
	char a0[] = "nginx", a1[] = "-s", a2[] = "reload", q[] = "it's", nl[] = "a\nb";
	char *plain[] = { a0, a1, a2, NULL }, *quoted[] = { a0, q, NULL };
	char *bad[] = { a0, nl, NULL }, *none[] = { NULL };
	char out[64];

	CHECK_INT(docker_session_quote(plain, out, sizeof(out)), 0);
	CHECK_STR(out, "'nginx' '-s' 'reload'");
	CHECK_INT(docker_session_quote(quoted, out, sizeof(out)), 0);
	CHECK_STR(out, "'nginx' 'it'\\''s'");
	/* a newline would end the line early: refused, as is an empty command */
	CHECK_INT(docker_session_quote(bad, out, sizeof(out)), -1);
	CHECK_INT(docker_session_quote(none, out, sizeof(out)), -1);
	/* exactly the room it needs, and one byte less */
	CHECK_INT(docker_session_quote(plain, out, strlen("'nginx' '-s' 'reload'") + 1), 0);
	CHECK_INT(docker_session_quote(plain, out, strlen("'nginx' '-s' 'reload'")), -1);
}

struct sink {
	char buf[256];
	size_t n;
};

static void
collect(void *arg, const unsigned char *p, size_t n)
{
	struct sink *s = arg;

	memcpy(s->buf + s->n, p, n);
	s->n += n;
	s->buf[s->n] = '\0';
}

/* Feeds text in pieces of step bytes: the last return. */
static int
scan(const char *text, size_t step, struct sink *out, int *code)
{
	struct docker_session_scan sc;
	size_t len = strlen(text);
	int r = 0;

	memset(&sc, 0, sizeof(sc));
	memset(out, 0, sizeof(*out));
	strcpy(sc.token, "0123456789abcdef");
	for (size_t i = 0; i < len && r == 0; i += step)
		r = docker_session_scan(&sc, (const unsigned char *)text + i,
		    len - i < step ? len - i : step, collect, out);
	*code = sc.code;
	return r;
}

TEST(session_scan)
{
	struct sink out;
	int code;

	for (size_t step = 1; step <= 64; step++) {
		CHECK_INT(scan("0123456789abcdef 0\n", step, &out, &code), 1);
		CHECK_INT(code, 0);
		CHECK_STR(out.buf, "");
		/* the output, with a line that starts like the token, then the status */
		CHECK_INT(scan("[notice] signal process started\n0123456789abcd\n"
		    "x 0123456789abcdef 0\n0123456789abcdef 1\n", step, &out, &code), 1);
		CHECK_INT(code, 1);
		CHECK_STR(out.buf, "[notice] signal process started\n0123456789abcd\n"
		    "x 0123456789abcdef 0\n");
		CHECK_INT(scan("0123456789abcdef 255\n", step, &out, &code), 1);
		CHECK_INT(code, 255);
		/* not a status: over 255, not digits, no digits, bytes after it */
		CHECK_INT(scan("0123456789abcdef 256\n", step, &out, &code), -1);
		CHECK_INT(scan("0123456789abcdef 1x\n", step, &out, &code), -1);
		CHECK_INT(scan("0123456789abcdef \n", step, &out, &code), -1);
		/* bytes after it in the same read (else the next run finds them) */
		CHECK_INT(scan("0123456789abcdef 0\nmore", step, &out, &code), 19 % step == 0 ? 1 : -1);
		/* still waiting */
		CHECK_INT(scan("output without the status\n0123456789abcdef 1", step, &out,
		    &code), 0);
	}
}
HARNESS_MAIN("docker_session", RUN(session_quote), RUN(session_scan))

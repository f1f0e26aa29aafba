/* The logger: one JSON object per line, core keys first and unforgeable. */
#include <jansson.h>
#include <stdlib.h>

#include "harness.h"
#include "log.h"

/* Logs through fn into a temp file and returns the parsed lines. */
static json_t *
capture(void (*fn)(void))
{
	char buf[8192];
	json_t *lines = json_array();
	FILE *f = tmpfile();

	log_init(f, LOG_LEVEL_INFO);
	fn();
	log_init(stdout, LOG_LEVEL_INFO);
	rewind(f);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		json_error_t e;
		json_t *o = json_loads(buf, 0, &e);

		CHECK(o != NULL);
		CHECK(buf[strlen(buf) - 1] == '\n');
		if (o != NULL)
			json_array_append_new(lines, o);
	}
	fclose(f);
	return lines;
}

static void
emit_basic(void)
{
	log_event(LOG_LEVEL_INFO, "agent.start", json_pack("{s:i}", "n", 3), "hello %d", 42);
	log_event(LOG_LEVEL_DEBUG, "noise", NULL, "filtered");
	log_set_cycle("c-1");
	log_event(LOG_LEVEL_ERROR, "verify.failed",
	    json_pack("{s:s, s:s}", "level", "debug", "event", "forged"), "x");
	log_set_cycle(NULL);
	log_event(LOG_LEVEL_WARN, "peer", json_pack("{s:s}", "line", "a\"b\nc"), "q");
}

TEST(lines_and_keys)
{
	json_t *lines = capture(emit_basic), *o;
	const char *t;

	CHECK_INT(json_array_size(lines), 3);
	o = json_array_get(lines, 0);
	CHECK_STR(json_string_value(json_object_get(o, "event")), "agent.start");
	CHECK_STR(json_string_value(json_object_get(o, "level")), "info");
	CHECK_STR(json_string_value(json_object_get(o, "msg")), "hello 42");
	CHECK_INT(json_integer_value(json_object_get(o, "n")), 3);
	CHECK(json_object_get(o, "cycle") == NULL);
	t = json_string_value(json_object_get(o, "time"));
	/* 2026-11-28T07:38:29.163Z */
	CHECK(t != NULL && strlen(t) == 24 && t[10] == 'T' && t[19] == '.' && t[23] == 'Z');

	o = json_array_get(lines, 1);
	CHECK_STR(json_string_value(json_object_get(o, "level")), "error");
	CHECK_STR(json_string_value(json_object_get(o, "event")), "verify.failed");
	CHECK_STR(json_string_value(json_object_get(o, "cycle")), "c-1");
	o = json_array_get(lines, 2);
	CHECK_STR(json_string_value(json_object_get(o, "line")), "a\"b\nc");
	CHECK(json_object_get(o, "cycle") == NULL);
	json_decref(lines);
}

TEST(levels)
{
	enum log_level l;

	CHECK_INT(log_level_parse("warn", &l), 0);
	CHECK_INT(l, LOG_LEVEL_WARN);
	CHECK_INT(log_level_parse("warning", &l), 0);
	CHECK_INT(log_level_parse("debug", &l), 0);
	CHECK_INT(l, LOG_LEVEL_DEBUG);
	CHECK_INT(log_level_parse("trace", &l), -1);
}

TEST(text_format)
{
	char buf[1024] = "";
	FILE *f = tmpfile();

	log_init(f, LOG_LEVEL_INFO);
	log_set_text(true);
	log_event(LOG_LEVEL_WARN, "drift.detected",
	    json_pack("{s:i, s:s}", "stale", 7, "service", "dovecot"), "seven %s", "stale");
	log_set_text(false);
	log_init(stdout, LOG_LEVEL_INFO);
	rewind(f);
	CHECK(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	/* 2026-11-28T07:38:29.163Z warn drift.detected: seven stale stale=7 service=dovecot */
	CHECK(strlen(buf) > 25 && buf[23] == 'Z' && buf[24] == ' ');
	CHECK_STR(strstr(buf, " warn drift.detected: seven stale stale=7 service=dovecot\n"),
	    " warn drift.detected: seven stale stale=7 service=dovecot\n");
}

HARNESS_MAIN("log", RUN(lines_and_keys), RUN(levels), RUN(text_format))

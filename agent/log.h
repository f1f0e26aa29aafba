/* log: one JSON object per line on stdout, the agent's only output channel. */
#ifndef MCA_LOG_H
#define MCA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL__MAX
};

extern const char *const log_level_names[LOG_LEVEL__MAX];

/* Parses "debug", "info", "warn", "error". Returns 0, or -1 if unknown. */
int log_level_parse(const char *s, enum log_level *out);

/* Where lines go (default stdout) and the lowest level written. */
void log_init(FILE *out, enum log_level min);

/*
 * text: one human line per event ("TIME LEVEL EVENT: msg key=value ...")
 * for a terminal, instead of JSON. The fields and their order are the same.
 */
void log_set_text(bool text);

/* Every line written until the next call carries "cycle": id (NULL clears). */
void log_set_cycle(const char *id);

/*
 * Writes one event line: time, level, event, msg, cycle, then the
 * fields. Takes ownership of fields (may be NULL). Never pass key
 * material: nothing here can tell it from other strings.
 * Safe to call from several threads.
 */
void log_event(enum log_level lvl, const char *event, json_t *fields,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Appends src[0..n) to dst (size bytes, *len used) as printable ASCII for
 * an event: tab as space, CR dropped, LF kept only if keep_nl, anything
 * else '?'. Text from peers and the engine goes through this first.
 */
void log_clean(char *dst, size_t size, size_t *len, const char *src, size_t n,
    bool keep_nl);

/* RFC 3339 UTC with milliseconds, e.g. 2026-11-28T07:38:29.163Z. */
void log_format_time(char out[32]);

#endif

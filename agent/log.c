/*
 * log: JSON-lines events. Core keys come first and cannot be replaced by
 * fields, so a caller's field named "level" can never forge a level.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "log.h"

const char *const log_level_names[LOG_LEVEL__MAX] = {
	"debug", "info", "warn", "error",
};

static FILE *log_out;
static enum log_level log_min = LOG_LEVEL_INFO;
static char log_cycle[64];
static bool log_text;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

int
log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < LOG_LEVEL__MAX; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

void
log_init(FILE *out, enum log_level min)
{
	pthread_mutex_lock(&log_lock);
	log_out = out;
	log_min = min;
	pthread_mutex_unlock(&log_lock);
}

void
log_set_text(bool text)
{
	pthread_mutex_lock(&log_lock);
	log_text = text;
	pthread_mutex_unlock(&log_lock);
}

/* time level event: msg, then key=value for every other key (JSON values). */
static char *
format_text(json_t *line)
{
	const char *key;
	json_t *v;
	size_t len = 0, cap = 256;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	out[0] = '\0';
	json_object_foreach(line, key, v) {
		char *val = json_is_string(v) ? NULL :
		    json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_ENSURE_ASCII);
		const char *sv = json_is_string(v) ? json_string_value(v) : val;
		bool core = strcmp(key, "time") == 0 || strcmp(key, "level") == 0 ||
		    strcmp(key, "event") == 0 || strcmp(key, "msg") == 0;
		size_t need = strlen(key) + (sv != NULL ? strlen(sv) : 0) + 8;

		if (len + need >= cap) {
			char *grown = realloc(out, cap = (len + need) * 2);

			if (grown == NULL) {
				free(val);
				free(out);
				return NULL;
			}
			out = grown;
		}
		if (core)
			len += (size_t)snprintf(out + len, cap - len,
			    strcmp(key, "event") == 0 ? "%s: " : strcmp(key, "msg") == 0 ?
			    "%s" : "%s ", sv != NULL ? sv : "");
		else
			len += (size_t)snprintf(out + len, cap - len, " %s=%s", key,
			    sv != NULL ? sv : "");
		free(val);
	}
	return out;
}

void
log_set_cycle(const char *id)
{
	pthread_mutex_lock(&log_lock);
	if (id == NULL)
		log_cycle[0] = '\0';
	else
		snprintf(log_cycle, sizeof(log_cycle), "%s", id);
	pthread_mutex_unlock(&log_lock);
}

void
log_clean(char *dst, size_t size, size_t *len, const char *src, size_t n,
    bool keep_nl)
{
	if (size == 0)
		return;
	for (size_t i = 0; i < n && *len + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\r')
			continue;
		if (c == '\t')
			c = ' ';
		else if ((c < 0x20 && !(c == '\n' && keep_nl)) || c > 0x7e)
			c = '?';
		dst[(*len)++] = (char)c;
	}
	dst[*len] = '\0';
}

void
log_format_time(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000));
}

void
log_event(enum log_level lvl, const char *event, json_t *fields,
    const char *fmt, ...)
{
	char when[32], msg[1024];
	json_t *line;
	char *text;
	va_list ap;

	if (lvl < log_min || lvl >= LOG_LEVEL__MAX) {
		json_decref(fields);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_format_time(when);

	line = json_object();
	if (line == NULL) {
		json_decref(fields);
		return;
	}
	json_object_set_new(line, "time", json_string(when));
	json_object_set_new(line, "level", json_string(log_level_names[lvl]));
	json_object_set_new(line, "event", json_string(event));
	json_object_set_new(line, "msg", json_string(msg));

	pthread_mutex_lock(&log_lock);
	if (log_cycle[0] != '\0')
		json_object_set_new(line, "cycle", json_string(log_cycle));
	if (fields != NULL)
		json_object_update_missing(line, fields);
	/* Invalid UTF-8 from a peer is dropped by jansson; say so, never crash. */
	text = log_text ? format_text(line) :
	    json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text != NULL) {
		FILE *out = log_out != NULL ? log_out : stdout;
		fputs(text, out);
		fputc('\n', out);
		fflush(out);
		free(text);
	}
	pthread_mutex_unlock(&log_lock);
	json_decref(fields);
	json_decref(line);
}

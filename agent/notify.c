/*
 * notify: webhooks. Callers only queue; one worker thread owns the curl
 * handle and does every POST, so a slow or dead receiver delays nothing
 * but later notifications. The queue is bounded and drops the newest item
 * when full; waits (queue, backoff, shutdown) are one condition variable,
 * so notify_stop can cut any of them short.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "clock.h"
#include "log.h"
#include "notify.h"

#define NOTIFY_QUEUE	64
#define NOTIFY_URLS	8
#define NOTIFY_URL_MAX	2048
#define NOTIFY_ATTEMPTS	4
#define AGENT_NAME	"mailu-cert-agent"

enum notify_format { FMT_JSON, FMT_NTFY, FMT_SLACK, FMT__MAX };
static const char *const format_names[FMT__MAX] = { "json", "ntfy", "slack" };

struct item {
	char *event;
	char *msg;
	char time[32];			/* when queued, RFC 3339 */
	json_t *fields;			/* our deep copy, or NULL */
};

static struct {
	bool running;			/* between notify_start and notify_stop */
	bool stopping;			/* drain what is queued, then exit */
	atomic_bool abort;		/* stop now: also read by curl's progress callback */
	bool done;			/* the worker has returned */
	pthread_cond_t cv;		/* every change above, and the queue */
	pthread_t thread;
	struct item q[NOTIFY_QUEUE];	/* ring */
	size_t head, count;
	char *urls[NOTIFY_URLS];
	size_t nurls;
	char *events;			/* what is posted, comma-separated; NULL: all */
	enum notify_format fmt;
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
} N;
/* Static so notify_event before start or after stop still has a lock. */
static pthread_mutex_t notify_lock = PTHREAD_MUTEX_INITIALIZER;
static long connect_ms = 5000, total_ms = 10000, backoff_ms = 1000;

#ifdef MCA_TEST_HOOKS
void
notify_test_set_timeouts(long c, long t, long b)
{
	connect_ms = c;
	total_ms = t;
	backoff_ms = b;
}
#endif

static void
item_free(struct item *it)
{
	free(it->event);
	free(it->msg);
	json_decref(it->fields);
}

static void
urls_free(void)
{
	for (size_t i = 0; i < N.nurls; i++)
		free(N.urls[i]);
	N.nurls = 0;
	free(N.events);
	N.events = NULL;
}

/* Is event one of AGENT_WEBHOOK_EVENTS (all when unset)? */
static bool
wanted(const char *event)
{
	size_t len = strlen(event);

	if (N.events == NULL)
		return true;
	for (const char *p = N.events; *p != '\0'; ) {
		size_t n;

		p += strspn(p, " ,");
		n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == len && strncmp(p, event, len) == 0)
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* http(s)://, a host libcurl can parse, only printable ASCII without spaces. */
static int
url_check(const char *u)
{
	CURLU *h = curl_url();
	char *host = NULL;
	int ret = -1;

	if (h == NULL || strlen(u) > NOTIFY_URL_MAX || (strncasecmp(u, "http://", 7) != 0 &&
	    strncasecmp(u, "https://", 8) != 0) || u[u[4] == ':' ? 7 : 8] == '/')
		goto out;
	for (const char *p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p > 0x7e)
			goto out;
	if (curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] != '\0')
		ret = 0;
out:
	curl_free(host);
	curl_url_cleanup(h);
	return ret;
}

static int
urls_parse(const char *csv, char *err, size_t errlen)
{
	const char *p = csv;

	while (*p != '\0') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, ",");
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0) {
			if (N.nurls == NOTIFY_URLS) {
				snprintf(err, errlen, "more than %d webhook URLs", NOTIFY_URLS);
				return -1;
			}
			if ((N.urls[N.nurls] = strndup(p, n)) == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			if (url_check(N.urls[N.nurls++]) != 0) {
				snprintf(err, errlen, "webhook URL %zu: not an http(s) URL",
				    N.nurls);
				return -1;
			}
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (N.nurls == 0) {
		snprintf(err, errlen, "no webhook URL");
		return -1;
	}
	return 0;
}

/*
 * For logs: scheme, host and port only. A webhook URL's path and query
 * are often the secret itself (Slack's /services/T../B../<token>,
 * Discord's /api/webhooks/<id>/<token>, an ntfy topic), and its userinfo
 * always is. id gets the first 8 hex digits of the whole URL's SHA-256,
 * so several URLs on one host are told apart without showing them.
 */
static void
url_for_log(const char *url, char *out, size_t size, char id[9])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *h = curl_url();

	snprintf(out, size, "(unparsable)");
	if (h != NULL && curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		/* no port in the URL: CURLUE_NO_PORT, and none is shown */
		(void)curl_url_get(h, CURLUPART_PORT, &port, 0);
		snprintf(out, size, "%s://%s%s%s", scheme, host,
		    port != NULL ? ":" : "", port != NULL ? port : "");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	snprintf(id, 9, "%s", "00000000");
	if (EVP_Digest(url, strlen(url), md, &mdlen, EVP_sha256(), NULL) == 1)
		for (int i = 0; i < 4; i++)
			snprintf(id + 2 * i, 3, "%02x", md[i]);
}

/* Sleeps ms unless notify_stop aborts first. Returns -1 if aborted. */
static int
backoff(long ms)
{
	struct timespec dl = clock_after(ms);
	int rc = 0;

	pthread_mutex_lock(&notify_lock);
	while (!atomic_load(&N.abort) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&N.cv, &notify_lock, &dl);
	pthread_mutex_unlock(&notify_lock);
	return atomic_load(&N.abort) ? -1 : 0;
}

/* Aborts a transfer in flight once notify_stop gives up. */
static int
progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&N.abort) ? 1 : 0;
}

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p, (void)arg;
	return sz * n;
}

/* The body for N.fmt; the caller's fields never replace the core keys. */
static char *
body_for(const struct item *it)
{
	char text[1024];
	json_t *o;
	char *s;

	if (N.fmt == FMT_NTFY)
		return strdup(it->msg);
	if (N.fmt == FMT_SLACK) {
		snprintf(text, sizeof(text), "%s: %s", it->event, it->msg);
		o = json_pack("{s:s}", "text", text);
	} else {
		o = json_pack("{s:s, s:s, s:s, s:s}", "event", it->event, "msg", it->msg,
		    "time", it->time, "agent", AGENT_NAME);
		if (o != NULL && it->fields != NULL)
			json_object_update_missing(o, it->fields);
	}
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* One POST. Returns the HTTP status, 0 if there was none; *rc the transfer's. */
static long
post(const char *url, const char *body, struct curl_slist *hdrs, CURLcode *rc)
{
	CURL *c = N.curl;
	long code = 0;

	curl_easy_reset(c);
	N.errbuf[0] = '\0';
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, N.errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, AGENT_NAME) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK) {
		*rc = CURLE_BAD_FUNCTION_ARGUMENT;
		return 0;
	}
	*rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

/* Every URL, each with up to NOTIFY_ATTEMPTS tries. */
static void
send_item(const struct item *it)
{
	struct curl_slist *hdrs = NULL, *h;
	char title[256], shown[NOTIFY_URL_MAX], id[9];
	size_t len = 0;
	char *body;

	snprintf(title, sizeof(title), "Title: " AGENT_NAME ": ");
	len = strlen(title);
	log_clean(title, sizeof(title), &len, it->event, strlen(it->event), false);
	/* "Expect:" off: no 100-continue round trip for a small body. */
	if ((body = body_for(it)) == NULL ||
	    (hdrs = curl_slist_append(NULL, "Expect:")) == NULL ||
	    (h = curl_slist_append(hdrs, N.fmt == FMT_NTFY ? "Content-Type: text/plain" :
	    "Content-Type: application/json")) == NULL ||
	    (N.fmt == FMT_NTFY && (curl_slist_append(h, title) == NULL ||
	    curl_slist_append(h, "Tags: warning") == NULL))) {
		log_event(LOG_LEVEL_ERROR, "notify.failed", json_pack("{s:s}", "notify_event",
		    it->event), "out of memory");
		goto out;
	}
	for (size_t u = 0; u < N.nurls; u++) {
		long code = 0;
		CURLcode rc = CURLE_OK;
		int n;

		url_for_log(N.urls[u], shown, sizeof(shown), id);
		for (n = 1; n <= NOTIFY_ATTEMPTS; n++) {
			code = post(N.urls[u], body, hdrs, &rc);
			if ((rc == CURLE_OK && code >= 200 && code < 300) ||
			    atomic_load(&N.abort) || n == NOTIFY_ATTEMPTS ||
			    backoff(backoff_ms << (n - 1)) != 0)
				break;
		}
		if (rc == CURLE_OK && code >= 200 && code < 300)
			log_event(LOG_LEVEL_DEBUG, "notify.sent",
			    json_pack("{s:s, s:s, s:s, s:I, s:i}", "notify_event",
			    it->event, "url", shown, "url_id", id, "status",
			    (json_int_t)code, "attempts", n), "webhook delivered");
		else
			log_event(LOG_LEVEL_WARN, "notify.failed",
			    json_pack("{s:s, s:s, s:s, s:I, s:i, s:s}", "notify_event",
			    it->event, "url", shown, "url_id", id, "status",
			    (json_int_t)code, "attempts", n, "error", rc != CURLE_OK ? (N.errbuf[0] != '\0' ?
			    N.errbuf : curl_easy_strerror(rc)) : "http status"),
			    "webhook not delivered");
		if (atomic_load(&N.abort))
			break;
	}
out:
	curl_slist_free_all(hdrs);
	free(body);
}

static void *
worker(void *arg)
{
	struct item it;

	(void)arg;
	pthread_mutex_lock(&notify_lock);
	for (;;) {
		while (N.count == 0 && !N.stopping && !atomic_load(&N.abort))
			pthread_cond_wait(&N.cv, &notify_lock);
		if (atomic_load(&N.abort) || N.count == 0)
			break;
		it = N.q[N.head];
		memset(&N.q[N.head], 0, sizeof(it));
		N.head = (N.head + 1) % NOTIFY_QUEUE;
		N.count--;
		pthread_mutex_unlock(&notify_lock);
		send_item(&it);
		item_free(&it);
		pthread_mutex_lock(&notify_lock);
	}
	N.done = true;
	pthread_cond_broadcast(&N.cv);
	pthread_mutex_unlock(&notify_lock);
	return NULL;
}

int
notify_start(const char *urls, const char *format, const char *events,
    char *err, size_t errlen)
{
	pthread_condattr_t ca;
	bool global = false, cv = false;
	int i;

	pthread_mutex_lock(&notify_lock);
	if (N.running) {
		pthread_mutex_unlock(&notify_lock);
		snprintf(err, errlen, "notifications already started");
		return -1;
	}
	for (i = 0; i < FMT__MAX; i++)
		if (strcmp(format != NULL && *format != '\0' ? format : "json",
		    format_names[i]) == 0)
			break;
	if (i == FMT__MAX) {
		snprintf(err, errlen, "webhook format must be json, ntfy or slack");
		goto fail;
	}
	N.fmt = (enum notify_format)i;
	if (urls == NULL || urls_parse(urls, err, errlen) != 0)
		goto fail;
	if (events != NULL && (N.events = strdup(events)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* Reference-counted, and thread-safe since libcurl 7.84. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    !(global = true) || (N.curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "libcurl initialisation failed");
		goto fail;
	}
	/* Monotonic waits: a clock step must not stretch a backoff. */
	if (pthread_condattr_init(&ca) == 0) {
		cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&N.cv, &ca) == 0;
		pthread_condattr_destroy(&ca);
	}
	if (!cv) {
		snprintf(err, errlen, "cannot create a condition variable");
		goto fail;
	}
	N.head = N.count = 0;
	N.stopping = N.done = false;
	atomic_store(&N.abort, false);
	if (pthread_create(&N.thread, NULL, worker, NULL) != 0) {
		snprintf(err, errlen, "cannot start the webhook thread");
		goto fail;
	}
	N.running = true;
	pthread_mutex_unlock(&notify_lock);
	return 0;
fail:
	if (cv)
		pthread_cond_destroy(&N.cv);
	if (N.curl != NULL)
		curl_easy_cleanup(N.curl);
	N.curl = NULL;
	if (global)
		curl_global_cleanup();
	urls_free();
	pthread_mutex_unlock(&notify_lock);
	return -1;
}

void
notify_event(const char *event, const char *msg, json_t *fields)
{
	struct item it = { 0 };
	bool queued = false;

	pthread_mutex_lock(&notify_lock);
	if (!N.running || N.stopping || event == NULL || !wanted(event)) {
		pthread_mutex_unlock(&notify_lock);
		return;
	}
	if (N.count < NOTIFY_QUEUE) {
		log_format_time(it.time);
		it.event = strdup(event != NULL ? event : "");
		it.msg = strdup(msg != NULL ? msg : "");
		it.fields = json_is_object(fields) ? json_deep_copy(fields) : NULL;
		queued = it.event != NULL && it.msg != NULL &&
		    (it.fields != NULL || !json_is_object(fields));
	}
	if (queued) {
		N.q[(N.head + N.count++) % NOTIFY_QUEUE] = it;
		pthread_cond_broadcast(&N.cv);
	}
	pthread_mutex_unlock(&notify_lock);
	if (queued)
		return;
	item_free(&it);
	log_event(LOG_LEVEL_WARN, "notify.dropped", json_pack("{s:s, s:i}", "notify_event",
	    event != NULL ? event : "", "queue", NOTIFY_QUEUE),
	    "webhook queue full, notification dropped");
}

void
notify_stop(long timeout_ms)
{
	struct timespec dl = clock_after(timeout_ms > 0 ? timeout_ms : 0);
	size_t left;
	int rc = 0;

	pthread_mutex_lock(&notify_lock);
	if (!N.running || N.stopping) {	/* not started, or another thread stops it */
		pthread_mutex_unlock(&notify_lock);
		return;
	}
	/* Drain first; at the deadline cut the wait, backoff or transfer short. */
	N.stopping = true;
	pthread_cond_broadcast(&N.cv);
	while (!N.done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&N.cv, &notify_lock, &dl);
	atomic_store(&N.abort, true);
	pthread_cond_broadcast(&N.cv);
	pthread_mutex_unlock(&notify_lock);
	pthread_join(N.thread, NULL);

	pthread_mutex_lock(&notify_lock);
	left = N.count;
	for (; N.count > 0; N.count--, N.head = (N.head + 1) % NOTIFY_QUEUE)
		item_free(&N.q[N.head]);
	curl_easy_cleanup(N.curl);
	N.curl = NULL;
	curl_global_cleanup();
	urls_free();
	pthread_cond_destroy(&N.cv);
	N.running = false;
	pthread_mutex_unlock(&notify_lock);
	if (left > 0)
		log_event(LOG_LEVEL_WARN, "notify.dropped", json_pack("{s:s, s:I}", "reason",
		    "shutdown", "count", (json_int_t)left), "unsent notifications dropped at stop");
}

/*
 * notify: webhooks. A JSON POST to each AGENT_WEBHOOK_URL on rolled_back,
 * failed, drift.detected and expiry.warning, sent by one worker thread
 * from a bounded queue, retried with backoff, never blocking a rotation.
 */
#ifndef MCA_NOTIFY_H
#define MCA_NOTIFY_H

#include <stddef.h>

#include <jansson.h>

/*
 * urls: comma-separated http(s) URLs; format: "json", "ntfy" or "slack";
 * events: the comma-separated event names to post (AGENT_WEBHOOK_EVENTS),
 * NULL for every one.
 */
int notify_start(const char *urls, const char *format, const char *events,
    char *err, size_t errlen);

/*
 * Queues one notification (event name, human message, fields: borrowed,
 * copied; never pass key material). Dropped with a log line when the
 * queue is full. No-op before notify_start.
 */
void notify_event(const char *event, const char *msg, json_t *fields);

/* Tries to send what is queued for at most timeout_ms, then stops the thread. */
void notify_stop(long timeout_ms);

#ifdef MCA_TEST_HOOKS
/*
 * Test builds only: connect and total timeout of one POST, and the first
 * retry delay (doubled per retry); takes effect at the next notify_start.
 * Defaults 5000, 10000, 1000.
 */
void notify_test_set_timeouts(long connect_ms, long total_ms, long backoff_ms);
#endif

#endif

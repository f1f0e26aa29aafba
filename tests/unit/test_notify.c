/*
 * notify: webhooks against a tiny HTTP receiver in a thread, answering a
 * scripted status per request (or never answering), with the agent's log
 * captured to a temp file.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "notify.h"

#define HANG	-1		/* script: accept, read, never answer */
#define MAXREQ	16

struct req {
	char method[8], path[256], head[2048], body[2048];
};

static struct {
	int lfd, port;
	int script[MAXREQ], nscript;
	struct req reqs[MAXREQ];
	int nreq;
	int hung[MAXREQ], nhung;
	atomic_int stop;
	pthread_t th;
	pthread_mutex_t mu;
} R = { .mu = PTHREAD_MUTEX_INITIALIZER };

static char url[128];

static int
rx_count(void)
{
	int n;

	pthread_mutex_lock(&R.mu);
	n = R.nreq;
	pthread_mutex_unlock(&R.mu);
	return n;
}
static FILE *cap;

/* Reads one request: headers, then Content-Length bytes of body. */
static void
serve(int fd)
{
	char buf[4096], *eoh, *cl;
	size_t len = 0, need = 0;
	struct req *r;
	int status, i;

	for (;;) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			need = (size_t)(eoh + 4 - buf) + (cl != NULL ? strtoul(cl + 17, NULL, 10) : 0);
			if (len >= need || len == sizeof(buf) - 1)
				break;
		}
	}
	pthread_mutex_lock(&R.mu);
	if (len == 0 || (eoh = strstr(buf, "\r\n\r\n")) == NULL || R.nreq == MAXREQ) {
		pthread_mutex_unlock(&R.mu);
		close(fd);
		return;
	}
	i = R.nreq++;
	r = &R.reqs[i];
	sscanf(buf, "%7s %255s", r->method, r->path);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(eoh + 2 - buf), buf);
	snprintf(r->body, sizeof(r->body), "%s", eoh + 4);
	status = R.nscript > 0 ? R.script[i < R.nscript ? i : R.nscript - 1] : 200;
	if (status == HANG) {
		R.hung[R.nhung++] = fd;
		pthread_mutex_unlock(&R.mu);
		return;
	}
	pthread_mutex_unlock(&R.mu);
	snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\nok", status);
	if (send(fd, buf, strlen(buf), MSG_NOSIGNAL) < 0)
		perror("send");
	close(fd);
}

static void *
receiver(void *arg)
{
	(void)arg;
	while (!R.stop) {
		struct pollfd p = { .fd = R.lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 20) == 1 && (fd = accept(R.lfd, NULL, NULL)) >= 0)
			serve(fd);
	}
	return NULL;
}

/* Starts the receiver with a script of statuses, ended by 0. */
static void
rx_start(const int *script, const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	memset(R.reqs, 0, sizeof(R.reqs));
	R.nreq = R.nhung = R.nscript = 0;
	R.stop = 0;
	while (script != NULL && script[R.nscript] != 0)
		R.script[R.nscript] = script[R.nscript], R.nscript++;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	R.lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(R.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(R.lfd, 16) == 0);
	getsockname(R.lfd, (struct sockaddr *)&a, &al);
	R.port = ntohs(a.sin_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", R.port, path);
	pthread_create(&R.th, NULL, receiver, NULL);
}

static void
rx_stop(void)
{
	R.stop = 1;
	pthread_join(R.th, NULL);
	close(R.lfd);
	for (int i = 0; i < R.nhung; i++)
		close(R.hung[i]);
}

static void
log_start(void)
{
	cap = tmpfile();
	log_init(cap, LOG_LEVEL_DEBUG);
}

/* Stops capturing; returns how many lines had event ev; *last the last one. */
static int
log_count(const char *ev, json_t **last)
{
	char buf[8192];
	int n = 0;

	log_init(stdout, LOG_LEVEL_INFO);
	rewind(cap);
	while (fgets(buf, sizeof(buf), cap) != NULL) {
		json_t *o = json_loads(buf, 0, NULL);

		if (o != NULL && strcmp(json_string_value(json_object_get(o, "event")), ev) == 0) {
			n++;
			if (last != NULL) {
				json_decref(*last);
				*last = json_incref(o);
			}
		}
		json_decref(o);
	}
	return n;
}

/* True when a captured line (after log_count) holds needle anywhere. */
static bool
log_has(const char *needle)
{
	char buf[8192];
	bool found = false;

	rewind(cap);
	while (!found && fgets(buf, sizeof(buf), cap) != NULL)
		found = strstr(buf, needle) != NULL;
	return found;
}

static void
log_end(void)
{
	fclose(cap);
	cap = NULL;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static char err[256];

TEST(json_body)
{
	json_t *f = json_pack("{s:s, s:s, s:i}", "fingerprint", "ab12", "event", "forged",
	    "days", 3), *b;
	const char *k;
	json_t *v;

	rx_start(NULL, "/hook?x=1");
	notify_test_set_timeouts(1000, 2000, 10);
	CHECK_INT(notify_start(url, NULL, NULL, err, sizeof(err)), 0);
	notify_event("expiry.warning", "expires in 3 days", f);
	json_decref(f);		/* borrowed: the queue holds a copy */
	notify_stop(5000);
	rx_stop();
	CHECK_INT(R.nreq, 1);
	CHECK_STR(R.reqs[0].method, "POST");
	CHECK_STR(R.reqs[0].path, "/hook?x=1");
	CHECK(strcasestr(R.reqs[0].head, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(strcasestr(R.reqs[0].head, "\r\nUser-Agent: mailu-cert-agent\r\n") != NULL);
	b = json_loads(R.reqs[0].body, 0, NULL);
	CHECK(b != NULL);
	CHECK_STR(json_string_value(json_object_get(b, "event")), "expiry.warning");
	CHECK_STR(json_string_value(json_object_get(b, "msg")), "expires in 3 days");
	CHECK_STR(json_string_value(json_object_get(b, "agent")), "mailu-cert-agent");
	CHECK_STR(json_string_value(json_object_get(b, "fingerprint")), "ab12");
	CHECK_INT(json_integer_value(json_object_get(b, "days")), 3);
	CHECK(json_string_length(json_object_get(b, "time")) == 24);
	json_object_foreach(b, k, v)
		CHECK(strstr(" event msg time agent fingerprint days ", k) != NULL);
	CHECK_INT(json_object_size(b), 6);
	json_decref(b);
}

/* AGENT_WEBHOOK_EVENTS: only the events named are posted. */
TEST(events_filter)
{
	static const int script[] = { 200, 200, 200, 0 };

	rx_start(script, "/f");
	log_start();
	notify_test_set_timeouts(1000, 2000, 10);
	CHECK_INT(notify_start(url, "json", " cycle.rotated , drift.detected", err,
	    sizeof(err)), 0);
	notify_event("cycle.failed", "not asked for", NULL);
	notify_event("cycle.rotated", "asked for", NULL);
	notify_event("cycle.rotated.more", "a longer name is another event", NULL);
	notify_event("drift.detected", "asked for", NULL);
	notify_stop(5000);
	rx_stop();
	CHECK_INT(R.nreq, 2);
	CHECK(R.nreq > 0 && strstr(R.reqs[0].body, "\"cycle.rotated\"") != NULL);
	CHECK(R.nreq > 1 && strstr(R.reqs[1].body, "\"drift.detected\"") != NULL);
	CHECK_INT(log_count("notify.sent", NULL), 2);
	log_end();
}

TEST(retry_then_success)
{
	static const int script[] = { 500, 500, 200, 0 };
	json_t *last = NULL;

	rx_start(script, "/r");
	log_start();
	notify_test_set_timeouts(1000, 2000, 10);
	CHECK_INT(notify_start(url, "json", NULL, err, sizeof(err)), 0);
	notify_event("rollback.done", "rolled back", NULL);
	notify_stop(5000);
	rx_stop();
	CHECK_INT(R.nreq, 3);
	CHECK_INT(log_count("notify.sent", &last), 1);
	CHECK_INT(json_integer_value(json_object_get(last, "attempts")), 3);
	CHECK_STR(json_string_value(json_object_get(last, "level")), "debug");
	CHECK_INT(log_count("notify.failed", NULL), 0);
	json_decref(last);
	log_end();
}

TEST(ntfy_and_slack)
{
	json_t *b, *f = json_pack("{s:s}", "fingerprint", "ff");

	rx_start(NULL, "/topic");
	CHECK_INT(notify_start(url, "ntfy", NULL, err, sizeof(err)), 0);
	notify_event("cycle.failed", "rollback failed", f);
	notify_stop(5000);
	CHECK_INT(notify_start(url, "slack", NULL, err, sizeof(err)), 0);
	notify_event("drift.detected", "stale on :993", f);
	notify_stop(5000);
	rx_stop();
	json_decref(f);
	CHECK_INT(R.nreq, 2);
	CHECK_STR(R.reqs[0].body, "rollback failed");
	CHECK(strcasestr(R.reqs[0].head, "\r\nContent-Type: text/plain\r\n") != NULL);
	CHECK(strstr(R.reqs[0].head, "\r\nTitle: mailu-cert-agent: cycle.failed\r\n") != NULL);
	CHECK(strstr(R.reqs[0].head, "\r\nTags: warning\r\n") != NULL);
	CHECK(strstr(R.reqs[1].head, "\r\nContent-Type: application/json\r\n") != NULL);
	b = json_loads(R.reqs[1].body, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(b, "text")), "drift.detected: stale on :993");
	CHECK_INT(json_object_size(b), 1);
	json_decref(b);
}

/*
 * A dead receiver: four attempts, one notify.failed. Its URL shows scheme,
 * host and port only: the userinfo, a Slack-style path (the token is the
 * secret) and the query never reach the log; url_id tells URLs apart.
 */
TEST(receiver_down)
{
	json_t *last = NULL;
	const char *u, *id;
	char full[256], want[64], *hostpart;

	/* A port that was just free: connect is refused. */
	rx_start(NULL, "/services/T0000/B0000/XXXXsecrettoken?token=secret#frag");
	rx_stop();
	hostpart = strstr(url, "127.0.0.1");
	snprintf(full, sizeof(full), "http://hookuser:hookpass@%s", hostpart);
	snprintf(want, sizeof(want), "http://127.0.0.1:%d", R.port);
	log_start();
	notify_test_set_timeouts(1000, 2000, 10);
	CHECK_INT(notify_start(full, "json", NULL, err, sizeof(err)), 0);
	notify_event("cycle.failed", "x", NULL);
	notify_stop(5000);
	CHECK_INT(log_count("notify.failed", &last), 1);
	CHECK_INT(json_integer_value(json_object_get(last, "attempts")), 4);
	CHECK_INT(json_integer_value(json_object_get(last, "status")), 0);
	CHECK_STR(json_string_value(json_object_get(last, "notify_event")), "cycle.failed");
	u = json_string_value(json_object_get(last, "url"));
	CHECK_STR(u, want);
	id = json_string_value(json_object_get(last, "url_id"));
	CHECK(id != NULL && strlen(id) == 8 && strspn(id, "0123456789abcdef") == 8);
	CHECK_INT(log_count("notify.sent", NULL), 0);
	json_decref(last);
	/* nothing of the secret parts anywhere in what was logged */
	CHECK(log_has("notify.failed"));
	CHECK(!log_has("services") && !log_has("secret") && !log_has("hookpass") &&
	    !log_has("hookuser") && !log_has("XXXX") && !log_has("frag"));
	log_end();
}

TEST(total_timeout_applies)
{
	static const int script[] = { HANG, 0 };
	json_t *last = NULL;
	long t0;

	rx_start(script, "/hang");
	log_start();
	notify_test_set_timeouts(1000, 200, 10);
	CHECK_INT(notify_start(url, "json", NULL, err, sizeof(err)), 0);
	notify_event("cycle.failed", "x", NULL);
	t0 = now_ms();
	notify_stop(10000);
	t0 = now_ms() - t0;
	CHECK(t0 >= 700 && t0 < 3000);	/* 4 x 200 ms, not 10 s */
	rx_stop();
	CHECK_INT(R.nreq, 4);
	CHECK_INT(log_count("notify.failed", &last), 1);
	CHECK_INT(json_integer_value(json_object_get(last, "attempts")), 4);
	json_decref(last);
	log_end();
}

TEST(overflow_and_stop_deadline)
{
	static const int script[] = { HANG, 0 };
	json_t *last = NULL;
	int dropped;
	long t0;

	rx_start(script, "/hang");
	log_start();
	notify_test_set_timeouts(1000, 30000, 10);
	CHECK_INT(notify_start(url, "json", NULL, err, sizeof(err)), 0);
	notify_event("e0", "x", NULL);
	/* Wait until the worker is inside the first POST. */
	for (int i = 0; i < 200 && rx_count() == 0; i++)
		usleep(10000);
	for (int i = 1; i <= 70; i++)
		notify_event("ex", "x", NULL);
	t0 = now_ms();
	notify_stop(300);
	t0 = now_ms() - t0;
	CHECK(t0 >= 250 && t0 < 1500);
	rx_stop();
	dropped = log_count("notify.dropped", &last);
	CHECK_INT(dropped, 7);		/* 6 on a full queue, 1 summary at stop */
	CHECK_INT(json_integer_value(json_object_get(last, "count")), 64);
	json_decref(last);
	log_end();
}

TEST(stop_cuts_backoff)
{
	long t0;

	rx_start(NULL, "/");
	rx_stop();
	notify_test_set_timeouts(1000, 2000, 60000);
	CHECK_INT(notify_start(url, "json", NULL, err, sizeof(err)), 0);
	notify_event("e", "x", NULL);
	usleep(100000);
	t0 = now_ms();
	notify_stop(100);
	CHECK(now_ms() - t0 < 1000);
	notify_event("after", "stop", NULL);	/* a no-op, not a crash */
}

TEST(bad_urls)
{
	static const char *const bad[] = {
		"", " , ", "ftp://x", "file:///etc/passwd", "http://", "https:///p",
		"http://a b", "http://a\nb", "//x", "http://@/", "http://:80/", "http://a,gopher://b",
		"http://1,http://2,http://3,http://4,http://5,http://6,http://7,http://8,http://9",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(notify_start(bad[i], "json", NULL, err, sizeof(err)), -1);
		CHECK(err[0] != '\0');
	}
	CHECK_INT(notify_start("http://a", "xml", NULL, err, sizeof(err)), -1);
	CHECK_INT(notify_start(NULL, "json", NULL, err, sizeof(err)), -1);
	CHECK_INT(notify_start(" http://a/x , HTTPS://b:8443/y ", "slack", NULL, err, sizeof(err)), 0);
	CHECK_INT(notify_start("http://a", "json", NULL, err, sizeof(err)), -1);	/* twice */
	notify_stop(0);
}

HARNESS_MAIN("notify",
    RUN(json_body),
    RUN(events_filter),
    RUN(retry_then_success),
    RUN(ntfy_and_slack),
    RUN(receiver_down),
    RUN(total_timeout_applies),
    RUN(overflow_and_stop_deadline),
    RUN(stop_cuts_backoff),
    RUN(bad_urls))

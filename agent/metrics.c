/*
 * metrics: a tiny HTTP/1.1 server for /metrics and /healthz on one thread.
 *
 * Memory is bounded whatever clients do: at most MAX_CLIENTS connections,
 * each with one REQ_MAX request buffer and one response of at most
 * RESP_MAX, so 16 x (4 KiB + 512 KiB) = 8.1 MiB at worst, plus the fixed
 * tables below (~100 KiB) and one DRAIN_READ buffer on the thread's stack.
 * The tables bound the body: 256 endpoints x 3 lines (<= 610 + 557 + 580
 * bytes, every label byte escaped) + 64 series x <= 900 bytes + families
 * = 477 KiB (test_metrics' worst_case_body), under RESP_MAX (measured:
 * 16 stalled readers of a 187 KB body peak at 4.8 MiB RSS).
 *
 * No client holds the thread or the slots: each poll event does one
 * bounded read or write; a connection has HEAD_MS from accept for its
 * request head and DEADLINE_MS in all, checked at every turn of the loop
 * and after each event; the lingering close reads at most DRAIN_MAX bytes
 * for at most DRAIN_MS. When all slots are taken, a new connection drops
 * the oldest one still reading its head (else the oldest lingering one):
 * only a server busy answering 16 requests refuses one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"

#define MAX_CLIENTS	16
#define MAX_ENDPOINTS	256
#define MAX_SERIES	64
#define REQ_MAX		METRICS_REQ_MAX
#define RESP_MAX	(512 * 1024)
#define DEADLINE_MS	5000		/* a connection in all, from accept */
#define HEAD_MS		2000		/* a complete request head, from accept */
#define DRAIN_MS	1000		/* the lingering close after an answer */
#define DRAIN_MAX	(64 * 1024)	/* bytes read and dropped while lingering */
#define DRAIN_READ	4096		/* one read per poll event */
#define ACCEPT_MAX	(2 * MAX_CLIENTS)	/* accepts per listener event */
#define BACKLOG		16
#define URL_MAX		256	/* label values are cut to these sizes - 1 */
#define LABEL_MAX	128
#define RESULT_MAX	32
#define REASON_MAX	128
#define P		"mailu_cert_agent_"


struct ep_state {
	char url[URL_MAX];		/* label value: the endpoint URL */
	bool match;			/* served fingerprint == installed */
	long long served;		/* served notAfter, Unix seconds */
};

struct series {
	char container[LABEL_MAX], command[LABEL_MAX], result[RESULT_MAX];
	unsigned long long n;		/* reload_exec_total for these labels */
};

/* Everything the exposition shows; st.mu guards all of it. */
static struct {
	pthread_mutex_t mu;
	bool started;			/* setters are no-ops while false */
	char version[64];
	bool has_installed;
	long long installed;		/* installed notAfter */
	struct ep_state ep[MAX_ENDPOINTS];
	size_t nep;
	unsigned long long rotations[OUTCOME__MAX];
	long long last_success;		/* 0 before any rotation */
	double verify_s;
	struct series ser[MAX_SERIES];
	size_t nser;
	unsigned long long dropped;	/* series refused by the bounds */
	bool healthy;
	char reason[REASON_MAX];
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct client {
	int fd;
	enum metrics_conn state;
	unsigned long long seq;		/* accept order: lower is older */
	long long deadline;		/* of this state, CLOCK_MONOTONIC ms */
	long long end;			/* of the whole connection */
	size_t drained;			/* bytes dropped while lingering */
	char *req;			/* REQ_MAX bytes while reading */
	size_t reqlen;
	char *resp;			/* the whole response while writing */
	size_t resplen, sent;
};

/* Owned by metrics_start/metrics_stop and the server thread. */
static struct {
	pthread_t thr;
	int lfd, wake[2], port;
	struct client c[MAX_CLIENTS];
	unsigned long long seq;
} srv = { .lfd = -1, .wake = { -1, -1 }, .port = -1 };
static int deadline_ms = DEADLINE_MS, head_ms = HEAD_MS, drain_ms = DRAIN_MS;

struct buf {
	char *p;
	size_t len, cap;
	bool over;			/* RESP_MAX reached: output cut */
};

/* Copies src, cut to size - 1 bytes but never inside a UTF-8 sequence. */
static void
copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src != NULL ? src : "");

	snprintf(dst, size, "%s", src != NULL ? src : "");
	if (n < size)
		return;
	for (n = size - 1; n > 0 && (src[n] & 0xC0) == 0x80; n--)
		;
	dst[n] = '\0';
}

static int
reserve(struct buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->over || b->len + n + 1 > RESP_MAX) {
		b->over = true;
		return -1;
	}
	while (b->len + n + 1 > cap)
		cap *= 2;
	if (cap > RESP_MAX)
		cap = RESP_MAX;
	if (cap != b->cap) {
		if ((p = realloc(b->p, cap)) == NULL) {
			b->over = true;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

static void bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
bescape(struct buf *b, const char *s)
{
	if (reserve(b, 2 * strlen(s)) == -1)
		return;
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			b->p[b->len++] = '\\';
		b->p[b->len++] = *s == '\n' ? 'n' : *s;
	}
	b->p[b->len] = '\0';
}

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	bprintf(b, "# HELP " P "%s %s\n# TYPE " P "%s %s\n", name, help, name, type);
}

/*
 * OCSP staples (issue 15), apart from the tables above: staple[i] is
 * st.ep[i]'s status + 1, 0 while none was set, so the endpoint table
 * bounds it. st.mu guards it.
 */
static unsigned char staple[MAX_ENDPOINTS];

static void
render_staple(struct buf *b)
{
	family(b, "endpoint_ocsp_staple", "gauge", "1 for the OCSP staple status the "
	    "endpoint serves: none, good, revoked, unknown or invalid.");
	for (size_t i = 0; i < st.nep; i++) {
		if (staple[i] == 0)
			continue;
		bprintf(b, P "endpoint_ocsp_staple{endpoint=\"");
		bescape(b, st.ep[i].url);
		bprintf(b, "\",status=\"%s\"} 1\n", ocsp_staple_names[staple[i] - 1]);
	}
}

/* Renders the exposition; called with st.mu held. */
static void
render(struct buf *b)
{
	family(b, "cert_not_after_timestamp_seconds", "gauge",
	    "notAfter of the installed and of each served certificate.");
	if (st.has_installed)
		bprintf(b, P "cert_not_after_timestamp_seconds{source=\"installed\"} %lld\n",
		    st.installed);
	for (size_t i = 0; i < st.nep; i++) {
		bprintf(b, P "cert_not_after_timestamp_seconds{source=\"served\",endpoint=\"");
		bescape(b, st.ep[i].url);
		bprintf(b, "\"} %lld\n", st.ep[i].served);
	}
	family(b, "endpoint_match", "gauge",
	    "1 if the endpoint serves the installed certificate.");
	for (size_t i = 0; i < st.nep; i++) {
		bprintf(b, P "endpoint_match{endpoint=\"");
		bescape(b, st.ep[i].url);
		bprintf(b, "\"} %d\n", st.ep[i].match ? 1 : 0);
	}
	render_staple(b);
	family(b, "rotations_total", "counter", "Rotation cycles by outcome.");
	for (int i = 0; i < OUTCOME__MAX; i++)
		bprintf(b, P "rotations_total{outcome=\"%s\"} %llu\n", outcome_names[i],
		    st.rotations[i]);
	family(b, "last_rotation_success_timestamp_seconds", "gauge",
	    "Time of the last rotated cycle, 0 before any.");
	bprintf(b, P "last_rotation_success_timestamp_seconds %lld\n", st.last_success);
	family(b, "verify_duration_seconds", "gauge", "Duration of the last verify.");
	bprintf(b, P "verify_duration_seconds %.6f\n", st.verify_s);
	family(b, "reload_exec_total", "counter", "Reload commands run in the front.");
	for (size_t i = 0; i < st.nser; i++) {
		bprintf(b, P "reload_exec_total{container=\"");
		bescape(b, st.ser[i].container);
		bprintf(b, "\",command=\"");
		bescape(b, st.ser[i].command);
		bprintf(b, "\",result=\"");
		bescape(b, st.ser[i].result);
		bprintf(b, "\"} %llu\n", st.ser[i].n);
	}
	family(b, "metrics_series_dropped_total", "counter",
	    "Endpoints and reload series not recorded: over the bounds.");
	bprintf(b, P "metrics_series_dropped_total %llu\n", st.dropped);
	family(b, "up", "gauge", "1 while the agent runs.");
	bprintf(b, P "up 1\n");
	family(b, "healthy", "gauge", "1 if the agent is healthy.");
	bprintf(b, P "healthy %d\n", st.healthy ? 1 : 0);
	family(b, "build_info", "gauge", "The agent's version.");
	bprintf(b, P "build_info{version=\"");
	bescape(b, st.version);
	bprintf(b, "\"} 1\n");
}

static void
client_close(struct client *c)
{
	close(c->fd);
	free(c->req);
	free(c->resp);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
respond(struct client *c, int code, const char *ctype, const char *body, size_t blen)
{
	const char *text = code == 200 ? "OK" : code == 400 ? "Bad Request" :
	    code == 404 ? "Not Found" : code == 405 ? "Method Not Allowed" :
	    code == 431 ? "Request Header Fields Too Large" :
	    code == 500 ? "Internal Server Error" : "Service Unavailable";
	char head[256];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", code, text,
	    ctype != NULL ? ctype : "text/plain; charset=utf-8", blen,
	    code == 405 ? "Allow: GET\r\n" : "");
	free(c->req);
	c->req = NULL;
	c->resplen = (size_t)n + blen;
	if ((c->resp = malloc(c->resplen)) == NULL) {
		client_close(c);
		return;
	}
	memcpy(c->resp, head, (size_t)n);
	memcpy(c->resp + n, body, blen);
	c->sent = 0;
	c->state = METRICS_CONN_WRITE;
}

/* A whole request head is in c->req, parsed to code and page: answer it. */
static void
route(struct client *c, int code, enum metrics_page page)
{
	struct buf b = { 0 };
	char msg[REASON_MAX + 2];
	bool ok;

	if (code == 400) {
		respond(c, 400, NULL, "bad request\n", 12);
	} else if (code == 405) {
		respond(c, 405, NULL, "method not allowed\n", 19);
	} else if (code == 431) {
		respond(c, 431, NULL, "request head too large\n", 23);
	} else if (page == METRICS_PAGE_METRICS) {
		pthread_mutex_lock(&st.mu);
		render(&b);
		pthread_mutex_unlock(&st.mu);
		if (b.over)	/* out of memory: never serve a cut exposition */
			respond(c, 500, NULL, "out of memory\n", 14);
		else
			respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
		free(b.p);
	} else if (page == METRICS_PAGE_HEALTHZ) {
		pthread_mutex_lock(&st.mu);
		ok = st.healthy;
		snprintf(msg, sizeof(msg), "%s\n", ok ? "ok" :
		    st.reason[0] != '\0' ? st.reason : "unhealthy");
		pthread_mutex_unlock(&st.mu);
		respond(c, ok ? 200 : 503, NULL, msg, strlen(msg));
	} else {
		respond(c, 404, NULL, "not found\n", 10);
	}
}

static void
on_event(struct client *c)
{
	enum metrics_page page;
	char junk[DRAIN_READ];
	long long now;
	ssize_t n;
	int code;

	switch (c->state) {
	case METRICS_CONN_HEAD:
		n = recv(c->fd, c->req + c->reqlen, REQ_MAX - c->reqlen, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->reqlen += (size_t)n;
		if ((code = metrics_parse_request(c->req, c->reqlen, &page)) != 0) {
			c->deadline = c->end;
			route(c, code, page);
		}
		return;
	case METRICS_CONN_WRITE:
		n = send(c->fd, c->resp + c->sent, c->resplen - c->sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			client_close(c);
			return;
		}
		c->sent += (size_t)n;
		if (c->sent < c->resplen)
			return;
		/*
		 * Lingering close: closing with unread request bytes would
		 * send a reset that can destroy the response in flight, so
		 * read and discard a little, for a little while: a peer
		 * that keeps sending must not keep the thread or the slot.
		 */
		shutdown(c->fd, SHUT_WR);
		free(c->resp);
		c->resp = NULL;
		c->state = METRICS_CONN_DRAIN;
		c->drained = 0;
		if ((now = clock_ms()) + drain_ms < c->end)
			c->deadline = now + drain_ms;
		return;
	case METRICS_CONN_DRAIN:
		/* one read per event, never until EAGAIN */
		n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || (c->drained += (size_t)n) >= DRAIN_MAX)
			client_close(c);
		return;
	case METRICS_CONN_FREE:
		return;
	}
}

/* Returns -1 when out of descriptors: the caller pauses the listener. */
static int
accept_some(void)
{
	enum metrics_conn state[MAX_CLIENTS];
	unsigned long long seq[MAX_CLIENTS];

	/* bounded: a connect flood must not keep the thread here either */
	for (int k = 0; k < ACCEPT_MAX; k++) {
		struct client *c;
		long long now;
		int i, fd = accept4(srv.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM ? -1 : 0;
		for (i = 0; i < MAX_CLIENTS; i++) {
			state[i] = srv.c[i].state;
			seq[i] = srv.c[i].seq;
		}
		if ((i = metrics_pick_slot(state, seq, MAX_CLIENTS)) < 0) {
			close(fd);	/* all answering: refuse rather than queue */
			continue;
		}
		c = &srv.c[i];
		if (c->state != METRICS_CONN_FREE)
			client_close(c);
		if ((c->req = malloc(REQ_MAX)) == NULL) {
			close(fd);
			continue;
		}
		now = clock_ms();
		c->fd = fd;
		c->state = METRICS_CONN_HEAD;
		c->seq = ++srv.seq;
		c->reqlen = 0;
		c->end = now + deadline_ms;
		c->deadline = now + (head_ms < deadline_ms ? head_ms : deadline_ms);
	}
	return 0;
}

static void *
serve(void *arg)
{
	struct pollfd pfd[2 + MAX_CLIENTS];
	int slot[2 + MAX_CLIENTS];
	long long paused = 0;		/* out of fds: listener off until then */

	(void)arg;
	for (;;) {
		long long now = clock_ms(), timeout = -1;
		nfds_t n = 2;

		pfd[0] = (struct pollfd){ .fd = srv.wake[0], .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = srv.lfd, .events = POLLIN };
		if (paused > now) {
			pfd[1].fd = -1;	/* poll ignores it */
			timeout = paused - now;
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &srv.c[i];

			if (c->state == METRICS_CONN_FREE)
				continue;
			if (c->deadline <= now) {
				client_close(c);
				continue;
			}
			if (timeout < 0 || c->deadline - now < timeout)
				timeout = c->deadline - now;
			slot[n] = i;
			pfd[n++] = (struct pollfd){ .fd = c->fd,
			    .events = c->state == METRICS_CONN_WRITE ? POLLOUT : POLLIN };
		}
		if (poll(pfd, n, (int)timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents != 0)
			break;
		for (nfds_t i = 2; i < n; i++) {
			struct client *c = &srv.c[slot[i]];

			if (pfd[i].revents == 0)
				continue;
			on_event(c);
			/* also here, before the accepts below: past its deadline, a
			 * slot is freed rather than taken from a live peer */
			if (c->state != METRICS_CONN_FREE && c->deadline <= clock_ms())
				client_close(c);
		}
		if (pfd[1].revents != 0 && accept_some() == -1)
			paused = clock_ms() + 100;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (srv.c[i].state != METRICS_CONN_FREE)
			client_close(&srv.c[i]);
	return NULL;
}

/* "host:port", "[v6]:port" or ":port"; binds the first address that works. */
static int
listen_on(const char *listen_addr, char *err, size_t errlen)
{
	char host[256];
	const char *port, *colon = strrchr(listen_addr, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE }, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	bool bracket;
	int rc, fd = -1, one = 1, e = 0;

	if (colon == NULL || colon[1] == '\0') {
		snprintf(err, errlen, "listen %s: want host:port", listen_addr);
		return -1;
	}
	port = colon + 1;
	hl = (size_t)(colon - listen_addr);
	bracket = hl >= 2 && listen_addr[0] == '[' && listen_addr[hl - 1] == ']';
	if (bracket)
		hl -= 2;
	if (hl >= sizeof(host) || (!bracket && memchr(listen_addr, ':', hl) != NULL)) {
		snprintf(err, errlen, "listen %s: bad host (IPv6 wants [ ])", listen_addr);
		return -1;
	}
	memcpy(host, listen_addr + bracket, hl);
	host[hl] = '\0';
	if ((rc = getaddrinfo(hl > 0 ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, BACKLOG) == -1) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "listen %s:%s: %s", host, port, strerror(e));
		return -1;
	}
	srv.port = -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		srv.port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	srv.lfd = fd;
	return 0;
}

int
metrics_start(const char *listen_addr, const char *version, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	if (st.started) {
		snprintf(err, errlen, "metrics: already started");
		return -1;
	}
	if (listen_on(listen_addr, err, errlen) == -1)
		return -1;
	if (pipe2(srv.wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errlen, "metrics: pipe: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		srv.c[i] = (struct client){ .fd = -1 };
	pthread_mutex_lock(&st.mu);
	copy_cut(st.version, sizeof(st.version), version);
	st.has_installed = false;
	st.nep = st.nser = 0;
	memset(staple, 0, sizeof(staple));
	memset(st.rotations, 0, sizeof(st.rotations));
	st.last_success = 0;
	st.dropped = 0;
	st.verify_s = 0;
	st.healthy = true;
	st.reason[0] = '\0';
	st.started = true;
	pthread_mutex_unlock(&st.mu);
	/* The thread inherits a full mask: signals stay with the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&srv.thr, NULL, serve, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "metrics: thread: %s", strerror(rc));
	pthread_mutex_lock(&st.mu);
	st.started = false;
	pthread_mutex_unlock(&st.mu);
fail:
	for (int i = 0; i < 2; i++)
		if (srv.wake[i] >= 0)
			close(srv.wake[i]);
	close(srv.lfd);
	srv.lfd = srv.wake[0] = srv.wake[1] = srv.port = -1;
	return -1;
}

void
metrics_stop(void)
{
	if (!st.started)
		return;
	pthread_mutex_lock(&st.mu);
	st.started = false;
	pthread_mutex_unlock(&st.mu);
	while (write(srv.wake[1], "x", 1) == -1 && errno == EINTR)
		;
	pthread_join(srv.thr, NULL);
	close(srv.wake[0]);
	close(srv.wake[1]);
	close(srv.lfd);
	srv.lfd = srv.wake[0] = srv.wake[1] = srv.port = -1;
}

int
metrics_port(void)
{
	return srv.port;
}

#ifdef MCA_TEST_HOOKS
void
metrics_test_set_deadline_ms(int ms)
{
	deadline_ms = ms;
}

void
metrics_test_set_head_ms(int ms)
{
	head_ms = ms;
}

void
metrics_test_set_drain_ms(int ms)
{
	drain_ms = ms;
}
#endif

/* Takes st.mu; returns false (lock released) when not started. */
static bool
lock_started(void)
{
	pthread_mutex_lock(&st.mu);
	if (st.started)
		return true;
	pthread_mutex_unlock(&st.mu);
	return false;
}

void
metrics_set_installed(time_t not_after)
{
	if (!lock_started())
		return;
	st.has_installed = true;
	st.installed = (long long)not_after;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_endpoint(const char *endpoint, bool match, time_t served_not_after)
{
	char url[URL_MAX];
	size_t i;

	if (!lock_started())
		return;
	copy_cut(url, sizeof(url), endpoint);
	for (i = 0; i < st.nep && strcmp(st.ep[i].url, url) != 0; i++)
		;
	if (i == MAX_ENDPOINTS) {
		st.dropped++;
	} else {
		if (i == st.nep)
			memcpy(st.ep[st.nep++].url, url, sizeof(url));
		st.ep[i].match = match;
		st.ep[i].served = (long long)served_not_after;
	}
	pthread_mutex_unlock(&st.mu);
}

void
metrics_count_rotation(enum outcome o)
{
	if (!lock_started())
		return;
	if ((unsigned)o < OUTCOME__MAX)
		st.rotations[o]++;
	else
		st.dropped++;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_last_success(time_t when)
{
	if (!lock_started())
		return;
	st.last_success = (long long)when;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_verify_duration(double seconds)
{
	if (!lock_started())
		return;
	st.verify_s = seconds;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_count_reload_exec(const char *container, const char *command,
    const char *result)
{
	struct series s;
	size_t i;

	copy_cut(s.container, sizeof(s.container), container);
	copy_cut(s.command, sizeof(s.command), command);
	copy_cut(s.result, sizeof(s.result), result);
	if (!lock_started())
		return;
	for (i = 0; i < st.nser; i++)
		if (strcmp(st.ser[i].container, s.container) == 0 &&
		    strcmp(st.ser[i].command, s.command) == 0 &&
		    strcmp(st.ser[i].result, s.result) == 0)
			break;
	if (i == MAX_SERIES) {
		st.dropped++;
	} else {
		if (i == st.nser) {
			s.n = 0;
			st.ser[st.nser++] = s;
		}
		st.ser[i].n++;
	}
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_health(bool healthy, const char *reason)
{
	if (!lock_started())
		return;
	st.healthy = healthy;
	copy_cut(st.reason, sizeof(st.reason), reason);
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_endpoint_staple(const char *endpoint, enum ocsp_staple status)
{
	char url[URL_MAX];

	if ((unsigned)status >= OCSP_STAPLE__MAX || !lock_started())
		return;
	copy_cut(url, sizeof(url), endpoint);
	for (size_t i = 0; i < st.nep; i++)
		if (strcmp(st.ep[i].url, url) == 0)
			staple[i] = (unsigned char)(status + 1);
	pthread_mutex_unlock(&st.mu);
}

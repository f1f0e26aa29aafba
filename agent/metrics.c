/*
 * metrics: a tiny HTTP/1.1 server for /metrics and /healthz on one thread.
 *
 * Memory is bounded whatever clients do: at most MAX_CLIENTS connections,
 * each with one REQ_MAX request buffer and one response: its head and a
 * body the tables bound to METRICS_BODY_WORST (~689 KiB with every table
 * full of the longest escaped labels; metrics_render.h works it out and
 * asserts it under METRICS_BODY_MAX, 1 MiB, past which the server would
 * answer 500 rather than cut it; a front's nine endpoints make ~10 KiB),
 * so 16 x (4 KiB + 689 KiB) = 10.9 MiB at worst, plus the fixed tables
 * (struct metrics_values, 98 KiB), the body being rendered, and one
 * DRAIN_READ buffer on the thread's stack (measured before the cert_info
 * and state series: 16 stalled readers of a 187 KB body peak at 4.8 MiB
 * RSS).
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
#include "metrics_render.h"

#define MAX_CLIENTS	16
#define REQ_MAX		METRICS_REQ_MAX
#define DEADLINE_MS	5000		/* a connection in all, from accept */
#define HEAD_MS		2000		/* a complete request head, from accept */
#define DRAIN_MS	1000		/* the lingering close after an answer */
#define DRAIN_MAX	(64 * 1024)	/* bytes read and dropped while lingering */
#define DRAIN_READ	4096		/* one read per poll event */
#define ACCEPT_MAX	(2 * MAX_CLIENTS)	/* accepts per listener event */
#define BACKLOG		16

/* Everything the exposition shows; st.mu guards all of it. */
static struct {
	pthread_mutex_t mu;
	bool started;			/* setters are no-ops while false */
	struct metrics_values v;
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
	struct metrics_buf b = { 0 };
	char msg[METRICS_REASON_MAX + 2];
	bool ok;

	if (code == 400) {
		respond(c, 400, NULL, "bad request\n", 12);
	} else if (code == 405) {
		respond(c, 405, NULL, "method not allowed\n", 19);
	} else if (code == 431) {
		respond(c, 431, NULL, "request head too large\n", 23);
	} else if (page == METRICS_PAGE_METRICS) {
		pthread_mutex_lock(&st.mu);
		metrics_render(&st.v, &b);
		pthread_mutex_unlock(&st.mu);
		if (b.over)	/* out of memory: never serve a cut exposition */
			respond(c, 500, NULL, "out of memory\n", 14);
		else
			respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
		free(b.p);
	} else if (page == METRICS_PAGE_HEALTHZ) {
		pthread_mutex_lock(&st.mu);
		ok = st.v.healthy;
		snprintf(msg, sizeof(msg), "%s\n", ok ? "ok" :
		    st.v.reason[0] != '\0' ? st.v.reason : "unhealthy");
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
	memset(&st.v, 0, sizeof(st.v));
	metrics_copy_cut(st.v.version, sizeof(st.v.version), version);
	st.v.healthy = true;
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
	/* 0: nothing installed or adopted yet, and no series rather than a 0 */
	st.v.has_installed = not_after != 0;
	st.v.installed = (long long)not_after;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_endpoints_begin(void)
{
	if (!lock_started())
		return;
	st.v.gen++;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_endpoint(const struct metrics_endpoint *e)
{
	struct metrics_ep n = { .gen = 0 }, *ep;
	size_t i;

	metrics_copy_cut(n.url, sizeof(n.url), e->url);
	metrics_copy_cut(n.key_type, sizeof(n.key_type), e->key_type);
	n.state = (unsigned)e->state < METRICS_EP__MAX ? e->state :
	    METRICS_EP_UNREACHABLE;
	if (n.state != METRICS_EP_UNREACHABLE) {
		metrics_copy_cut(n.fp, sizeof(n.fp), e->fingerprint);
		metrics_copy_cut(n.subject, sizeof(n.subject), e->subject);
		metrics_copy_cut(n.issuer, sizeof(n.issuer), e->issuer);
		n.not_after = (long long)e->not_after;
		metrics_copy_cut(n.ocsp, sizeof(n.ocsp), e->ocsp_staple);
	}
	if (!lock_started())
		return;
	n.gen = st.v.gen;
	for (i = 0; i < st.v.nep; i++) {
		ep = &st.v.ep[i];
		if (strcmp(ep->url, n.url) == 0 && strcmp(ep->key_type, n.key_type) == 0)
			break;
	}
	/* full: take the place of one this report has not set (it goes at its end) */
	for (size_t k = 0; i == METRICS_MAX_EP && k < st.v.nep; k++)
		if (st.v.ep[k].gen != st.v.gen)
			i = k;
	if (i == METRICS_MAX_EP) {
		st.v.dropped++;
	} else {
		st.v.ep[i] = n;
		if (i == st.v.nep)
			st.v.nep++;
	}
	pthread_mutex_unlock(&st.mu);
}

void
metrics_endpoints_end(void)
{
	size_t k = 0;

	if (!lock_started())
		return;
	/* keep the ones this report set, in their order */
	for (size_t i = 0; i < st.v.nep; i++)
		if (st.v.ep[i].gen == st.v.gen)
			st.v.ep[k++] = st.v.ep[i];
	st.v.nep = k;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_count_rotation(enum outcome o)
{
	if (!lock_started())
		return;
	if ((unsigned)o < OUTCOME__MAX)
		st.v.rotations[o]++;
	else
		st.v.dropped++;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_last_success(time_t when)
{
	if (!lock_started())
		return;
	st.v.last_success = (long long)when;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_observe_verify_duration(double seconds)
{
	if (!lock_started())
		return;
	/* the buckets are cumulative: each counts everything up to its bound */
	for (int i = 0; i < METRICS_VERIFY_BUCKETS; i++)
		st.v.verify_le[i] += seconds <= metrics_verify_buckets[i];
	st.v.verify_count++;
	st.v.verify_sum += seconds;
	pthread_mutex_unlock(&st.mu);
}

void
metrics_count_reload_exec(const char *front, const char *command,
    const char *result)
{
	struct metrics_reload s;
	size_t i;

	metrics_copy_cut(s.front, sizeof(s.front), front);
	metrics_copy_cut(s.command, sizeof(s.command), command);
	metrics_copy_cut(s.result, sizeof(s.result), result);
	if (!lock_started())
		return;
	for (i = 0; i < st.v.nser; i++)
		if (strcmp(st.v.ser[i].front, s.front) == 0 &&
		    strcmp(st.v.ser[i].command, s.command) == 0 &&
		    strcmp(st.v.ser[i].result, s.result) == 0)
			break;
	if (i == METRICS_MAX_SERIES) {
		st.v.dropped++;
	} else {
		if (i == st.v.nser) {
			s.n = 0;
			st.v.ser[st.v.nser++] = s;
		}
		st.v.ser[i].n++;
	}
	pthread_mutex_unlock(&st.mu);
}

void
metrics_set_health(bool healthy, const char *reason)
{
	if (!lock_started())
		return;
	st.v.healthy = healthy;
	metrics_copy_cut(st.v.reason, sizeof(st.v.reason), reason);
	pthread_mutex_unlock(&st.mu);
}

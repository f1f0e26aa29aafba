/*
 * docker_session: reload commands kept ready in their front. Why: a new
 * exec is the engine creating a process in the container (dockerd,
 * containerd, runc), 100 ms on a quiet 2-core host and 400-500 ms under
 * load: most of a rotation's time. A session is that cost paid once.
 *
 * The shell in the front reads a line, "TOKEN COMMAND", runs the command
 * (or the caller's shortcut for it) with its stderr on stdout, then writes
 * "TOKEN STATUS": one stream, so
 * the output and the status come back in the order written (two streams
 * are copied apart by the engine). It holds no state, and ends when its
 * stdin closes: when we close the session or exit, the engine closes it.
 * The stream is the Engine API's own (POST /exec/{id}/start upgraded to
 * a raw connection, frames as docker_demux reads them), on a libcurl
 * connect-only handle of its own, so the requests' handle stays free.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "clock.h"
#include "docker.h"
#include "docker_http.h"
#include "docker_session.h"
#include "log.h"

#define HEAD_MAX	4096		/* the upgrade answer's head */
#define FRAME_MAX	(64 * 1024)	/* one frame of the shell's output */

/* $0 names the shell in the front's process list. */
static char shell[] = "sh", dash_c[] = "-c", name[] = DOCKER_SESSION_NAME;

/*
 * The shell's loop: everything it says on stdout (its own errors too, so
 * stderr stays empty), the command's status behind the run's token.
 */
static int
make_script(const struct docker_session_shortcut *cut, char *out, size_t size)
{
	int n = cut == NULL ?
	    snprintf(out, size, "exec 2>&1; while read -r t l; do eval \"$l\" "
	    "</dev/null; echo \"$t $?\"; done") :
	    snprintf(out, size, "exec 2>&1; %s; while read -r t l; do if { %s; } "
	    ">/dev/null 2>&1 </dev/null; then echo \"$t 0\"; else eval \"$l\" "
	    "</dev/null; echo \"$t $?\"; fi; done", cut->setup, cut->try);

	return n > 0 && (size_t)n < size ? 0 : -1;
}

struct session {
	char id[65];			/* the container; "" a free slot */
	char line[DOCKER_SESSION_LINE];	/* the command, quoted: the key */
	char exec_id[65];
	CURL *curl;			/* NULL: not open */
	curl_socket_t fd;
	struct docker_demux dm;
	bool refused;			/* the front could not start one: no more tries */
	bool busy;			/* a thread runs it now */
	unsigned long used;		/* for the least recently used */
};

struct docker_sessions {
	pthread_mutex_t lock;
	unsigned long tick;
	struct session s[DOCKER_SESSIONS_MAX];
};

/* What one run read: the status line, and the output kept. */
struct run {
	struct docker_session_scan scan;
	char keep[DOCKER_EXEC_KEEP];
	size_t kept, total;
};

int
docker_session_quote(char *const argv[], char *out, size_t size)
{
	size_t n = 0;

	if (argv == NULL || argv[0] == NULL || size == 0)
		return -1;
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (n + (i > 0) + 1 >= size)
			return -1;
		if (i > 0)
			out[n++] = ' ';
		out[n++] = '\'';
		for (const char *c = argv[i]; *c != '\0'; c++) {
			const char *put = *c == '\'' ? "'\\''" : c;
			size_t len = *c == '\'' ? 4 : 1;

			if ((unsigned char)*c < 0x20 || *c == 0x7f || n + len + 1 >= size)
				return -1;
			memcpy(out + n, put, len);
			n += len;
		}
		out[n++] = '\'';
	}
	out[n] = '\0';
	return 0;
}

int
docker_session_scan(struct docker_session_scan *sc, const unsigned char *p,
    size_t n, void (*out)(void *arg, const unsigned char *p, size_t n), void *arg)
{
	size_t tlen = strlen(sc->token);

	for (size_t i = 0; i < n && sc->done == 0; i++) {
		unsigned char c = p[i];

		if (sc->matched == tlen + 1) {
			if (c == '\n' && sc->n_digits > 0) {
				sc->digits[sc->n_digits] = '\0';
				sc->code = atoi(sc->digits);
				sc->done = sc->code <= 255 && i + 1 == n ? 1 : -1;
			} else if (c >= '0' && c <= '9' && sc->n_digits < 3)
				sc->digits[sc->n_digits++] = (char)c;
			else
				sc->done = -1;
			continue;
		}
		if (!sc->mid_line && tlen > 0 &&
		    c == (sc->matched < tlen ? (unsigned char)sc->token[sc->matched] : ' ')) {
			sc->matched++;
			continue;
		}
		/* not the status line after all: what was held back is output */
		if (sc->matched > 0) {
			out(arg, (const unsigned char *)sc->token, sc->matched);
			sc->matched = 0;
		}
		out(arg, &c, 1);
		sc->mid_line = c != '\n';
	}
	return sc->done;
}

static void
keep_output(void *arg, const unsigned char *p, size_t n)
{
	struct run *r = arg;
	size_t take = sizeof(r->keep) - r->kept < n ? sizeof(r->keep) - r->kept : n;

	r->total += n;
	memcpy(r->keep + r->kept, p, take);
	r->kept += take;
}

static void
run_frame(void *arg, int stream, const unsigned char *p, size_t n)
{
	struct run *r = arg;

	if (stream != 1 || r->scan.done != 0)
		r->scan.done = -1;	/* the shell writes stdout only, and nothing after the status */
	else
		docker_session_scan(&r->scan, p, n, keep_output, r);
}

/* Waits for fd to be ready for ev until deadline: 1 ready, 0 time out, -1 error. */
static int
ready(curl_socket_t fd, short ev, long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	long left;
	int r;

	do {
		if ((left = deadline - clock_ms()) <= 0)
			return 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
	} while ((r == 0 && deadline > clock_ms()) || (r < 0 && errno == EINTR));
	return r < 0 ? -1 : r;
}

static int
send_all(struct session *s, const char *buf, size_t len, long deadline)
{
	while (len > 0) {
		size_t sent = 0;
		CURLcode c = curl_easy_send(s->curl, buf, len, &sent);

		if (c == CURLE_AGAIN) {
			if (ready(s->fd, POLLOUT, deadline) != 1)
				return -1;
			continue;
		}
		if (c != CURLE_OK)
			return -1;
		buf += sent;
		len -= sent;
	}
	return 0;
}

/* Bytes read (0 at the end of the stream), -1 an error, -2 the deadline. */
static long
recv_some(struct session *s, unsigned char *buf, size_t size, long deadline)
{
	for (;;) {
		size_t got = 0;
		CURLcode c = curl_easy_recv(s->curl, buf, size, &got);
		int r;

		if (c == CURLE_OK)
			return (long)got;
		if (c != CURLE_AGAIN)
			return -1;
		if ((r = ready(s->fd, POLLIN, deadline)) != 1)
			return r == 0 ? -2 : -1;
	}
}

static void
session_close(struct session *s)
{
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);	/* the engine closes the shell's stdin */
	s->curl = NULL;
}

/* Still open, and nothing said since the last run (a closed one reads EOF). */
static bool
session_alive(struct session *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

/*
 * Starts the shell in container id: its exec (stdin attached), then
 * POST /exec/{id}/start on our own connection, upgraded to the raw
 * stream (101).
 */
static int
session_open(struct session *s, struct docker *d, const struct docker_session_shortcut *cut,
    long deadline, bool *stalled, struct docker_status *st)
{
	char script[1024];
	char *const argv[] = { shell, dash_c, script, name, NULL };
	static const char body[] = "{\"Detach\":false,\"Tty\":false}";
	char req[512], head[HEAD_MAX + 1], url[sizeof(d->base) + 1];
	const char *host = strstr(d->base, "://") + 3, *end;
	size_t have = 0;
	long left, n;
	int len;

	if (make_script(cut, script, sizeof(script)) != 0)
		return docker_fail(st, DOCKER_ERR_INVALID, "session: shortcut too long");
	if (docker_exec_create(d, s->id, argv, true, s->exec_id, st) != 0)
		return -1;
	if ((left = deadline - clock_ms()) <= 0)
		return docker_fail(st, DOCKER_ERR_TIMEOUT, "no time left to start a session");
	snprintf(url, sizeof(url), "%s/", d->base);
	if ((s->curl = curl_easy_init()) == NULL)
		return docker_fail(st, DOCKER_ERR_INVALID, "out of memory");
	/* as docker_http's requests: http only, never through a proxy */
	if (curl_easy_setopt(s->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_NOPROXY, "*") != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK ||
	    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, left) != CURLE_OK ||
	    (d->socket_path != NULL && curl_easy_setopt(s->curl,
	    CURLOPT_UNIX_SOCKET_PATH, d->socket_path) != CURLE_OK))
		return docker_fail(st, DOCKER_ERR_INVALID, "session: libcurl refused a setting");
	if (curl_easy_perform(s->curl) != CURLE_OK ||
	    curl_easy_getinfo(s->curl, CURLINFO_ACTIVESOCKET, &s->fd) != CURLE_OK ||
	    s->fd == CURL_SOCKET_BAD)
		return docker_fail(st, DOCKER_ERR_CONNECT, "session: cannot connect");
	len = snprintf(req, sizeof(req), "POST %s%s/exec/%s/start HTTP/1.1\r\n"
	    "Host: %s\r\nContent-Type: application/json\r\nConnection: Upgrade\r\n"
	    "Upgrade: tcp\r\nContent-Length: %zu\r\n\r\n%s",
	    d->version[0] != '\0' ? "/v" : "", d->version, s->exec_id, host,
	    strlen(body), body);
	if (len < 0 || (size_t)len >= sizeof(req) ||
	    send_all(s, req, (size_t)len, deadline) != 0)
		return docker_fail(st, DOCKER_ERR_CONNECT, "session: cannot send the start");
	/* the head, a byte at a time: what follows it is the stream's */
	while (have < 4 || memcmp(head + have - 4, "\r\n\r\n", 4) != 0) {
		if (have == HEAD_MAX)
			return docker_fail(st, DOCKER_ERR_BAD_ANSWER, "session: head too long");
		if ((n = recv_some(s, (unsigned char *)head + have, 1, deadline)) <= 0) {
			*stalled = n == -2;
			return docker_fail(st, n == -2 ? DOCKER_ERR_TIMEOUT :
			    DOCKER_ERR_BAD_ANSWER, "session: no answer to the start");
		}
		have++;
	}
	head[have] = '\0';
	/* "HTTP/1.1 101 ...": the status line ends at the first CR, there is one */
	if ((end = strchr(head, '\r')) - head < 12 || strncmp(head, "HTTP/1.", 7) != 0)
		return docker_fail(st, DOCKER_ERR_HTTP, "session: start answered no HTTP");
	/*
	 * Only an upgraded stream is ours both ways: a proxy that answers 200
	 * instead (HAProxy 2.4 until its issue 2684 was fixed) streams the
	 * output but never passes a byte of stdin on, so the shell would wait.
	 */
	if (strncmp(head + 8, " 101", 4) != 0)
		return docker_fail(st, strncmp(head + 8, " 403", 4) == 0 ?
		    DOCKER_ERR_DENIED : DOCKER_ERR_HTTP, "session: start answered %.*s",
		    (int)(end - head < 40 ? end - head : 40), head);
	docker_demux_init(&s->dm, FRAME_MAX);
	return 0;
}

enum run_end { RUN_DONE, RUN_LOST, RUN_TIMEOUT };

/* Writes "TOKEN COMMAND" and reads until the run's status came back. */
static enum run_end
session_run(struct session *s, long deadline, struct run *r)
{
	unsigned char buf[4096], rnd[8];
	char line[sizeof(r->scan.token) + DOCKER_SESSION_LINE + 1];
	long n;
	int len;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return RUN_LOST;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(r->scan.token + 2 * i, 3, "%02x", rnd[i]);
	len = snprintf(line, sizeof(line), "%s %s\n", r->scan.token, s->line);
	if (len < 0 || (size_t)len >= sizeof(line))
		return RUN_LOST;
	if (send_all(s, line, (size_t)len, deadline) != 0)
		return ready(s->fd, POLLOUT, deadline) == 0 ? RUN_TIMEOUT : RUN_LOST;
	while (r->scan.done == 0) {
		if ((n = recv_some(s, buf, sizeof(buf), deadline)) == -2)
			return RUN_TIMEOUT;
		if (n <= 0 || docker_demux_feed(&s->dm, buf, (size_t)n, run_frame, r) != 0)
			return RUN_LOST;
	}
	return r->scan.done == 1 ? RUN_DONE : RUN_LOST;
}

struct docker_sessions *
docker_sessions_new(void)
{
	struct docker_sessions *ss = calloc(1, sizeof(*ss));

	if (ss != NULL && pthread_mutex_init(&ss->lock, NULL) != 0) {
		free(ss);
		ss = NULL;
	}
	return ss;
}

void
docker_sessions_free(struct docker_sessions **ssp)
{
	struct docker_sessions *ss;

	if (ssp == NULL || (ss = *ssp) == NULL)
		return;
	for (size_t i = 0; i < DOCKER_SESSIONS_MAX; i++)
		session_close(&ss->s[i]);
	pthread_mutex_destroy(&ss->lock);
	free(ss);
	*ssp = NULL;
}

/* The slot of (id, line), taken for the caller: found, free, or the oldest idle one. */
static struct session *
take(struct docker_sessions *ss, const char *id, const char *line)
{
	struct session *s = NULL;

	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < DOCKER_SESSIONS_MAX && s == NULL; i++)
		if (strcmp(ss->s[i].id, id) == 0 && strcmp(ss->s[i].line, line) == 0)
			s = &ss->s[i];
	if (s != NULL && (s->busy || s->refused))
		s = NULL;
	else if (s == NULL) {
		for (size_t i = 0; i < DOCKER_SESSIONS_MAX; i++)
			if (!ss->s[i].busy && (s == NULL || ss->s[i].id[0] == '\0' ||
			    (s->id[0] != '\0' && ss->s[i].used < s->used)))
				s = &ss->s[i];
		if (s != NULL) {
			session_close(s);
			memset(s, 0, sizeof(*s));
			snprintf(s->id, sizeof(s->id), "%s", id);
			snprintf(s->line, sizeof(s->line), "%s", line);
		}
	}
	if (s != NULL) {
		s->busy = true;
		s->used = ++ss->tick;
	}
	pthread_mutex_unlock(&ss->lock);
	return s;
}

/* The front will not have a session for this command: said once, then new execs. */
static void
refuse(struct session *s, const struct docker_status *st)
{
	s->refused = true;
	log_event(LOG_LEVEL_WARN, "reload.session_refused",
	    json_pack("{s:s, s:s, s:s, s:s}", "container_id", s->id, "command", s->line,
	    "error", docker_error_names[st->error], "detail", st->detail),
	    "no session shell in %.12s for %s (%s): a new exec each time", s->id,
	    s->line, st->detail);
}

static void
give_back(struct docker_sessions *ss, struct session *s)
{
	pthread_mutex_lock(&ss->lock);
	s->busy = false;
	pthread_mutex_unlock(&ss->lock);
}

/* The slot of (id, argv), taken; NULL when argv cannot be a line or none is free. */
static struct session *
take_for(struct docker_sessions *ss, const char *id, char *const argv[])
{
	char line[DOCKER_SESSION_LINE];

	if (ss == NULL || !docker_chars(id, HEX, 1, 65) ||
	    docker_session_quote(argv, line, sizeof(line)) != 0)
		return NULL;
	return take(ss, id, line);
}

/*
 * The taken s open: one the engine closed is opened again (*fresh). -1 with
 * st when it cannot be: closed, and refused for good when the front said no
 * (a proxy's 403 or 200, DOCKER_ERR_DENIED or _HTTP); *stalled when the
 * engine stalled the start.
 */
static int
session_ready(struct session *s, struct docker *d, const struct docker_session_shortcut *cut,
    long deadline, bool *fresh, bool *stalled, struct docker_status *st)
{
	if (s->curl != NULL && !session_alive(s))
		session_close(s);
	if (!(*fresh = s->curl == NULL) || session_open(s, d, cut, deadline, stalled, st) == 0)
		return 0;
	session_close(s);
	if (st->error == DOCKER_ERR_DENIED || st->error == DOCKER_ERR_HTTP)
		refuse(s, st);
	return -1;
}

void
docker_sessions_open(struct docker_sessions *ss, struct docker *d, const char *id,
    char *const argv[], const struct docker_session_shortcut *cut, long timeout_ms)
{
	struct docker_status st;
	struct session *s;
	bool fresh, stalled = false;

	if (timeout_ms <= 0 || (s = take_for(ss, id, argv)) == NULL)
		return;
	session_ready(s, d, cut, clock_ms() + timeout_ms, &fresh, &stalled, &st);
	give_back(ss, s);
}

int
docker_sessions_exec(struct docker_sessions *ss, struct docker *d,
    const char *id, char *const argv[], const struct docker_session_shortcut *cut,
    long timeout_ms, struct docker_exec_result *res, struct docker_status *st)
{
	long t0 = clock_ms(), deadline = t0 + timeout_ms;
	struct session *s;
	struct run *r = NULL;
	enum run_end end = RUN_LOST;
	bool fresh, stalled = false;
	size_t len = 0;
	int rc;

	if (timeout_ms <= 0 || (s = take_for(ss, id, argv)) == NULL)
		return docker_exec(d, id, argv, timeout_ms, res, st);
	memset(st, 0, sizeof(*st));
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (session_ready(s, d, cut, deadline, &fresh, &stalled, st) != 0) {
		/* a start the engine stalls: as a one-shot exec's would be, hung */
		if (stalled) {
			memcpy(res->exec_id, s->exec_id, sizeof(res->exec_id));
			res->hung = true;
			rc = -1;
			goto out;
		}
		goto fall_back;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fall_back;
	end = session_run(s, deadline, r);
	memcpy(res->exec_id, s->exec_id, sizeof(res->exec_id));
	if (end == RUN_DONE) {
		res->exit_code = r->scan.code;
		log_clean(res->output, sizeof(res->output), &len, r->keep, r->kept, true);
		res->output_total = r->total;
		rc = 0;
		goto out;
	}
	if (end == RUN_TIMEOUT) {
		struct docker_status ist;
		bool running;

		/* which process hangs: the shell, on the engine's host */
		docker_exec_state(d, s->exec_id, &running, &res->pid, &ist);
		session_close(s);
		res->hung = true;
		rc = docker_fail(st, DOCKER_ERR_TIMEOUT, "still running after %ld ms",
		    timeout_ms);
		goto out;
	}
	session_close(s);
	/* a fresh one that ends at once: the front has no shell for us */
	if (fresh) {
		docker_fail(st, DOCKER_ERR_BAD_ANSWER, "the session ended before its first status");
		refuse(s, st);
	}
fall_back:
	free(r);
	r = NULL;
	give_back(ss, s);
	if (clock_ms() >= deadline)
		return docker_fail(st, DOCKER_ERR_TIMEOUT, "no time left for the command");
	rc = docker_exec(d, id, argv, deadline - clock_ms(), res, st);
	res->ms = clock_ms() - t0;
	return rc;
out:
	free(r);
	give_back(ss, s);
	res->ms = clock_ms() - t0;
	return rc;
}

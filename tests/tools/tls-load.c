/*
 * tls-load: TLS handshakes in a loop against the front, for
 * tests/integration/61-zero-downtime.sh. Independent of the agent's own
 * probe code on purpose: a bug shared with the code under test would hide.
 *
 *   tls-load [-c THREADS] [-d SECONDS] [-i INTERVAL_MS] [-t TIMEOUT_MS]
 *            [-s SNI] [-C CA_FILE] [-o OUT] PROTO=HOST:PORT ...
 *
 *   PROTO   https smtps imaps pop3s (implicit TLS) or smtp submission imap
 *           pop3 sieve (STARTTLS dialog first)
 *   -c      threads per endpoint (1); each runs handshakes back to back
 *   -d      stop after SECONDS (0 = until SIGTERM or SIGINT, the default)
 *   -i      paced: each thread starts a handshake every INTERVAL_MS (start
 *           to start; one that took longer is followed at once), so a
 *           change on the server is seen within about INTERVAL_MS plus one
 *           handshake: the outside prober of tests/bench/bench.sh
 *   -t      bound on each step: connect, every read and write (5000 ms)
 *   -s      SNI name sent (none by default)
 *   -C      verify the chain against CA_FILE and the name against -s: a
 *           certificate that does not verify is a failed handshake
 *   -o      the record file (stdout by default)
 *
 * One line per handshake, tab-separated:
 *   START_US END_US PROTO PORT THREAD ok FINGERPRINT
 *   START_US END_US PROTO PORT THREAD fail REASON
 * START_US is taken before connect(), END_US when the handshake is over
 * (for a failure: when it failed); CLOCK_REALTIME microseconds.
 * FINGERPRINT is the SHA-256 of the served leaf, lowercase hex. A handshake
 * is only "ok" when it completed and a leaf was served (and, with -C,
 * verified); anything else is a "fail" with the step and the reason.
 *
 * At the end one JSON line on stderr: totals, per endpoint, handshakes/s.
 * Exit: 0 (the run happened; failures are in the records), 64 usage,
 * 1 setup error.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_ENDPOINTS 16
#define MAX_THREADS 64
#define LINE_MAX_LEN 1024

enum proto {
	P_HTTPS, P_SMTPS, P_IMAPS, P_POP3S,	/* implicit TLS */
	P_SMTP, P_SUBMISSION, P_IMAP, P_POP3, P_SIEVE,	/* STARTTLS */
	P__MAX
};
static const char *const proto_names[P__MAX] = {
	"https", "smtps", "imaps", "pop3s", "smtp", "submission", "imap",
	"pop3", "sieve",
};

struct endpoint {
	enum proto proto;
	char host[256];
	char port[8];
	struct sockaddr_storage addr;	/* resolved once, at start */
	socklen_t addrlen;
	atomic_long ok;			/* handshakes that served a leaf */
	atomic_long failed;		/* every other outcome */
};

struct worker {
	pthread_t tid;
	struct endpoint *ep;
	int id;				/* thread number, in the records */
};

/* a connection's plain-text side: a socket and a line buffer */
struct conn {
	int fd;
	char buf[LINE_MAX_LEN];
	size_t len;			/* bytes in buf */
};

static SSL_CTX *ctx;
static const char *sni;
static int timeout_ms = 5000;
static long long interval_us;		/* -i: start to start; 0 back to back */
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stopping;

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tls-load [-c THREADS] [-d SECONDS] [-i INTERVAL_MS]"
	    " [-t TIMEOUT_MS] [-s SNI] [-C CA_FILE] [-o OUT] PROTO=HOST:PORT ...\n");
	exit(64);
}

static long
parse_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

/* PROTO=HOST:PORT, resolved now so the loop never calls the resolver. */
static int
parse_endpoint(const char *arg, struct endpoint *ep)
{
	const char *eq = strchr(arg, '='), *colon = strrchr(arg, ':');
	struct addrinfo hints = { 0 }, *ai = NULL;
	size_t n;
	int p, rc;

	if (eq == NULL || colon == NULL || colon < eq)
		return -1;
	for (p = 0; p < P__MAX; p++)
		if (strlen(proto_names[p]) == (size_t)(eq - arg) &&
		    strncmp(arg, proto_names[p], (size_t)(eq - arg)) == 0)
			break;
	if (p == P__MAX)
		return -1;
	ep->proto = (enum proto)p;
	n = (size_t)(colon - eq - 1);
	if (n == 0 || n >= sizeof(ep->host) || strlen(colon + 1) >= sizeof(ep->port))
		return -1;
	memcpy(ep->host, eq + 1, n);
	ep->host[n] = '\0';
	snprintf(ep->port, sizeof(ep->port), "%s", colon + 1);
	(void)parse_num(ep->port, 1, 65535);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(ep->host, ep->port, &hints, &ai)) != 0) {
		fprintf(stderr, "tls-load: %s: %s\n", arg, gai_strerror(rc));
		return -1;
	}
	memcpy(&ep->addr, ai->ai_addr, ai->ai_addrlen);
	ep->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* The reason of a failure: the step, then what went wrong. */
static void
reason(char *dst, size_t len, const char *step, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* records are tab-separated lines */
	for (char *p = what; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r' || (unsigned char)*p < 0x20)
			*p = ' ';
	snprintf(dst, len, "%s: %s", step, what);
}

static const char *
errno_text(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS ?
	    "timed out" : strerror(e);
}

/* Drains OpenSSL's error queue into one string, never losing the reason. */
static void
ssl_errors(char *dst, size_t len, int ssl_err, int saved_errno)
{
	unsigned long e;
	size_t used = 0;

	dst[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		used += (size_t)snprintf(dst + used, used < len ? len - used : 0,
		    "%s%s", used > 0 ? "; " : "", one);
		if (used >= len)
			break;
	}
	if (dst[0] != '\0')
		return;
	if (ssl_err == SSL_ERROR_SYSCALL)
		snprintf(dst, len, "%s", saved_errno != 0 ? errno_text(saved_errno) :
		    "connection closed by the server");
	else if (ssl_err == SSL_ERROR_ZERO_RETURN)
		snprintf(dst, len, "closed by the server (close_notify)");
	else
		snprintf(dst, len, "SSL error %d", ssl_err);
}

static int
conn_open(struct conn *c, const struct endpoint *ep, char *why, size_t len)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	int one = 1;

	c->len = 0;
	if ((c->fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		reason(why, len, "socket", "%s", strerror(errno));
		return -1;
	}
	/* Linux bounds connect() by SO_SNDTIMEO too */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&ep->addr, ep->addrlen) != 0) {
		reason(why, len, "connect", "%s", errno_text(errno));
		return -1;
	}
	return 0;
}

/* One line (CRLF stripped) into line; -1 with the reason on EOF/timeout. */
static int
conn_line(struct conn *c, char *line, size_t size, char *why, size_t len)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;

		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf);

			if (l > 0 && c->buf[l - 1] == '\r')
				l--;
			if (l >= size)
				l = size - 1;
			memcpy(line, c->buf, l);
			line[l] = '\0';
			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len);
			return 0;
		}
		if (c->len == sizeof(c->buf)) {
			reason(why, len, "starttls", "line longer than %zu bytes", sizeof(c->buf));
			return -1;
		}
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n == 0) {
			reason(why, len, "starttls", "connection closed by the server");
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			reason(why, len, "starttls", "read: %s", errno_text(errno));
			return -1;
		}
		c->len += (size_t)n;
	}
}

static int
conn_send(struct conn *c, const char *text, char *why, size_t len)
{
	size_t n = strlen(text), done = 0;

	while (done < n) {
		ssize_t w = send(c->fd, text + done, n - done, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			reason(why, len, "starttls", "write: %s", errno_text(errno));
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

/* SMTP: a reply, possibly multi-line ("250-..." then "250 ..."); its code. */
static int
smtp_reply(struct conn *c, char *why, size_t len)
{
	char line[LINE_MAX_LEN];

	do {
		if (conn_line(c, line, sizeof(line), why, len) != 0)
			return -1;
		if (strlen(line) < 3) {
			reason(why, len, "starttls", "bad SMTP reply '%s'", line);
			return -1;
		}
	} while (line[3] == '-');
	return atoi(line);
}

/*
 * The plain-text dialog up to the point where the TLS handshake starts.
 * Every reply is checked: a refused STARTTLS is a failure with its text.
 */
static int
starttls(struct conn *c, enum proto p, char *why, size_t len)
{
	char line[LINE_MAX_LEN];
	int code;

	switch (p) {
	case P_SMTP:
	case P_SUBMISSION:
		if ((code = smtp_reply(c, why, len)) < 0)
			return -1;
		if (code != 220) {
			reason(why, len, "starttls", "greeting %d", code);
			return -1;
		}
		if (conn_send(c, "EHLO load.mca.test\r\n", why, len) != 0 ||
		    (code = smtp_reply(c, why, len)) < 0)
			return -1;
		if (code != 250) {
			reason(why, len, "starttls", "EHLO answered %d", code);
			return -1;
		}
		if (conn_send(c, "STARTTLS\r\n", why, len) != 0 ||
		    (code = smtp_reply(c, why, len)) < 0)
			return -1;
		if (code != 220) {
			reason(why, len, "starttls", "STARTTLS answered %d", code);
			return -1;
		}
		break;
	case P_IMAP:
		if (conn_line(c, line, sizeof(line), why, len) != 0)
			return -1;
		if (strncmp(line, "* OK", 4) != 0) {
			reason(why, len, "starttls", "greeting '%.80s'", line);
			return -1;
		}
		if (conn_send(c, "a STARTTLS\r\n", why, len) != 0)
			return -1;
		do {
			if (conn_line(c, line, sizeof(line), why, len) != 0)
				return -1;
		} while (strncmp(line, "a ", 2) != 0);
		if (strncmp(line, "a OK", 4) != 0) {
			reason(why, len, "starttls", "STARTTLS answered '%.80s'", line);
			return -1;
		}
		break;
	case P_POP3:
		if (conn_line(c, line, sizeof(line), why, len) != 0)
			return -1;
		if (strncmp(line, "+OK", 3) != 0) {
			reason(why, len, "starttls", "greeting '%.80s'", line);
			return -1;
		}
		if (conn_send(c, "STLS\r\n", why, len) != 0 ||
		    conn_line(c, line, sizeof(line), why, len) != 0)
			return -1;
		if (strncmp(line, "+OK", 3) != 0) {
			reason(why, len, "starttls", "STLS answered '%.80s'", line);
			return -1;
		}
		break;
	case P_SIEVE:
		do {	/* capability lines, then OK */
			if (conn_line(c, line, sizeof(line), why, len) != 0)
				return -1;
		} while (strncmp(line, "OK", 2) != 0 && strncmp(line, "NO", 2) != 0 &&
		    strncmp(line, "BYE", 3) != 0);
		if (strncmp(line, "OK", 2) != 0) {
			reason(why, len, "starttls", "greeting '%.80s'", line);
			return -1;
		}
		if (conn_send(c, "STARTTLS\r\n", why, len) != 0 ||
		    conn_line(c, line, sizeof(line), why, len) != 0)
			return -1;
		if (strncmp(line, "OK", 2) != 0) {
			reason(why, len, "starttls", "STARTTLS answered '%.80s'", line);
			return -1;
		}
		break;
	default:
		return 0;
	}
	/* Nothing may follow the go-ahead before the handshake (injection). */
	if (c->len != 0) {
		reason(why, len, "starttls", "%zu bytes after the STARTTLS reply", c->len);
		return -1;
	}
	return 0;
}

/*
 * One handshake: connect, STARTTLS dialog, TLS, leaf fingerprint (and chain
 * check with -C). 0 with the fingerprint in res, or -1 with the reason.
 * The connection is closed cleanly (close_notify, then the server's EOF),
 * so the servers log an ordinary disconnect rather than an error.
 */
static int
handshake(const struct endpoint *ep, char *res, size_t len, long long *done_us)
{
	struct conn c = { .fd = -1 };
	SSL *ssl = NULL;
	X509 *leaf = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc = -1, r;

	if (conn_open(&c, ep, res, len) != 0 || starttls(&c, ep->proto, res, len) != 0)
		goto out;
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, c.fd) != 1) {
		reason(res, len, "tls", "SSL_new failed");
		goto out;
	}
	if (sni != NULL && (SSL_set_tlsext_host_name(ssl, sni) != 1 ||
	    SSL_set1_host(ssl, sni) != 1)) {
		reason(res, len, "tls", "cannot set SNI");
		goto out;
	}
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_connect(ssl)) != 1) {
		int e = errno, se = SSL_get_error(ssl, r);
		char what[400];
		long v = SSL_get_verify_result(ssl);

		ssl_errors(what, sizeof(what), se, e);
		if (v != X509_V_OK)
			reason(res, len, "verify", "%s (%s)",
			    X509_verify_cert_error_string(v), what);
		else
			reason(res, len, "tls", "%s", what);
		goto out;
	}
	*done_us = now_us();
	if ((leaf = SSL_get1_peer_certificate(ssl)) == NULL) {
		reason(res, len, "tls", "no certificate served");
		goto out;
	}
	if (X509_digest(leaf, EVP_sha256(), md, &mdlen) != 1) {
		reason(res, len, "tls", "cannot hash the leaf");
		goto out;
	}
	for (unsigned int i = 0; i < mdlen && 2 * i + 2 < len; i++)
		snprintf(res + 2 * i, 3, "%02x", md[i]);
	rc = 0;
	/* close_notify, then wait for the server's close (tickets are read) */
	if (SSL_shutdown(ssl) == 0) {
		char sink[512];

		while (SSL_read(ssl, sink, sizeof(sink)) > 0)
			;
	}
out:
	X509_free(leaf);
	SSL_free(ssl);
	if (c.fd >= 0)
		close(c.fd);
	ERR_clear_error();
	return rc;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct endpoint *ep = w->ep;
	long long next = now_us();

	while (!atomic_load(&stopping)) {
		char res[600];
		long long t0, t1 = 0;
		int rc;

		if (interval_us > 0) {
			long long now = now_us();

			if (next > now) {
				struct timespec ts = { (time_t)((next - now) / 1000000),
				    (long)((next - now) % 1000000) * 1000 };

				nanosleep(&ts, NULL);
			}
			/* late (a slow handshake): the next one at once, then paced again */
			next = (next > now ? next : now) + interval_us;
		}
		t0 = now_us();
		rc = handshake(ep, res, sizeof(res), &t1);

		if (rc != 0 || t1 == 0)
			t1 = now_us();
		atomic_fetch_add(rc == 0 ? &ep->ok : &ep->failed, 1);
		pthread_mutex_lock(&out_lock);
		fprintf(out, "%lld\t%lld\t%s\t%s\t%d\t%s\t%s\n", t0, t1,
		    proto_names[ep->proto], ep->port, w->id, rc == 0 ? "ok" : "fail", res);
		pthread_mutex_unlock(&out_lock);
		if (rc != 0 && interval_us == 0)	/* a refused port must not turn into a busy loop */
			usleep(10000);
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	static struct endpoint eps[MAX_ENDPOINTS];
	static struct worker workers[MAX_THREADS];
	const char *ca = NULL, *outpath = NULL;
	long threads = 1, duration = 0, total_ok = 0, total_failed = 0;
	int n_eps = 0, n_workers = 0, opt, sig = 0;
	long long t_start, t_end;
	sigset_t set;
	double secs;

	while ((opt = getopt(argc, argv, "c:d:i:t:s:C:o:")) != -1) {
		switch (opt) {
		case 'c': threads = parse_num(optarg, 1, MAX_THREADS); break;
		case 'd': duration = parse_num(optarg, 0, 86400); break;
		case 'i': interval_us = parse_num(optarg, 1, 60000) * 1000LL; break;
		case 't': timeout_ms = (int)parse_num(optarg, 1, 600000); break;
		case 's': sni = optarg; break;
		case 'C': ca = optarg; break;
		case 'o': outpath = optarg; break;
		default: usage();
		}
	}
	if (optind == argc || argc - optind > MAX_ENDPOINTS ||
	    (argc - optind) * threads > MAX_THREADS)
		usage();
	for (int i = optind; i < argc; i++, n_eps++)
		if (parse_endpoint(argv[i], &eps[n_eps]) != 0) {
			fprintf(stderr, "tls-load: bad endpoint '%s'\n", argv[i]);
			usage();
		}

	/* Signals are read by this thread only; workers never see them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	out = stdout;
	if (outpath != NULL && (out = fopen(outpath, "w")) == NULL) {
		fprintf(stderr, "tls-load: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		fprintf(stderr, "tls-load: SSL_CTX_new failed\n");
		return 1;
	}
	/* every handshake a full one: no session is ever offered again */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			fprintf(stderr, "tls-load: cannot load %s\n", ca);
			return 1;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}

	t_start = now_us();
	for (int e = 0; e < n_eps; e++)
		for (long k = 0; k < threads; k++, n_workers++) {
			workers[n_workers].ep = &eps[e];
			workers[n_workers].id = n_workers;
			if (pthread_create(&workers[n_workers].tid, NULL, worker_main,
			    &workers[n_workers]) != 0) {
				fprintf(stderr, "tls-load: pthread_create failed\n");
				atomic_store(&stopping, 1);
				break;
			}
		}
	fprintf(stderr, "tls-load: %d endpoints, %d threads\n", n_eps, n_workers);

	if (duration > 0) {
		struct timespec ts = { duration, 0 };

		sig = sigtimedwait(&set, NULL, &ts);
	} else {
		sigwait(&set, &sig);
	}
	atomic_store(&stopping, 1);
	for (int i = 0; i < n_workers; i++)
		pthread_join(workers[i].tid, NULL);
	t_end = now_us();
	if (out != stdout)
		fclose(out);
	else
		fflush(out);

	secs = (double)(t_end - t_start) / 1e6;
	fprintf(stderr, "{\"seconds\":%.3f,\"endpoints\":[", secs);
	for (int e = 0; e < n_eps; e++) {
		long ok = atomic_load(&eps[e].ok), failed = atomic_load(&eps[e].failed);

		total_ok += ok;
		total_failed += failed;
		fprintf(stderr, "%s{\"proto\":\"%s\",\"port\":%s,\"ok\":%ld,\"failed\":%ld}",
		    e > 0 ? "," : "", proto_names[eps[e].proto], eps[e].port, ok, failed);
	}
	fprintf(stderr, "],\"ok\":%ld,\"failed\":%ld,\"per_second\":%.1f}\n",
	    total_ok, total_failed, secs > 0 ? (double)(total_ok + total_failed) / secs : 0.0);
	SSL_CTX_free(ctx);
	return 0;
}

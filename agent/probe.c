/*
 * probe: every step is bounded by one deadline; sockets are non-blocking
 * and every wait is a poll() on what the step needs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "clock.h"
#include "log.h"
#include "probe.h"
#include "proxyproto.h"
#include "starttls.h"

static int
failed(struct probe_result *res, const char *code, const char *detail)
{
	res->ok = false;
	res->error = code;
	snprintf(res->detail, sizeof(res->detail), "%s", detail);
	return -1;
}

/* Waits for fd to become ready for events before deadline. 1 ready, 0 timeout. */
static int
wait_fd(int fd, short events, long deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		long left = deadline - clock_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
connect_one(const struct addrinfo *ai, long deadline, int *err)
{
	socklen_t elen = sizeof(*err);
	int fd, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	if (wait_fd(fd, POLLOUT, deadline) != 1) {
		*err = ETIMEDOUT;
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &elen) != 0 || *err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
connect_endpoint(const struct endpoint *ep, long deadline,
    struct probe_result *res)
{
	struct addrinfo hints = { 0 }, *list = NULL;
	char port[8], detail[128];
	int fd = -1, err = 0, gai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", (unsigned)ep->port);
	/* getaddrinfo cannot be bounded; names are ours (settings) or Docker's */
	gai = getaddrinfo(ep->host, port, &hints, &list);
	if (gai != 0) {
		failed(res, "resolve_failed", gai_strerror(gai));
		return -1;
	}
	for (struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, deadline, &err);
	freeaddrinfo(list);
	if (fd < 0) {
		snprintf(detail, sizeof(detail), "%s", strerror(err));
		failed(res, err == ETIMEDOUT ? "timeout" :
		    err == ECONNREFUSED ? "connection_refused" : "connect_failed",
		    detail);
	}
	return fd;
}

static int
send_all(int fd, const void *buf, size_t len, long deadline)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 1)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int
send_proxy_header(int fd, long deadline, struct probe_result *res)
{
	struct sockaddr_storage self, peer;
	socklen_t slen = sizeof(self), plen = sizeof(peer);
	unsigned char hdr[PROXYPROTO_V2_MAX];
	int n;

	if (getsockname(fd, (struct sockaddr *)&self, &slen) != 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) != 0 ||
	    (n = proxyproto_v2((struct sockaddr *)&self, (struct sockaddr *)&peer,
	    hdr, sizeof(hdr))) < 0)
		return failed(res, "proxy_header_failed", "cannot build header");
	if (send_all(fd, hdr, (size_t)n, deadline) != 0)
		return failed(res, "proxy_header_failed", "send failed");
	return 0;
}

/*
 * Reads lines into buf until the dialogue says handshake or fails. No
 * TLS byte arrives before our ClientHello, so nothing read is lost.
 */
static int
run_starttls(int fd, enum starttls_kind kind, long deadline,
    struct probe_result *res)
{
	char buf[STARTTLS_MAX_LINE + 3], detail[200];
	struct starttls_state st;
	size_t used = 0;

	starttls_init(&st, kind);
	for (;;) {
		char *eol = memchr(buf, '\n', used);
		const char *out;
		size_t len;
		ssize_t n;

		if (eol == NULL) {
			if (used >= sizeof(buf) - 1)
				return failed(res, "starttls_failed", "line_too_long");
			n = recv(fd, buf + used, sizeof(buf) - 1 - used, 0);
			if (n > 0) {
				used += (size_t)n;
				continue;
			}
			if (n == 0)
				return failed(res, "starttls_failed",
				    "connection closed by server");
			if (errno != EAGAIN && errno != EINTR)
				return failed(res, "starttls_failed", strerror(errno));
			if (wait_fd(fd, POLLIN, deadline) != 1)
				return failed(res, "timeout", "during STARTTLS dialogue");
			continue;
		}
		len = (size_t)(eol - buf);
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		switch (starttls_feed(&st, buf, len, &out)) {
		case STARTTLS_READ:
			break;
		case STARTTLS_SEND:
			if (send_all(fd, out, strlen(out), deadline) != 0)
				return failed(res, "starttls_failed", "send failed");
			break;
		case STARTTLS_HANDSHAKE:
			return 0;
		case STARTTLS_FAIL:
			{
				size_t dl = 0;

				/* the server's line is untrusted: printable only */
				log_clean(detail, 120, &dl, buf, len, false);
			}
			snprintf(res->detail, sizeof(res->detail), "%s: %s", out,
			    detail);
			res->ok = false;
			res->error = "starttls_failed";
			return -1;
		}
		used -= (size_t)(eol + 1 - buf);
		memmove(buf, eol + 1, used);
	}
}

SSL_CTX *
probe_ctx_new(enum cert_key_type type)
{
	static const char *const sigalgs[CERT_KEY__MAX] = { NULL,
	    "RSA-PSS+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA512:"
	    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512:"
	    "RSA+SHA256:RSA+SHA384:RSA+SHA512",
	    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512" };
	static const char *const ciphers[CERT_KEY__MAX] = { NULL, "aRSA", "aECDSA" };
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	if (sigalgs[type] != NULL && (SSL_CTX_set1_sigalgs_list(ctx, sigalgs[type]) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers[type]) != 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* status_request: no callback, so a staple is kept, never enforced */
	SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp);
	/* no session reuse: every probe must see a full handshake */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static bool
is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/*
 * A name of the peer's leaf as short text: RFC 2253 (XN_FLAG_RFC2253
 * escapes control and non-ASCII bytes as \XX), anything else that is not
 * printable ASCII replaced, cut to size with "..." at its end.
 */
static void
name_text(const X509_NAME *name, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n = -1;

	out[0] = '\0';
	if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_get_mem_data(b, &p);
	if (n > 0) {
		snprintf(out, size, "%.*s", (int)n, p);
		if ((size_t)n >= size && size > 4)
			memcpy(out + size - 4, "...", 4);
		for (char *c = out; *c != '\0'; c++)
			if (*c < 0x20 || *c > 0x7e)
				*c = '?';
	}
	BIO_free(b);
}

static int
tls_handshake(SSL_CTX *ctx, int fd, const char *sni, long deadline,
    struct probe_result *res)
{
	char detail[256] = "";
	X509 *peer;
	SSL *ssl;
	int rc = -1, r;

	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return failed(res, "tls_handshake_failed", "SSL_new failed");
	}
	if (sni != NULL && !is_ip(sni))
		SSL_set_tlsext_host_name(ssl, sni);
	while ((r = SSL_connect(ssl)) != 1) {
		int e = SSL_get_error(ssl, r);
		short ev = e == SSL_ERROR_WANT_READ ? POLLIN :
		    e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;

		if (ev == 0) {
			cert_drain_errors(detail, sizeof(detail));
			failed(res, "tls_handshake_failed",
			    detail[0] != '\0' ? detail : "handshake failed");
			goto out;
		}
		if (wait_fd(fd, ev, deadline) != 1) {
			failed(res, "timeout", "during TLS handshake");
			goto out;
		}
	}
	peer = SSL_get0_peer_certificate(ssl);
	if (peer == NULL) {
		failed(res, "no_certificate", "server sent no certificate");
		goto out;
	}
	if (cert_fingerprint(peer, res->fingerprint) != 0) {
		failed(res, "tls_handshake_failed", "cannot hash certificate");
		goto out;
	}
	{
		time_t nb;

		if (cert_validity(peer, &nb, &res->not_after) != 0)
			res->not_after = 0;
	}
	res->key_type = cert_key_type_of(peer);
	{
		unsigned char *staple = NULL;
		long slen = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);

		/* the chain as served, leaf first; the clock is the wall clock */
		ocsp_check(staple, slen > 0 ? (size_t)slen : 0,
		    SSL_get_peer_cert_chain(ssl), time(NULL), &res->ocsp);
	}
	name_text(X509_get_subject_name(peer), res->subject, sizeof(res->subject));
	name_text(X509_get_issuer_name(peer), res->issuer, sizeof(res->issuer));
	res->ok = true;
	res->error = NULL;
	res->detail[0] = '\0';
	rc = 0;
	/* best effort close_notify; the result is already known */
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	ERR_clear_error();
	return rc;
}

int
probe_endpoint(SSL_CTX *ctx, const struct endpoint *ep, const char *sni,
    long timeout_ms, struct probe_result *res)
{
	long start = clock_ms(), deadline = start + timeout_ms;
	enum starttls_kind kind = proto_table[ep->proto].starttls;
	int fd, rc = -1;

	memset(res, 0, sizeof(*res));
	fd = connect_endpoint(ep, deadline, res);
	if (fd < 0)
		goto done;
	if (ep->proxy && send_proxy_header(fd, deadline, res) != 0)
		goto done;
	if (kind != STARTTLS_NONE && run_starttls(fd, kind, deadline, res) != 0)
		goto done;
	rc = tls_handshake(ctx, fd, sni, deadline, res);
done:
	if (fd >= 0)
		close(fd);
	res->ms = clock_ms() - start;
	return rc;
}

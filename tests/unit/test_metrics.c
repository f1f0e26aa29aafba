/* The metrics server: exposition format, HTTP edges, bounds, restart. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "metrics.h"
#include "metrics_render.h"

#define FP_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* One (endpoint, key type) as a verify report sets it. */
static void
set_ep(const char *url, const char *kt, enum metrics_ep_state state, const char *fp,
    const char *subject, time_t not_after)
{
	metrics_set_endpoint(&(struct metrics_endpoint){ .url = url, .key_type = kt,
	    .state = state, .fingerprint = fp, .subject = subject,
	    .issuer = "CN=MCA Test CA", .not_after = not_after });
}

static int
dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons((uint16_t)metrics_port());
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends req, reads until the server closes; the caller frees. */
static char *
http(const char *req, size_t len)
{
	size_t cap = METRICS_BODY_MAX + 4096, got = 0;
	char *out = calloc(1, cap + 1);
	int fd = dial();
	ssize_t n;

	CHECK(fd >= 0);
	if (fd < 0)
		return out;
	CHECK(send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len);
	while (got < cap && (n = recv(fd, out + got, cap - got, 0)) > 0)
		got += (size_t)n;
	close(fd);
	return out;
}

static char *
get(const char *path)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);

	return http(req, (size_t)n);
}

static const char *
body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b != NULL ? b + 4 : "";
}

/* The value of the sample line that starts with "series ", or -1. */
static double
value(const char *body, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = body; *l != '\0'; l = strchr(l, '\n') + 1) {
		if (strncmp(l, series, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
		if (strchr(l, '\n') == NULL)
			break;
	}
	return -1;
}

/* Checks one sample line: name{label="v",...} value, with a TYPE before. */
static int
parse_sample(const char *l, const char *end, const char *typed)
{
	const char *p = l, *q;
	char name[128], *e;

	while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == ':'))
		p++;
	if (p == l || (size_t)(p - l) >= sizeof(name))
		return -1;
	memcpy(name, l, (size_t)(p - l));
	name[p - l] = '\0';
	if ((q = strstr(typed, name)) == NULL || q[strlen(name)] != '\n')
		return -1;
	if (*p == '{') {
		for (p++; *p != '}';) {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (p[0] != '=' || p[1] != '"')
				return -1;
			for (p += 2; *p != '"'; p++) {
				if (*p == '\n' || p >= end)
					return -1;
				if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
					p++;
				else if (*p == '\\')
					return -1;
			}
			p++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p != ' ')
		return -1;
	strtod(p + 1, &e);
	return e == end && e > p + 1 ? 0 : -1;
}

/*
 * Every line is HELP, TYPE or a sample of a family typed before it (a
 * histogram's by its suffixes).
 */
static int
check_exposition(const char *body)
{
	char typed[8192] = "\n";
	int bad = 0;

	for (const char *l = body, *end; *l != '\0'; l = end + 1) {
		if ((end = strchr(l, '\n')) == NULL)
			return -1;
		if (strncmp(l, "# TYPE ", 7) == 0) {
			const char *sp = memchr(l + 7, ' ', (size_t)(end - l - 7));

			strncat(typed, l + 7, (size_t)(sp - l - 7));
			strcat(typed, "\n");
			/* a histogram's samples: NAME_bucket, NAME_sum, NAME_count */
			for (int i = 0; i < 3 && strncmp(sp, " histogram\n", 11) == 0; i++) {
				strncat(typed, l + 7, (size_t)(sp - l - 7));
				strcat(typed, (const char *[]){ "_bucket\n", "_sum\n",
				    "_count\n" }[i]);
			}
		} else if (strncmp(l, "# HELP ", 7) != 0 && parse_sample(l, end, typed) != 0) {
			fprintf(stderr, "  bad line: %.*s\n", (int)(end - l), l);
			bad++;
		}
	}
	return bad == 0 ? 0 : -1;
}

static void
start(void)
{
	char err[160] = "";

	CHECK_INT(metrics_start("127.0.0.1:0", "1.2.3-test", err, sizeof(err)), 0);
	CHECK(metrics_port() > 0);
}

TEST(exposition)
{
	char *r;
	const char *b;

	start();
	metrics_set_installed(1800000000);
	set_ep("imaps://front:993", "ecdsa", METRICS_EP_MATCH, FP_A,
	    "CN=mail.example.test", 1800000000);
	set_ep("smtp://a\"b\\c\nd:25", "ecdsa", METRICS_EP_STALE, FP_B,
	    "CN=old.example.test", 1700000000);
	set_ep("pop3s://front:995", "ecdsa", METRICS_EP_UNREACHABLE, NULL, NULL, 0);
	metrics_count_rotation(OUTCOME_ROTATED);
	metrics_set_last_success(1790000000);
	metrics_observe_verify_duration(1.25);
	metrics_count_reload_exec("front-1", "nginx -s reload", "ok");
	r = get("/metrics");
	b = body_of(r);
	CHECK(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != NULL);
	CHECK(strstr(r, "\r\nConnection: close\r\n") != NULL);
	CHECK_INT(check_exposition(b), 0);
	CHECK(value(b, "mailu_cert_agent_cert_not_after_timestamp_seconds{source=\"installed\"}") == 1800000000);
	CHECK(value(b, "mailu_cert_agent_cert_not_after_timestamp_seconds{source=\"served\","
	    "endpoint=\"imaps://front:993\",key_type=\"ecdsa\"}") == 1800000000);
	CHECK(value(b, "mailu_cert_agent_cert_not_after_timestamp_seconds{source=\"served\","
	    "endpoint=\"smtp://a\\\"b\\\\c\\nd:25\",key_type=\"ecdsa\"}") == 1700000000);
	/* was endpoint_match{endpoint} 1 and 0: now the state, one-hot */
	CHECK(value(b, "mailu_cert_agent_endpoint_state{endpoint=\"imaps://front:993\","
	    "key_type=\"ecdsa\",state=\"match\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_endpoint_state{endpoint=\"smtp://a\\\"b\\\\c\\nd:25\","
	    "key_type=\"ecdsa\",state=\"stale\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_endpoint_state{endpoint=\"pop3s://front:995\","
	    "key_type=\"ecdsa\",state=\"unreachable\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_cert_info{endpoint=\"imaps://front:993\","
	    "key_type=\"ecdsa\",fingerprint_sha256=\"" FP_A "\",subject=\"CN=mail.example.test\","
	    "issuer=\"CN=MCA Test CA\"}") == 1);
	/* an unreachable endpoint: its state, and no expiry or certificate */
	CHECK(strstr(b, "endpoint=\"pop3s://front:995\",key_type=\"ecdsa\",state=") != NULL);
	CHECK(strstr(b, "source=\"served\",endpoint=\"pop3s://front:995\"") == NULL);
	CHECK(strstr(b, "cert_info{endpoint=\"pop3s://front:995\"") == NULL);
	CHECK(value(b, "mailu_cert_agent_rotations_total{outcome=\"rotated\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_rotations_total{outcome=\"unchanged\"}") == 0);
	CHECK(value(b, "mailu_cert_agent_rotations_total{outcome=\"rejected\"}") == 0);
	CHECK(value(b, "mailu_cert_agent_rotations_total{outcome=\"rolled_back\"}") == 0);
	CHECK(value(b, "mailu_cert_agent_rotations_total{outcome=\"failed\"}") == 0);
	CHECK(value(b, "mailu_cert_agent_last_rotation_success_timestamp_seconds") == 1790000000);
	/* was a gauge of the last verify: now a histogram */
	CHECK(value(b, "mailu_cert_agent_verify_duration_seconds") == -1);
	CHECK(value(b, "mailu_cert_agent_verify_duration_seconds_sum") == 1.25);
	CHECK(value(b, "mailu_cert_agent_verify_duration_seconds_count") == 1);
	CHECK(value(b, "mailu_cert_agent_verify_duration_seconds_bucket{le=\"1\"}") == 0);
	CHECK(value(b, "mailu_cert_agent_verify_duration_seconds_bucket{le=\"2.5\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_verify_duration_seconds_bucket{le=\"+Inf\"}") == 1);
	/* was {container=...}: a Kubernetes target label, renamed front */
	CHECK(value(b, "mailu_cert_agent_reload_exec_total{front=\"front-1\","
	    "command=\"nginx -s reload\",result=\"ok\"}") == 1);
	CHECK(strstr(b, "container=") == NULL);
	/* was mailu_cert_agent_up 1: Prometheus' own up says it */
	CHECK(value(b, "mailu_cert_agent_up") == -1);
	CHECK(strstr(b, "mailu_cert_agent_up ") == NULL);
	CHECK(value(b, "mailu_cert_agent_healthy") == 1);
	CHECK(value(b, "mailu_cert_agent_build_info{version=\"1.2.3-test\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_metrics_series_dropped_total") == 0);
	CHECK(strstr(b, "# HELP mailu_cert_agent_rotations_total ") != NULL);
	free(r);
	/* nothing installed (yet): no installed series rather than a 0 */
	metrics_set_installed(0);
	r = get("/metrics");
	CHECK(value(body_of(r), "mailu_cert_agent_cert_not_after_timestamp_seconds{"
	    "source=\"installed\"}") == -1);
	b = body_of(r);
	CHECK(strstr(b, "# TYPE mailu_cert_agent_rotations_total counter\n") != NULL);
	CHECK(strstr(b, "# TYPE mailu_cert_agent_endpoint_state gauge\n") != NULL);
	CHECK(strstr(b, "# TYPE mailu_cert_agent_cert_info gauge\n") != NULL);
	CHECK(strstr(b, "# TYPE mailu_cert_agent_verify_duration_seconds histogram\n") != NULL);
	/* promtool is optional here (tests/integration/41 and 42 require it) */
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		FILE *p = popen("promtool check metrics >/dev/null", "w");

		fputs(b, p);
		CHECK_INT(pclose(p), 0);
	}
	free(r);
	metrics_stop();
}

/* Each (endpoint, key type) has one state series per state: exactly one is 1. */
TEST(state_one_hot)
{
	static const char *const urls[] = { "https://f:443", "smtp://f:25", "imaps://f:993" };
	static const char *const kts[] = { "rsa", "ecdsa" };
	char series[256], *r;

	start();
	for (int s = 0; s < 2 * METRICS_EP__MAX; s++)
		set_ep(urls[s % 3], kts[s / 3], (enum metrics_ep_state)(s % METRICS_EP__MAX),
		    FP_A, "CN=x", 1800000000);
	r = get("/metrics");
	for (int s = 0; s < 2 * METRICS_EP__MAX; s++) {
		int ones = 0;

		for (int k = 0; k < METRICS_EP__MAX; k++) {
			double v;

			snprintf(series, sizeof(series), "mailu_cert_agent_endpoint_state{"
			    "endpoint=\"%s\",key_type=\"%s\",state=\"%s\"}", urls[s % 3],
			    kts[s / 3], metrics_ep_state_names[k]);
			v = value(body_of(r), series);
			CHECK(v == 0 || v == 1);
			ones += v == 1;
			CHECK(v == (k == s % METRICS_EP__MAX));
		}
		CHECK_INT(ones, 1);
		/* expiry and certificate only while it answers */
		snprintf(series, sizeof(series), "mailu_cert_agent_cert_not_after_timestamp_seconds{"
		    "source=\"served\",endpoint=\"%s\",key_type=\"%s\"}", urls[s % 3], kts[s / 3]);
		CHECK(value(body_of(r), series) == (s % METRICS_EP__MAX ==
		    METRICS_EP_UNREACHABLE ? -1 : 1800000000));
	}
	free(r);
	/* one that stops answering loses its expiry and certificate at once */
	set_ep("https://f:443", "rsa", METRICS_EP_UNREACHABLE, FP_A, "CN=x", 1800000000);
	r = get("/metrics");
	CHECK(value(body_of(r), "mailu_cert_agent_cert_not_after_timestamp_seconds{"
	    "source=\"served\",endpoint=\"https://f:443\",key_type=\"rsa\"}") == -1);
	CHECK(strstr(body_of(r), "cert_info{endpoint=\"https://f:443\",key_type=\"rsa\"") == NULL);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://f:443\","
	    "key_type=\"rsa\",state=\"unreachable\"}") == 1);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://f:443\","
	    "key_type=\"rsa\",state=\"match\"}") == 0);
	CHECK_INT(check_exposition(body_of(r)), 0);
	free(r);
	metrics_stop();
}

/* A subject or issuer is a peer's text: every label value escaped. */
TEST(cert_info_escaped)
{
	char *r;

	start();
	metrics_set_endpoint(&(struct metrics_endpoint){ .url = "https://f:443",
	    .key_type = "rsa", .state = METRICS_EP_STALE, .fingerprint = FP_B,
	    .subject = "O=Quote \\\" Back \\\\,CN=a\nb", .issuer = "CN=\"}x 1\n#",
	    .not_after = 1 });
	r = get("/metrics");
	CHECK(value(body_of(r), "mailu_cert_agent_cert_info{endpoint=\"https://f:443\","
	    "key_type=\"rsa\",fingerprint_sha256=\"" FP_B "\","
	    "subject=\"O=Quote \\\\\\\" Back \\\\\\\\,CN=a\\nb\","
	    "issuer=\"CN=\\\"}x 1\\n#\"}") == 1);
	CHECK_INT(check_exposition(body_of(r)), 0);
	free(r);
	metrics_stop();
}

/* The histogram: cumulative buckets that never decrease, +Inf == count. */
TEST(histogram_monotone)
{
	static const double obs[] = { 0.01, 0.05, 0.3, 2, 2.5, 45, 500 };
	char series[160], *r;
	double prev = 0, v;

	start();
	for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		metrics_observe_verify_duration(obs[i]);
	r = get("/metrics");
	for (int i = 0; i < METRICS_VERIFY_BUCKETS; i++) {
		size_t want = 0;

		snprintf(series, sizeof(series),
		    "mailu_cert_agent_verify_duration_seconds_bucket{le=\"%g\"}",
		    metrics_verify_buckets[i]);
		v = value(body_of(r), series);
		for (size_t k = 0; k < sizeof(obs) / sizeof(obs[0]); k++)
			want += obs[k] <= metrics_verify_buckets[i];
		CHECK(v == (double)want);
		CHECK(v >= prev);
		CHECK(i == 0 || metrics_verify_buckets[i] > metrics_verify_buckets[i - 1]);
		prev = v;
	}
	v = value(body_of(r), "mailu_cert_agent_verify_duration_seconds_bucket{le=\"+Inf\"}");
	CHECK(v == 7 && v >= prev);
	CHECK(value(body_of(r), "mailu_cert_agent_verify_duration_seconds_count") == 7);
	CHECK(value(body_of(r), "mailu_cert_agent_verify_duration_seconds_sum") == 549.86);
	free(r);
	metrics_stop();
}

/* A report drops what it did not set: a front gone, a key type no longer held. */
TEST(report_drops_absent)
{
	char url[64], *r;

	start();
	metrics_endpoints_begin();
	set_ep("https://old:443", "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1800000000);
	set_ep("https://new:443", "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1800000000);
	metrics_endpoints_end();
	metrics_endpoints_begin();
	set_ep("https://new:443", "ecdsa", METRICS_EP_STALE, FP_B, "CN=x", 1700000000);
	set_ep("https://new:443", "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1800000000);
	metrics_endpoints_end();
	r = get("/metrics");
	CHECK(strstr(body_of(r), "https://old:443") == NULL);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://new:443\","
	    "key_type=\"rsa\",state=\"match\"}") == 1);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://new:443\","
	    "key_type=\"ecdsa\",state=\"stale\"}") == 1);
	free(r);
	/* a full table: a report's new endpoints take the old ones' places */
	metrics_endpoints_begin();
	for (int i = 0; i < METRICS_MAX_EP; i++) {
		snprintf(url, sizeof(url), "https://a-%d:443", i);
		set_ep(url, "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1);
	}
	metrics_endpoints_end();
	metrics_endpoints_begin();
	for (int i = 0; i < METRICS_MAX_EP; i++) {
		snprintf(url, sizeof(url), "https://b-%d:443", i);
		set_ep(url, "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1);
	}
	metrics_endpoints_end();
	r = get("/metrics");
	CHECK(strstr(body_of(r), "https://a-") == NULL);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://b-127:443\","
	    "key_type=\"rsa\",state=\"match\"}") == 1);
	CHECK(value(body_of(r), "mailu_cert_agent_metrics_series_dropped_total") == 0);
	free(r);
	metrics_stop();
}

/*
 * Every table full of the longest labels, all escaped: the body stays
 * within the stated worst case and the server's bound, never cut.
 */
TEST(worst_case_body)
{
	static struct metrics_values v;
	struct metrics_buf b = { 0 };
	char url[METRICS_URL_MAX + 8], name[METRICS_LEAF_NAME_MAX + 8];

	memset(url, '"', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	memset(name, '\\', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(v.version, '\n', sizeof(v.version) - 1);
	for (size_t i = 0; i < METRICS_MAX_EP; i++) {
		struct metrics_ep *e = &v.ep[i];

		metrics_copy_cut(e->url, sizeof(e->url), url);
		snprintf(e->url, 12, "%zu", i);	/* distinct, as the table has them */
		e->url[strlen(e->url)] = '"';
		memset(e->key_type, '"', sizeof(e->key_type) - 1);
		memset(e->fp, '"', sizeof(e->fp) - 1);
		metrics_copy_cut(e->subject, sizeof(e->subject), name);
		metrics_copy_cut(e->issuer, sizeof(e->issuer), name);
		memset(e->ocsp, '"', sizeof(e->ocsp) - 1);
		e->state = METRICS_EP_STALE;
		e->not_after = -9223372036854775807LL;
	}
	v.nep = METRICS_MAX_EP;
	for (size_t i = 0; i < METRICS_MAX_SERIES; i++) {
		memset(v.ser[i].front, '"', sizeof(v.ser[i].front) - 1);
		memset(v.ser[i].command, '\n', sizeof(v.ser[i].command) - 1);
		memset(v.ser[i].result, '\\', sizeof(v.ser[i].result) - 1);
		v.ser[i].n = ~0ULL;
	}
	v.nser = METRICS_MAX_SERIES;
	for (int i = 0; i < OUTCOME__MAX; i++)
		v.rotations[i] = ~0ULL;
	v.verify_count = v.dropped = ~0ULL;
	v.verify_sum = 1e300;
	v.last_success = v.installed = -9223372036854775807LL;
	v.has_installed = true;
	metrics_render(&v, &b);
	fprintf(stderr, "  worst-case body: %zu bytes (bound %d, server's %d)\n", b.len,
	    METRICS_BODY_WORST, METRICS_BODY_MAX);
	CHECK(!b.over);
	CHECK(b.len <= METRICS_BODY_WORST);
	CHECK(b.len > METRICS_BODY_WORST / 2);
	CHECK(b.p != NULL && strlen(b.p) == b.len);
	free(b.p);
}

TEST(counters_and_bounds)
{
	char *r, series[256];
	double before, after;

	start();
	metrics_count_rotation(OUTCOME_FAILED);
	r = get("/metrics");
	before = value(body_of(r), "mailu_cert_agent_rotations_total{outcome=\"failed\"}");
	free(r);
	metrics_count_rotation(OUTCOME_FAILED);
	metrics_count_rotation(OUTCOME_FAILED);
	metrics_count_rotation(OUTCOME__MAX);
	for (int i = 0; i < 70; i++) {
		snprintf(series, sizeof(series), "c%d", i);
		metrics_count_reload_exec(series, "dovecot reload", "ok");
	}
	metrics_count_reload_exec("c0", "dovecot reload", "ok");
	for (int i = 0; i < METRICS_MAX_EP + 4; i++) {
		snprintf(series, sizeof(series), "https://front-%d:443", i);
		set_ep(series, "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1);
	}
	r = get("/metrics");
	after = value(body_of(r), "mailu_cert_agent_rotations_total{outcome=\"failed\"}");
	CHECK(before == 1 && after == 3);
	CHECK(value(body_of(r), "mailu_cert_agent_reload_exec_total{front=\"c0\","
	    "command=\"dovecot reload\",result=\"ok\"}") == 2);
	CHECK(value(body_of(r), "mailu_cert_agent_reload_exec_total{front=\"c63\","
	    "command=\"dovecot reload\",result=\"ok\"}") == 1);
	CHECK(value(body_of(r), "mailu_cert_agent_reload_exec_total{front=\"c64\","
	    "command=\"dovecot reload\",result=\"ok\"}") == -1);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://front-127:443\","
	    "key_type=\"rsa\",state=\"match\"}") == 1);
	CHECK(value(body_of(r), "mailu_cert_agent_endpoint_state{endpoint=\"https://front-128:443\","
	    "key_type=\"rsa\",state=\"match\"}") == -1);
	/* 1 outcome + 6 reload series + 4 endpoints */
	CHECK(value(body_of(r), "mailu_cert_agent_metrics_series_dropped_total") == 11);
	CHECK_INT(check_exposition(body_of(r)), 0);
	free(r);
	metrics_stop();
}

/* A long label value is cut to 255 bytes, never inside a UTF-8 sequence. */
TEST(long_label_cut)
{
	char url[300], want[400];
	char *r;

	start();
	memset(url, 'a', 254);
	strcpy(url + 254, "\xc3\xa9xyz");
	set_ep(url, "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1);
	url[254] = '\0';
	snprintf(want, sizeof(want), "mailu_cert_agent_endpoint_state{endpoint=\"%s\","
	    "key_type=\"rsa\",state=\"match\"}", url);
	r = get("/metrics");
	CHECK(value(body_of(r), want) == 1);
	free(r);
	metrics_stop();
}

TEST(healthz)
{
	char *r;

	start();
	r = get("/healthz");
	CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
	CHECK_STR(body_of(r), "ok\n");
	free(r);
	metrics_set_health(false, "endpoint_mismatch imaps://front:993");
	r = get("/healthz");
	CHECK(strncmp(r, "HTTP/1.1 503 ", 13) == 0);
	CHECK_STR(body_of(r), "endpoint_mismatch imaps://front:993\n");
	free(r);
	r = get("/metrics");
	CHECK(value(body_of(r), "mailu_cert_agent_healthy") == 0);
	free(r);
	metrics_set_health(true, NULL);
	r = get("/healthz?verbose=1");
	CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
	free(r);
	metrics_stop();
}

TEST(http_edges)
{
	static const char post[] = "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	static const char junk[] = "hello\r\n\r\n";
	char *big = malloc(10240 + 64), *r;
	int n;

	start();
	r = http(post, sizeof(post) - 1);
	CHECK(strncmp(r, "HTTP/1.1 405 ", 13) == 0);
	CHECK(strstr(r, "\r\nAllow: GET\r\n") != NULL);
	free(r);
	r = get("/nope");
	CHECK(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
	free(r);
	r = http(junk, sizeof(junk) - 1);
	CHECK(strncmp(r, "HTTP/1.1 400 ", 13) == 0);
	free(r);
	n = snprintf(big, 64, "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', 10240);
	memcpy(big + n + 10240, "\r\n\r\n", 4);
	r = http(big, (size_t)n + 10244);
	CHECK(strncmp(r, "HTTP/1.1 431 ", 13) == 0);
	free(r);
	free(big);
	r = get("/metrics");	/* still serving */
	CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
	free(r);
	metrics_stop();
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* true once the server has closed fd: EOF or a reset, without waiting */
static bool
closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Sends a request on fd and reads its answer up to the server's EOF. */
static void
ask(int fd, const char *path, char *out, size_t size)
{
	char req[128];
	size_t got = 0;
	ssize_t n;
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);

	CHECK(send(fd, req, (size_t)len, MSG_NOSIGNAL) == len);
	while (got < size - 1 && (n = recv(fd, out + got, size - 1 - got, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
}

/*
 * After its answer, sends chunk bytes every pause_ms until a send fails
 * (the server closed); returns the ms that took, or -1 if the server
 * still took bytes after limit_ms.
 */
static long long
stream(int fd, size_t chunk, int pause_ms, long long limit_ms)
{
	static const char buf[4096];
	struct timeval tv = { .tv_usec = 100 * 1000 };
	long long t0 = mono_ms();

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (mono_ms() - t0 < limit_ms) {
		if (send(fd, buf, chunk, MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
		    errno != EWOULDBLOCK)
			return mono_ms() - t0;
		if (pause_ms > 0)
			usleep((useconds_t)pause_ms * 1000);
	}
	return -1;
}

/* 16 idle connections take every slot: a scrape still gets in. */
TEST(idle_clients)
{
	int fds[17];
	char *r;

	start();
	for (int i = 0; i < 16; i++) {
		fds[i] = dial();
		CHECK(send(fds[i], "G", 1, MSG_NOSIGNAL) == 1);
	}
	usleep(100 * 1000);	/* all 16 accepted */
	for (int i = 0; i < 16; i++)
		CHECK(!closed(fds[i]));
	/* the scrape drops the oldest idle one, and only it */
	r = get("/healthz");
	CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
	free(r);
	CHECK(closed(fds[0]));
	for (int i = 1; i < 16; i++)
		CHECK(!closed(fds[i]));
	/* again: the first scrape's slot, if free by now, or fds[1]'s */
	r = get("/metrics");
	CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
	free(r);
	for (int i = 2; i < 16; i++)
		CHECK(!closed(fds[i]));
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	metrics_stop();

	/* an idle connection is closed at its deadline, a new one or not */
	metrics_test_set_deadline_ms(300);
	start();
	for (int i = 0; i < 17; i++)
		fds[i] = dial();
	usleep(500 * 1000);
	for (int i = 0; i < 17; i++) {
		CHECK(closed(fds[i]));
		close(fds[i]);
	}
	r = get("/metrics");
	CHECK(strncmp(r, "HTTP/1.1 200 ", 13) == 0);
	free(r);
	metrics_stop();
	metrics_test_set_deadline_ms(5000);
}

/* A request head must be whole within the head deadline, from accept. */
TEST(slow_head)
{
	static const char *const part[] = { "GET /healthz HTTP/1.1\r\n",
	    "Host: t\r\n", "\r\n" };
	long long t0, t = -1;
	char resp[256] = "";
	size_t got = 0;
	ssize_t n;
	int fd;

	metrics_test_set_head_ms(300);
	start();
	/* a head in pieces, whole in time: answered */
	fd = dial();
	for (int i = 0; i < 3; i++) {
		CHECK(send(fd, part[i], strlen(part[i]), MSG_NOSIGNAL) ==
		    (ssize_t)strlen(part[i]));
		usleep(50 * 1000);
	}
	while (got < sizeof(resp) - 1 &&
	    (n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
		got += (size_t)n;
	CHECK(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
	close(fd);
	/* a header line every 50 ms, never the end: closed at 300 ms */
	fd = dial();
	t0 = mono_ms();
	CHECK(send(fd, part[0], strlen(part[0]), MSG_NOSIGNAL) > 0);
	while (mono_ms() - t0 < 3000) {
		if (send(fd, "X: y\r\n", 6, MSG_NOSIGNAL) < 0 || closed(fd)) {
			t = mono_ms() - t0;
			break;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "  slow head closed after %lld ms\n", t);
	CHECK(t >= 250 && t < 1000);
	close(fd);
	metrics_stop();
	metrics_test_set_head_ms(2000);
}

/* A client that keeps sending after its request: at most 64 KiB read. */
TEST(drain_bytes)
{
	char resp[256];
	long long t;
	int fd;

	/* only the byte bound can close it within the test's 3 s */
	metrics_test_set_deadline_ms(20000);
	metrics_test_set_drain_ms(20000);
	start();
	fd = dial();
	ask(fd, "/healthz", resp, sizeof(resp));
	CHECK(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
	t = stream(fd, 4096, 0, 3000);
	fprintf(stderr, "  streaming client closed after %lld ms\n", t);
	CHECK(t >= 0 && t < 1000);
	close(fd);
	metrics_stop();
	metrics_test_set_drain_ms(1000);
	metrics_test_set_deadline_ms(5000);
}

/* A client that trickles after its request: closed at the drain time. */
TEST(drain_time)
{
	char resp[256];
	long long t;
	int fd;

	metrics_test_set_deadline_ms(20000);
	metrics_test_set_drain_ms(300);
	start();
	fd = dial();
	ask(fd, "/metrics", resp, sizeof(resp));
	CHECK(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
	t = stream(fd, 1, 20, 3000);
	fprintf(stderr, "  trickling client closed after %lld ms\n", t);
	CHECK(t >= 150 && t < 1000);
	close(fd);
	metrics_stop();
	metrics_test_set_drain_ms(1000);
	metrics_test_set_deadline_ms(5000);
}

/* Admission alone: which slot a new connection takes, or none. */
TEST(pick_slot)
{
	enum metrics_conn s[4];
	unsigned long long q[4] = { 7, 3, 9, 5 };
	const enum metrics_conn H = METRICS_CONN_HEAD, W = METRICS_CONN_WRITE,
	    D = METRICS_CONN_DRAIN, F = METRICS_CONN_FREE;

#define PICK(a, b, c, d) (s[0] = (a), s[1] = (b), s[2] = (c), s[3] = (d), \
	metrics_pick_slot(s, q, 4))
	CHECK_INT(PICK(H, W, F, F), 2);		/* a free slot first */
	CHECK_INT(PICK(H, H, H, H), 1);		/* the oldest head */
	CHECK_INT(PICK(H, D, W, H), 3);		/* a head before an older drain */
	CHECK_INT(PICK(W, D, W, D), 1);		/* else the oldest drain */
	CHECK_INT(PICK(W, W, W, W), -1);	/* all answering: refused */
#undef PICK
	CHECK_INT(metrics_pick_slot(s, q, 0), -1);
}

TEST(lifecycle)
{
	char err[160] = "";
	char *r;

	/* no-ops before start */
	metrics_count_rotation(OUTCOME_ROTATED);
	metrics_set_health(false, "x");
	set_ep("https://x:1", "rsa", METRICS_EP_MATCH, FP_A, "CN=x", 1);
	metrics_endpoints_begin();
	metrics_endpoints_end();
	metrics_observe_verify_duration(1);
	metrics_stop();
	CHECK_INT(metrics_port(), -1);
	for (int i = 0; i < 2; i++) {
		start();
		CHECK_INT(metrics_start("127.0.0.1:0", "v", err, sizeof(err)), -1);
		r = get("/metrics");
		CHECK(value(body_of(r), "mailu_cert_agent_rotations_total{outcome=\"rotated\"}") == 0);
		metrics_count_rotation(OUTCOME_ROTATED);
		free(r);
		metrics_stop();
		CHECK_INT(metrics_port(), -1);
	}
	CHECK_INT(metrics_start("nonsense", "v", err, sizeof(err)), -1);
	CHECK(strstr(err, "host:port") != NULL);
	CHECK_INT(metrics_start("::1:9108", "v", err, sizeof(err)), -1);
	CHECK_INT(metrics_start("no.such.host.invalid:9108", "v", err, sizeof(err)), -1);
	CHECK_INT(metrics_start("localhost:0", "v", err, sizeof(err)), 0);
	metrics_stop();
	if (metrics_start("[::1]:0", "v", err, sizeof(err)) == 0)	/* if IPv6 is up */
		metrics_stop();
}

/* The request parser alone, as the server thread runs it on each read. */
TEST(parse_request)
{
	static const struct {
		const char *req;
		int code;
		enum metrics_page page;
	} cases[] = {
		{ "GET /metrics HTTP/1.1\r\n\r\n", 200, METRICS_PAGE_METRICS },
		{ "GET /healthz?x=1 HTTP/1.0\n\n", 200, METRICS_PAGE_HEALTHZ },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, METRICS_PAGE_NONE },
		{ "GET /metrics HTTP/1.1", 0, METRICS_PAGE_NONE },
		{ "", 0, METRICS_PAGE_NONE },
		{ "POST /metrics HTTP/1.1\r\n\r\n", 405, METRICS_PAGE_NONE },
		{ "GET /nope HTTP/1.1\r\n\r\n", 404, METRICS_PAGE_NONE },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", 404, METRICS_PAGE_NONE },
		{ "hello\r\n\r\n", 400, METRICS_PAGE_NONE },
		{ "GET  HTTP/1.1\r\n\r\n", 400, METRICS_PAGE_NONE },
		{ " /metrics HTTP/1.1\r\n\r\n", 400, METRICS_PAGE_NONE },
		{ "GET /metrics HTTP/1\r\n\r\n", 400, METRICS_PAGE_NONE },
		{ "GET /metrics SPDY/1.1\r\n\r\n", 400, METRICS_PAGE_NONE },
	};
	enum metrics_page page;
	char *big = malloc(METRICS_REQ_MAX);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		page = (enum metrics_page)99;
		CHECK_INT(metrics_parse_request(cases[i].req, strlen(cases[i].req),
		    &page), cases[i].code);
		CHECK_INT(page, cases[i].page);
	}
	memset(big, 'a', METRICS_REQ_MAX);
	CHECK_INT(metrics_parse_request(big, METRICS_REQ_MAX - 1, &page), 0);
	CHECK_INT(metrics_parse_request(big, METRICS_REQ_MAX, &page), 431);
	free(big);
}

/* The OCSP staple per endpoint and key type (issue 15): its status a label. */
TEST(ocsp_staple)
{
	const struct metrics_endpoint https = { .url = "https://front:443", .key_type = "rsa",
	    .state = METRICS_EP_MATCH, .fingerprint = "aa", .not_after = 1800000000,
	    .ocsp_staple = "revoked" };
	const char *b;
	char *r;

	start();
	/* a status not known: no series */
	metrics_set_endpoint(&(struct metrics_endpoint){ .url = "https://front:443",
	    .key_type = "rsa", .state = METRICS_EP_MATCH, .fingerprint = "aa",
	    .not_after = 1800000000 });
	r = get("/metrics");
	CHECK(strstr(body_of(r), "endpoint_ocsp_staple{") == NULL);
	free(r);
	metrics_endpoints_begin();
	metrics_set_endpoint(&https);
	metrics_set_endpoint(&(struct metrics_endpoint){ .url = "smtp://front:25",
	    .key_type = "rsa", .state = METRICS_EP_STALE, .fingerprint = "bb",
	    .not_after = 1800000000, .ocsp_staple = "none" });
	/* unreachable: no staple, whatever it says */
	metrics_set_endpoint(&(struct metrics_endpoint){ .url = "imaps://front:993",
	    .key_type = "rsa", .state = METRICS_EP_UNREACHABLE, .ocsp_staple = "good" });
	metrics_endpoints_end();
	r = get("/metrics");
	b = body_of(r);
	CHECK_INT(check_exposition(b), 0);
	CHECK(strstr(b, "# TYPE mailu_cert_agent_endpoint_ocsp_staple gauge\n") != NULL);
	CHECK(value(b, "mailu_cert_agent_endpoint_ocsp_staple{endpoint=\"https://front:443\","
	    "key_type=\"rsa\",status=\"revoked\"}") == 1);
	CHECK(value(b, "mailu_cert_agent_endpoint_ocsp_staple{endpoint=\"smtp://front:25\","
	    "key_type=\"rsa\",status=\"none\"}") == 1);
	CHECK(strstr(b, "endpoint_ocsp_staple{endpoint=\"imaps://") == NULL);
	free(r);
	/* the next report without https: its staple goes with it */
	metrics_endpoints_begin();
	metrics_endpoints_end();
	r = get("/metrics");
	CHECK(strstr(body_of(r), "endpoint_ocsp_staple{") == NULL);
	free(r);
	metrics_stop();
}

HARNESS_MAIN("metrics",
	RUN(exposition),
	RUN(state_one_hot),
	RUN(cert_info_escaped),
	RUN(histogram_monotone),
	RUN(report_drops_absent),
	RUN(worst_case_body),
	RUN(counters_and_bounds),
	RUN(long_label_cut),
	RUN(healthz),
	RUN(http_edges),
	RUN(idle_clients),
	RUN(slow_head),
	RUN(drain_bytes),
	RUN(drain_time),
	RUN(pick_slot),
	RUN(lifecycle),
	RUN(parse_request),
	RUN(ocsp_staple))

/*
 * docker: the stream demultiplexer under every chunking, and host
 * strings. Everything that needs an engine is in 08-docker-api.sh.
 */
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "docker.h"

/* What the demultiplexer handed out, per stream, plus call count. */
struct got {
	unsigned char data[3][256];
	size_t len[3];
	int calls;
};

static void
collect(void *arg, int stream, const unsigned char *p, size_t n)
{
	struct got *g = arg;

	g->calls++;
	if (stream < 0 || stream > 2 || g->len[stream] + n > sizeof(g->data[0]))
		return;
	memcpy(g->data[stream] + g->len[stream], p, n);
	g->len[stream] += n;
}

/* Appends one frame (header + payload) to buf at *len. */
static void
frame(unsigned char *buf, size_t *len, int stream, const char *payload)
{
	size_t n = strlen(payload);

	buf[(*len)++] = (unsigned char)stream;
	buf[(*len)++] = 0;
	buf[(*len)++] = 0;
	buf[(*len)++] = 0;
	buf[(*len)++] = (unsigned char)(n >> 24);
	buf[(*len)++] = (unsigned char)(n >> 16);
	buf[(*len)++] = (unsigned char)(n >> 8);
	buf[(*len)++] = (unsigned char)n;
	memcpy(buf + *len, payload, n);
	*len += n;
}

/* A stream as nginx -t writes it: stderr lines, an empty frame, stdout. */
static size_t
sample(unsigned char *buf)
{
	size_t len = 0;

	frame(buf, &len, 2, "nginx: the configuration file syntax is ok\n");
	frame(buf, &len, 1, "");
	frame(buf, &len, 2, "nginx: configuration file test is successful\n");
	frame(buf, &len, 1, "out");
	frame(buf, &len, 1, "put\n");
	frame(buf, &len, 0, "in");
	return len;
}

static void
check_sample(const struct got *g)
{
	CHECK_INT(g->len[1], 7);
	CHECK(memcmp(g->data[1], "output\n", 7) == 0);
	CHECK_INT(g->len[2], 88);
	CHECK(memcmp(g->data[2], "nginx: the configuration file syntax is ok\n"
	    "nginx: configuration file test is successful\n", 88) == 0);
	CHECK_INT(g->len[0], 2);
}

TEST(demux_whole)
{
	unsigned char buf[512];
	size_t len = sample(buf);
	struct docker_demux dm;
	struct got g = { 0 };

	docker_demux_init(&dm, 1024);
	CHECK_INT(docker_demux_feed(&dm, buf, len, collect, &g), 0);
	check_sample(&g);
	CHECK_INT(dm.left, 0);
	CHECK_INT(dm.hdr_have, 0);
	/* empty frames produce no call */
	CHECK_INT(g.calls, 5);
}

TEST(demux_byte_by_byte)
{
	unsigned char buf[512];
	size_t len = sample(buf);
	struct docker_demux dm;
	struct got g = { 0 };

	docker_demux_init(&dm, 1024);
	for (size_t i = 0; i < len; i++)
		CHECK_INT(docker_demux_feed(&dm, buf + i, 1, collect, &g), 0);
	check_sample(&g);
	CHECK_INT(dm.left, 0);
	CHECK_INT(dm.hdr_have, 0);
}

/* Every split into two and three pieces: headers cut anywhere. */
TEST(demux_every_split)
{
	unsigned char buf[512];
	size_t len = sample(buf);
	int bad = 0;

	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			struct docker_demux dm;
			struct got g = { 0 };

			docker_demux_init(&dm, 1024);
			if (docker_demux_feed(&dm, buf, a, collect, &g) != 0 ||
			    docker_demux_feed(&dm, buf + a, b - a, collect, &g) != 0 ||
			    docker_demux_feed(&dm, buf + b, len - b, collect, &g) != 0 ||
			    g.len[1] != 7 || g.len[2] != 88 || g.len[0] != 2 ||
			    memcmp(g.data[1], "output\n", 7) != 0 ||
			    dm.left != 0 || dm.hdr_have != 0)
				bad++;
		}
	}
	CHECK_INT(bad, 0);
}

/* Random chunk sizes over many runs, fixed seed. */
TEST(demux_random_chunks)
{
	unsigned char buf[512];
	size_t len = sample(buf);
	int bad = 0;

	srand(42);
	for (int run = 0; run < 2000; run++) {
		struct docker_demux dm;
		struct got g = { 0 };
		size_t off = 0, n;

		docker_demux_init(&dm, 1024);
		while (off < len) {
			n = (size_t)rand() % 20;
			if (n > len - off)
				n = len - off;
			if (docker_demux_feed(&dm, buf + off, n, collect, &g) != 0)
				bad++;
			off += n;
		}
		if (g.len[1] != 7 || g.len[2] != 88 ||
		    memcmp(g.data[2] + 43, "nginx: configuration", 20) != 0)
			bad++;
	}
	CHECK_INT(bad, 0);
}

TEST(demux_mid_frame_state)
{
	unsigned char buf[64];
	size_t len = 0;
	struct docker_demux dm;
	struct got g = { 0 };

	frame(buf, &len, 1, "hello");
	docker_demux_init(&dm, 1024);
	/* header and two payload bytes: the frame is not done */
	CHECK_INT(docker_demux_feed(&dm, buf, 10, collect, &g), 0);
	CHECK_INT(dm.left, 3);
	CHECK_INT(dm.stream, 1);
	CHECK_INT(docker_demux_feed(&dm, buf + 10, len - 10, collect, &g), 0);
	CHECK_INT(dm.left, 0);
	CHECK_INT(g.len[1], 5);
	/* half a header pending */
	CHECK_INT(docker_demux_feed(&dm, buf, 3, collect, &g), 0);
	CHECK_INT(dm.hdr_have, 3);
	/* NULL fn: payload skipped, still parsed */
	docker_demux_init(&dm, 1024);
	CHECK_INT(docker_demux_feed(&dm, buf, len, NULL, NULL), 0);
	CHECK_INT(dm.left, 0);
}

TEST(demux_malformed_headers)
{
	static const unsigned char bad[][8] = {
		{ 3, 0, 0, 0, 0, 0, 0, 1 },	/* stream 3 */
		{ 0xff, 0, 0, 0, 0, 0, 0, 1 },
		{ 1, 1, 0, 0, 0, 0, 0, 1 },	/* padding not zero */
		{ 1, 0, 1, 0, 0, 0, 0, 1 },
		{ 2, 0, 0, 0x80, 0, 0, 0, 1 },
		{ 'H', 'T', 'T', 'P', '/', '1', '.', '1' },	/* not a stream */
		{ '{', '"', 'm', 'e', 's', 's', 'a', 'g' },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct docker_demux dm;
		struct got g = { 0 };

		docker_demux_init(&dm, 1024);
		CHECK_INT(docker_demux_feed(&dm, bad[i], 8, collect, &g), -1);
		CHECK(dm.broken);
		CHECK_INT(g.calls, 0);
		/* broken stays broken, even for a good frame */
		CHECK_INT(docker_demux_feed(&dm, (const unsigned char *)"\1\0\0\0\0\0\0\1x",
		    9, collect, &g), -1);
		CHECK_INT(g.calls, 0);
	}
}

TEST(demux_bad_header_after_good_frames)
{
	unsigned char buf[128];
	size_t len = 0;
	struct docker_demux dm;
	struct got g = { 0 };

	frame(buf, &len, 1, "ok\n");
	frame(buf, &len, 7, "no");
	docker_demux_init(&dm, 1024);
	/* byte by byte: the good frame is delivered, then the bad header fails */
	int rc = 0;
	for (size_t i = 0; i < len && rc == 0; i++)
		rc = docker_demux_feed(&dm, buf + i, 1, collect, &g);
	CHECK_INT(rc, -1);
	CHECK_INT(g.len[1], 3);
	CHECK(dm.broken);
}

TEST(demux_oversize_frame)
{
	static const unsigned char big[8] = { 1, 0, 0, 0, 0, 0, 0x04, 0x01 };	/* 1025 */
	static const unsigned char edge[8] = { 1, 0, 0, 0, 0, 0, 0x04, 0x00 };	/* 1024 */
	static const unsigned char huge[8] = { 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	struct docker_demux dm;
	struct got g = { 0 };

	docker_demux_init(&dm, 1024);
	CHECK_INT(docker_demux_feed(&dm, big, 8, collect, &g), -1);
	CHECK(dm.broken);
	docker_demux_init(&dm, 1024);
	CHECK_INT(docker_demux_feed(&dm, edge, 8, collect, &g), 0);
	CHECK_INT(dm.left, 1024);
	docker_demux_init(&dm, 1024 * 1024);
	CHECK_INT(docker_demux_feed(&dm, huge, 8, collect, &g), -1);
	/* the header split: the size is only known at the eighth byte */
	docker_demux_init(&dm, 1024);
	CHECK_INT(docker_demux_feed(&dm, big, 7, collect, &g), 0);
	CHECK_INT(docker_demux_feed(&dm, big + 7, 1, collect, &g), -1);
	CHECK_INT(g.calls, 0);
}

TEST(demux_zero_length_feed)
{
	struct docker_demux dm;
	struct got g = { 0 };

	docker_demux_init(&dm, 16);
	CHECK_INT(docker_demux_feed(&dm, (const unsigned char *)"", 0, collect, &g), 0);
	CHECK_INT(g.calls, 0);
	CHECK_INT(dm.hdr_have, 0);
}

TEST(open_host_strings)
{
	static const char *const bad[] = {
		"", "unix://", "unix://relative/docker.sock", "unix:/var/run/docker.sock",
		"tcp://", "tcp://host", "tcp://:2375", "tcp://host:", "tcp://host:0",
		"tcp://host:65536", "tcp://host:23x5", "tcp://host:2375/path",
		"tcp://ho st:2375", "tcp://host/x:2375", "tcp://[::1]", "tcp://[]:2375",
		"tcp://[zz]:2375", "tcp://user@host:2375", "http://localhost:2375",
		"ssh://user@host", "npipe:////./pipe/docker_engine", "/var/run/docker.sock",
		"unix:///var/run/\ndocker.sock",
		"unix:///aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	static const char *const good[] = {
		"unix:///var/run/docker.sock", "unix:///tmp/mca-engine/docker.sock",
		"tcp://127.0.0.1:2375", "tcp://docker-socket-proxy:2375",
		"tcp://[::1]:2375", "tcp://localhost:2375/",
	};
	struct docker *d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d = docker_open(bad[i], 1000);
		if (d != NULL)
			fprintf(stderr, "  accepted bad host \"%s\"\n", bad[i]);
		CHECK(d == NULL);
		docker_close(&d);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		d = docker_open(good[i], 1000);
		if (d == NULL)
			fprintf(stderr, "  refused good host \"%s\"\n", good[i]);
		CHECK(d != NULL);
		if (d != NULL)
			CHECK_STR(docker_api_version(d), "");
		docker_close(&d);
		CHECK(d == NULL);
	}
	CHECK(docker_open(NULL, 1000) == NULL);
	CHECK(docker_open("tcp://127.0.0.1:2375", 0) == NULL);
	docker_close(NULL);
	d = NULL;
	docker_close(&d);
}

TEST(error_names)
{
	for (int i = 0; i < DOCKER_ERR__MAX; i++)
		CHECK(docker_error_names[i] != NULL);
	CHECK_STR(docker_error_names[DOCKER_OK], "ok");
	CHECK_STR(docker_error_names[DOCKER_ERR_NOT_FOUND], "not_found");
}

/* No engine needed: a socket that does not exist fails fast, as CONNECT. */
TEST(missing_socket_is_connect)
{
	struct docker *d = docker_open("unix:///nonexistent/mca-test/docker.sock", 2000);
	struct docker_container *c = NULL;
	struct docker_exec_result res;
	struct docker_status st;
	char *argv[] = { "true", NULL };
	size_t n = 99;

	CHECK(d != NULL);
	if (d == NULL)
		return;
	CHECK_INT(docker_find(d, "label:a=b", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_CONNECT);
	CHECK_STR(st.endpoint, "GET /version");
	CHECK_INT(st.http_status, 0);
	CHECK(c == NULL);
	CHECK_INT(n, 0);
	CHECK_INT(docker_exec(d, "front", argv, 1000, &res, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_CONNECT);
	CHECK_INT(res.exit_code, -1);
	CHECK_STR(docker_api_version(d), "");
	docker_close(&d);
}

/* Bad selectors and ids are refused before anything is sent. */
TEST(invalid_requests)
{
	struct docker *d = docker_open("unix:///nonexistent/mca-test/docker.sock", 2000);
	struct docker_container *c = NULL;
	struct docker_exec_result res;
	struct docker_status st;
	char *argv[] = { "true", NULL }, *empty[] = { NULL };
	size_t n;

	if (d == NULL) {
		CHECK(d != NULL);
		return;
	}
	CHECK_INT(docker_find(d, "label:", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_find(d, "label:=v", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_find(d, "label:novalue", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_find(d, "../../etc", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_find(d, "a/b", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_find(d, "front?x=1", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_find(d, "", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_exec(d, "-front", argv, 1000, &res, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_exec(d, "front", empty, 1000, &res, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	CHECK_INT(docker_logs_since(d, "fr%2font", 0, 100, NULL, NULL, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_INVALID);
	docker_close(&d);
}

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* The answer parsers, from bytes: what every call runs on the engine's body. */
TEST(parse_version)
{
	struct docker_status st = { 0 };
	char v[12] = "";
	static const char old[] = "{\"ApiVersion\":\"1.20\"}";

	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"1.43\"}", 21, v, &st), 0);
	CHECK_STR(v, "1.41");
	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.44\"}",
	    44, v, &st), 0);
	CHECK_STR(v, "1.44");
	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"1.30\"}", 21, v, &st), 0);
	CHECK_STR(v, "1.30");
	strcpy(v, "x");
	CHECK_INT(docker_parse_version(old, sizeof(old) - 1, v, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_VERSION);
	CHECK_STR(v, "x");
	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"one\"}", 20, v, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_BAD_ANSWER);
	CHECK_INT(docker_parse_version("[]", 2, v, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_BAD_ANSWER);
	CHECK_INT(docker_parse_version("", 0, v, &st), -1);
	CHECK_STR(st.detail, "not JSON: empty");
	/* found by fuzz_docker_json: a minimum above the maximum was used */
	strcpy(v, "x");
	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"2.44\"}",
	    44, v, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_BAD_ANSWER);
	CHECK_STR(st.detail, "MinAPIVersion 2.44 above ApiVersion 1.52");
	CHECK_STR(v, "x");
	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"1.44\",\"MinAPIVersion\":\"1.44\"}",
	    44, v, &st), 0);
	CHECK_STR(v, "1.44");
	/* the length counts, not a NUL */
	CHECK_INT(docker_parse_version("{\"ApiVersion\":\"1.41\"}garbage", 21, v, &st), 0);
}

TEST(parse_list_and_inspect)
{
	static const char list[] = "[{\"Id\":\"" ID64 "\",\"Names\":[\"/b\"],"
	    "\"State\":\"running\",\"Labels\":{\"k\":\"v\",\"com.docker.compose.project\":\"p\"},"
	    "\"HostConfig\":{\"NetworkMode\":\"host\"}},"
	    "{\"Id\":\"" ID64 "\",\"Names\":[\"/a\"],\"State\":\"exited\","
	    "\"Labels\":{\"k\":\"v\"},\"NetworkSettings\":{\"Networks\":{\"n\":"
	    "{\"IPAddress\":\"172.18.0.2\"}}}},"
	    "{\"Id\":\"" ID64 "\",\"Names\":[\"/c\"],\"State\":\"running\",\"Labels\":{\"k\":\"w\"}}]";
	static const char insp[] = "{\"Id\":\"" ID64 "\",\"Name\":\"/front\","
	    "\"State\":{\"Running\":true,\"Paused\":false},\"Config\":{\"Hostname\":\"h1\"}}";
	struct docker_container *c = NULL, one;
	struct docker_status st = { 0 };
	char host[64];
	size_t n = 0;

	CHECK_INT(docker_parse_list(list, sizeof(list) - 1, "k=v", NULL, &c, &n, &st), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(c[0].name, "a");
		CHECK(!c[0].running);
		CHECK_STR(c[0].address, "172.18.0.2");
		CHECK_STR(c[1].name, "b");
		CHECK(c[1].running);
		CHECK_STR(c[1].address, "127.0.0.1");
		CHECK_STR(c[1].project, "p");
	}
	free(c);
	CHECK_INT(docker_parse_list(list, sizeof(list) - 1, "k=v", "p", &c, &n, &st), 0);
	CHECK_INT(n, 1);
	free(c);
	CHECK_INT(docker_parse_list("{}", 2, "k=v", NULL, &c, &n, &st), -1);
	CHECK(c == NULL);
	CHECK_INT(docker_parse_list("[1]", 3, "k=v", NULL, &c, &n, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_BAD_ANSWER);
	CHECK(c == NULL);
	CHECK_INT(docker_parse_inspect(insp, sizeof(insp) - 1, &one, host, sizeof(host),
	    &st), 0);
	CHECK_STR(one.name, "front");
	CHECK(one.running);
	CHECK_STR(host, "h1");
	CHECK_INT(docker_parse_inspect("{\"Id\":\"xyz\"}", 12, &one, host, sizeof(host),
	    &st), -1);
	CHECK_STR(st.detail, "field Id not acceptable");
}

TEST(parse_exec_and_errors)
{
	static const char created[] = "{\"Id\":\"" ID64 "\"}";
	struct docker_status st = { 0 };
	char eid[65];
	int code = -1;

	CHECK_INT(docker_parse_exec_create(created, sizeof(created) - 1, eid, &st), 0);
	CHECK_STR(eid, ID64);
	CHECK_INT(docker_parse_exec_create("{\"Id\":7}", 8, eid, &st), -1);
	CHECK_INT(docker_parse_exec_inspect("{\"Running\":true}", 16, &code, NULL, &st), 1);
	CHECK_INT(docker_parse_exec_inspect("{\"Running\":false,\"ExitCode\":3}", 30,
	    &code, NULL, &st), 0);
	CHECK_INT(code, 3);
	CHECK_INT(docker_parse_exec_inspect("{\"Running\":false,\"ExitCode\":300}", 32,
	    &code, NULL, &st), -1);
	CHECK_INT(docker_parse_exec_inspect("{\"Running\":false}", 17, &code, NULL, &st), -1);
	/* Pid: the exec's process on the engine's host, 0 when implausible */
	{
		long pid = -1;

		CHECK_INT(docker_parse_exec_inspect("{\"Running\":true,\"Pid\":4321}", 27,
		    &code, &pid, &st), 1);
		CHECK_INT(pid, 4321);
		CHECK_INT(docker_parse_exec_inspect("{\"Running\":true,\"Pid\":\"7\"}", 26,
		    &code, &pid, &st), 1);
		CHECK_INT(pid, 0);
		CHECK_INT(docker_parse_exec_inspect("{\"Running\":true,\"Pid\":-5}", 25,
		    &code, &pid, &st), 1);
		CHECK_INT(pid, 0);
	}
	docker_parse_error("{\"message\":\"No such container: x\"}", 34, 404, &st);
	CHECK_INT(st.error, DOCKER_ERR_NOT_FOUND);
	CHECK_STR(st.detail, "No such container: x");
	docker_parse_error("<html>Forbidden", 15, 403, &st);
	CHECK_INT(st.error, DOCKER_ERR_DENIED);
	CHECK_STR(st.detail, "<html>Forbidden");
	docker_parse_error(NULL, 0, 500, &st);
	CHECK_INT(st.error, DOCKER_ERR_HTTP);
	CHECK_STR(st.detail, "HTTP 500");
	/* found by fuzz_docker_json: an empty message wiped the status */
	docker_parse_error("{\"message\":\"\"}", 14, 500, &st);
	CHECK_STR(st.detail, "HTTP 500");
	docker_parse_error("\r\r", 2, 403, &st);
	CHECK_INT(st.error, DOCKER_ERR_DENIED);
	CHECK_STR(st.detail, "HTTP 403");
}

HARNESS_MAIN("docker",
    RUN(demux_whole),
    RUN(demux_byte_by_byte),
    RUN(demux_every_split),
    RUN(demux_random_chunks),
    RUN(demux_mid_frame_state),
    RUN(demux_malformed_headers),
    RUN(demux_bad_header_after_good_frames),
    RUN(demux_oversize_frame),
    RUN(demux_zero_length_feed),
    RUN(open_host_strings),
    RUN(error_names),
    RUN(missing_socket_is_connect),
    RUN(invalid_requests),
    RUN(parse_version),
    RUN(parse_list_and_inspect),
    RUN(parse_exec_and_errors))

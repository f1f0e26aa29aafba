/*
 * docker: the stream demultiplexer under every chunking, host strings,
 * the answer parsers, and the memory an answer of any shape may cost.
 * Everything that needs an engine is in 08-docker-api.sh.
 */
#include <sys/wait.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/*
 * The Engine's answers for containers on several networks: each entry of
 * Networks has the fields the test engine (28.2) wrote for the bed's
 * host-network front, here with the addresses compose networks give;
 * keys in the engine's order, by name. No test can make these on the test
 * bed: it has no bridge networks and none may be created, so these
 * answers are the proof of the choice.
 */
#define FRONT_ID "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define AGENT_ID "a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8"
#define NET(name, ip) "\"" name "\":{\"IPAMConfig\":null,\"Links\":null," \
	"\"Aliases\":[\"front\"],\"MacAddress\":\"02:42:ac:14:00:05\",\"DriverOpts\":null," \
	"\"NetworkID\":\"7d3f5e2a1c0b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e\"," \
	"\"EndpointID\":\"\",\"Gateway\":\"172.20.0.1\",\"IPAddress\":\"" ip "\"," \
	"\"IPPrefixLen\":16,\"IPv6Gateway\":\"\",\"GlobalIPv6Address\":\"\"," \
	"\"GlobalIPv6PrefixLen\":0,\"DNSNames\":null}"
#define INSPECT(id, name, mode, nets) "{\"Id\":\"" id "\",\"Created\":" \
	"\"2026-11-28T10:26:12.5Z\",\"Path\":\"/start.py\",\"Args\":[]," \
	"\"State\":{\"Status\":\"running\",\"Running\":true,\"Paused\":false," \
	"\"Restarting\":false,\"Pid\":4242,\"ExitCode\":0,\"StartedAt\":" \
	"\"2026-11-28T10:26:13.123456789Z\",\"FinishedAt\":\"0001-01-01T00:00:00Z\"}," \
	"\"Name\":\"/" name "\",\"RestartCount\":0,\"HostConfig\":{\"NetworkMode\":\"" \
	mode "\",\"RestartPolicy\":{\"Name\":\"always\"}},\"Config\":{\"Hostname\":" \
	"\"1f0e2d3c4b5a\",\"Labels\":{\"com.docker.compose.project\":\"mailu\"," \
	"\"com.docker.compose.service\":\"front\"}},\"NetworkSettings\":{\"Bridge\":" \
	"\"\",\"SandboxID\":\"\",\"Ports\":{},\"Networks\":{" nets "}}}"

static int
inspect_of(const char *body, struct docker_container *c)
{
	struct docker_status st = { 0 };
	char host[64];

	return docker_parse_inspect(body, strlen(body), c, host, sizeof(host), &st);
}

TEST(networks_recorded)
{
	static const char three[] = INSPECT(FRONT_ID, "mailu-front-1", "mailu_default",
	    NET("mailu_default", "172.20.0.5") "," NET("mailu_webmail", "172.21.0.3") ","
	    NET("traefik_proxy", "172.30.0.7"));
	static const char ten[] = INSPECT(FRONT_ID, "f", "n0", NET("n0", "10.0.0.2") ","
	    NET("n1", "10.0.1.2") "," NET("n2", "10.0.2.2") "," NET("n3", "10.0.3.2") ","
	    NET("n4", "10.0.4.2") "," NET("n5", "10.0.5.2") "," NET("n6", "10.0.6.2") ","
	    NET("n7", "10.0.7.2") "," NET("n8", "10.0.8.2") "," NET("n9", "10.0.9.2"));
	static const char longname[] = INSPECT(FRONT_ID, "f", "x", NET("this_network_"
	    "name_is_far_too_long_to_be_kept_whole_by_the_agent_64", "10.0.0.2") ","
	    NET("short", "10.0.1.2") "," NET("v6only", ""));
	static const char badip[] = INSPECT(FRONT_ID, "f", "x", NET("n", "10.0.0.2") ","
	    NET("m", "10.0.0.2; rm"));
	struct docker_container c;

	CHECK_INT(inspect_of(three, &c), 0);
	CHECK_INT(c.n_nets, 3);
	CHECK_INT(c.nets_omitted, 0);
	CHECK(!c.host_network);
	CHECK_STR(c.address, "172.20.0.5");
	CHECK_STR(c.nets[0].name, "mailu_default");
	CHECK_STR(c.nets[1].name, "mailu_webmail");
	CHECK_STR(c.nets[1].address, "172.21.0.3");
	CHECK_STR(c.nets[2].name, "traefik_proxy");
	CHECK_STR(c.nets[2].address, "172.30.0.7");
	CHECK_INT(inspect_of(ten, &c), 0);
	CHECK_INT(c.n_nets, DOCKER_MAX_NETWORKS);
	CHECK_INT(c.nets_omitted, 10 - DOCKER_MAX_NETWORKS);
	CHECK_STR(c.nets[DOCKER_MAX_NETWORKS - 1].name, "n7");
	/* a name that does not fit is left out, never cut (it could match another) */
	CHECK_INT(inspect_of(longname, &c), 0);
	CHECK_INT(c.n_nets, 2);
	CHECK_INT(c.nets_omitted, 1);
	CHECK_STR(c.address, "10.0.0.2");
	CHECK_STR(c.nets[0].name, "short");
	CHECK_STR(c.nets[1].name, "v6only");
	CHECK_STR(c.nets[1].address, "");
	/* an address that is not one refuses the answer, as the first one always did */
	CHECK_INT(inspect_of(badip, &c), -1);
}

/* One docker_reach case: front and agent inspects (agent NULL: on the host). */
static void
reach_is(const char *front_body, const char *agent_body, enum docker_reach want,
    const char *network, const char *address, int line)
{
	struct docker_container *front = calloc(1, sizeof(*front)),
	    *agent = calloc(1, sizeof(*agent));
	const char *net = "?", *addr = "?";
	enum docker_reach got = DOCKER_REACH__MAX;

	if (front != NULL && agent != NULL && inspect_of(front_body, front) == 0 &&
	    (agent_body == NULL || inspect_of(agent_body, agent) == 0))
		got = docker_reach(front, agent_body != NULL ? agent : NULL, &net, &addr);
	if (got != want || strcmp(net, network) != 0 || strcmp(addr, address) != 0) {
		fprintf(stderr, "  line %d: reach %d %s %s, expected %d %s %s\n", line,
		    (int)got, net, addr, (int)want, network, address);
		harness_failed_checks++;
	}
	free(front);
	free(agent);
}

#define REACH(f, a, w, n, ad) reach_is(f, a, w, n, ad, __LINE__)

TEST(networks_reach)
{
	/* Mailu's front on its project's network and on a reverse proxy's */
	static const char two[] = INSPECT(FRONT_ID, "mailu-front-1", "mailu_default",
	    NET("mailu_default", "172.20.0.5") "," NET("traefik_proxy", "172.30.0.7"));
	static const char three[] = INSPECT(FRONT_ID, "mailu-front-1", "mailu_default",
	    NET("mailu_default", "172.20.0.5") "," NET("mailu_webmail", "172.21.0.3") ","
	    NET("traefik_proxy", "172.30.0.7"));
	static const char host[] = INSPECT(FRONT_ID, "front", "host", NET("host", ""));
	static const char none[] = INSPECT(FRONT_ID, "front", "none", NET("none", ""));
	/* a network without an IPv4 address first: the next shared one */
	static const char v6first[] = INSPECT(FRONT_ID, "front", "a_v6", NET("a_v6", "")
	    "," NET("mailu_default", "172.20.0.5"));
	/* the agent on the proxy's network alone, on the project's, on another */
	static const char a_proxy[] = INSPECT(AGENT_ID, "certagent", "traefik_proxy",
	    NET("traefik_proxy", "172.30.0.9"));
	static const char a_mailu[] = INSPECT(AGENT_ID, "mailu-certagent-1",
	    "mailu_default", NET("mailu_default", "172.20.0.9"));
	static const char a_webmail[] = INSPECT(AGENT_ID, "certagent", "x",
	    NET("mailu_webmail", "172.21.0.9") "," NET("zz_other", "10.9.0.2"));
	static const char a_other[] = INSPECT(AGENT_ID, "certagent", "other_default",
	    NET("other_default", "172.25.0.2"));
	static const char a_v6[] = INSPECT(AGENT_ID, "certagent", "a_v6",
	    NET("a_v6", "") "," NET("mailu_default", "172.20.0.9"));
	static const char a_host[] = INSPECT(AGENT_ID, "certagent", "host", NET("host", ""));
	static const char a_none[] = INSPECT(AGENT_ID, "certagent", "none", NET("none", ""));
	/* network_mode service:front: the agent in the front's network stack */
	static const char a_in_front[] = INSPECT(AGENT_ID, "certagent",
	    "container:" FRONT_ID, "");

	REACH(two, a_mailu, DOCKER_REACH_SHARED, "mailu_default", "172.20.0.5");
	REACH(two, a_proxy, DOCKER_REACH_SHARED, "traefik_proxy", "172.30.0.7");
	REACH(three, a_webmail, DOCKER_REACH_SHARED, "mailu_webmail", "172.21.0.3");
	REACH(three, a_proxy, DOCKER_REACH_SHARED, "traefik_proxy", "172.30.0.7");
	REACH(two, a_other, DOCKER_REACH_UNSHARED, "mailu_default", "172.20.0.5");
	REACH(three, a_none, DOCKER_REACH_UNSHARED, "mailu_default", "172.20.0.5");
	REACH(v6first, a_v6, DOCKER_REACH_SHARED, "mailu_default", "172.20.0.5");
	REACH(v6first, a_other, DOCKER_REACH_UNSHARED, "mailu_default", "172.20.0.5");
	/* the agent on the host reaches every bridge: the first, no warning */
	REACH(three, NULL, DOCKER_REACH_HOST, "mailu_default", "172.20.0.5");
	REACH(three, a_host, DOCKER_REACH_HOST, "mailu_default", "172.20.0.5");
	/* a host-network front: loopback, from the host only */
	REACH(host, NULL, DOCKER_REACH_HOST, "host", "127.0.0.1");
	REACH(host, a_host, DOCKER_REACH_HOST, "host", "127.0.0.1");
	REACH(host, a_mailu, DOCKER_REACH_UNSHARED, "host", "127.0.0.1");
	REACH(none, a_mailu, DOCKER_REACH_NONE, "", "");
	REACH(none, NULL, DOCKER_REACH_NONE, "", "");
	REACH(two, a_in_front, DOCKER_REACH_SHARED, "container", "172.20.0.5");
	REACH(none, a_in_front, DOCKER_REACH_NONE, "", "");
}

/* The same choice from list entries (GET /containers/json), two fronts. */
TEST(networks_reach_list)
{
	static const char list[] = "[{\"Id\":\"" FRONT_ID "\",\"Names\":"
	    "[\"/mailu-front-1\"],\"Image\":\"ghcr.io/mailu/nginx:2024.06\",\"State\":"
	    "\"running\",\"Status\":\"Up 2 hours\",\"Labels\":{\"com.docker.compose."
	    "service\":\"front\",\"com.docker.compose.project\":\"mailu\"},\"HostConfig\":"
	    "{\"NetworkMode\":\"mailu_default\"},\"NetworkSettings\":{\"Networks\":{"
	    NET("mailu_default", "172.20.0.5") "," NET("traefik_proxy", "172.30.0.7")
	    "}}},{\"Id\":\"" AGENT_ID "\",\"Names\":[\"/mailu-front-2\"],\"State\":"
	    "\"running\",\"Labels\":{\"com.docker.compose.service\":\"front\"},"
	    "\"HostConfig\":{\"NetworkMode\":\"host\"},\"NetworkSettings\":{\"Networks\":"
	    "{" NET("host", "") "}}}]";
	static const char agent_body[] = INSPECT(AGENT_ID, "certagent", "traefik_proxy",
	    NET("traefik_proxy", "172.30.0.9"));
	struct docker_container *c = NULL, agent;
	struct docker_status st = { 0 };
	const char *net, *addr;
	size_t n = 0;

	CHECK_INT(inspect_of(agent_body, &agent), 0);
	CHECK_INT(docker_parse_list(list, sizeof(list) - 1, "com.docker.compose.service="
	    "front", NULL, &c, &n, &st), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(c[0].n_nets, 2);
		CHECK_INT(docker_reach(&c[0], &agent, &net, &addr), DOCKER_REACH_SHARED);
		CHECK_STR(net, "traefik_proxy");
		CHECK_STR(addr, "172.30.0.7");
		CHECK(c[1].host_network);
		CHECK_INT(docker_reach(&c[1], &agent, &net, &addr), DOCKER_REACH_UNSHARED);
		CHECK_STR(net, "host");
		CHECK_INT(docker_reach(&c[1], NULL, &net, &addr), DOCKER_REACH_HOST);
		CHECK_STR(addr, "127.0.0.1");
	}
	free(c);
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

/*
 * Memory an answer drives, measured as the peak of the resident set
 * while the parse runs above what was resident before it: writing "5"
 * to /proc/self/clear_refs resets the peak (VmHWM) to the current
 * VmRSS. Under ASan a block freed during the parse waits in the
 * quarantine (256 MiB by default) and is not reused at once, so what
 * the parse allocated counts even if it was freed before the end; the
 * shadow memory and redzones ASan adds count too, which only makes the
 * measure larger. Memory that is resident but free is reused without
 * growth, though: once a parse of hundreds of MiB overflowed the
 * quarantine, the next measured next to nothing (seen on the old code).
 * So each parse runs in a child forked from this process, which never
 * parses a large answer itself: no child starts with a pool of free
 * resident memory. The bound: 32 MiB, against the ~630 MiB the 8 MiB
 * answer cost before its tree was bounded.
 */
#define GROWTH_MAX_KIB (32 * 1024L)

static long
status_kib(const char *key)
{
	char buf[4096], *p;
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, key)) == NULL)
		return -1;
	return strtol(p + strlen(key), NULL, 10);
}

/* One parse of an engine answer, in a form peak_growth_kib can call. */
struct parse {
	const char *body;
	size_t len;
	int which;			/* 0 version .. 5 error, as fuzz_docker_json */
	struct parse_out {		/* what the child reports */
		int rc;
		struct docker_status st;
		size_t n;
		long growth;		/* KiB, -1 when not measured */
	} out;
};

static void
run_parse(struct parse *p)
{
	struct docker_container *list = NULL, c;
	char v[12], eid[65], host[64];
	int code;

	struct parse_out *o = &p->out;

	switch (p->which) {
	case 0:
		o->rc = docker_parse_version(p->body, p->len, v, &o->st);
		break;
	case 1:
		o->rc = docker_parse_list(p->body, p->len, "k=v", NULL, &list, &o->n,
		    &o->st);
		free(list);
		break;
	case 2:
		o->rc = docker_parse_inspect(p->body, p->len, &c, host, sizeof(host),
		    &o->st);
		break;
	case 3:
		o->rc = docker_parse_exec_create(p->body, p->len, eid, &o->st);
		break;
	case 4:
		o->rc = docker_parse_exec_inspect(p->body, p->len, &code, NULL, &o->st);
		break;
	default:
		docker_parse_error(p->body, p->len, 500, &o->st);
		o->rc = -1;
		break;
	}
}

/* In a child: the parse, and how far the resident set peaked above its start. */
static void
measure(struct parse *p)
{
	long before, peak;
	int fd;

	p->out.growth = -1;
	if ((fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (write(fd, "5", 1) != 1) {
		close(fd);
		return;
	}
	close(fd);
	/* a peak that was not reset is no measure */
	if ((before = status_kib("VmRSS:")) < 0 || status_kib("VmHWM:") > before + 1024)
		return;
	run_parse(p);
	if ((peak = status_kib("VmHWM:")) >= 0)
		p->out.growth = peak - before;
}

/* Runs the parse in a child; p->out gets its outcome (growth -1: none). */
static void
peak_growth_kib(struct parse *p)
{
	int fds[2], status = 0;
	pid_t pid;

	memset(&p->out, 0, sizeof(p->out));
	p->out.growth = -1;
	if (pipe(fds) != 0)
		return;
	if ((pid = fork()) == 0) {
		close(fds[0]);
		measure(p);
		_exit(write(fds[1], &p->out, sizeof(p->out)) == (ssize_t)sizeof(p->out) ?
		    0 : 1);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &p->out, sizeof(p->out)) != (ssize_t)sizeof(p->out))
		p->out.growth = -1;
	close(fds[0]);
	if (pid > 0 && (waitpid(pid, &status, 0) != pid || status != 0))
		p->out.growth = -1;
}

/* pre, reps copies of unit joined by commas, post (NULL without memory). */
static char *
repeat(const char *pre, const char *unit, size_t reps, const char *post,
    size_t *len)
{
	size_t ul = strlen(unit), pl = strlen(pre), n = 0;
	char *b = malloc(pl + reps * (ul + 1) + strlen(post) + 1);

	if (b == NULL)
		return NULL;
	memcpy(b, pre, pl);
	n = pl;
	for (size_t i = 0; i < reps; i++) {
		if (i > 0)
			b[n++] = ',';
		memcpy(b + n, unit, ul);
		n += ul;
	}
	memcpy(b + n, post, strlen(post) + 1);
	*len = n + strlen(post);
	return b;
}

/*
 * The finding: 8 MiB of [{},{},...] (what DOCKER_MAX_BODY let in) fed
 * to docker_parse_list peaked at 633 MiB. Now every parser refuses it
 * before jansson builds anything, in bounded memory; an error answer
 * keeps its first bytes as the detail.
 */
TEST(huge_array_bounded)
{
	size_t len, reps = (8 * 1024 * 1024 - 2) / 3;
	char *body = repeat("[", "{}", reps, "]", &len);

	if (body == NULL) {
		CHECK(body != NULL);
		return;
	}
	CHECK(len <= 8 * 1024 * 1024);
	for (int which = 0; which <= 5; which++) {
		struct parse p = { .body = body, .len = len, .which = which };

		peak_growth_kib(&p);
		printf("  8 MiB [{},{},...] to parser %d: peak RSS +%ld KiB\n", which,
		    p.out.growth);
		CHECK(p.out.growth >= 0);
		CHECK(p.out.growth < GROWTH_MAX_KIB);
		CHECK_INT(p.out.rc, -1);
		CHECK_INT(p.out.n, 0);
		if (which < 5) {
			CHECK_INT(p.out.st.error, DOCKER_ERR_BAD_ANSWER);
			CHECK_STR(p.out.st.detail, "answer of more than 65536 JSON values");
		} else {
			CHECK_INT(p.out.st.error, DOCKER_ERR_HTTP);
			CHECK(strncmp(p.out.st.detail, "[{},{},{},", 10) == 0);
		}
	}
	free(body);
}

/* A list entry the parser accepts; %05zu makes the names distinct. */
#define ENTRY "{\"Id\":\"" ID64 "\",\"Names\":[\"/c%05zu\"],\"State\":\"running\"," \
	"\"Labels\":{\"k\":\"v\"}}"

/* reps valid list entries, as one answer (NULL without memory). */
static char *
entries(size_t reps, size_t *len)
{
	size_t each = sizeof(ENTRY) + 8;
	char *b = malloc(reps * each + 3), *p = b;

	if (b == NULL)
		return NULL;
	*p++ = '[';
	for (size_t i = 0; i < reps; i++)
		p += snprintf(p, each, i > 0 ? "," ENTRY : ENTRY, reps - i);
	*p++ = ']';
	*p = '\0';
	*len = (size_t)(p - b);
	return b;
}

/*
 * Entries that are all valid containers, one more than
 * DOCKER_MAX_CONTAINERS: refused before the array they would size; as
 * many as the maximum still parse, sorted.
 */
TEST(list_too_many_containers)
{
	struct docker_container *c = NULL;
	struct docker_status st = { 0 };
	size_t len, n = 0;
	char *body;

	if ((body = entries(DOCKER_MAX_CONTAINERS, &len)) == NULL) {
		CHECK(body != NULL);
		return;
	}
	CHECK_INT(docker_parse_list(body, len, "k=v", NULL, &c, &n, &st), 0);
	CHECK_INT(n, DOCKER_MAX_CONTAINERS);
	if (n == DOCKER_MAX_CONTAINERS) {
		CHECK_STR(c[0].name, "c00001");
		CHECK_STR(c[n - 1].name, "c02048");
	}
	free(c);
	free(body);

	if ((body = entries(DOCKER_MAX_CONTAINERS + 1, &len)) == NULL) {
		CHECK(body != NULL);
		return;
	}
	{
		struct parse p = { .body = body, .len = len, .which = 1 };

		peak_growth_kib(&p);
		printf("  %d valid entries (%zu bytes): peak RSS +%ld KiB\n",
		    DOCKER_MAX_CONTAINERS + 1, len, p.out.growth);
		CHECK(p.out.growth >= 0);
		CHECK(p.out.growth < GROWTH_MAX_KIB);
		CHECK_INT(p.out.rc, -1);
		CHECK_INT(p.out.n, 0);
		CHECK_INT(p.out.st.error, DOCKER_ERR_BAD_ANSWER);
		CHECK_STR(p.out.st.detail, "list of more than 2048 containers");
	}
	free(body);
}

/*
 * Bodies within the list's byte cap, shaped to cost the most tree a
 * byte: wide ([{},{},...] and {"0":{},"1":{},...}), deep then wide, and
 * the costliest that the value bound still lets jansson build (exactly
 * DOCKER_MAX_VALUES counted values of members holding {}). All stay
 * within the bound; the first three are refused unparsed.
 */
TEST(list_cap_bodies_bounded)
{
	static const struct {
		const char *what;
		size_t reps;			/* 0: as many as DOCKER_MAX_LIST holds */
		bool keyed;			/* {"0":{},...} rather than [{},...] */
		size_t depth;			/* '[' before the wide part */
		const char *detail;
	} t[] = {
		{ "1 MiB of [{},{},...]", 0, false, 0,
		    "answer of more than 65536 JSON values" },
		{ "1 MiB of {\"0\":{},...}", 0, true, 0,
		    "answer of more than 65536 JSON values" },
		{ "1 MiB 2000 deep, then wide", 0, false, 2000,
		    "answer of more than 65536 JSON values" },
		/* 1 + 2 * reps counted values: the last that is let through */
		{ "the most values let through", (DOCKER_MAX_VALUES - 1) / 2, true, 0,
		    "answer of the wrong JSON type" },
		{ "one value more", (DOCKER_MAX_VALUES - 1) / 2 + 1, true, 0,
		    "answer of more than 65536 JSON values" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = 0, cap = DOCKER_MAX_LIST + 1, room = cap - t[i].depth - 2;
		char *body = malloc(cap);
		int w;

		if (body == NULL) {
			CHECK(body != NULL);
			continue;
		}
		memset(body, '[', t[i].depth);
		len = t[i].depth;
		body[len++] = t[i].keyed ? '{' : '[';
		for (size_t k = 0; t[i].reps == 0 || k < t[i].reps; k++) {
			w = t[i].keyed ? snprintf(body + len, room - len, "%s\"%zu\":{}",
			    k > 0 ? "," : "", k) : snprintf(body + len, room - len, "%s{}",
			    k > 0 ? "," : "");
			if (w < 0 || (size_t)w >= room - len)
				break;		/* full: this one is cut off */
			len += (size_t)w;
		}
		body[len++] = t[i].keyed ? '}' : ']';
		memset(body + len, ']', t[i].depth);
		len += t[i].depth;
		{
			struct parse p = { .body = body, .len = len, .which = 1 };

			peak_growth_kib(&p);
			printf("  %s (%zu bytes): peak RSS +%ld KiB\n", t[i].what, len,
			    p.out.growth);
			CHECK(len <= DOCKER_MAX_LIST);
			CHECK(p.out.growth >= 0);
			CHECK(p.out.growth < GROWTH_MAX_KIB);
			CHECK_INT(p.out.rc, -1);
			CHECK_INT(p.out.st.error, DOCKER_ERR_BAD_ANSWER);
			CHECK_STR(p.out.st.detail, t[i].detail);
		}
		free(body);
	}
}

#define top_lit(lit, needle, w, st) \
	docker_parse_top(lit, sizeof(lit) - 1, needle, w, st)

/* GET /containers/{id}/top as the engine answers it (ps -ef's columns). */
TEST(parse_top)
{
	const char *mailu = "{\"Titles\":[\"UID\",\"PID\",\"PPID\",\"C\",\"STIME\","
	    "\"TTY\",\"TIME\",\"CMD\"],\"Processes\":["
	    "[\"root\",\"7\",\"1\",\"0\",\"22:28\",\"?\",\"00:00:00\",\"python3 /start.py\"],"
	    "[\"root\",\"20\",\"7\",\"0\",\"22:28\",\"?\",\"00:00:00\",\"python3 /certwatcher.py\"]]}";
	/* the watcher runs /config.py (sh -c): at work */
	const char *busy = "{\"Titles\":[\"UID\",\"PID\",\"PPID\",\"C\",\"STIME\","
	    "\"TTY\",\"TIME\",\"CMD\"],\"Processes\":["
	    "[\"root\",\"7\",\"1\",\"0\",\"22:28\",\"?\",\"00:00:00\",\"python3 /start.py\"],"
	    "[\"root\",\"20\",\"7\",\"0\",\"22:28\",\"?\",\"00:00:00\",\"python3 /certwatcher.py\"],"
	    "[\"root\",\"31\",\"20\",\"0\",\"22:29\",\"?\",\"00:00:00\",\"sh -c /config.py\"]]}";
	const char *plain = "{\"Titles\":[\"PID\",\"COMMAND\"],\"Processes\":"
	    "[[\"1\",\"/bin/bash /start.sh\"],[\"9\",\"nginx: master process\"]]}";
	struct docker_status st;
	enum proc_watch w = PROC_WATCH_BUSY;

	CHECK_INT(docker_parse_top(mailu, strlen(mailu), "certwatcher", &w, &st), 0);
	CHECK_INT(w, PROC_WATCH_IDLE);
	CHECK_INT(docker_parse_top(busy, strlen(busy), "certwatcher", &w, &st), 0);
	CHECK_INT(w, PROC_WATCH_BUSY);
	CHECK_INT(docker_parse_top(plain, strlen(plain), "certwatcher", &w, &st), 0);
	CHECK_INT(w, PROC_WATCH_NONE);
	/* no PPID column: a watcher, never seen at work */
	CHECK_INT(top_lit("{\"Titles\":[\"PID\",\"CMD\"],\"Processes\":"
	    "[[\"20\",\"certwatcher\"],[\"31\",\"sh -c /config.py\"]]}",
	    "certwatcher", &w, &st), 0);
	CHECK_INT(w, PROC_WATCH_IDLE);
	/* numbers that are not: no parent is matched through them */
	CHECK_INT(top_lit("{\"Titles\":[\"PID\",\"PPID\",\"CMD\"],\"Processes\":"
	    "[[\"x\",\"1\",\"certwatcher\"],[\"31\",\"x\",\"sh\"],"
	    "[\"32\",\"99999999999\",\"sh\"],[\"33\",\"-1\",\"sh\"]]}",
	    "certwatcher", &w, &st), 0);
	CHECK_INT(w, PROC_WATCH_IDLE);
	/* no processes at all: null or [] */
	CHECK_INT(top_lit("{\"Titles\":[\"CMD\"],\"Processes\":null}",
	    "certwatcher", &w, &st), 0);
	CHECK_INT(w, PROC_WATCH_NONE);
	/* wrong shapes are bad answers, never a guess */
	CHECK_INT(top_lit("{\"Titles\":[\"PID\"],\"Processes\":[]}",
	    "certwatcher", &w, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_BAD_ANSWER);
	CHECK_INT(top_lit("{\"Titles\":[\"CMD\"],\"Processes\":[[1]]}",
	    "certwatcher", &w, &st), -1);
	CHECK_INT(st.error, DOCKER_ERR_BAD_ANSWER);
	CHECK_INT(top_lit("{\"Processes\":[]}", "certwatcher", &w, &st), -1);
	CHECK_INT(top_lit("[]", "certwatcher", &w, &st), -1);
	CHECK_INT(w, PROC_WATCH_NONE);
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
    RUN(parse_top),
    RUN(parse_version),
    RUN(parse_list_and_inspect),
    RUN(networks_recorded),
    RUN(networks_reach),
    RUN(networks_reach_list),
    RUN(parse_exec_and_errors),
    RUN(huge_array_bounded),
    RUN(list_too_many_containers),
    RUN(list_cap_bodies_bounded))

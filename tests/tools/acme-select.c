/*
 * acme-select: measures the Traefik source's pick out of an acme.json,
 * for the benchmark. It does what the agent's read_traefik does (open
 * the file confined to its folder, stream it through
 * acme_json_select_fd) and prints one JSON line:
 *
 *   {"ms":<wall time>,"maxrss_kb":<peak RSS>,"fingerprint":"<hex>","entries":<n>}
 *
 *   acme-select FILE HOSTNAME[,HOSTNAME...] [RESOLVER]
 *
 * ms is the wall time of the open, the read and the selection (the work
 * of one source read, before the chosen pair is parsed for validation);
 * maxrss_kb is getrusage's ru_maxrss of the whole process at the end;
 * entries is how many entries the selection scanned (from its detail).
 * Exit: 0 chosen, 1 nothing chosen (the reason and detail on stderr),
 * 64 usage.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "acme_json.h"
#include "cert.h"
#include "install.h"

#define MAX_NAMES 64

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "N scanned" out of the detail of a successful selection. */
static long
scanned(const char *detail)
{
	const char *p = strstr(detail, " scanned");

	if (p == NULL)
		return -1;
	while (p > detail && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return strtol(p, NULL, 10);
}

int
main(int argc, char **argv)
{
	char *names[MAX_NAMES], *list, *save = NULL, *tok;
	char dirbuf[PATH_MAX], detail[512];
	struct install_pair out;
	struct rusage ru;
	enum cert_reason why;
	size_t size = 0, n = 0;
	double t0, t1;
	int fd, rc;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: acme-select FILE HOSTNAME[,HOSTNAME...] [RESOLVER]\n");
		return 64;
	}
	list = argv[2];
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_NAMES) {
			fprintf(stderr, "acme-select: at most %d host names\n", MAX_NAMES);
			return 64;
		}
		names[n++] = tok;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", argv[1]);
	t0 = now_ms();
	if (cert_open_file(argv[1], dirname(dirbuf), ACME_JSON_MAX, &fd, &size, &why) != 0) {
		fprintf(stderr, "acme-select: %s: %s\n", argv[1], cert_reason_names[why]);
		return 1;
	}
	rc = acme_json_select_fd(fd, size, argc == 4 ? argv[3] : NULL, names, n,
	    time(NULL), &out, &why, detail, sizeof(detail));
	close(fd);
	t1 = now_ms();
	getrusage(RUSAGE_SELF, &ru);
	if (rc != 0) {
		fprintf(stderr, "acme-select: %s: %s\n", cert_reason_names[why], detail);
		return 1;
	}
	printf("{\"ms\":%.3f,\"maxrss_kb\":%ld,\"fingerprint\":\"%s\",\"entries\":%ld}\n",
	    t1 - t0, ru.ru_maxrss, out.fingerprint, scanned(detail));
	install_pair_free(&out);
	return 0;
}

/*
 * memtrim: the program's read-only segments are advised out, the resident
 * file-backed memory really drops (this test binary's own text), and
 * written data survives.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "memtrim.h"

static long
rss_file_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "RssFile: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* initialised, so in the file-backed .data segment: a dropped writable
 * page would come back from the file as 41 */
static volatile int written_data = 41;

TEST(pages_out_own_code)
{
	long before, after;
	unsigned long advised;

	written_data++;
	before = rss_file_kb();
	advised = memtrim_code();
	after = rss_file_kb();
	fprintf(stderr, "  RssFile %ld kB -> %ld kB, %lu kB advised\n", before,
	    after, advised / 1024);
	CHECK(before > 0);
	CHECK(advised > 0);
	CHECK(after < before);
	/* only read-only segments: what the program wrote is still there */
	CHECK_INT(written_data, 42);
}

HARNESS_MAIN("memtrim", RUN(pages_out_own_code))

/*
 * memtrim: the program's read-only segments are advised out, and the
 * resident file-backed memory really drops (this test binary's own text).
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

TEST(pages_out_own_code)
{
	long before = rss_file_kb(), after;
	unsigned long advised = memtrim_code();

	after = rss_file_kb();
	fprintf(stderr, "  RssFile %ld kB -> %ld kB, %lu kB advised\n", before,
	    after, advised / 1024);
	CHECK(before > 0);
	CHECK(advised > 0);		/* MADV_PAGEOUT: Linux >= 5.4 */
	CHECK(after < before);
	/* only read-only segments: writable data still works */
	static int counter;
	counter++;
	CHECK_INT(counter, 1);
}

HARNESS_MAIN("memtrim", RUN(pages_out_own_code))

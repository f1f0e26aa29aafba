/*
 * fuzz_sigreload: the /proc/PID/cmdline classifier of the signal reload
 * (agent/sigreload.c, signal_classify): in a shared PID namespace every
 * process of the front, and anything it starts, writes these bytes. The
 * input is one cmdline (NUL-separated argv), in a buffer of exactly its
 * size so a read past it is caught. Checks: an nginx master starts with
 * "nginx: master process", a dovecot master's argv[0] is dovecot (any
 * directory), and nothing else is taken for either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigreload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmd = malloc(size > 0 ? size : 1);
	size_t a0;
	const char *base;
	int kind;

	if (cmd == NULL)
		return 0;
	memcpy(cmd, data, size);
	kind = signal_classify(cmd, size);
	a0 = strnlen(cmd, size);
	base = memrchr(cmd, '/', a0);
	base = base != NULL ? base + 1 : cmd;
	switch (kind) {
	case -1:
		break;
	case SIGNAL_NGINX:
		if (a0 < 21 || memcmp(cmd, "nginx: master process", 21) != 0)
			abort();
		break;
	case SIGNAL_DOVECOT:
		if ((size_t)(cmd + a0 - base) != 7 || memcmp(base, "dovecot", 7) != 0 ||
		    (a0 >= 8 && memcmp(cmd, "dovecot/", 8) == 0))
			abort();
		break;
	default:
		abort();
	}
	free(cmd);
	return 0;
}

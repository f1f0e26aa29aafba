/*
 * source_spec: the one parse of AGENT_SOURCE (see source_spec.h). Pure:
 * config_load and source_init both call it, and it is unit-tested alone.
 */
#include <string.h>

#include "source_spec.h"

const char *const source_kind_names[SOURCE__MAX] = {
	"certs-dir", "pair", "certbot", "lego", "k8s-secret", "traefik",
};

int
source_spec_parse(const char *value, struct source_spec *spec)
{
	const char *arg = NULL, *sep;

	memset(spec, 0, sizeof(*spec));
	if (strcmp(value, source_kind_names[SOURCE_CERTS_DIR]) == 0) {
		spec->kind = SOURCE_CERTS_DIR;
		spec->path = value + strlen(value);
		return 0;
	}
	for (int k = SOURCE_CERTS_DIR + 1; k < SOURCE__MAX; k++) {
		size_t n = strlen(source_kind_names[k]);

		if (strncmp(value, source_kind_names[k], n) == 0 && value[n] == ':') {
			spec->kind = (enum source_kind)k;
			arg = value + n + 1;
			break;
		}
	}
	/* every path is absolute: a relative one would depend on our cwd */
	if (arg == NULL || arg[0] != '/')
		return -1;
	spec->path = arg;
	spec->path_len = strlen(arg);
	switch (spec->kind) {
	case SOURCE_PAIR:
		if ((sep = strstr(arg, ",/")) == NULL)
			return -1;
		spec->extra = sep + 1;
		break;
	case SOURCE_TRAEFIK:
		if ((sep = strchr(arg, '#')) == NULL)
			return 0;
		spec->extra = sep + 1;
		break;
	default:
		return 0;
	}
	spec->path_len = (size_t)(sep - arg);
	spec->extra_len = strlen(spec->extra);
	return 0;
}

/*
 * outcome: the names of the outcomes, in one place for every reporter.
 */
#include <stddef.h>

#include "outcome.h"

const char *const outcome_names[OUTCOME__MAX] = {
	"rotated", "unchanged", "rejected", "rolled_back", "failed", "kept",
};

const char *
outcome_legacy_name(enum outcome o)
{
	/* kept was reported as rolled_back until it had a name of its own */
	return o == OUTCOME_KEPT ? "rolled_back" : NULL;
}

/*
 * watch: inotify on the source's directories, so a change is seen in
 * milliseconds; the daemon polls stat signatures beside it, because
 * inotify sees nothing on NFS and some overlay setups.
 */
#ifndef MCA_WATCH_H
#define MCA_WATCH_H

#include <stdbool.h>

#include "source.h"

struct watch {
	int fd;				/* inotify fd, -1: poll only */
	const struct source *src;
};

/*
 * Starts watching. On failure falls back to poll only (fd -1), says why
 * unless quiet, and returns -1; the daemon tries again at every poll.
 */
int watch_open(struct watch *w, const struct source *src, bool quiet);
void watch_close(struct watch *w);

/*
 * Reads every queued event; true if one concerns a file of the pair.
 * *closed gets bit i (1 << i) for each watch_names[i] (0 the cert's, 1 the
 * key's) closed after writing or renamed into place (SCHED_CLOSED_*).
 */
bool watch_drain(struct watch *w, unsigned *closed);

#endif

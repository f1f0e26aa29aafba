/*
 * watch: directory watches, not file watches: ACME clients replace files
 * by rename (a file watch would follow the old inode) and certbot swaps
 * symlinks, both of which show up as events on the directory.
 */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "watch.h"

#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | \
	IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

int
watch_open(struct watch *w, const struct source *src, bool quiet)
{
	w->src = src;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		if (!quiet)
			log_event(LOG_LEVEL_WARN, "watch.poll_only",
			    json_pack("{s:s}", "reason", strerror(errno)),
			    "inotify unavailable (%s): polling only", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < src->n_watch_dirs; i++) {
		if (inotify_add_watch(w->fd, src->watch_dirs[i], WATCH_MASK) < 0) {
			if (!quiet)
				log_event(LOG_LEVEL_WARN, "watch.poll_only",
				    json_pack("{s:s, s:s}", "dir", src->watch_dirs[i],
				    "reason", strerror(errno)),
				    "cannot watch %s (%s): polling until it can",
				    src->watch_dirs[i], strerror(errno));
			close(w->fd);
			w->fd = -1;
			return -1;
		}
	}
	return 0;
}

void
watch_close(struct watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

bool
watch_drain(struct watch *w, unsigned *closed)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	ssize_t n;

	*closed = 0;
	if (w->fd < 0)
		return false;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			/* the directory itself moved or went: re-check everything */
			if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW))
				relevant = true;
			for (size_t i = 0; ev->len > 0 && i < 2; i++) {
				if (strcmp(ev->name, w->src->watch_names[i]) != 0)
					continue;
				relevant = true;
				/* written whole: closed after writing, or renamed in */
				if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
					*closed |= 1u << i;
			}
			p += sizeof(*ev) + ev->len;
		}
	}
	return relevant;
}

/*
 * fuzz_sigreload: what the signal reload (agent/sigreload.c) reads from
 * /proc, where every process of a shared PID namespace chooses the bytes
 * of its cmdline and its comm. The input, in a buffer of exactly its size
 * so a read past it is caught, goes four ways:
 *   - as a /proc/PID/cmdline through signal_classify: a master or worker
 *     of nginx only by "nginx: ...", of dovecot only by argv[0] dovecot
 *     or "dovecot/...", and nothing else taken for either;
 *   - as a /proc/PID/stat line through signal_parse_stat: a success has
 *     the pid in front of " (" and the ppid after the LAST ')', both read
 *     back the same, followed by a space;
 *   - as a /proc/PID/status through signal_parse_status_uid: a success is
 *     the first complete line starting "Uid:", its first two fields;
 *   - as a process table (3 bytes a process, pid = index + 1: ppid,
 *     uid bits, role and kind) through signal_pick_masters, against a
 *     reference of the rule written here: root, parent PID 1 or a
 *     container init (or one itself), a worker child of its kind; the
 *     same masters, the same decoys in order with the same reason; and
 *     through signal_pick_master for each kind alone, which must agree
 *     with the reference for that kind whatever the other holds.
 * And the docker backend's fallback (agent/reload_fallback.c), which
 * reads what a front's `nginx -s reload`, `dovecot reload` and `ps`
 * wrote:
 *   - as a failed command's output through fallback_classify: a why only
 *     with its message's words on one line, never beside a config error;
 *   - as ps output, line by line through fallback_ps_row (the fields
 *     inside the line, the numbers as written) and whole through
 *     fallback_pick for each daemon: a pick is a row of that pid, run by
 *     root, classified as that daemon's master.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reload_fallback.h"
#include "sigreload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_classify(const char *cmd, size_t size)
{
	enum signal_target kind = SIGNAL__MAX;
	enum signal_role role = signal_classify(cmd, size, &kind);
	size_t a0 = strnlen(cmd, size);
	const char *base = memrchr(cmd, '/', a0);
	int nginx = a0 >= 7 && memcmp(cmd, "nginx: ", 7) == 0;
	int dchild = a0 > 8 && memcmp(cmd, "dovecot/", 8) == 0;

	base = base != NULL ? base + 1 : cmd;
	switch (role) {
	case SIGNAL_ROLE_OTHER:
		if (nginx || dchild || ((size_t)(cmd + a0 - base) == 7 &&
		    memcmp(base, "dovecot", 7) == 0 && !(a0 >= 8 &&
		    memcmp(cmd, "dovecot/", 8) == 0)))
			abort();
		break;
	case SIGNAL_ROLE_MASTER:
		if (kind == SIGNAL_NGINX && (a0 < 21 ||
		    memcmp(cmd, "nginx: master process", 21) != 0))
			abort();
		if (kind == SIGNAL_DOVECOT && ((size_t)(cmd + a0 - base) != 7 ||
		    memcmp(base, "dovecot", 7) != 0 || (a0 >= 8 &&
		    memcmp(cmd, "dovecot/", 8) == 0)))
			abort();
		if (kind != SIGNAL_NGINX && kind != SIGNAL_DOVECOT)
			abort();
		break;
	case SIGNAL_ROLE_WORKER:
		if (kind == SIGNAL_NGINX && (!nginx || (a0 >= 21 &&
		    memcmp(cmd, "nginx: master process", 21) == 0)))
			abort();
		if (kind == SIGNAL_DOVECOT && !dchild)
			abort();
		if (kind != SIGNAL_NGINX && kind != SIGNAL_DOVECOT)
			abort();
		break;
	default:
		abort();
	}
}

/* The decimal text of v must be at s (len bytes left), nothing longer. */
static size_t
expect_num(const char *s, size_t len, unsigned long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", v);

	if ((size_t)n > len || memcmp(s, num, (size_t)n) != 0 ||
	    ((size_t)n < len && isdigit((unsigned char)s[n])))
		abort();
	return (size_t)n;
}

static void
check_stat(const char *buf, size_t size)
{
	pid_t pid = -2, ppid = -2;
	size_t i, rp;

	if (signal_parse_stat(buf, size, &pid, &ppid) != 0) {
		if (pid != -2 || ppid != -2)
			abort();
		return;
	}
	if (pid <= 0 || ppid < 0)
		abort();
	i = expect_num(buf, size, (unsigned long long)pid);
	if (size - i < 2 || buf[i] != ' ' || buf[i + 1] != '(')
		abort();
	for (rp = size; rp > i + 2 && buf[rp - 1] != ')'; rp--)
		;
	if (rp == i + 2)
		abort();
	/* rp is just past the last ')': " S PPID " */
	if (size - rp < 4 || buf[rp] != ' ' || buf[rp + 2] != ' ')
		abort();
	i = rp + 3 + expect_num(buf + rp + 3, size - rp - 3,
	    (unsigned long long)ppid);
	if (i >= size || buf[i] != ' ')
		abort();
}

static void
check_status(const char *buf, size_t size)
{
	uid_t r = 7, e = 7;
	const char *line = NULL;
	size_t i, n;

	if (signal_parse_status_uid(buf, size, &r, &e) != 0) {
		if (r != 7 || e != 7)
			abort();
		return;
	}
	/* the first line starting "Uid:", and it is complete */
	for (i = 0; i < size; ) {
		const char *nl = memchr(buf + i, '\n', size - i);

		if (nl == NULL)
			abort();
		if ((size_t)(nl - buf) - i >= 4 && memcmp(buf + i, "Uid:", 4) == 0) {
			line = buf + i;
			break;
		}
		i = (size_t)(nl - buf) + 1;
	}
	if (line == NULL || r == (uid_t)-1 || e == (uid_t)-1)
		abort();
	for (n = 4; line[n] == '\t' || line[n] == ' '; n++)
		;
	if (n == 4)
		abort();
	n += expect_num(line + n, size - (size_t)(line - buf) - n, r);
	if (line[n] != '\t' && line[n] != ' ')
		abort();
	while (line[n] == '\t' || line[n] == ' ')
		n++;
	expect_num(line + n, size - (size_t)(line - buf) - n, e);
}

/* The rule, by index (pid = index + 1): 0 accepted, else the why's start. */
static const char *
ref_reject(const struct signal_proc *t, size_t n, size_t i)
{
	const struct signal_proc *c = &t[i];
	int parent_ok;

	if (c->ruid != 0 || c->euid != 0)
		return "not root (";
	parent_ok = c->pid == 1 || c->ppid <= 1 ||
	    ((size_t)c->ppid <= n && t[c->ppid - 1].ppid == 0);
	if (!parent_ok)
		return "parent ";
	for (size_t j = 0; j < n; j++)
		if (t[j].ppid == c->pid && t[j].role == SIGNAL_ROLE_WORKER &&
		    t[j].kind == c->kind)
			return NULL;
	return "no worker children";
}

static void
check_pick(const uint8_t *data, size_t size)
{
	static struct signal_proc t[4096 / 3 + 1];
	static struct signal_pick pk;
	size_t n = size / 3, accepted[SIGNAL__MAX] = { 0 }, rejected = 0, d = 0;
	pid_t first[SIGNAL__MAX] = { -1, -1 };
	char err[256];
	int rc, want_rc = 0;

	if (n > sizeof(t) / sizeof(t[0]))
		n = sizeof(t) / sizeof(t[0]);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = data + 3 * i;

		t[i].pid = (pid_t)(i + 1);
		t[i].ppid = b[0];
		t[i].ruid = b[1] & 1 ? 1000 : 0;
		t[i].euid = b[1] & 2 ? 101 : 0;
		t[i].role = (unsigned char)(b[2] % SIGNAL_ROLE__MAX);
		t[i].kind = (unsigned char)(b[2] / SIGNAL_ROLE__MAX % SIGNAL__MAX);
	}
	rc = signal_pick_masters(t, n, &pk, err, sizeof(err));
	for (size_t i = 0; i < n; i++) {
		const char *why;

		if (t[i].role != SIGNAL_ROLE_MASTER)
			continue;
		if ((why = ref_reject(t, n, i)) == NULL) {
			if (accepted[t[i].kind]++ == 0)
				first[t[i].kind] = t[i].pid;
			continue;
		}
		if (rejected++ >= SIGNAL_DECOYS_MAX)
			continue;
		/* the same decoys, in table order, for the same reason */
		if (d >= pk.ndecoys || pk.decoys[d].pid != t[i].pid ||
		    pk.decoys[d].kind != t[i].kind ||
		    strncmp(pk.decoys[d].why, why, strlen(why)) != 0)
			abort();
		for (const char *p = pk.decoys[d].why; *p != '\0'; p++)
			if (!isprint((unsigned char)*p))
				abort();
		d++;
	}
	if (d != pk.ndecoys || pk.omitted != (rejected > d ? rejected - d : 0))
		abort();
	for (int k = 0; k < SIGNAL__MAX; k++)
		if (accepted[k] != 1)
			want_rc = -1;
	if (rc != want_rc)
		abort();
	for (int k = 0; k < SIGNAL__MAX; k++)
		if (pk.pids[k] != (rc == 0 ? first[k] : -1))
			abort();
	if (rc != 0) {
		int k = accepted[SIGNAL_NGINX] != 1 ? SIGNAL_NGINX : SIGNAL_DOVECOT;

		if ((accepted[k] == 0) != (strncmp(err, "no ", 3) == 0) ||
		    strstr(err, signal_target_names[k]) == NULL)
			abort();
	}
	/* one kind alone: the other kind's state changes nothing */
	for (int k = 0; k < SIGNAL__MAX; k++) {
		rc = signal_pick_master(t, n, (enum signal_target)k, &pk, err, sizeof(err));
		if (rc != (accepted[k] == 1 ? 0 : -1) ||
		    pk.pids[k] != (rc == 0 ? first[k] : -1) ||
		    pk.pids[k == SIGNAL_NGINX ? SIGNAL_DOVECOT : SIGNAL_NGINX] != -1)
			abort();
		for (size_t i = 0; i < pk.ndecoys; i++)
			if (pk.decoys[i].kind != (enum signal_target)k)
				abort();
	}
}

static bool
has(const char *p, size_t len, const char *needle)
{
	return memmem(p, len, needle, strlen(needle)) != NULL;
}

/* Some line of buf holds both words. */
static bool
line_has_both(const char *buf, size_t size, const char *a, const char *b)
{
	const char *p = buf, *end = buf + size;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);

		if (has(p, l, a) && has(p, l, b))
			return true;
		p += l + 1;
	}
	return false;
}

static void
check_classify_output(const char *buf, size_t size)
{
	static const struct {
		const char *marker, *words;
	} want[FALLBACK__MAX] = {
		[FALLBACK_PID_FILE_MISSING] = { "[error]", "\" failed (2: " },
		[FALLBACK_PID_FILE_INVALID] = { "[error]", "invalid PID number \"" },
		[FALLBACK_PID_STALE] = { "[alert]", ") failed (3: " },
		[FALLBACK_MASTER_NOT_FOUND] = { "Fatal: ",
		    "Dovecot is not running (read from " },
		[FALLBACK_CONFIG_NOT_FOUND] = { "Error reading configuration: ",
		    ") failed: No such file or directory" },
	};

	for (int k = 0; k < SIGNAL__MAX; k++) {
		enum fallback_why why = fallback_classify((enum signal_target)k, buf, size);

		if (why == FALLBACK_NONE)
			continue;
		if (why >= FALLBACK__MAX ||
		    (k == SIGNAL_NGINX) != (why <= FALLBACK_PID_STALE))
			abort();
		/* its words on one line, and no config error anywhere */
		if ((!line_has_both(buf, size, want[why].marker, want[why].words) &&
		    !(why == FALLBACK_PID_FILE_MISSING && line_has_both(buf, size,
		    "[error]", "invalid PID number \"\" in \""))) ||
		    (k == SIGNAL_NGINX && has(buf, size, "[emerg]")) ||
		    (k == SIGNAL_DOVECOT && has(buf, size, "Error in configuration")))
			abort();
	}
	if (fallback_classify(SIGNAL__MAX, buf, size) != FALLBACK_NONE)
		abort();
}

static void
check_ps(const char *buf, size_t size)
{
	const char *p = buf, *end = buf + size;
	struct signal_pick pk;
	char err[256];
	long pid;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *user, *args;
		size_t l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p), ul, al;
		long a, b;

		for (int wu = 0; wu < 2; wu++) {
			if (fallback_ps_row(p, l, wu, &a, &b, &user, &ul, &args, &al) != 0)
				continue;
			if (a < 0 || b < 0 || a > 2147483647L || b > 2147483647L ||
			    al == 0 || args < p || args + al != p + l ||
			    (wu && (ul == 0 || user < p || user + ul > args)))
				abort();
			expect_num(p + strspn(p, " \t"), l - strspn(p, " \t"),
			    (unsigned long long)a);
		}
		p += l + 1;
	}
	for (int k = 0; k < SIGNAL__MAX; k++) {
		bool found = false;

		if (fallback_pick(buf, size, true, (enum signal_target)k, &pid, &pk,
		    err, sizeof(err)) == 0)
			abort();	/* a cut table is never picked from */
		if (fallback_pick(buf, size, false, (enum signal_target)k, &pid, &pk,
		    err, sizeof(err)) != 0)
			continue;
		/* a row of that pid, run by root, a master of this kind */
		for (p = buf; p < end && !found; ) {
			const char *eol = memchr(p, '\n', (size_t)(end - p)), *user, *args;
			size_t l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p), ul, al;
			long a, b;
			enum signal_target kind = SIGNAL__MAX;

			if (fallback_ps_row(p, l, true, &a, &b, &user, &ul, &args, &al) == 0 &&
			    a == pid && ((ul == 4 && memcmp(user, "root", 4) == 0) ||
			    (ul == 1 && user[0] == '0'))) {
				const char *sp = memchr(args, ' ', al);

				found = (signal_classify(args, al, &kind) == SIGNAL_ROLE_MASTER &&
				    kind == (enum signal_target)k) || (sp != NULL &&
				    signal_classify(args, (size_t)(sp - args), &kind) ==
				    SIGNAL_ROLE_MASTER && kind == (enum signal_target)k);
			}
			p += l + 1;
		}
		if (!found || pid <= 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	check_classify(buf, size);
	check_stat(buf, size);
	check_status(buf, size);
	check_classify_output(buf, size);
	check_ps(buf, size);
	free(buf);
	check_pick(data, size);
	return 0;
}

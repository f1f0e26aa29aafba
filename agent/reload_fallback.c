/*
 * reload_fallback: which default reload command failed for want of its
 * master, and that master found in ps's output (reload_fallback.h). The
 * nginx and dovecot lines matched here are their own messages: nginx's
 * ngx_signal_process() ("open() \"PIDFILE\" failed (2: ...)", "invalid PID
 * number", "kill(PID, 1) failed (3: ...)") and dovecot's CLI ("Dovecot is
 * not running (read from BASE_DIR/master.pid)" for a pid file missing or
 * stale, "Error reading configuration: stat(FILE) failed" for its own
 * config), as nginx 1.22 and dovecot 2.3 write them in the test front.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_session.h"
#include "reload_fallback.h"

const char *const fallback_why_names[FALLBACK__MAX] = {
	"none", "pid_file_missing", "pid_file_invalid", "pid_stale",
	"master_not_found", "config_not_found",
};

/* The last path element of s. */
static const char *
base_name(const char *s)
{
	const char *b = strrchr(s, '/');

	return b != NULL ? b + 1 : s;
}

int
fallback_service(char *const argv[], enum signal_target *svc)
{
	const char *prog;

	if (argv == NULL || argv[0] == NULL || argv[1] == NULL)
		return -1;
	prog = base_name(argv[0]);
	if (strcmp(prog, "nginx") == 0 && strcmp(argv[1], "-s") == 0 &&
	    argv[2] != NULL && strcmp(argv[2], "reload") == 0 && argv[3] == NULL) {
		*svc = SIGNAL_NGINX;
		return 0;
	}
	if ((strcmp(prog, "dovecot") == 0 || strcmp(prog, "doveadm") == 0) &&
	    strcmp(argv[1], "reload") == 0 && argv[2] == NULL) {
		*svc = SIGNAL_DOVECOT;
		return 0;
	}
	return -1;
}

/* Line [p, p + len) holds every one of the NULL-terminated needles. */
static bool
line_has(const char *p, size_t len, ...)
{
	const char *needle;
	bool all = true;
	va_list ap;

	va_start(ap, len);
	while (all && (needle = va_arg(ap, const char *)) != NULL)
		all = memmem(p, len, needle, strlen(needle)) != NULL;
	va_end(ap);
	return all;
}

/* What one line of svc's output says, FALLBACK__MAX for a config error. */
static enum fallback_why
classify_line(enum signal_target svc, const char *p, size_t l)
{
	if (svc == SIGNAL_NGINX) {
		if (line_has(p, l, "[emerg]", NULL))
			return FALLBACK__MAX;
		if (line_has(p, l, "[error]", "open() \"", "\" failed (2: ", NULL))
			return FALLBACK_PID_FILE_MISSING;
		/*
		 * Empty: `nginx -t` (before `nginx -s reload` in commands
		 * the admin set) creates a missing pid file, empty
		 * (ngx_init_cycle under -t), so a missing one reads as this.
		 */
		if (line_has(p, l, "[error]", "invalid PID number \"\" in \"", NULL))
			return FALLBACK_PID_FILE_MISSING;
		if (line_has(p, l, "[error]", "invalid PID number \"", NULL))
			return FALLBACK_PID_FILE_INVALID;
		if (line_has(p, l, "[alert]", "kill(", ") failed (3: ", NULL))
			return FALLBACK_PID_STALE;
		return FALLBACK_NONE;
	}
	/* a line of the config (a file it names, ssl_cert's among them) */
	if (line_has(p, l, "Error in configuration", NULL))
		return FALLBACK__MAX;
	if (line_has(p, l, "Fatal: ", "Dovecot is not running (read from ", NULL))
		return FALLBACK_MASTER_NOT_FOUND;
	/* the CLI's own config file is not there: "stat(PATH) failed: ..." */
	if (line_has(p, l, "Fatal: ", "Error reading configuration: ",
	    ") failed: No such file or directory", NULL))
		return FALLBACK_CONFIG_NOT_FOUND;
	return FALLBACK_NONE;
}

enum fallback_why
fallback_classify(enum signal_target svc, const char *out, size_t len)
{
	enum fallback_why why = FALLBACK_NONE, w;
	const char *p = out, *end = out + len;

	if (svc >= SIGNAL__MAX)
		return FALLBACK_NONE;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p);

		/* a config error stands, whatever else the output says */
		if ((w = classify_line(svc, p, l)) == FALLBACK__MAX)
			return FALLBACK_NONE;
		if (why == FALLBACK_NONE)
			why = w;
		p += l + 1;
	}
	return why;
}

/* Decimal digits as the kernel writes a pid: no sign, no leading zero. */
static const char *
ps_num(const char *p, const char *end, long *v)
{
	long long n = 0;
	const char *s = p;

	if (end - p >= 2 && p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return NULL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (p - s >= 10 || (n = n * 10 + (*p - '0')) > INT_MAX)
			return NULL;
	}
	if (p == s || (p < end && *p != ' ' && *p != '\t'))
		return NULL;
	*v = (long)n;
	return p;
}

static const char *
skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

int
fallback_ps_row(const char *line, size_t len, bool with_user, long *pid,
    long *ppid, const char **user, size_t *ulen, const char **args, size_t *alen)
{
	const char *p = line, *end = line + len, *u;

	p = skip_blanks(p, end);
	if ((p = ps_num(p, end, pid)) == NULL)
		return -1;
	p = skip_blanks(p, end);
	if ((p = ps_num(p, end, ppid)) == NULL)
		return -1;
	p = skip_blanks(p, end);
	*user = p;
	*ulen = 0;
	if (with_user) {
		for (u = p; p < end && *p != ' ' && *p != '\t'; p++)
			;
		*ulen = (size_t)(p - u);
		p = skip_blanks(p, end);
		if (*ulen == 0)
			return -1;
	}
	*args = p;
	*alen = (size_t)(end - p);
	return *alen > 0 ? 0 : -1;
}

/*
 * A ps row's role by sigreload's classification: the whole args first
 * (nginx's rewritten title "nginx: master process ..." holds spaces; a
 * dovecot child is "dovecot/imap-login"), then argv[0] alone (the dovecot
 * master keeps its argv: "/usr/sbin/dovecot -c /etc/dovecot/proxy.conf").
 * ps joins argv with spaces, so argv[0] is taken up to the first blank.
 */
static enum signal_role
ps_role(const char *args, size_t alen, enum signal_target *kind)
{
	enum signal_role role = signal_classify(args, alen, kind);
	const char *sp;

	if (role != SIGNAL_ROLE_OTHER)
		return role;
	sp = memchr(args, ' ', alen);
	return sp == NULL ? role : signal_classify(args, (size_t)(sp - args), kind);
}

/* Into t (FALLBACK_PS_MAX rows), the rows of ps. -1: more than that. */
static int
ps_table(const char *ps, size_t len, struct signal_proc *t, size_t *n)
{
	const char *p = ps, *end = ps + len;

	*n = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *user, *args;
		size_t l = eol != NULL ? (size_t)(eol - p) : (size_t)(end - p), ul, al;
		enum signal_target kind = SIGNAL_NGINX;
		long pid, ppid;

		if (fallback_ps_row(p, l, true, &pid, &ppid, &user, &ul, &args,
		    &al) == 0 && pid > 0) {
			if (*n == FALLBACK_PS_MAX)
				return -1;
			t[*n].pid = (pid_t)pid;
			t[*n].ppid = (pid_t)ppid;
			/* a name or a uid, as ps prints it: root is all the rule asks */
			t[*n].ruid = t[*n].euid = (ul == 4 &&
			    memcmp(user, "root", 4) == 0) || (ul == 1 && user[0] == '0') ?
			    0 : 65534;
			t[*n].role = (unsigned char)ps_role(args, al, &kind);
			t[*n].kind = (unsigned char)(t[*n].role == SIGNAL_ROLE_OTHER ?
			    0 : kind);
			(*n)++;
		}
		p += l + 1;
	}
	return 0;
}

int
fallback_pick(const char *ps, size_t len, bool cut, enum signal_target svc,
    long *pid, struct signal_pick *pick, char *err, size_t errlen)
{
	struct signal_proc *t;
	size_t n;
	int rc = -1;

	*pid = 0;
	memset(pick, 0, sizeof(*pick));
	if (cut) {
		snprintf(err, errlen, "ps output cut short: refusing to pick a "
		    "master from part of the processes");
		return -1;
	}
	if ((t = calloc(FALLBACK_PS_MAX, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (ps_table(ps, len, t, &n) != 0)
		snprintf(err, errlen, "more than %d processes in ps output: "
		    "refusing to pick a master from part of them", FALLBACK_PS_MAX);
	else if (signal_pick_master(t, n, svc, pick, err, errlen) == 0) {
		*pid = pick->pids[svc];
		rc = 0;
	}
	free(t);
	return rc;
}

/* One `ps -o pid,ppid,args` line: 0 with its pid, ppid and where args start. */
static int
ps_line(const char *p, size_t l, long *pid, long *ppid, size_t *off)
{
	int o = 0;

	if (sscanf(p, " %ld %ld %n", pid, ppid, &o) != 2 || o <= 0 || (size_t)o > l ||
	    *pid <= 1)
		return -1;
	*off = (size_t)o;
	return 0;
}

size_t
reload_hung_pids(const char *ps, const char *line, long pids[RELOAD_KILL_MAX_PIDS])
{
	static const char tail[] = " " DOCKER_SESSION_NAME;
	long shells[DOCKER_SESSIONS_MAX], pid, ppid;
	size_t n = 0, n_shells = 0, len = strlen(line), tl = strlen(tail), off;

	/* two passes: our session shells first, then the command's processes */
	for (int pass = 0; pass < 2; pass++) {
		for (const char *p = ps; *p != '\0' && n < RELOAD_KILL_MAX_PIDS; ) {
			const char *eol = strchr(p, '\n');
			size_t l = eol != NULL ? (size_t)(eol - p) : strlen(p);
			bool parent = false;

			if (ps_line(p, l, &pid, &ppid, &off) != 0)
				;	/* a head line, garbage, PID 1 */
			else if (pass == 0) {
				if (ppid == 0 && l - off > tl && memcmp(p + l - tl, tail, tl) == 0 &&
				    n_shells < DOCKER_SESSIONS_MAX)
					shells[n_shells++] = pid;
			} else {
				for (size_t i = 0; i < n_shells; i++)
					parent = parent || ppid == shells[i];
				if ((ppid == 0 || parent) && l - off == len &&
				    strncmp(p + off, line, len) == 0)
					pids[n++] = pid;
			}
			p += l + (eol != NULL);
		}
	}
	return n;
}

const struct docker_session_shortcut *
reload_shortcut(char *const argv[], bool defaults)
{
	static const struct docker_session_shortcut dovecot = {
		"b=$(doveconf -h base_dir 2>/dev/null)",
		"p= c=; [ -n \"$b\" ] && read -r p <\"$b/master.pid\" && [ -n \"$p\" ] && "
		"read -r c <\"/proc/$p/comm\" && [ \"$c\" = dovecot ] && kill -HUP \"$p\"",
	};
	enum signal_target svc;

	return defaults && fallback_service(argv, &svc) == 0 && svc == SIGNAL_DOVECOT ?
	    &dovecot : NULL;
}

/*
 * reload_docker: the docker backend. The AGENT_RELOAD_COMMANDS commands
 * in every running front container, through the Engine API, in stages
 * (reload_plan): the admin's own, one at a time in order; the default
 * ones, nginx's and dovecot's side by side. The first that fails stops.
 * Commands are split on spaces and run as argv, so nothing in a setting
 * is ever evaluated: in a new exec as they are, in a session shell
 * (docker_session.h) with every word single-quoted.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "probe.h"
#include "reload_docker.h"
#include "reload_fallback.h"
#include "testhook.h"

/* ps and kill, run to stop a hung reload command, are bounded by this. */
#define KILL_EXEC_TIMEOUT_MS 10000L
/* The thread of a command run beside another: libcurl, jansson, the fallback's ps table. */
#define STEP_STACK (1024 * 1024)
#define LOG_SCAN_MAX (1024 * 1024)
#define LOG_ERRORS_MAX 10

#define DEFAULT_FRONT "label:com.docker.compose.service=front"

int
reload_parse_commands(const char *s, char *buf, size_t buflen,
    char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], size_t *n)
{
	char *cmd, *save = NULL;

	*n = 0;
	if (snprintf(buf, buflen, "%s", s) >= (int)buflen)
		return -1;
	for (cmd = strtok_r(buf, ";", &save); cmd != NULL;
	    cmd = strtok_r(NULL, ";", &save)) {
		char *arg, *save2 = NULL;
		size_t argc = 0;

		if (*n >= RELOAD_MAX_COMMANDS)	/* before writing argv[*n] */
			return strspn(cmd, " \t") == strlen(cmd) ? 0 : -1;
		for (arg = strtok_r(cmd, " \t", &save2); arg != NULL;
		    arg = strtok_r(NULL, " \t", &save2)) {
			if (argc >= RELOAD_MAX_ARGS)
				return -1;
			argv[*n][argc++] = arg;
		}
		if (argc == 0)
			continue;
		argv[*n][argc] = NULL;
		(*n)++;
	}
	return *n > 0 ? 0 : -1;
}

int
reload_command_service(char *const argv[])
{
	const char *prog = strrchr(argv[0], '/');

	prog = prog != NULL ? prog + 1 : argv[0];
	if (strcmp(prog, "nginx") == 0)
		return SERVICE_NGINX;
	if (strcmp(prog, "dovecot") == 0 || strcmp(prog, "doveadm") == 0)
		return SERVICE_DOVECOT;
	return -1;
}

void
reload_plan_make(char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], size_t n,
    bool by_daemon, struct reload_plan *p)
{
	int svc[RELOAD_MAX_COMMANDS];
	size_t depth[SERVICE__MAX] = { 0 };

	memset(p, 0, sizeof(*p));
	for (size_t c = 0; c < n && c < RELOAD_MAX_COMMANDS; c++) {
		p->opens[c] = -1;
		if ((svc[c] = reload_command_service(argv[c])) < 0)
			by_daemon = false;	/* a command of no daemon: all in order */
	}
	for (size_t c = 0; c < n && c < RELOAD_MAX_COMMANDS; c++) {
		/* in order: stage c; by daemon: the daemon's k-th command in stage k */
		size_t k = by_daemon ? depth[svc[c]]++ : c;

		p->stage[k].cmd[p->stage[k].n++] = c;
		if (k + 1 > p->n)
			p->n = k + 1;
	}
	/* by daemon, a daemon's last command reloads it */
	for (size_t c = 0; by_daemon && c < n; c++) {
		bool last = true;

		for (size_t l = c + 1; l < n; l++)
			last = last && svc[l] != svc[c];
		if (last)
			p->opens[c] = svc[c];
	}
}

static void
docker_failure_event(const char *event, const struct docker_status *st,
    const char *what)
{
	log_event(LOG_LEVEL_ERROR, event,
	    json_pack("{s:s, s:I, s:s, s:s}", "error",
	    docker_error_names[st->error], "http_status", (json_int_t)st->http_status,
	    "endpoint", st->endpoint, "detail", st->detail),
	    "%s: %s %s (%s)", what, docker_error_names[st->error], st->endpoint,
	    st->detail);
}

/*
 * The compose project AGENT_FRONT is looked up in: our own, while
 * AGENT_FRONT is the default (a second Mailu on the host is not ours);
 * NULL (any project) for a front the admin named.
 */
static const char *
front_scope(const struct config *cfg, const char *project)
{
	return project != NULL && project[0] != '\0' &&
	    strcmp(cfg->front, DEFAULT_FRONT) == 0 ? project : NULL;
}

/*
 * The agent's own container, or NULL when it runs in none (a host
 * process). Looked up until the engine answers: an engine that was down
 * at the first look must not leave the agent without its networks.
 */
static const struct docker_container *
own_container(struct reloader *r)
{
	struct docker_status st;

	if (!r->self_known) {
		if (docker_self(r->docker, &r->self, &st) != 0)
			memset(&r->self, 0, sizeof(r->self));
		r->self_known = st.error == DOCKER_OK ||
		    st.error == DOCKER_ERR_NOT_FOUND || st.error == DOCKER_ERR_DENIED;
	}
	return r->self.id[0] != '\0' ? &r->self : NULL;
}

/* The agent's own compose project, "" when none. */
static const char *
own_project(struct reloader *r)
{
	const struct docker_container *self = own_container(r);

	return self != NULL ? self->project : "";
}

/*
 * The address to probe front on: on a network the agent's container
 * shares with it (docker_reach). No shared network is worth a warning
 * naming the one used instead: the probes may not reach it.
 */
static const char *
front_address(struct reloader *r, const struct docker_container *front)
{
	const char *network, *address;
	enum docker_reach how = docker_reach(front, own_container(r), &network,
	    &address);

	if (how == DOCKER_REACH_UNSHARED)
		log_event(LOG_LEVEL_WARN, "front.network",
		    json_pack("{s:s, s:s, s:s, s:s}", "container", front->name,
		    "network", network, "address", address, "reason",
		    front->host_network ? "front_on_host_network" :
		    "no_shared_network"),
		    "front %s shares no network with the agent's container: probing "
		    "%s on %s, which may not reach it", front->name, address,
		    network[0] != '\0' ? network : "its first network");
	return how == DOCKER_REACH_NONE ? "" : address;
}

/*
 * The running fronts (AGENT_FRONT, limited to the agent's own compose
 * project when it runs in one and AGENT_FRONT is the default) and the
 * endpoints (AGENT_ENDPOINTS, else Mailu's TLS ports on each front's
 * address). Emits front.* events.
 */
static enum reload_fault
docker_targets(struct reloader *r, struct targets *t)
{
	const struct config *cfg = r->cfg;
	struct docker *d = r->docker;
	struct docker_container *all = NULL;
	struct docker_status st;
	size_t n = 0;
	const char *scope = front_scope(cfg, own_project(r));

	memset(t, 0, sizeof(*t));
	if (docker_find(d, cfg->front, scope, &all, &n, &st) != 0) {
		docker_failure_event("front.lookup_failed", &st, "finding the front");
		return RELOAD_UNAVAILABLE;
	}
	t->fronts = calloc(n > 0 ? n : 1, sizeof(*t->fronts));
	if (t->fronts == NULL) {
		free(all);
		return RELOAD_UNAVAILABLE;
	}
	for (size_t i = 0; i < n; i++) {
		if (!all[i].running) {
			log_event(LOG_LEVEL_WARN, "front.skipped",
			    json_pack("{s:s, s:s}", "container", all[i].name, "reason",
			    "not running"), "front %s is not running: skipped",
			    all[i].name);
			continue;
		}
		t->fronts[t->n_fronts++] = all[i];
	}
	free(all);
	if (t->n_fronts == 0) {
		log_event(LOG_LEVEL_ERROR, "front.none",
		    json_pack("{s:s, s:s}", "front", cfg->front, "project",
		    scope != NULL ? scope : ""),
		    "no running front container matches %s", cfg->front);
		return RELOAD_UNAVAILABLE;
	}
	if (cfg->endpoints != NULL) {
		t->n_eps = reload_static_endpoints(cfg, NULL, &t->eps);
		return t->n_eps > 0 ? RELOAD_OK : RELOAD_UNAVAILABLE;
	}
	/* Mailu's ports on every front's own address */
	t->eps = calloc(t->n_fronts * PROTO__MAX, sizeof(*t->eps));
	if (t->eps == NULL)
		return RELOAD_UNAVAILABLE;
	for (size_t i = 0; i < t->n_fronts; i++) {
		const char *address = front_address(r, &t->fronts[i]);

		if (address[0] == '\0') {
			log_event(LOG_LEVEL_WARN, "front.no_address",
			    json_pack("{s:s}", "container", t->fronts[i].name),
			    "front %s has no address to probe", t->fronts[i].name);
			continue;
		}
		t->n_eps += reload_mailu_endpoints(cfg, address, t->eps + t->n_eps);
	}
	return RELOAD_OK;
}

/* ps and kill in the front: bounded tighter than a reload command. */
static long
aux_timeout(const struct config *cfg)
{
	return cfg->reload_timeout_ms < KILL_EXEC_TIMEOUT_MS ? cfg->reload_timeout_ms :
	    KILL_EXEC_TIMEOUT_MS;
}

static void
join_argv(char *const argv[], char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; argv[i] != NULL && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s",
		    i > 0 ? " " : "", argv[i]);
}

/*
 * ps -o FORMAT [-e] in the front, into res: 0 when it ran and exited 0.
 * ps and kill are in Mailu's Alpine front (busybox) and in Debian's
 * procps. every: -e, for procps to list other users' processes too (the
 * workers; busybox lists all and takes -e as a no-op).
 */
static int
front_ps(struct docker *d, const struct config *cfg,
    const struct docker_container *front, bool every, const char *format,
    struct docker_exec_result *res)
{
	char ps0[] = "ps", o[] = "-o", fmt[32], e[] = "-e";
	char *argv[] = { ps0, o, fmt, every ? e : NULL, NULL };
	struct docker_status st;

	snprintf(fmt, sizeof(fmt), "%s", format);
	return docker_exec(d, front->id, argv, aux_timeout(cfg), res, &st) == 0 &&
	    res->exit_code == 0 ? 0 : -1;
}

/* kill -SIG PID... (RELOAD_KILL_MAX_PIDS at most) in the front: 0 when it exited 0. */
static int
front_kill(struct docker *d, const struct config *cfg,
    const struct docker_container *front, const char *sig, const long *pids,
    size_t n, struct docker_exec_result *res)
{
	char k0[] = "kill", k1[16], num[RELOAD_KILL_MAX_PIDS][24];
	char *argv[RELOAD_KILL_MAX_PIDS + 3] = { k0, k1 };
	struct docker_status st;

	snprintf(k1, sizeof(k1), "%s", sig);
	for (size_t i = 0; i < n && i < RELOAD_KILL_MAX_PIDS; i++) {
		snprintf(num[i], sizeof(num[i]), "%ld", pids[i]);
		argv[2 + i] = num[i];
	}
	return docker_exec(d, front->id, argv, aux_timeout(cfg), res, &st) == 0 &&
	    res->exit_code == 0 ? 0 : -1;
}

/*
 * A command that outlived AGENT_RELOAD_TIMEOUT still runs in the front:
 * the Engine API cannot stop an exec. Look for it from inside the front
 * (ps) and kill it (kill -KILL). Fills ev with what happened (killed:
 * found and killed; still_running: the engine's word after that); returns
 * true when the exec no longer runs.
 */
static bool
kill_hung(struct docker *d, const struct config *cfg,
    const struct docker_container *front, const char *line,
    const struct docker_exec_result *hung, json_t *ev)
{
	long pids[RELOAD_KILL_MAX_PIDS];
	struct timespec nap = { 0, 200 * 1000000L };
	struct docker_exec_result *r = malloc(sizeof(*r));
	struct docker_status st;
	json_t *killed = json_array();
	const char *why = NULL;
	bool running = true;
	long pid;
	size_t n = 0;

	if (r == NULL || killed == NULL) {
		why = "out of memory";
		goto out;
	}
	if (front_ps(d, cfg, front, false, "pid,ppid,args", r) != 0) {
		why = "ps failed in the front";
		goto out;
	}
	if ((n = reload_hung_pids(r->output, line, pids)) == 0) {
		why = "not found by ps in the front";
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(killed, json_integer(pids[i]));
	if (front_kill(d, cfg, front, "-KILL", pids, n, r) != 0)
		why = "kill failed in the front";
out:
	/* the engine's word, not kill's exit code, says whether it is gone */
	for (int i = 0; i < 10 && running && hung->exec_id[0] != '\0'; i++) {
		if (docker_exec_state(d, hung->exec_id, &running, &pid, &st) != 0)
			break;
		if (running && nanosleep(&nap, NULL) != 0)
			break;
	}
	json_object_set_new(ev, "killed", json_boolean(why == NULL && !running));
	json_object_set_new(ev, "still_running", json_boolean(running));
	json_object_set_new(ev, "killed_pids", killed != NULL ? killed : json_array());
	if (why != NULL || running)
		json_object_set_new(ev, "kill_detail", json_string(why != NULL ? why :
		    "still running after kill"));
	free(r);
	return !running;
}

/* reload.timeout: which command hung, where, and whether it is gone now. */
static void
timed_out(struct docker *d, const struct config *cfg,
    const struct docker_container *front, const char *line,
    const struct docker_exec_result *hung)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:n, s:s, s:I, s:s, s:I}",
	    "container", front->name, "container_id", front->id, "command", line,
	    "exit_code", "error", "timeout", "timeout_ms",
	    (json_int_t)cfg->reload_timeout_ms, "exec_id", hung->exec_id, "pid",
	    (json_int_t)hung->pid);
	bool gone = kill_hung(d, cfg, front, line, hung, ev);

	log_event(LOG_LEVEL_ERROR, "reload.timeout", ev,
	    "%s: '%s' still ran after %ld ms: %s", front->name, line,
	    cfg->reload_timeout_ms, gone ? "it no longer runs" :
	    "it could not be stopped and may still run in the front");
}

/*
 * A command failed: was it the front restarting under us (gone, stopped
 * or started again since the reload began; a front we reloaded that is
 * not running now)? Then it is not the pair's fault: the restarted front
 * reads the pair on disk by itself, and the cycle is retried like an
 * engine fault. A container that was already stopped before (a leftover
 * matching AGENT_FRONT) does not count.
 */
static bool
front_restarted(struct docker *d, const struct docker_container *front,
    time_t since, bool reloaded)
{
	struct docker_container *c = NULL;
	struct docker_status st;
	size_t n = 0;
	bool yes;

	if (docker_find(d, front->id, NULL, &c, &n, &st) != 0)
		yes = st.error == DOCKER_ERR_NOT_FOUND;
	else
		yes = n != 1 || (reloaded && !c->running) || c->started >= since ||
		    c->finished >= since;
	if (yes)
		log_event(LOG_LEVEL_WARN, "front.restarted",
		    json_pack("{s:s, s:s, s:b, s:I}", "container", front->name,
		    "container_id", front->id, "running", n == 1 && c->running,
		    "started", (json_int_t)(n == 1 ? c->started : 0)),
		    "front %s restarted or stopped during the reload: trying again "
		    "later", front->name);
	free(c);
	return yes;
}

static bool
docker_restarted(struct reloader *r, time_t since)
{
	const struct config *cfg = r->cfg;
	struct docker *d = r->docker;
	const char *project = own_project(r);
	struct docker_container *all = NULL;
	struct docker_status st;
	size_t n = 0;
	bool yes = false;

	if (docker_find(d, cfg->front, front_scope(cfg, project), &all, &n, &st) != 0)
		return false;
	for (size_t i = 0; i < n && !yes; i++)
		yes = front_restarted(d, &all[i], since, false);
	free(all);
	return yes;
}

/*
 * One of the agent's own default commands failed for want of its
 * daemon's master where the command looks (reload_fallback.h): find the
 * master with ps in the front, by sigreload's rule, and send it SIGHUP
 * there. Never for a command the admin set. true when the master was
 * signalled: the command is done another way (reload.fallback); false
 * leaves the failure as it was (reload.fallback_failed once tried).
 */
static bool
fallback(struct reloader *r, struct docker *d, const struct docker_container *front,
    char *const argv[], const char *line, const struct docker_exec_result *failed)
{
	struct docker_exec_result *res = NULL;
	struct signal_pick pick;
	enum signal_target svc;
	enum fallback_why why;
	json_t *ev;
	char err[160] = "";
	long pid = 0;
	bool done = false;

	if (!config_reload_commands_default(r->cfg) || fallback_service(argv, &svc) != 0 ||
	    (why = fallback_classify(svc, failed->output, strlen(failed->output))) ==
	    FALLBACK_NONE)
		return false;
	memset(&pick, 0, sizeof(pick));
	if ((res = malloc(sizeof(*res))) == NULL)
		snprintf(err, sizeof(err), "out of memory");
	else if (front_ps(d, r->cfg, front, true, "pid,ppid,user,args", res) != 0)
		snprintf(err, sizeof(err), "ps failed in the front");
	/* the output kept is cut past DOCKER_EXEC_KEEP: a partial table is refused */
	else if (fallback_pick(res->output, strlen(res->output),
	    res->output_total > DOCKER_EXEC_KEEP, svc, &pid, &pick, err,
	    sizeof(err)) == 0) {
		if (front_kill(d, r->cfg, front, "-HUP", &pid, 1, res) == 0)
			done = true;
		else
			snprintf(err, sizeof(err), "kill -HUP %ld failed in the front",
			    pid);
	}
	signal_log_decoys(&pick, front->name);
	ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "container", front->name,
	    "container_id", front->id, "service", signal_target_names[svc],
	    "failed_command", line, "why", fallback_why_names[why], "way", "sighup",
	    "pid", (json_int_t)pid);
	if (done)
		log_event(LOG_LEVEL_WARN, "reload.fallback", ev,
		    "%s: '%s' failed (%s): SIGHUP sent to the %s master, pid %ld, "
		    "instead", front->name, line, fallback_why_names[why],
		    signal_target_names[svc], pid);
	else {
		if (ev != NULL)
			json_object_set_new(ev, "error", json_string(err));
		log_event(LOG_LEVEL_ERROR, "reload.fallback_failed", ev,
		    "%s: '%s' failed (%s), and so did its SIGHUP: %s", front->name,
		    line, fallback_why_names[why], err);
	}
	free(res);
	return done;
}

/* One command in one front, through one client (each thread its own). */
struct step {
	struct reloader *r;
	struct docker *d;
	const struct docker_container *front;
	char **argv;
	int opens;			/* the daemon it reloads in every front, or -1 */
	time_t started;			/* when the reload began */
	enum reload_fault rc;
};

/*
 * Runs one command: reload.exec (or reload.exec_failed, reload.timeout),
 * a front that restarted meanwhile, the fallback for a default command
 * whose daemon's master was not where it looked. Sets s->rc; tells the
 * caller's reloaded() when this command completed its daemon's reload.
 */
static void *
step_run(void *arg)
{
	struct step *s = arg;
	const struct config *cfg = s->r->cfg;
	struct docker_exec_result *res = malloc(sizeof(*res));
	struct docker_status st;
	char line[256];

	s->rc = RELOAD_UNAVAILABLE;
	if (res == NULL)
		return NULL;
	join_argv(s->argv, line, sizeof(line));
	if (docker_sessions_exec(s->r->sessions, s->d, s->front->id, s->argv,
	    reload_shortcut(s->argv, config_reload_commands_default(cfg)),
	    cfg->reload_timeout_ms, res, &st) != 0) {
		/* started, then hung: say so, and stop it if we can */
		if (res->hung) {
			timed_out(s->d, cfg, s->front, line, res);
			metrics_count_reload_exec(s->front->name, line, "timeout");
			goto out;
		}
		docker_failure_event("reload.exec_failed", &st, line);
		metrics_count_reload_exec(s->front->name, line, "error");
		/* 403 from a socket proxy: our setup, not the engine's health */
		if (st.error == DOCKER_ERR_DENIED)
			s->rc = RELOAD_FAILED;
		if (st.error == DOCKER_ERR_NOT_RUNNING)
			front_restarted(s->d, s->front, s->started, true);
		goto out;
	}
	log_event(res->exit_code == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR, "reload.exec",
	    json_pack("{s:s, s:s, s:s, s:i, s:s, s:I}", "container", s->front->name,
	    "container_id", s->front->id, "command", line, "exit_code", res->exit_code,
	    "output", res->output, "ms", (json_int_t)res->ms),
	    "%s: '%s' exited %d", s->front->name, line, res->exit_code);
	metrics_count_reload_exec(s->front->name, line,
	    res->exit_code == 0 ? "ok" : "failed");
	if (res->exit_code != 0) {
		if (front_restarted(s->d, s->front, s->started, true))
			goto out;
		if (!fallback(s->r, s->d, s->front, s->argv, line, res)) {
			s->rc = RELOAD_FAILED;
			goto out;
		}
	}
	s->rc = RELOAD_OK;
	if (s->opens >= 0 && s->r->reloaded != NULL)
		s->r->reloaded(s->r->reloaded_arg, (enum service)s->opens);
out:
	free(res);
	return NULL;
}

/* The second client, for a command run beside another; NULL when it cannot be had. */
static struct docker *
aside(struct reloader *r)
{
	if (r->docker_aside == NULL)
		r->docker_aside = docker_open(r->cfg->docker_host, 10000);
	return r->docker_aside;
}

/*
 * One stage of the plan in one front: its commands at once, each on its
 * own client and each waited for (one after the other, stopping at the
 * first failure, when no second client or thread can be had). The first
 * failing command, in AGENT_RELOAD_COMMANDS' order, is the stage's.
 */
static enum reload_fault
stage_run(struct reloader *r, const struct docker_container *front,
    const struct reload_plan *p, size_t k,
    char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], bool last, time_t started)
{
	struct step steps[SERVICE__MAX];
	size_t m = p->stage[k].n;
	pthread_attr_t attr;
	pthread_t tid;
	bool beside = false;

	for (size_t i = 0; i < m; i++) {
		size_t c = p->stage[k].cmd[i];

		TEST_PAUSEF("cycle.reload_before.%zu", c + 1);
		steps[i] = (struct step){ r, r->docker, front, argv[c],
		    last ? p->opens[c] : -1, started, RELOAD_UNAVAILABLE };
	}
	if (m > 1 && aside(r) != NULL && pthread_attr_init(&attr) == 0) {
		pthread_attr_setstacksize(&attr, STEP_STACK);
		steps[1].d = r->docker_aside;
		beside = pthread_create(&tid, &attr, step_run, &steps[1]) == 0;
		pthread_attr_destroy(&attr);
		if (!beside)
			steps[1].d = r->docker;
	}
	step_run(&steps[0]);
	if (beside)
		pthread_join(tid, NULL);
	for (size_t i = 0; i < m; i++) {
		if (i > 0 && !beside)
			step_run(&steps[i]);
		if (steps[i].rc != RELOAD_OK)
			return steps[i].rc;
	}
	return RELOAD_OK;
}

static enum reload_fault
docker_reload(struct reloader *r, const struct targets *t, time_t *started)
{
	const struct config *cfg = r->cfg;
	char buf[1024];
	char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1];
	struct reload_plan plan;
	size_t ncmd = 0;
	enum reload_fault rc;

	*started = time(NULL);
	if (reload_parse_commands(cfg->reload_commands, buf, sizeof(buf), argv,
	    &ncmd) != 0) {
		log_event(LOG_LEVEL_ERROR, "reload.failed",
		    json_pack("{s:s}", "reason", "bad AGENT_RELOAD_COMMANDS"),
		    "AGENT_RELOAD_COMMANDS cannot be parsed");
		return RELOAD_FAILED;
	}
	/* the admin's own commands: strictly in order, whatever they are */
	reload_plan_make(argv, ncmd, config_reload_commands_default(cfg), &plan);
	for (size_t f = 0; f < t->n_fronts; f++) {
		for (size_t k = 0; k < plan.n; k++) {
			if ((rc = stage_run(r, &t->fronts[f], &plan, k, argv,
			    f + 1 == t->n_fronts, *started)) != RELOAD_OK)
				return rc;
			TEST_PAUSE("cycle.reloading");
		}
	}
	return RELOAD_OK;
}

struct scan {
	json_t *lines;
	const char *front;
};

static void
scan_line(void *arg, int stream, const char *line, size_t len)
{
	struct scan *sc = arg;

	(void)stream;
	if (json_array_size(sc->lines) >= LOG_ERRORS_MAX || !reload_is_tls_error(line, len))
		return;
	/* docker_logs_since hands out printable lines already: only bound them */
	json_array_append_new(sc->lines, json_pack("{s:s, s:s%}", "container",
	    sc->front, "line", line, len < 300 ? len : (size_t)300));
}

static json_t *
docker_log_errors(struct reloader *r, const struct targets *t, time_t since)
{
	struct docker *d = r->docker;
	json_t *lines = json_array();

	for (size_t f = 0; d != NULL && f < t->n_fronts; f++) {
		struct scan sc = { lines, t->fronts[f].name };
		struct docker_status st;

		if (docker_logs_since(d, t->fronts[f].id, since, LOG_SCAN_MAX,
		    scan_line, &sc, &st) != 0)
			docker_failure_event("front.logs_failed", &st, "reading logs");
	}
	return lines;
}

/* Every front's watcher, as the engine lists their processes (no exec). */
static enum proc_watch
docker_watch(struct reloader *r, const struct targets *t, const char *needle)
{
	enum proc_watch all = t->n_fronts > 0 ? PROC_WATCH_IDLE : PROC_WATCH_NONE;

	for (size_t f = 0; all != PROC_WATCH_NONE && f < t->n_fronts; f++) {
		struct docker_status st;
		enum proc_watch one;

		if (docker_top_watch(r->docker, t->fronts[f].id, needle, &one, &st) != 0) {
			/* a socket proxy may deny it: reload as if there were none */
			docker_failure_event("front.top_failed", &st, "listing processes");
			return PROC_WATCH_NONE;
		}
		all = proc_watch_join(all, one);
	}
	return all;
}

/* check without the engine when AGENT_ENDPOINTS names what to probe */
static enum reload_fault
docker_endpoints(struct reloader *r, struct targets *t)
{
	if (r->cfg->endpoints == NULL)
		return docker_targets(r, t);
	memset(t, 0, sizeof(*t));
	t->n_eps = reload_static_endpoints(r->cfg, NULL, &t->eps);
	return t->n_eps > 0 ? RELOAD_OK : RELOAD_UNAVAILABLE;
}

static void
docker_close_backend(struct reloader *r)
{
	docker_close(&r->docker);
	docker_close(&r->docker_aside);
}

/*
 * Each command's session shell opened in each running front, so the first
 * reload is as quick as the next. Quiet: the start-up's lookup spoke.
 */
static void
docker_warm(struct reloader *r)
{
	char buf[1024];
	char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1];
	struct docker_container *all = NULL;
	struct docker_status st;
	size_t n = 0, ncmd = 0;

	if (r->sessions != NULL && reload_parse_commands(r->cfg->reload_commands, buf,
	    sizeof(buf), argv, &ncmd) == 0 && docker_find(r->docker, r->cfg->front,
	    front_scope(r->cfg, own_project(r)), &all, &n, &st) == 0)
		for (size_t f = 0; f < n; f++)
			for (size_t c = 0; c < ncmd && all[f].running; c++)
				docker_sessions_open(r->sessions, r->docker, all[f].id,
				    argv[c], reload_shortcut(argv[c],
				    config_reload_commands_default(r->cfg)), aux_timeout(r->cfg));
	free(all);
}

static const struct reload_ops docker_ops = {
	.find = docker_targets,
	.endpoints = docker_endpoints,
	.reload = docker_reload,
	.restarted = docker_restarted,
	.log_errors = docker_log_errors,
	.watch = docker_watch,
	.warm = docker_warm,
	.close = docker_close_backend,
};

int
reload_docker_open(struct reloader *r, char *err, size_t errlen)
{
	char *argv[RELOAD_MAX_COMMANDS][RELOAD_MAX_ARGS + 1], buf[1024];
	size_t ncmd;

	if (reload_parse_commands(r->cfg->reload_commands, buf, sizeof(buf),
	    argv, &ncmd) != 0) {
		snprintf(err, errlen, "AGENT_RELOAD_COMMANDS: 1 to %d commands "
		    "of at most %d words", RELOAD_MAX_COMMANDS, RELOAD_MAX_ARGS);
		return -1;
	}
	if ((r->docker = docker_open(r->cfg->docker_host, 10000)) == NULL) {
		snprintf(err, errlen, "DOCKER_HOST: cannot set up a client");
		return -1;
	}
	r->ops = &docker_ops;
	return 0;
}

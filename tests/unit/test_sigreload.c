/*
 * The signal backend: classifying command lines, parsing /proc/PID/stat
 * and status, the pure pick of the masters from hand-built process
 * tables (Mailu under docker and Kubernetes, our test front, decoys), and
 * the scan of a fake /proc tree and of the real one.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "sigreload.h"

static enum signal_role
cls(const char *s, size_t len, int *kind)
{
	enum signal_target k = SIGNAL__MAX;
	enum signal_role r = signal_classify(s, len, &k);

	*kind = r == SIGNAL_ROLE_OTHER ? -1 : (int)k;
	return r;
}

#define C(lit, role, kind) do { \
	int k_; \
	CHECK_INT(cls(lit, sizeof(lit) - 1, &k_), role); \
	CHECK_INT(k_, kind); \
} while (0)

TEST(classify)
{
	int k;

	C("nginx: master process /usr/sbin/nginx -g daemon off;", SIGNAL_ROLE_MASTER,
	    SIGNAL_NGINX);
	C("nginx: worker process", SIGNAL_ROLE_WORKER, SIGNAL_NGINX);
	C("nginx: worker process is shutting down", SIGNAL_ROLE_WORKER, SIGNAL_NGINX);
	C("nginx: cache manager process", SIGNAL_ROLE_WORKER, SIGNAL_NGINX);
	C("/usr/sbin/dovecot\0-F\0", SIGNAL_ROLE_MASTER, SIGNAL_DOVECOT);
	C("dovecot\0-c\0/etc/dovecot/proxy.conf\0", SIGNAL_ROLE_MASTER, SIGNAL_DOVECOT);
	C("dovecot/imap-login", SIGNAL_ROLE_WORKER, SIGNAL_DOVECOT);
	C("dovecot/anvil [0 connections]", SIGNAL_ROLE_WORKER, SIGNAL_DOVECOT);
	C("dovecot/log\0\0\0", SIGNAL_ROLE_WORKER, SIGNAL_DOVECOT);
	C("dovecot/", SIGNAL_ROLE_OTHER, -1);
	C("vim\0/etc/nginx/nginx.conf\0", SIGNAL_ROLE_OTHER, -1);
	C("/usr/bin/dovecotx", SIGNAL_ROLE_OTHER, -1);
	C("/usr/sbin/nginx\0-t\0", SIGNAL_ROLE_OTHER, -1);
	C("nginx:", SIGNAL_ROLE_OTHER, -1);
	/* argv[0] only: a later argument names nothing */
	C("sleep\0nginx: master process\0", SIGNAL_ROLE_OTHER, -1);
	C("python3\0/start.py\0", SIGNAL_ROLE_OTHER, -1);
	CHECK_INT(cls("", 0, &k), SIGNAL_ROLE_OTHER);
	/* no NUL within len: nothing past it is read (ASan has the buffer) */
	{
		char *b = malloc(7);

		memcpy(b, "dovecot", 7);
		CHECK_INT(cls(b, 7, &k), SIGNAL_ROLE_MASTER);
		CHECK_INT(cls(b, 3, &k), SIGNAL_ROLE_OTHER);
		free(b);
	}
}

static int
stat_of(const char *s, pid_t *pid, pid_t *ppid)
{
	*pid = *ppid = -7;
	return signal_parse_stat(s, strlen(s), pid, ppid);
}

TEST(parse_stat)
{
	pid_t pid, ppid;

	CHECK_INT(stat_of("20 (nginx) S 1 20 20 0 -1 4194624 355 0 0 0", &pid, &ppid), 0);
	CHECK_INT(pid, 20);
	CHECK_INT(ppid, 1);
	/* a container init under Kubernetes: PPID 0 */
	CHECK_INT(stat_of("7 (start.py) S 0 7 7 0 -1 4194560 0\n", &pid, &ppid), 0);
	CHECK_INT(ppid, 0);
	/* comm is the process's to choose: the fields start after the LAST ')' */
	CHECK_INT(stat_of("77 () 1 2 () S 5 77 77 0 -1\n", &pid, &ppid), 0);
	CHECK_INT(pid, 77);
	CHECK_INT(ppid, 5);
	CHECK_INT(stat_of("78 (a b) R 0 ) S 1 ) S 99 1 1 0\n", &pid, &ppid), 0);
	CHECK_INT(ppid, 99);
	CHECK_INT(stat_of("79 ((() Z 2147483647 0 0\n", &pid, &ppid), 0);
	CHECK_INT(ppid, 2147483647);

	CHECK_INT(stat_of("", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (nginx S 1 20", &pid, &ppid), -1);	/* no ')' */
	CHECK_INT(stat_of("20 nginx) S 1 20", &pid, &ppid), -1);	/* no '(' */
	CHECK_INT(stat_of("(nginx) S 1 20", &pid, &ppid), -1);		/* no pid */
	CHECK_INT(stat_of("0 (x) S 1 20", &pid, &ppid), -1);		/* pid 0 */
	CHECK_INT(stat_of("-5 (x) S 1 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S -1 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S +1 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S 2147483648 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S 99999999999 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x)  1 20", &pid, &ppid), -1);		/* no state */
	CHECK_INT(stat_of("20 (x) SS 1 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S x 20", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S 04154 20", &pid, &ppid), -1);	/* not the kernel's */
	CHECK_INT(stat_of("020 (x) S 1 20", &pid, &ppid), -1);
	/* cut by the bounded read inside the ppid: 12 of 123 is not taken */
	CHECK_INT(stat_of("20 (x) S 12", &pid, &ppid), -1);
	CHECK_INT(stat_of("20 (x) S 1", &pid, &ppid), -1);
	CHECK_INT(pid, -7);	/* untouched on failure */
	CHECK_INT(ppid, -7);
}

static int
uid_of(const char *s, uid_t *r, uid_t *e)
{
	*r = *e = 4242;
	return signal_parse_status_uid(s, strlen(s), r, e);
}

TEST(parse_status_uid)
{
	uid_t r, e;

	CHECK_INT(uid_of("Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\n"
	    "Tgid:\t20\nNgid:\t0\nPid:\t20\nPPid:\t1\nTracerPid:\t0\n"
	    "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", &r, &e), 0);
	CHECK_INT(r, 0);
	CHECK_INT(e, 0);
	CHECK_INT(uid_of("Uid:\t1000\t0\t0\t0\n", &r, &e), 0);
	CHECK_INT(r, 1000);
	CHECK_INT(e, 0);
	CHECK_INT(uid_of("Uid:\t0\t101\t101\t101\n", &r, &e), 0);
	CHECK_INT(e, 101);
	CHECK_INT(uid_of("Uid:\t4294967294\t4294967294\t0\t0\n", &r, &e), 0);
	CHECK_INT(r, 4294967294u);
	/* the kernel escapes Name; "Uid:" inside a line is no Uid line */
	CHECK_INT(uid_of("Name:\tUid:\t0\t0\t0\t0\nUid:\t33\t33\t33\t33\n", &r, &e), 0);
	CHECK_INT(r, 33);
	CHECK_INT(uid_of("XUid:\t0\t0\t0\t0\n", &r, &e), -1);
	CHECK_INT(uid_of("Name:\tx\nGid:\t0\t0\t0\t0\n", &r, &e), -1);
	CHECK_INT(uid_of("", &r, &e), -1);
	/* a line cut by the bounded read: "Uid:\t10" of 1000 is not uid 10 */
	CHECK_INT(uid_of("Uid:\t1000\t10", &r, &e), -1);
	CHECK_INT(uid_of("Uid:\t10", &r, &e), -1);
	CHECK_INT(uid_of("Uid:\t0\n", &r, &e), -1);		/* no euid */
	CHECK_INT(uid_of("Uid:0\t0\t0\t0\n", &r, &e), -1);
	CHECK_INT(uid_of("Uid:\t-1\t0\t0\t0\n", &r, &e), -1);
	CHECK_INT(uid_of("Uid:\t4294967295\t0\t0\t0\n", &r, &e), -1);	/* (uid_t)-1 */
	CHECK_INT(uid_of("Uid:\t0x\t0\t0\t0\n", &r, &e), -1);
	CHECK_INT(uid_of("Uid:\t00\t0\t0\t0\n", &r, &e), -1);
	CHECK_INT(r, 4242);
	CHECK_INT(e, 4242);
}

/* A hand-built table: pid, ppid, uid (real = effective), role, kind. */
#define OTHER(pid, ppid, uid) \
	{ pid, ppid, uid, uid, SIGNAL_ROLE_OTHER, 0 }
#define MASTER(pid, ppid, uid, kind) \
	{ pid, ppid, uid, uid, SIGNAL_ROLE_MASTER, kind }
#define WORKER(pid, ppid, uid, kind) \
	{ pid, ppid, uid, uid, SIGNAL_ROLE_WORKER, kind }
#define NG SIGNAL_NGINX
#define DC SIGNAL_DOVECOT
#define NPROCS(t) (sizeof(t) / sizeof((t)[0]))

static struct signal_pick pk;
static char err[256];

static int
pick(const struct signal_proc *t, size_t n)
{
	err[0] = '\0';
	return signal_pick_masters(t, n, &pk, err, sizeof(err));
}

/* the decoy of pid, or NULL */
static const struct signal_decoy *
decoy(pid_t pid)
{
	for (size_t i = 0; i < pk.ndecoys; i++)
		if (pk.decoys[i].pid == pid)
			return &pk.decoys[i];
	return NULL;
}

#define CHECK_DECOY(p_, k_, w_) do { \
	const struct signal_decoy *d_ = decoy(p_); \
	CHECK(d_ != NULL); \
	if (d_ != NULL) { \
		CHECK_INT(d_->kind, k_); \
		CHECK_STR(d_->why, w_); \
	} \
} while (0)

/*
 * Mailu's front under docker --pid container:front: start.py is PID 1,
 * nginx its child (subprocess.Popen), dovecot daemonized onto PID 1.
 */
static const struct signal_proc mailu_docker[] = {
	OTHER(1, 0, 0),			/* python3 /start.py */
	OTHER(8, 1, 0),			/* /letsencrypt.py */
	MASTER(15, 1, 0, DC),		/* dovecot -c /etc/dovecot/proxy.conf */
	WORKER(16, 15, 0, DC),		/* dovecot/anvil */
	WORKER(17, 15, 0, DC),		/* dovecot/log */
	WORKER(18, 15, 0, DC),		/* dovecot/config */
	MASTER(20, 1, 0, NG),		/* nginx: master process ... */
	WORKER(21, 20, 100, NG),	/* nginx: worker process */
	WORKER(22, 20, 100, NG),
	OTHER(30, 0, 0),		/* the agent, or a docker exec */
};

/*
 * The same front in a Kubernetes pod with shareProcessNamespace: PID 1 is
 * pause, each container's init has PPID 0.
 */
static const struct signal_proc mailu_k8s[] = {
	OTHER(1, 0, 65535),		/* /pause */
	OTHER(7, 0, 0),			/* python3 /start.py: front's init */
	MASTER(25, 1, 0, DC),		/* daemonized onto pause */
	WORKER(26, 25, 0, DC),
	WORKER(27, 25, 0, DC),
	MASTER(31, 7, 0, NG),
	WORKER(33, 31, 100, NG),
	WORKER(34, 31, 100, NG),
	OTHER(40, 0, 0),		/* the agent sidecar's init */
};

/* docker/front-test/start.sh: a bash PID 1 with both masters as children */
static const struct signal_proc test_front[] = {
	OTHER(1, 0, 0),
	MASTER(9, 1, 0, DC),
	MASTER(10, 1, 0, NG),
	WORKER(11, 9, 0, DC),
	WORKER(12, 10, 33, NG),
	WORKER(13, 9, 0, DC),
	WORKER(14, 9, 115, DC),
};

TEST(pick_layouts)
{
	CHECK_INT(pick(mailu_docker, NPROCS(mailu_docker)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 20);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 15);
	CHECK_INT(pk.ndecoys, 0);

	CHECK_INT(pick(mailu_k8s, NPROCS(mailu_k8s)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 31);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 25);
	CHECK_INT(pk.ndecoys, 0);

	CHECK_INT(pick(test_front, NPROCS(test_front)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 10);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 9);

	/* the table's order does not matter: workers before their master */
	{
		struct signal_proc rev[NPROCS(mailu_k8s)];

		for (size_t i = 0; i < NPROCS(mailu_k8s); i++)
			rev[i] = mailu_k8s[NPROCS(mailu_k8s) - 1 - i];
		CHECK_INT(pick(rev, NPROCS(rev)), 0);
		CHECK_INT(pk.pids[SIGNAL_NGINX], 31);
		CHECK_INT(pk.pids[SIGNAL_DOVECOT], 25);
	}
}

/* An image that runs nginx itself as its init: PID 1, or PPID 0 in a pod. */
TEST(pick_master_is_init)
{
	static const struct signal_proc pid1[] = {
		MASTER(1, 0, 0, NG), WORKER(6, 1, 101, NG),
		MASTER(5, 1, 0, DC), WORKER(7, 5, 0, DC),
	};
	static const struct signal_proc ppid0[] = {
		OTHER(1, 0, 65535),
		MASTER(12, 0, 0, NG), WORKER(13, 12, 101, NG),
		OTHER(20, 0, 0), MASTER(21, 20, 0, DC), WORKER(22, 21, 0, DC),
	};

	CHECK_INT(pick(pid1, NPROCS(pid1)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 1);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 5);
	CHECK_INT(pick(ppid0, NPROCS(ppid0)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 12);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 21);
}

/*
 * The finding: `docker exec -d front bash -c 'exec -a "nginx: master
 * process" sleep 600'` (and one for dovecot) appear with PPID 0, as root,
 * with no children. Before, two of each blocked every reload.
 */
TEST(pick_exec_decoys)
{
	struct signal_proc t[NPROCS(mailu_k8s) + 4];
	size_t n = NPROCS(mailu_k8s);

	memcpy(t, mailu_k8s, sizeof(mailu_k8s));
	t[n++] = (struct signal_proc)MASTER(100, 0, 0, NG);
	t[n++] = (struct signal_proc)MASTER(101, 0, 0, DC);
	t[n++] = (struct signal_proc)MASTER(102, 0, 0, NG);
	t[n++] = (struct signal_proc)MASTER(103, 0, 0, DC);
	CHECK_INT(pick(t, n), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 31);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 25);
	CHECK_INT(pk.ndecoys, 4);
	CHECK_INT(pk.omitted, 0);
	CHECK_DECOY(100, SIGNAL_NGINX, "no worker children");
	CHECK_DECOY(101, SIGNAL_DOVECOT, "no worker children");
	CHECK_DECOY(102, SIGNAL_NGINX, "no worker children");
	CHECK_DECOY(103, SIGNAL_DOVECOT, "no worker children");

	/* the real masters gone (front restarting): "no ...", retried */
	CHECK_INT(pick(t + 7, n - 7), -1);
	CHECK_STR(err, "no nginx master process accepted: 2 candidates rejected "
	    "(see reload.decoy)");
	CHECK_INT(pk.pids[SIGNAL_NGINX], -1);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], -1);
	CHECK_INT(pk.ndecoys, 4);
}

/* Another container's user forges the whole tree, workers included. */
TEST(pick_nonroot_decoy)
{
	struct signal_proc t[NPROCS(test_front) + 6];
	size_t n = NPROCS(test_front);

	memcpy(t, test_front, sizeof(test_front));
	t[n++] = (struct signal_proc)MASTER(200, 1, 1000, NG);
	t[n++] = (struct signal_proc)WORKER(201, 200, 1000, NG);
	/* real root only, or effective root only: neither is the master */
	t[n++] = (struct signal_proc){ 202, 0, 0, 1000, SIGNAL_ROLE_MASTER, DC };
	t[n++] = (struct signal_proc)WORKER(203, 202, 0, DC);
	t[n++] = (struct signal_proc){ 204, 0, 1000, 0, SIGNAL_ROLE_MASTER, DC };
	t[n++] = (struct signal_proc)WORKER(205, 204, 0, DC);
	CHECK_INT(pick(t, n), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 10);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 9);
	CHECK_INT(pk.ndecoys, 3);
	CHECK_DECOY(200, SIGNAL_NGINX, "not root (uid 1000, euid 1000)");
	CHECK_DECOY(202, SIGNAL_DOVECOT, "not root (uid 0, euid 1000)");
	CHECK_DECOY(204, SIGNAL_DOVECOT, "not root (uid 1000, euid 0)");
}

/* A root master with workers, started by some ordinary process. */
TEST(pick_parent_decoy)
{
	struct signal_proc t[NPROCS(mailu_docker) + 6];
	size_t n = NPROCS(mailu_docker);

	memcpy(t, mailu_docker, sizeof(mailu_docker));
	t[n++] = (struct signal_proc)OTHER(300, 8, 0);	/* under letsencrypt.py */
	t[n++] = (struct signal_proc)MASTER(301, 300, 0, NG);
	t[n++] = (struct signal_proc)WORKER(302, 301, 0, NG);
	/* a parent that is gone: not the init either */
	t[n++] = (struct signal_proc)MASTER(303, 4000, 0, DC);
	t[n++] = (struct signal_proc)WORKER(304, 303, 0, DC);
	/* a master's master: nginx started by nginx */
	t[n++] = (struct signal_proc)MASTER(305, 20, 0, NG);
	CHECK_INT(pick(t, n), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 20);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 15);
	CHECK_INT(pk.ndecoys, 3);
	CHECK_DECOY(301, SIGNAL_NGINX, "parent 300 is not the container's init");
	CHECK_DECOY(303, SIGNAL_DOVECOT, "parent 4000 is not the container's init");
	CHECK_DECOY(305, SIGNAL_NGINX, "parent 20 is not the container's init");
}

/* Workers of the other kind, or a worker that is only a grandchild. */
TEST(pick_wrong_workers)
{
	static const struct signal_proc t[] = {
		OTHER(1, 0, 0),
		MASTER(9, 1, 0, DC), WORKER(11, 9, 0, DC),
		MASTER(10, 1, 0, NG), WORKER(12, 10, 33, NG),
		MASTER(50, 1, 0, NG), WORKER(51, 50, 0, DC),	/* dovecot/log */
		MASTER(52, 1, 0, DC), WORKER(53, 52, 0, NG),
		MASTER(54, 1, 0, NG), OTHER(55, 54, 0), WORKER(56, 55, 0, NG),
		MASTER(57, 1, 0, DC), OTHER(58, 57, 0),
	};

	CHECK_INT(pick(t, NPROCS(t)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 10);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 9);
	CHECK_INT(pk.ndecoys, 4);
	CHECK_DECOY(50, SIGNAL_NGINX, "no worker children");
	CHECK_DECOY(52, SIGNAL_DOVECOT, "no worker children");
	CHECK_DECOY(54, SIGNAL_NGINX, "no worker children");
	CHECK_DECOY(57, SIGNAL_DOVECOT, "no worker children");
}

/* Two masters that pass every check: still refused, never guessed. */
TEST(pick_two_real)
{
	struct signal_proc t[NPROCS(mailu_docker) + 2];
	size_t n = NPROCS(mailu_docker);

	memcpy(t, mailu_docker, sizeof(mailu_docker));
	t[n++] = (struct signal_proc)MASTER(60, 1, 0, DC);
	t[n++] = (struct signal_proc)WORKER(61, 60, 0, DC);
	CHECK_INT(pick(t, n), -1);
	CHECK_STR(err, "2 dovecot master processes: refusing to guess which one");
	CHECK_INT(pk.pids[SIGNAL_NGINX], -1);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], -1);
	CHECK_INT(pk.ndecoys, 0);

	/* no master of a kind at all: the namespace may not be shared */
	CHECK_INT(pick(mailu_docker, 6), -1);
	CHECK_STR(err, "no nginx master process in this PID namespace (is it shared?)");
	CHECK_INT(pick(NULL, 0), -1);
	CHECK(strstr(err, "no nginx master process in this") == err);
}

/* Docker's --init (tini as PID 1, start.py its child): decided unsupported. */
TEST(pick_docker_init)
{
	static const struct signal_proc t[] = {
		OTHER(1, 0, 0),			/* docker-init */
		OTHER(7, 1, 0),			/* start.py */
		MASTER(15, 1, 0, DC), WORKER(16, 15, 0, DC),
		MASTER(20, 7, 0, NG), WORKER(21, 20, 100, NG),
	};

	CHECK_INT(pick(t, NPROCS(t)), -1);
	CHECK_DECOY(20, SIGNAL_NGINX, "parent 7 is not the container's init");
	CHECK(strstr(err, "no nginx master process accepted: 1 candidate rejected") == err);
}

/* Thousands of decoys: 32 kept for the log, the rest counted. */
TEST(pick_many_decoys)
{
	size_t n = NPROCS(mailu_k8s), extra = 3000;
	struct signal_proc *t = calloc(n + extra, sizeof(*t));

	memcpy(t, mailu_k8s, sizeof(mailu_k8s));
	for (size_t i = 0; i < extra; i++)
		t[n + i] = (struct signal_proc)MASTER((pid_t)(1000 + i), 0, 1000,
		    i % 2 ? DC : NG);
	CHECK_INT(pick(t, n + extra), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 31);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 25);
	CHECK_INT(pk.ndecoys, SIGNAL_DECOYS_MAX);
	CHECK_INT(pk.omitted, extra - SIGNAL_DECOYS_MAX);
	CHECK_INT(pk.decoys[SIGNAL_DECOYS_MAX - 1].pid, 1000 + SIGNAL_DECOYS_MAX - 1);
	free(t);
}

static char root[] = "/tmp/mca-test-proc-XXXXXX";

static void
put(const char *pid, const char *file, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, pid, file);
	f = fopen(path, "w");
	fwrite(data, 1, len, f);
	fclose(f);
}

/* A fake /proc/PID: stat with comm, status with the uid, cmdline. */
static void
proc(const char *pid, int ppid, const char *comm, unsigned uid,
    const char *cmdline, size_t len)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), "%s (%s) S %d %s %s 0 -1 4194560 98 0 0 0 "
	    "1 2 0 0 20 0 1 0 4100 8000000 300 18446744073709551615\n",
	    pid, comm, ppid, pid, pid);
	put(pid, "stat", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf), "Name:\t%s\nUmask:\t0022\nState:\tS "
	    "(sleeping)\nTgid:\t%s\nNgid:\t0\nPid:\t%s\nPPid:\t%d\nTracerPid:\t0\n"
	    "Uid:\t%u\t%u\t%u\t%u\nGid:\t0\t0\t0\t0\nFDSize:\t64\n", comm, pid,
	    pid, ppid, uid, uid, uid, uid);
	put(pid, "status", buf, (size_t)n);
	put(pid, "cmdline", cmdline, len);
}

#define P(pid, ppid, comm, uid, lit) proc(pid, ppid, comm, uid, lit, sizeof(lit) - 1)

static void
rm_root(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK_INT(system(cmd), 0);
}

/* The integration test's picture, in a fake /proc: our front plus decoys. */
TEST(find_masters_fake_proc)
{
	struct signal_proc *t;
	size_t n;
	char path[300];

	CHECK(mkdtemp(root) != NULL);
	P("1", 0, "start.sh", 0, "/bin/bash\0/start.sh\0");
	P("9", 1, "dovecot", 0, "/usr/sbin/dovecot\0-F\0");
	P("10", 1, "nginx", 0, "nginx: master process nginx -g daemon off;");
	P("11", 9, "anvil", 0, "dovecot/anvil");
	P("12", 9, "log", 0, "dovecot/log");
	P("13", 10, "nginx", 33, "nginx: worker process");
	/* the decoys of docker exec: PPID 0, no children; comm is free text */
	P("14", 0, ") 1 2 (", 0, "nginx: master process nginx -g daemon off;");
	P("15", 0, "sleep", 0, "/usr/sbin/dovecot\0");
	/* comm ") S 1 (" claims PPID 1 to a reader that stops at the first ')' */
	P("20", 10, "sh", 0, "sh\0-c\0...\0");
	P("16", 20, ") S 1 (", 0, "nginx: master process x");
	P("21", 16, "nginx", 0, "nginx: worker process");
	P("17", 0, "", 0, "");		/* a zombie */
	P("self", 1, "nginx", 0, "nginx: master process x");	/* not a pid */
	P("012", 1, "nginx", 0, "nginx: master process x");
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), 0);
	CHECK_INT(pk.pids[SIGNAL_NGINX], 10);
	CHECK_INT(pk.pids[SIGNAL_DOVECOT], 9);
	CHECK_INT(pk.ndecoys, 3);
	CHECK_DECOY(14, SIGNAL_NGINX, "no worker children");
	CHECK_DECOY(15, SIGNAL_DOVECOT, "no worker children");
	CHECK_DECOY(16, SIGNAL_NGINX, "parent 20 is not the container's init");

	/* the table itself */
	CHECK_INT(signal_scan(root, 0, SIGNAL_PROCS_MAX, &t, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 12);
	for (size_t i = 0; i < n; i++) {
		if (t[i].pid == 14) {
			CHECK_INT(t[i].ppid, 0);
			CHECK_INT(t[i].role, SIGNAL_ROLE_MASTER);
		}
		if (t[i].pid == 16) {
			CHECK_INT(t[i].ppid, 20);
			CHECK_INT(t[i].role, SIGNAL_ROLE_MASTER);
		}
		if (t[i].pid == 13) {
			CHECK_INT(t[i].ppid, 10);
			CHECK_INT(t[i].ruid, 33);
			CHECK_INT(t[i].role, SIGNAL_ROLE_WORKER);
			CHECK_INT(t[i].kind, SIGNAL_NGINX);
		}
	}
	free(t);
	/* self is left out; more than max is refused, not cut */
	CHECK_INT(signal_scan(root, 10, SIGNAL_PROCS_MAX, &t, &n, err, sizeof(err)), 0);
	CHECK_INT(n, 11);
	free(t);
	CHECK_INT(signal_scan(root, 0, 12, &t, &n, err, sizeof(err)), 0);
	free(t);
	CHECK_INT(signal_scan(root, 0, 11, &t, &n, err, sizeof(err)), -1);
	CHECK(t == NULL);
	CHECK(strstr(err, "more than 11 processes in /tmp/mca-test-proc-") == err);
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), 0);

	/*
	 * Links are not followed: a stat that is a link to a copy of the
	 * worker's own stat, and a numeric name that is a link to its dir.
	 * Without the worker the nginx master has no child left.
	 */
	snprintf(path, sizeof(path), "%s/13/stat", root);
	snprintf(path + 150, 150, "%s/13/stat.copy", root);
	CHECK_INT(rename(path, path + 150), 0);
	CHECK_INT(symlink("stat.copy", path), 0);
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), -1);
	CHECK_STR(err, "no nginx master process accepted: 3 candidates rejected "
	    "(see reload.decoy)");
	CHECK_DECOY(10, SIGNAL_NGINX, "no worker children");
	CHECK_INT(unlink(path), 0);
	CHECK_INT(rename(path + 150, path), 0);
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/13", root);
	snprintf(path + 150, 150, "%s/mca-13", root);
	CHECK_INT(rename(path, path + 150), 0);
	CHECK_INT(symlink("mca-13", path), 0);
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), -1);
	CHECK_DECOY(10, SIGNAL_NGINX, "no worker children");
	CHECK_INT(unlink(path), 0);

	/* a stat of another pid (a dir renamed into place) is left out too */
	P("13", 10, "nginx", 33, "nginx: worker process");
	P("18", 10, "nginx", 33, "nginx: worker process");
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/13", root);
	snprintf(path + 150, 150, "%s/99", root);
	CHECK_INT(rename(path, path + 150), 0);
	snprintf(path, sizeof(path), "%s/18", root);
	snprintf(path + 150, 150, "%s/98", root);
	CHECK_INT(rename(path, path + 150), 0);
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), -1);
	CHECK_DECOY(10, SIGNAL_NGINX, "no worker children");

	/* no nginx left at all: not shared? */
	rm_root();
	CHECK_INT(mkdir(root, 0700), 0);
	P("9", 1, "dovecot", 0, "/usr/sbin/dovecot\0-F\0");
	P("11", 9, "anvil", 0, "dovecot/anvil");
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), -1);
	CHECK(strstr(err, "no nginx master process in this PID namespace") == err);
	rm_root();
	CHECK_INT(signal_find_masters(root, &pk, err, sizeof(err)), -1);
	CHECK(strstr(err, "cannot read /tmp/mca-test-proc-") == err);
	CHECK_INT(pk.pids[SIGNAL_NGINX], -1);
	CHECK_INT(pk.ndecoys, 0);
}

/*
 * Mailu's certificate watcher in the namespace: found in any argument, and
 * at work while a child of it runs.
 */
TEST(find_watcher)
{
	enum proc_watch w = PROC_WATCH_BUSY;

	/* the template again: an earlier test's mkdtemp filled it in */
	memcpy(root + strlen(root) - 6, "XXXXXX", 6);
	CHECK(mkdtemp(root) != NULL);
	P("1", 0, "start.py", 0, "python3\0/start.py\0");
	P("9", 1, "dovecot", 0, "/usr/sbin/dovecot\0-c\0/etc/dovecot/proxy.conf\0");
	CHECK_INT(signal_find_watcher(root, 0, "certwatcher", &w), 0);
	CHECK_INT(w, PROC_WATCH_NONE);
	P("12", 1, "python3", 0, "python3\0/certwatcher.py\0");
	CHECK_INT(signal_find_watcher(root, 0, "certwatcher", &w), 0);
	CHECK_INT(w, PROC_WATCH_IDLE);
	/* its /config.py (through sh -c): at work */
	P("40", 12, "sh", 0, "sh\0-c\0/config.py\0");
	CHECK_INT(signal_find_watcher(root, 0, "certwatcher", &w), 0);
	CHECK_INT(w, PROC_WATCH_BUSY);
	/* ourselves (the agent's own argv could hold it) do not count */
	CHECK_INT(signal_find_watcher(root, 12, "certwatcher", &w), 0);
	CHECK_INT(w, PROC_WATCH_NONE);
	/* across the NUL between two arguments is no match */
	P("13", 1, "sh", 0, "cert\0watcher\0");
	CHECK_INT(signal_find_watcher(root, 12, "certwatcher", &w), 0);
	CHECK_INT(w, PROC_WATCH_NONE);
	rm_root();
	CHECK_INT(signal_find_watcher(root, 0, "certwatcher", &w), -1);
	CHECK_INT(w, PROC_WATCH_NONE);
}

/* The real /proc: this process is in the table with its parent and uid. */
TEST(scan_real_proc)
{
	struct signal_proc *t;
	size_t n;
	int seen = 0;

	CHECK_INT(signal_scan("/proc", 0, SIGNAL_PROCS_MAX, &t, &n, err, sizeof(err)), 0);
	CHECK(n >= 2);
	for (size_t i = 0; i < n; i++) {
		if (t[i].pid != getpid())
			continue;
		seen++;
		CHECK_INT(t[i].ppid, getppid());
		CHECK_INT(t[i].ruid, getuid());
		CHECK_INT(t[i].euid, geteuid());
		CHECK_INT(t[i].role, SIGNAL_ROLE_OTHER);
	}
	CHECK_INT(seen, 1);
	free(t);
	CHECK_INT(signal_scan("/proc", getpid(), SIGNAL_PROCS_MAX, &t, &n, err,
	    sizeof(err)), 0);
	for (size_t i = 0; i < n; i++)
		CHECK(t[i].pid != getpid());
	free(t);
}

HARNESS_MAIN("sigreload", RUN(classify), RUN(parse_stat), RUN(parse_status_uid),
    RUN(pick_layouts), RUN(pick_master_is_init), RUN(pick_exec_decoys),
    RUN(pick_nonroot_decoy), RUN(pick_parent_decoy), RUN(pick_wrong_workers),
    RUN(pick_two_real), RUN(pick_docker_init), RUN(pick_many_decoys),
    RUN(find_masters_fake_proc), RUN(find_watcher), RUN(scan_real_proc))

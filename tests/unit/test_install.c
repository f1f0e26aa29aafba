/*
 * The install module on a real directory: installs, and the crash matrix
 * (a child paused at each step, killed with SIGKILL, then recovered by
 * the parent). The backups and current/ are test_store's.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pair_fixture.h"

static bool
served_is(const struct install_pair *p)
{
	return file_is(certs, "cert.pem", p->cert_pem, p->cert_len) &&
	    file_is(certs, "key.pem", p->key_pem, p->key_len) &&
	    mode_of(certs, "key.pem") == 0600 && mode_of(certs, "cert.pem") == 0644;
}

/* Leftovers of an install: temp files in either directory, or the journal. */
static int
leftovers(void)
{
	const char *dirs[] = { certs, state };
	int n = 0;

	for (int i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);

			if ((l > 8 && strcmp(e->d_name + l - 8, ".mca-new") == 0) ||
			    strcmp(e->d_name, "journal") == 0)
				n++;
		}
		if (d != NULL)
			closedir(d);
	}
	return n;
}

static enum install_recovery
recover(int *rc, char *fp)
{
	enum install_recovery what = INSTALL_RECOVERY_NONE;
	char err[512] = "";

	*rc = install_recover(&ctx, &what, fp, CERT_FP_HEX + 1, err, sizeof(err));
	if (*rc != 0)
		fprintf(stderr, "  recover: %s\n", err);
	return what;
}

TEST(install_a_then_b)
{
	char err[256] = "";

	wipe(certs, true);
	CHECK_INT(store_prepare(&ctx, err, sizeof(err)), 0);
	CHECK_INT(mode_of(state, "."), 0700);
	CHECK_INT(install_commit(&ctx, &A, err, sizeof(err)), 0);
	CHECK(served_is(&A));
	CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), 0);
	CHECK(served_is(&B));
	CHECK_INT(leftovers(), 0);
	{
		struct install_pair got;
		enum cert_reason why;

		CHECK_INT(install_read_served(&ctx, &got, &why), 0);
		CHECK_STR(got.fingerprint, B.fingerprint);
		CHECK_INT(got.cert_len, B.cert_len);
		install_pair_free(&got);
	}
	/* owner and group as configured */
	ctx.owner = 1234;
	ctx.group = 5678;
	CHECK_INT(install_commit(&ctx, &A, err, sizeof(err)), 0);
	{
		struct stat st;
		char p[PATH_MAX];

		path_in(p, certs, "key.pem");
		CHECK(stat(p, &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678);
	}
	ctx.owner = (uid_t)-1;
	ctx.group = (gid_t)-1;
	CHECK(served_is(&A));
	/* a strict umask does not narrow the cert, a lax one never widens the key */
	umask(077);
	CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), 0);
	umask(0);
	CHECK(served_is(&B));
}

TEST(refuses_bad_input)
{
	struct install_pair mixed = A;
	char err[256] = "", p[PATH_MAX];

	fresh_with_a();
	/* cert of B with key of A never reaches the disk */
	mixed.cert_pem = B.cert_pem;
	mixed.cert_len = B.cert_len;
	memcpy(mixed.fingerprint, B.fingerprint, sizeof(B.fingerprint));
	CHECK_INT(install_commit(&ctx, &mixed, err, sizeof(err)), -1);
	CHECK(strstr(err, "key_mismatch") != NULL);
	CHECK(served_is(&A));
	CHECK_INT(leftovers(), 0);

	/* a temp name taken by a directory: no temp file can be created */
	path_in(p, certs, ".key.pem.mca-new");
	CHECK_INT(mkdir(p, 0700), 0);
	CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), -1);
	CHECK(strstr(err, ".key.pem.mca-new") != NULL);
	CHECK(served_is(&A));
	CHECK_INT(rmdir(p), 0);
	/* the same for the cert: the key temp already written is removed */
	path_in(p, certs, ".cert.pem.mca-new");
	CHECK_INT(mkdir(p, 0700), 0);
	CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), -1);
	CHECK(served_is(&A));
	CHECK(!exists_in(certs, ".key.pem.mca-new"));
	CHECK(!exists_in(state, "journal"));
	CHECK_INT(rmdir(p), 0);

	/* a symlinked state dir is refused */
	{
		struct install_ctx c2 = ctx;
		char link[PATH_MAX];

		path_in(link, dir, "state-link");
		CHECK_INT(symlink(state, link), 0);
		c2.state_dir = link;
		CHECK_INT(store_prepare(&c2, err, sizeof(err)), -1);
		CHECK_INT(install_commit(&c2, &B, err, sizeof(err)), -1);
		CHECK(served_is(&A));
	}
}

/* True when the file base/name holds a key block. */
static bool
holds_key(const char *base, const char *name)
{
	char buf[8192];
	long got = file_read(base, name, buf, sizeof(buf));

	return got > 0 && memmem(buf, (size_t)got, "PRIVATE KEY", 11) != NULL;
}

/*
 * A cert file carrying a key (a combined PEM) is never copied as it is:
 * a served one read back for a backup comes out as certificates only,
 * and a 0644 write of bytes holding a key block is refused outright.
 */
TEST(key_never_in_a_cert_file)
{
	struct install_pair leaky = A, served;
	unsigned char *both;
	enum cert_reason why;
	char err[256] = "", made[PATH_MAX];
	FILE *f;
	char p[PATH_MAX];

	fresh_with_a();
	both = malloc(A.cert_len + A.key_len + 1);
	memcpy(both, A.cert_pem, A.cert_len);
	memcpy(both + A.cert_len, A.key_pem, A.key_len);
	both[A.cert_len + A.key_len] = '\0';
	leaky.cert_pem = both;
	leaky.cert_len = A.cert_len + A.key_len;

	/* the writer refuses, whoever hands it such bytes */
	CHECK_INT(install_commit(&ctx, &leaky, err, sizeof(err)), -1);
	CHECK(strstr(err, "private key") != NULL);
	CHECK(served_is(&A));
	CHECK_INT(leftovers(), 0);
	CHECK_INT(store_backup(&ctx, &leaky, NULL, 0, err, sizeof(err)), -1);
	CHECK_INT(store_save_current(&ctx, &leaky, err, sizeof(err)), -1);

	/* an ACME client wrote a combined cert.pem: read back, the key is gone */
	path_in(p, certs, "cert.pem");
	f = fopen(p, "w");
	fwrite(both, 1, leaky.cert_len, f);
	fclose(f);
	CHECK(holds_key(certs, "cert.pem"));
	CHECK_INT(install_read_served(&ctx, &served, &why), 0);
	CHECK_STR(served.fingerprint, A.fingerprint);
	CHECK(served.cert_len == A.cert_len && memcmp(served.cert_pem, A.cert_pem,
	    A.cert_len) == 0);
	CHECK_INT(store_backup(&ctx, &served, made, sizeof(made), err, sizeof(err)), 0);
	CHECK(!holds_key(made, "cert.pem"));
	CHECK_INT(mode_of(made, "key.pem"), 0600);
	install_pair_free(&served);
	free(both);
	fresh_with_a();
}

TEST(symlink_target_is_replaced_not_followed)
{
	char err[256] = "", p[PATH_MAX], outside[PATH_MAX];
	FILE *f;

	fresh_with_a();
	path_in(outside, dir, "outside.pem");
	f = fopen(outside, "w");
	fputs("not ours\n", f);
	fclose(f);
	path_in(p, certs, "cert.pem");
	CHECK_INT(unlink(p), 0);
	CHECK_INT(symlink(outside, p), 0);
	CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), 0);
	CHECK(served_is(&B));	/* lstat: a regular 0644 file now */
	CHECK(file_is(dir, "outside.pem", (const unsigned char *)"not ours\n", 9));
}

TEST(error_codes_are_stable)
{
	CHECK_STR(install_error_code(ENOSPC), "no_space");
	CHECK_STR(install_error_code(EDQUOT), "no_space");
	CHECK_STR(install_error_code(EROFS), "read_only");
	CHECK_STR(install_error_code(EACCES), "permission_denied");
	CHECK_STR(install_error_code(EPERM), "permission_denied");
	CHECK_STR(install_error_code(ELOOP), "symlink_refused");
	CHECK_STR(install_error_code(EIO), "io_error");
	CHECK_STR(install_error_code(0), "invalid");
}

TEST(recover_without_journal)
{
	char fp[CERT_FP_HEX + 1];
	int rc;

	fresh_with_a();
	CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_NONE);
	CHECK_INT(rc, 0);
	CHECK_STR(fp, A.fingerprint);
	CHECK(served_is(&A));
}

/*
 * Forks a child that backs up the served pair and installs B, pausing at
 * step; returns its pid once it has said so on its log pipe.
 */
static pid_t
run_paused(const char *step)
{
	char buf[4096], want[128];
	size_t used = 0;
	int fds[2];
	pid_t pid;

	CHECK_INT(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct install_pair cur;
		enum cert_reason why;
		char err[256];

		close(fds[0]);
		setenv("MCA_TEST_PAUSE_AT", step, 1);
		log_init(fdopen(fds[1], "w"), LOG_LEVEL_DEBUG);
		if (install_read_served(&ctx, &cur, &why) != 0 ||
		    store_backup(&ctx, &cur, NULL, 0, err, sizeof(err)) != 0 ||
		    install_commit(&ctx, &B, err, sizeof(err)) != 0)
			_exit(2);
		_exit(3);	/* never paused */
	}
	close(fds[1]);
	snprintf(want, sizeof(want), "\"step\":\"%s\"", step);
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, 10000) != 1 ||
		    (n = read(fds[0], buf + used, sizeof(buf) - 1 - used)) <= 0) {
			fprintf(stderr, "  %s: child never paused\n", step);
			harness_failed_checks++;
			break;
		}
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, "\"event\":\"test.paused\"") != NULL &&
		    strstr(buf, want) != NULL)
			break;
	}
	close(fds[0]);
	return pid;
}

static void
kill_child(pid_t pid)
{
	int status = 0;

	kill(pid, SIGKILL);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(crash_matrix)
{
	static const struct {
		const char *step;
		enum install_recovery what;
		bool b_served;
	} m[] = {
		{ "install.backup_done", INSTALL_RECOVERY_NONE, false },
		{ "install.key_temp_written", INSTALL_RECOVERY_NONE, false },
		{ "install.temp_written", INSTALL_RECOVERY_NONE, false },
		{ "install.journal_temp_written", INSTALL_RECOVERY_NONE, false },
		{ "install.journal_written", INSTALL_RECOVERY_FINISHED, true },
		{ "install.key_renamed", INSTALL_RECOVERY_FINISHED, true },
		{ "install.cert_renamed", INSTALL_RECOVERY_FINISHED, true },
		{ "install.dir_synced", INSTALL_RECOVERY_FINISHED, true },
		{ "install.journal_removed", INSTALL_RECOVERY_NONE, true },
	};
	static const char *names[] = { "none", "finished", "undone" };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		const struct install_pair *want = m[i].b_served ? &B : &A;
		char fp[CERT_FP_HEX + 1], err[256];
		struct install_pair bk;
		enum install_recovery what;
		int before = harness_failed_checks, rc;

		pid_t pid;

		fresh_with_a();
		pid = run_paused(m[i].step);
		/* paused with temps on disk: the key was never readable to others */
		if (exists_in(certs, ".key.pem.mca-new"))
			CHECK_INT(mode_of(certs, ".key.pem.mca-new"), 0600);
		kill_child(pid);
		what = recover(&rc, fp);
		CHECK_INT(rc, 0);
		CHECK_INT(what, m[i].what);
		CHECK_STR(fp, want->fingerprint);
		CHECK(served_is(want));
		CHECK_INT(leftovers(), 0);
		/* the backup of A made before the kill is whole */
		CHECK_INT(store_load_backup(&ctx, NULL, &bk, NULL, 0, err,
		    sizeof(err)), 0);
		CHECK_STR(bk.fingerprint, A.fingerprint);
		install_pair_free(&bk);
		CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_NONE);
		CHECK_INT(rc, 0);
		printf("crash at %-29s -> %-8s serving %s: %s\n", m[i].step,
		    names[what], m[i].b_served ? "B" : "A",
		    harness_failed_checks == before ? "ok" : "FAILED");
	}
}

/* Writes base/name as someone else (an ACME client) would: in place. */
static void
client_write(const char *name, const unsigned char *buf, size_t len, mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	path_in(p, certs, name);
	CHECK((f = fopen(p, "w")) != NULL);
	if (f == NULL)
		return;
	CHECK_INT(fwrite(buf, 1, len, f), len);
	fclose(f);
	chmod(p, mode);
}

TEST(commit_over_gives_way)
{
	EVP_PKEY *kc = EVP_EC_gen("P-256");
	X509 *cc = make_cert(kc, "c.example.com");
	struct install_pair C;
	char err[256] = "", fp[CERT_FP_HEX + 1], jp[PATH_MAX];
	int rc;
	pid_t pid;

	make_pair(&C, cc, NULL, kc);
	fresh_with_a();
	/* CERTS_DIR holds what it should: installed as install_commit would */
	CHECK_INT(install_commit_over(&ctx, &B, A.fingerprint, err, sizeof(err)), 0);
	CHECK(served_is(&B));
	/* it holds another pair: 1, untouched, nothing left behind */
	CHECK_INT(install_commit_over(&ctx, &C, A.fingerprint, err, sizeof(err)), 1);
	CHECK(served_is(&B));
	CHECK_INT(leftovers(), 0);

	/* killed after its journal; then the client writes C: undone, C stays */
	path_in(jp, state, "journal");
	for (int round = 0; round < 2; round++) {
		enum install_recovery what;

		if ((pid = fork()) == 0) {
			setenv("MCA_TEST_PAUSE_AT", "install.journal_written", 1);
			install_commit_over(&ctx, &A, B.fingerprint, err, sizeof(err));
			_exit(3);
		}
		for (int i = 0; i < 1000 && access(jp, F_OK) != 0; i++)
			usleep(10000);
		CHECK_INT(access(jp, F_OK), 0);
		kill_child(pid);
		if (round == 0) {
			client_write("cert.pem", C.cert_pem, C.cert_len, 0644);
			client_write("key.pem", C.key_pem, C.key_len, 0600);
		}
		what = recover(&rc, fp);
		CHECK_INT(rc, 0);
		/* round 1: nobody wrote; the restore is finished as before */
		CHECK_INT(what, round == 0 ? INSTALL_RECOVERY_UNDONE :
		    INSTALL_RECOVERY_FINISHED);
		CHECK_STR(fp, round == 0 ? C.fingerprint : A.fingerprint);
		CHECK(round == 0 ? served_is(&C) : served_is(&A));
		CHECK_INT(leftovers(), 0);
		if (round == 0) {
			/* B again, as the cycle being rolled back had it */
			CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), 0);
		}
	}
	install_pair_free(&C);
	X509_free(cc);
	EVP_PKEY_free(kc);
}

TEST(crash_with_damaged_state)
{
	char fp[CERT_FP_HEX + 1], err[256], p[PATH_MAX];
	int rc;
	FILE *f;

	/* the temp key cut short while paused: undone, A stays */
	fresh_with_a();
	kill_child(run_paused("install.journal_written"));
	path_in(p, certs, ".key.pem.mca-new");
	CHECK_INT(truncate(p, 40), 0);
	CHECK_INT(install_commit(&ctx, &B, err, sizeof(err)), -1);	/* pending */
	CHECK(strstr(err, "recover first") != NULL);
	CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_UNDONE);
	CHECK_INT(rc, 0);
	CHECK_STR(fp, A.fingerprint);
	CHECK(served_is(&A));
	CHECK_INT(leftovers(), 0);

	/* key B already served, its cert temp damaged: current/ (A) restored */
	fresh_with_a();
	kill_child(run_paused("install.key_renamed"));
	path_in(p, certs, ".cert.pem.mca-new");
	CHECK_INT(truncate(p, 100), 0);
	CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_UNDONE);
	CHECK_INT(rc, 0);
	CHECK_STR(fp, A.fingerprint);
	CHECK(served_is(&A));
	CHECK_INT(leftovers(), 0);

	/* a valid journal padded past the 64 KiB bound: not trusted, undone */
	fresh_with_a();
	kill_child(run_paused("install.journal_written"));
	path_in(p, state, "journal");
	{
		char text[4096] = "";
		size_t len;

		f = fopen(p, "r");
		len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		CHECK(len > 0 && strstr(text, B.fingerprint) != NULL);
		f = fopen(p, "w");
		for (int i = 0; i < 70000; i++)
			fputc(' ', f);
		fwrite(text, 1, len, f);
		fclose(f);
	}
	CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_UNDONE);
	CHECK_INT(rc, 0);
	CHECK(served_is(&A));
	CHECK_INT(leftovers(), 0);

	/* a garbage journal after both renames: B is consistent and stays */
	fresh_with_a();
	kill_child(run_paused("install.cert_renamed"));
	f = fopen(p, "w");
	fputs("{\"version\": 1, \"op\": \"install\"", f);
	fclose(f);
	CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_UNDONE);
	CHECK_INT(rc, 0);
	CHECK_STR(fp, B.fingerprint);
	CHECK(served_is(&B));
	CHECK_INT(leftovers(), 0);
	CHECK_INT(recover(&rc, fp), INSTALL_RECOVERY_NONE);
}

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

TEST(timing)
{
	long us[50];
	char err[256];

	fresh_with_a();
	for (int i = 0; i < 50; i++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK_INT(install_commit(&ctx, i % 2 ? &A : &B, err, sizeof(err)), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us[i] = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
	}
	qsort(us, 50, sizeof(us[0]), cmp_long);
	printf("install_commit: median %ld us, min %ld us, max %ld us (50 runs, %s)\n",
	    us[25], us[0], us[49], certs);
}

TEST(setup)
{
	fixture_setup("install");
}

TEST(teardown)
{
	fixture_teardown();
}

HARNESS_MAIN("install", RUN(setup), RUN(install_a_then_b), RUN(refuses_bad_input),
    RUN(key_never_in_a_cert_file),
    RUN(symlink_target_is_replaced_not_followed), RUN(error_codes_are_stable),
    RUN(recover_without_journal),
    RUN(crash_matrix), RUN(commit_over_gives_way), RUN(crash_with_damaged_state), RUN(timing), RUN(teardown))

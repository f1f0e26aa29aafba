/*
 * The store module on a real directory: the state dir's own names, the
 * backups (pruning, loading, the newest one), and current/ with each
 * half-done save a crash can leave.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include "pair_fixture.h"

TEST(setup)
{
	fixture_setup("store");
}

/* Links planted at the state dir's own names: removed, targets untouched. */
TEST(state_links_replaced_not_followed)
{
	char err[256] = "", p[PATH_MAX], out[PATH_MAX], outdir[PATH_MAX];
	struct install_pair got = { 0 };
	struct stat st;
	FILE *f;

	fresh_with_a();
	path_in(outdir, dir, "outdir");
	CHECK_INT(mkdir(outdir, 0755), 0);
	path_in(out, dir, "outfile");
	f = fopen(out, "w");
	fputs("outside\n", f);
	fclose(f);
	path_in(p, state, "backups");
	wipe(p, false);
	CHECK_INT(symlink(outdir, p), 0);
	path_in(p, state, "current");
	wipe(p, false);
	CHECK_INT(symlink(outdir, p), 0);
	path_in(p, state, "status.json");
	CHECK_INT(symlink(out, p), 0);

	CHECK_INT(store_backup(&ctx, &A, NULL, 0, err, sizeof(err)), 0);
	CHECK_INT(store_save_current(&ctx, &A, err, sizeof(err)), 0);
	path_in(p, state, "backups");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	path_in(p, state, "current");
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
	path_in(p, state, "status.json");
	CHECK(lstat(p, &st) != 0);	/* the link is gone, not written */
	CHECK(file_is(dir, "outfile", (const unsigned char *)"outside\n", 8));
	CHECK(rmdir(outdir) == 0);	/* still empty */
	CHECK_INT(mkdir(outdir, 0755), 0);

	/* a backup entry and current/key.pem as links: never read */
	path_in(p, state, "backups/20991231T235959Z-aaaaaaaaaaaa");
	CHECK_INT(symlink(outdir, p), 0);
	CHECK_INT(store_load_backup(&ctx, NULL, &got, NULL, 0, err, sizeof(err)), 0);
	CHECK_STR(got.fingerprint, A.fingerprint);
	install_pair_free(&got);
	path_in(p, state, "current/key.pem");
	CHECK_INT(unlink(p), 0);
	CHECK_INT(symlink(out, p), 0);
	CHECK_INT(store_load_current(&ctx, &got, err, sizeof(err)), -1);
	install_pair_free(&got);
	/* the next save replaces current/ whole; the link goes, its target stays */
	CHECK_INT(store_save_current(&ctx, &A, err, sizeof(err)), 0);
	CHECK_INT(store_load_current(&ctx, &got, err, sizeof(err)), 0);
	install_pair_free(&got);
	CHECK(file_is(dir, "outfile", (const unsigned char *)"outside\n", 8));
}

TEST(backups_pruned_and_loaded)
{
	char err[256] = "", made[5][PATH_MAX], p[PATH_MAX];
	struct install_pair got;
	int n = 0;
	DIR *d;
	struct dirent *e;

	wipe(certs, true);
	ctx.backups_kept = 3;
	/* five in (most likely) one second: suffixes keep them apart and in order */
	for (int i = 0; i < 5; i++)
		CHECK_INT(store_backup(&ctx, i % 2 ? &B : &A, made[i], PATH_MAX,
		    err, sizeof(err)), 0);
	path_in(p, state, "backups");
	CHECK_INT(mode_of(p, "."), 0700);
	d = opendir(p);
	while (d != NULL && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	CHECK_INT(n, 3);
	for (int i = 0; i < 5; i++)
		CHECK(exists_in(made[i], ".") == (i >= 2));
	CHECK_INT(mode_of(made[4], "."), 0700);
	CHECK_INT(mode_of(made[4], "key.pem"), 0600);
	CHECK_INT(mode_of(made[4], "cert.pem"), 0644);
	CHECK(file_is(made[4], "key.pem", A.key_pem, A.key_len));

	CHECK_INT(store_load_backup(&ctx, NULL, &got, p, PATH_MAX, err,
	    sizeof(err)), 0);
	CHECK_STR(got.fingerprint, A.fingerprint);
	CHECK_STR(p, made[4]);
	install_pair_free(&got);
	CHECK_INT(store_load_backup(&ctx, A.fingerprint, &got, p, PATH_MAX, err,
	    sizeof(err)), 0);
	CHECK_STR(got.fingerprint, B.fingerprint);
	CHECK_STR(p, made[3]);
	CHECK(got.key_len == B.key_len && memcmp(got.key_pem, B.key_pem, B.key_len) == 0);
	install_pair_free(&got);
	/* a broken newest backup is skipped */
	path_in(p, made[4], "key.pem");
	CHECK_INT(truncate(p, 10), 0);
	CHECK_INT(store_load_backup(&ctx, NULL, &got, p, PATH_MAX, err,
	    sizeof(err)), 0);
	CHECK_STR(p, made[3]);
	install_pair_free(&got);
	CHECK_INT(store_load_backup(&ctx, B.fingerprint, &got, p, PATH_MAX, err,
	    sizeof(err)), 0);
	CHECK_STR(p, made[2]);
	install_pair_free(&got);
	ctx.backups_kept = 5;
}

TEST(newest_backup_is)
{
	char err[256] = "", made[2][PATH_MAX], p[PATH_MAX], q[PATH_MAX],
	    named[PATH_MAX];
	const char *slash;

	path_in(p, state, "backups");
	wipe(p, false);		/* store_open makes it again, 0700 */
	CHECK(!store_newest_backup_is(&ctx, A.fingerprint, p, PATH_MAX));
	CHECK_INT(store_backup(&ctx, &A, made[0], PATH_MAX, err, sizeof(err)), 0);
	CHECK_INT(store_backup(&ctx, &B, made[1], PATH_MAX, err, sizeof(err)), 0);
	p[0] = '\0';
	CHECK(store_newest_backup_is(&ctx, B.fingerprint, p, PATH_MAX));
	CHECK_STR(p, made[1]);
	/* A is backed up, but not newest: a rotation away from A backs it up again */
	CHECK(!store_newest_backup_is(&ctx, A.fingerprint, p, PATH_MAX));
	CHECK(!store_newest_backup_is(&ctx, "not-a-fingerprint", p, PATH_MAX));

	/* the name decides "another pair"; a matching name is still parsed */
	slash = strrchr(made[1], '/');
	snprintf(named, sizeof(named), "%.*s/29991231T235959Z-%.12s",
	    (int)(slash - made[1]), made[1], A.fingerprint);
	CHECK_INT(rename(made[1], named), 0);	/* B's files under A's name, newest */
	CHECK(!store_newest_backup_is(&ctx, A.fingerprint, p, PATH_MAX));
	CHECK(!store_newest_backup_is(&ctx, B.fingerprint, p, PATH_MAX));
	CHECK_INT(rename(named, made[1]), 0);
	/* a broken newest backup is not the pair: a fresh backup supersedes it */
	path_in(q, made[1], "key.pem");
	CHECK_INT(truncate(q, 10), 0);
	CHECK(!store_newest_backup_is(&ctx, B.fingerprint, p, PATH_MAX));
}

/* Writes pair into state/name by hand, to stage a half-done save. */
static void
stage_dir(const char *name, const struct install_pair *p)
{
	char d[PATH_MAX], f[PATH_MAX];
	FILE *o;

	path_in(d, state, name);
	CHECK_INT(mkdir(d, 0700), 0);
	path_in(f, d, "cert.pem");
	o = fopen(f, "w");
	fwrite(p->cert_pem, 1, p->cert_len, o);
	fclose(o);
	path_in(f, d, "key.pem");
	o = fopen(f, "w");
	fwrite(p->key_pem, 1, p->key_len, o);
	fclose(o);
}

static void
move(const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	path_in(a, state, from);
	path_in(b, state, to);
	CHECK_INT(rename(a, b), 0);
}

static const char *
current_fp(void)
{
	static char fp[CERT_FP_HEX + 1];
	struct install_pair got;
	char err[256] = "";

	fp[0] = '\0';
	if (store_load_current(&ctx, &got, err, sizeof(err)) == 0) {
		memcpy(fp, got.fingerprint, sizeof(fp));
		install_pair_free(&got);
	}
	CHECK(!exists_in(state, "current.new") && !exists_in(state, "current.old"));
	return fp;
}

TEST(current_save_load_and_half_states)
{
	char err[256] = "", cur[PATH_MAX];

	wipe(certs, true);
	CHECK_STR(current_fp(), "");
	CHECK_INT(store_save_current(&ctx, &A, err, sizeof(err)), 0);
	CHECK_STR(current_fp(), A.fingerprint);
	CHECK_INT(store_save_current(&ctx, &B, err, sizeof(err)), 0);
	CHECK_STR(current_fp(), B.fingerprint);
	path_in(cur, state, "current");
	CHECK_INT(mode_of(cur, "."), 0700);
	CHECK_INT(mode_of(cur, "key.pem"), 0600);
	/* killed between the renames: the complete new copy wins */
	move("current", "current.old");
	stage_dir("current.new", &A);
	CHECK_STR(current_fp(), A.fingerprint);
	/* only the old copy left */
	move("current", "current.old");
	CHECK_STR(current_fp(), A.fingerprint);
	/* killed before removing the old copy */
	stage_dir("current.old", &B);
	CHECK_STR(current_fp(), A.fingerprint);
	/* killed while writing the new copy */
	stage_dir("current.new", &B);
	path_in(cur, state, "current.new/key.pem");
	CHECK_INT(truncate(cur, 5), 0);
	CHECK_STR(current_fp(), A.fingerprint);
}

TEST(teardown)
{
	fixture_teardown();
}

HARNESS_MAIN("store", RUN(setup), RUN(state_links_replaced_not_followed),
    RUN(backups_pruned_and_loaded), RUN(newest_backup_is),
    RUN(current_save_load_and_half_states), RUN(teardown))

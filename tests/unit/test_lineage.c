/*
 * lineage: Mailu's letsencrypt layout (live/NAME links into archive/NAME,
 * as certbot writes it) read into what every endpoint must serve, and the
 * verify_want it becomes: an RSA and an ECDSA entry.
 */
#include "pair_fixture.h"

#include "config.h"
#include "lineage.h"
#include "verify.h"

static struct config cfg;

/* Writes base/name holding len bytes. */
static void
put(const char *base, const char *name, const unsigned char *buf, size_t len,
    mode_t mode)
{
	char p[PATH_MAX];
	FILE *f;

	path_in(p, base, name);
	CHECK((f = fopen(p, "w")) != NULL);
	if (f == NULL)
		return;
	fwrite(buf, 1, len, f);
	fclose(f);
	chmod(p, mode);
}

/*
 * certbot's shape for lineage name, version n: archive/NAME/{fullchain,privkey}n.pem, and
 * live/NAME/{fullchain,privkey}.pem as relative links to them.
 */
static void
lineage_write(const char *name, int n, const struct install_pair *p)
{
	char arch[2 * PATH_MAX], live[2 * PATH_MAX], file[64], link[5 * PATH_MAX],
	    target[128];

	snprintf(arch, sizeof(arch), "%s/letsencrypt/archive/%s", certs, name);
	snprintf(live, sizeof(live), "%s/letsencrypt/live/%s", certs, name);
	snprintf(link, sizeof(link), "mkdir -p '%s' '%s'", arch, live);
	CHECK_INT(system(link), 0);
	snprintf(file, sizeof(file), "fullchain%d.pem", n);
	put(arch, file, p->cert_pem, p->cert_len, 0644);
	snprintf(file, sizeof(file), "privkey%d.pem", n);
	put(arch, file, p->key_pem, p->key_len, 0600);
	/* certbot swaps the links one at a time */
	snprintf(target, sizeof(target), "../../archive/%s/fullchain%d.pem", name, n);
	path_in(link, live, "fullchain.pem");
	unlink(link);
	CHECK_INT(symlink(target, link), 0);
	snprintf(target, sizeof(target), "../../archive/%s/privkey%d.pem", name, n);
	path_in(link, live, "privkey.pem");
	unlink(link);
	CHECK_INT(symlink(target, link), 0);
}

TEST(setup)
{
	char arg[PATH_MAX + 16], *argv[] = { "agent", arg, "--tls-flavor=letsencrypt",
	    "check", NULL };
	char *env[] = { NULL };
	struct config_error err;

	fixture_setup("lineage");
	CHECK_INT(mkdir(certs, 0755), 0);
	snprintf(arg, sizeof(arg), "--certs-dir=%s", certs);
	CHECK_INT(config_load(&cfg, 4, argv, env, &err), 0);
	CHECK(lineage_flavor(&cfg));
}

TEST(both_lineages_want_both_key_types)
{
	struct lineage le[LINEAGE_N];
	struct verify_want w;
	char err[256];

	CHECK_INT(lineage_init(le, &cfg, err, sizeof(err)), 0);
	/* nothing issued yet */
	CHECK_INT(lineage_read(le), 0);
	lineage_want(le, &w);
	CHECK_INT(w.n, 0);
	/* Mailu's: mailu is RSA (B), mailu-ecdsa ECDSA (A) */
	lineage_write("mailu", 1, &B);
	lineage_write("mailu-ecdsa", 1, &A);
	CHECK_INT(lineage_read(le), 2);
	CHECK_STR(le[0].name, "mailu");
	CHECK_INT(le[0].type, CERT_KEY_RSA);
	CHECK_STR(le[0].fp, B.fingerprint);
	CHECK_INT(le[1].type, CERT_KEY_ECDSA);
	CHECK_STR(le[1].fp, A.fingerprint);
	CHECK(le[1].not_after > time(NULL));
	lineage_want(le, &w);
	CHECK_INT(w.n, 2);
	CHECK_INT(verify_want_served(&w), 2);
	CHECK_INT(w.e[0].type, CERT_KEY_RSA);
	CHECK_STR(w.e[0].fp, B.fingerprint);
	CHECK_INT(w.e[1].type, CERT_KEY_ECDSA);
	CHECK_STR(w.e[1].fp, A.fingerprint);
	lineage_free(le);
}

/* certbot half-way: the fullchain link swapped, the privkey not yet */
TEST(half_renewed_lineage_is_not_ok)
{
	struct lineage le[LINEAGE_N];
	char err[256], link[2 * PATH_MAX];

	CHECK_INT(lineage_init(le, &cfg, err, sizeof(err)), 0);
	lineage_write("mailu", 2, &A);		/* A's cert and key in version 2 */
	snprintf(link, sizeof(link), "%s/letsencrypt/live/mailu/privkey.pem", certs);
	unlink(link);
	CHECK_INT(symlink("../../archive/mailu/privkey1.pem", link), 0);	/* B's key */
	CHECK_INT(lineage_read(le), 1);
	CHECK(!le[0].ok);
	CHECK_INT(le[0].why, CERT_KEY_MISMATCH);
	CHECK(le[1].ok);
	lineage_free(le);
	lineage_write("mailu", 3, &B);
}

/* a link out of the letsencrypt dir is never followed */
TEST(links_stay_inside)
{
	struct lineage le[LINEAGE_N];
	char err[256], link[2 * PATH_MAX], out[PATH_MAX];

	CHECK_INT(lineage_init(le, &cfg, err, sizeof(err)), 0);
	path_in(out, dir, "outside.pem");
	put(dir, "outside.pem", A.cert_pem, A.cert_len, 0644);
	snprintf(link, sizeof(link), "%s/letsencrypt/live/mailu-ecdsa/fullchain.pem", certs);
	unlink(link);
	CHECK_INT(symlink(out, link), 0);
	lineage_read(le);
	CHECK(!le[1].ok);
	CHECK_INT(le[1].why, CERT_SYMLINK_ESCAPE);
	lineage_free(le);
	lineage_write("mailu-ecdsa", 4, &A);
}

/* the watch source: both live dirs, a signature over both fullchains */
TEST(watch_source_covers_both)
{
	struct lineage le[LINEAGE_N];
	struct source s;
	struct source_sig before, after;
	char err[256];

	CHECK_INT(lineage_init(le, &cfg, err, sizeof(err)), 0);
	CHECK_INT(lineage_watch_source(&s, le, err, sizeof(err)), 0);
	CHECK_INT(s.n_watch_dirs, 2);
	CHECK(strstr(s.watch_dirs[0], "live/mailu") != NULL);
	CHECK(strstr(s.watch_dirs[1], "live/mailu-ecdsa") != NULL);
	CHECK(!s.installs);
	source_stat(&s, &before);
	CHECK(before.cert_ok && before.key_ok);
	lineage_write("mailu-ecdsa", 5, &A);	/* only the ECDSA lineage renews */
	source_stat(&s, &after);
	CHECK(!source_sig_equal(&before, &after));
	source_free(&s);
	lineage_free(le);
}

TEST(want_entries)
{
	struct verify_want w = { 0 };
	struct verify_want_one *e;

	CHECK(verify_want_add(&w, CERT_KEY_ECDSA, "ab") != NULL);
	CHECK((e = verify_want_add(&w, CERT_KEY_RSA, "")) != NULL);
	e->absent = true;
	CHECK(verify_want_add(&w, CERT_KEY_RSA, "cd") == NULL);	/* full */
	CHECK_INT(w.n, 2);
	CHECK_INT(verify_want_served(&w), 1);
}

/* what the last verify found served, and the text messages name it by */
TEST(same_as_served)
{
	struct lineage le[LINEAGE_N];
	struct verify_want served = { 0 }, w;
	char err[256], text[2 * CERT_FP_HEX];

	CHECK_INT(lineage_init(le, &cfg, err, sizeof(err)), 0);
	lineage_write("mailu", 6, &B);
	lineage_write("mailu-ecdsa", 6, &A);
	CHECK_INT(lineage_read(le), 2);
	CHECK(!lineage_same(le, &served));		/* nothing verified yet */
	lineage_want(le, &served);
	CHECK(lineage_same(le, &served));
	verify_want_text(&served, text, sizeof(text));
	CHECK(strncmp(text, B.fingerprint, 16) == 0);
	CHECK(strstr(text, "... (rsa), ") != NULL);
	CHECK(strstr(text, "... (ecdsa)") != NULL);
	lineage_write("mailu-ecdsa", 7, &B);	/* another leaf in one lineage */
	CHECK_INT(lineage_read(le), 2);
	CHECK(!lineage_same(le, &served));
	lineage_want(le, &w);
	CHECK(!verify_want_same(&w, &served));
	served = w;
	CHECK(lineage_same(le, &served));
	/* a lineage half-way is never the same */
	lineage_write("mailu", 8, &A);
	{
		char link[2 * PATH_MAX];

		snprintf(link, sizeof(link), "%s/letsencrypt/live/mailu/privkey.pem", certs);
		unlink(link);
		CHECK_INT(symlink("../../archive/mailu/privkey6.pem", link), 0);
	}
	lineage_read(le);
	CHECK(!lineage_same(le, &served));
	/* one entry: no key type named */
	w.n = 1;
	verify_want_text(&w, text, sizeof(text));
	CHECK_INT(strlen(text), 19);
	lineage_free(le);
}

TEST(teardown)
{
	config_free(&cfg);
	fixture_teardown();
}

HARNESS_MAIN("lineage", RUN(setup), RUN(both_lineages_want_both_key_types),
    RUN(half_renewed_lineage_is_not_ok), RUN(links_stay_inside),
    RUN(watch_source_covers_both), RUN(want_entries), RUN(same_as_served),
    RUN(teardown))

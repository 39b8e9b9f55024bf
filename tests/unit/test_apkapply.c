/*
 * Unit tests of the Alpine applier (src/pkg/apk/apkapply.h) on a small view
 * the test builds: an upgrade (a file replaced, one dropped and whited out,
 * the database rewritten), and packages refused without a trace (a checksum
 * that is not the index's, a file another package owns): the layer, the view
 * and the database are as before. The comparison with Alpine's own apk is
 * the e2e test (tests/e2e/test_apkapply.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apkutil.h"
#include "pkg/apk/apkapply.h"
#include "pkg/apk/apkpkg.h"
#include "util/hash.h"
#include "util/mem.h"

#include <stdlib.h>
#include <unistd.h>

static const char OLD_HELLO[] = "hello 1\n";

/* Installed: hello 1.0-r0 (usr/bin/hello, usr/bin/hello-old) and other (etc/other.conf). */
static const char DB[] = "C:Q1Uq7pr0TahCvC7PPZn3GJKgdsMUY=\nP:hello\nV:1.0-r0\nA:x86_64\nS:1\nI:1\n"
                         "T:hello\nU:u\nL:MIT\nt:1\nF:usr\nF:usr/bin\nR:hello\na:0:0:755\n"
                         "Z:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nR:hello-old\n\n"
                         "C:Q1yY8lhMF1VhgegJgkcXfqaNabDJw=\nP:other\nV:1-r0\nA:x86_64\nS:1\nI:1\n"
                         "T:other\nU:u\nL:MIT\nt:1\nF:etc\nR:other.conf\n\n";

struct fx {
	EVP_PKEY *key;
	struct copa_apk_keys *keys;
	struct copa_view *v;
	struct copa_layer_builder *b;
	struct copa_apkapply *a;
	char dir[64];
};

static void put(struct copa_view *v, const char *path, int type, const char *content)
{
	struct copa_view_entry e = {0};
	struct copa_err err = COPA_ERR_INIT;

	e.path = path;
	e.type = (uint8_t)type;
	e.mode = type == COPA_FT_DIR ? 0755 : 0644;
	e.content = content;
	e.size = content ? strlen(content) : 0;
	e.layer = COPA_VIEW_NO_LAYER;
	e.data_offset = COPA_VIEW_NO_OFFSET;
	assert_non_null(copa_view_put(v, &e, &err));
}

static int setup(void **state)
{
	struct fx *f = copa_xcalloc(1, sizeof(*f));
	struct copa_buf pem = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apkapply_opts o = {0};

	f->key = apk_test_key(&pem);
	f->keys = copa_apk_keys_new();
	assert_int_equal(copa_apk_keys_add_pem(f->keys, "test.rsa.pub", pem.p, pem.len, &err), 0);
	copa_buf_release(&pem);
	f->v = copa_view_new();
	put(f->v, "usr/bin", COPA_FT_DIR, NULL);
	put(f->v, "usr/bin/hello", COPA_FT_REG, OLD_HELLO);
	put(f->v, "usr/bin/hello-old", COPA_FT_REG, "old\n");
	put(f->v, "etc/other.conf", COPA_FT_REG, "other\n");
	put(f->v, "lib/apk/db/installed", COPA_FT_REG, DB);
	f->b = copa_layer_builder_new(-1);
	o.db_path = "lib/apk/db/installed";
	o.keys = f->keys;
	o.mtime = 1700000000;
	f->a = copa_apkapply_new(f->v, f->b, &o, &err);
	assert_non_null(f->a);
	snprintf(f->dir, sizeof(f->dir), "/tmp/copa-test-apkapply-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct copa_err err = COPA_ERR_INIT;

	copa_apkapply_free(f->a);
	copa_layer_builder_free(f->b);
	copa_view_free(f->v);
	copa_apk_keys_free(f->keys);
	EVP_PKEY_free(f->key);
	copa_fs_rm_rf(AT_FDCWD, f->dir, &err);
	free(f);
	return 0;
}

/* Builds hello-2.0-r0 shipping usr/bin/hello and `extra` (a path, or NULL); returns its file. */
static char *build(struct fx *f, const char *extra, char csum[32])
{
	struct copa_buf ctl = COPA_BUF_INIT, ctlgz = COPA_BUF_INIT, dat = COPA_BUF_INIT,
	                datgz = COPA_BUF_INIT, info = COPA_BUF_INIT, file = COPA_BUF_INIT;
	static const char content[] = "hello 2\n";
	char hex[COPA_HASH_HEX_MAX];
	unsigned char sha1[64];
	struct copa_hash h;
	struct copa_err err = COPA_ERR_INIT;
	char *path = copa_xasprintf("%s/hello-2.0-r0.apk", f->dir);

	copa_hash_hex(COPA_HASH_SHA1, content, sizeof(content) - 1, hex);
	apk_tar_entry(&dat, "usr", '5', "", 0, NULL);
	apk_tar_entry(&dat, "usr/bin", '5', "", 0, NULL);
	apk_tar_entry(&dat, "usr/bin/hello", '0', content, sizeof(content) - 1, hex);
	if (extra) {
		apk_tar_entry(&dat, "etc", '5', "", 0, NULL);
		apk_tar_entry(&dat, extra, '0', content, sizeof(content) - 1, hex);
	}
	apk_tar_end(&dat);
	apk_gzip(dat.p, dat.len, &datgz);
	copa_hash_hex(COPA_HASH_SHA256, datgz.p, datgz.len, hex);
	copa_buf_addf(&info,
	              "pkgname = hello\npkgver = 2.0-r0\narch = x86_64\nsize = 8\n"
	              "builddate = 1700000000\ndatahash = %s\n",
	              hex);
	apk_tar_entry(&ctl, ".PKGINFO", '0', info.p, info.len, NULL);
	apk_tar_entry(&ctl, ".post-upgrade", '0', "#!/bin/sh\n", 10, NULL);
	apk_gzip(ctl.p, ctl.len, &ctlgz);
	apk_sign_segment(f->key, EVP_sha1(), ".SIGN.RSA.test.rsa.pub", ctlgz.p, ctlgz.len, &file);
	copa_buf_add(&file, ctlgz.p, ctlgz.len);
	copa_buf_add(&file, datgz.p, datgz.len);
	copa_hash_init(&h, COPA_HASH_SHA1);
	copa_hash_update(&h, ctlgz.p, ctlgz.len);
	copa_hash_final_raw(&h, sha1);
	copa_hash_release(&h);
	copa_apk_csum_format(sha1, csum);
	assert_int_equal(copa_fs_write_atomic(AT_FDCWD, path, file.p, file.len, 0644, &err), 0);
	copa_buf_release(&ctl);
	copa_buf_release(&ctlgz);
	copa_buf_release(&dat);
	copa_buf_release(&datgz);
	copa_buf_release(&info);
	copa_buf_release(&file);
	return path;
}

static void read_view(struct fx *f, const char *path, struct copa_buf *out)
{
	struct copa_err err = COPA_ERR_INIT;

	assert_int_equal(copa_view_read(f->v, path, 1u << 20, out, &err), 0);
}

static void test_upgrade(void **state)
{
	struct fx *f = *state;
	struct copa_pm_applied res = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf db = COPA_BUF_INIT;
	char csum[32];
	char *path = build(f, NULL, csum);
	const struct copa_layer_entry *e;

	assert_int_equal(copa_apkapply_package(f->a, path, csum, &res, &err), 0);
	assert_string_equal(res.name, "hello");
	assert_non_null(res.skipped);
	assert_string_equal(res.skipped[0], "post-upgrade");
	assert_null(res.skipped[1]);
	assert_string_equal(copa_apkapply_version(f->a, "hello"), "2.0-r0");
	e = copa_layer_builder_get(f->b, "usr/bin/hello");
	assert_non_null(e);
	assert_int_equal(e->size, 8);
	assert_true(copa_layer_builder_is_whiteout(f->b, "usr/bin/hello-old"));
	assert_null(copa_view_get(f->v, "usr/bin/hello-old"));
	assert_int_equal(copa_apkapply_finish(f->a, &err), 0);
	read_view(f, "lib/apk/db/installed", &db);
	assert_non_null(strstr(copa_buf_str(&db), "P:hello\nV:2.0-r0\n"));
	assert_null(strstr(copa_buf_str(&db), "hello-old"));
	assert_non_null(strstr(copa_buf_str(&db), "P:other\nV:1-r0\n"));
	assert_non_null(copa_layer_builder_get(f->b, "lib/apk/db/scripts.tar"));
	copa_pm_applied_release(&res);
	copa_buf_release(&db);
	free(path);
}

/* A refused package leaves the layer, the view and the database as they were. */
static void refused(struct fx *f, const char *path, const char *csum, int code, const char *msg)
{
	struct copa_pm_applied res = {0};
	struct copa_err err = COPA_ERR_INIT;
	size_t before = copa_layer_builder_count(f->b), views = copa_view_count(f->v);

	assert_int_equal(copa_apkapply_package(f->a, path, csum, &res, &err), -1);
	assert_int_equal(err.code, code);
	if (!strstr(err.msg, msg))
		fail_msg("error '%s' lacks '%s'", err.msg, msg);
	assert_null(strchr(err.msg, '\n'));
	assert_null(res.name);
	assert_int_equal(copa_layer_builder_count(f->b), before);
	assert_int_equal(copa_view_count(f->v), views);
	assert_string_equal(copa_apkapply_version(f->a, "hello"), "1.0-r0");
	assert_non_null(copa_view_get(f->v, "usr/bin/hello-old"));
	assert_int_equal(copa_apkapply_finish(f->a, &err),
	                 0); /* nothing applied: nothing written */
	assert_int_equal(copa_layer_builder_count(f->b), before);
}

static void test_wrong_checksum(void **state)
{
	struct fx *f = *state;
	char csum[32];
	char *path = build(f, NULL, csum);

	refused(f, path, "Q1yY8lhMF1VhgegJgkcXfqaNabDJw=", COPA_E_VERIFY, "Q1yY8lhMF1V");
	free(path);
}

static void test_file_of_another_package(void **state)
{
	struct fx *f = *state;
	char csum[32];
	char *path = build(f, "etc/other.conf", csum);

	refused(f, path, csum, COPA_E_PACKAGE,
	        "'/etc/other.conf' belongs to 'other-1-r0' and neither package replaces the other");
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_checksum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_of_another_package, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_fetch.c: pkg/fetch.h for packages whose index gives no digest of the
 * file (apk): the family's check decides before anything enters the cache;
 * a verified package is stored content-addressed and found again through its
 * identity on the next run (without a second check); a cached copy that no
 * longer matches is fetched and checked again. Packages are file:// URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/fetch.h"
#include "testutil.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct checker {
	int calls;
	bool refuse;
};

static int check(void *ctx, size_t i, const struct copa_pm_pkg *p, const char *path,
                 struct copa_err *err)
{
	struct checker *c = ctx;
	struct copa_buf b = COPA_BUF_INIT;
	int r;

	(void)i;
	c->calls++;
	r = copa_fs_read_file(AT_FDCWD, path, 1024, &b, err);
	/* the "chain of trust" of this test: the content must be the id */
	if (r == 0 && (c->refuse || b.len != strlen(p->id) || memcmp(b.p, p->id, b.len) != 0))
		r = copa_err_set(err, COPA_E_VERIFY, "package '%s': does not match its index",
		                 p->name);
	copa_buf_release(&b);
	return r;
}

static void fetch_by_identity(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_http_opts ho = {0};
	struct copa_http *h = copa_http_new(&ho, &err);
	char *dir = copa_fs_mkdtemp(NULL, "copa-test-fetch-", &err);
	char *src = copa_xasprintf("%s/zlib-1.3.1-r2.apk", dir);
	char *cdir = copa_xasprintf("%s/cache", dir);
	struct copa_cache cache;
	struct checker ck = {0};
	struct copa_pkg_fetch_opts o = {.suffix = ".apk", .check = check, .check_ctx = &ck};
	struct copa_pkg_fetch_stats st;
	struct copa_pm_pkg p = {0};
	char first[COPA_DIGEST_MAX];

	(void)state;
	assert_non_null(h);
	assert_ok(copa_cache_open(&cache, cdir, &err));
	o.http = h;
	o.cache = &cache;
	assert_ok(copa_fs_write_atomic(AT_FDCWD, src, "Q1identity", 10, 0644, &err));
	p.name = copa_xstrdup("zlib");
	p.version = copa_xstrdup("1.3.1-r2");
	p.arch = copa_xstrdup("x86_64");
	p.repo = copa_xstrdup("file-repo");
	p.url = copa_xasprintf("file://%s", src);
	p.size = 10;
	p.id = copa_xstrdup("Q1identity");

	/* refused by the check: an error naming the package, nothing cached */
	ck.refuse = true;
	assert_int_equal(copa_pkg_fetch(&p, 1, &o, &st, &err), -1);
	assert_int_equal(err.code, COPA_E_VERIFY);
	assert_non_null(strstr(err.msg, "package 'zlib'"));
	assert_int_equal(ck.calls, 1);
	assert_string_equal(p.digest, "");
	assert_null(p.local_path);

	/* checked, then stored under its sha256, which fills digest */
	ck.refuse = false;
	copa_err_clear(&err);
	assert_ok(copa_pkg_fetch(&p, 1, &o, &st, &err));
	assert_int_equal(ck.calls, 2);
	assert_int_equal(st.downloaded, 1);
	assert_true(copa_digest_valid(p.digest));
	assert_non_null(strstr(p.local_path, "/blobs/sha256/"));
	snprintf(first, sizeof(first), "%s", p.digest);

	/* the next run finds it through the identity: no download, no second check */
	free(p.local_path);
	p.local_path = NULL;
	p.digest[0] = '\0';
	assert_ok(copa_pkg_fetch(&p, 1, &o, &st, &err));
	assert_int_equal(st.cached, 1);
	assert_int_equal(ck.calls, 2);
	assert_string_equal(p.digest, first);

	/* a cached copy that does not hash to its digest is fetched and checked again */
	assert_int_equal(truncate(p.local_path, 3), 0);
	free(p.local_path);
	p.local_path = NULL;
	p.digest[0] = '\0';
	assert_ok(copa_pkg_fetch(&p, 1, &o, &st, &err));
	assert_int_equal(st.downloaded, 1);
	assert_int_equal(ck.calls, 3);
	assert_string_equal(p.digest, first);

	/* a package with neither a digest nor an identity is refused */
	free(p.id);
	p.id = NULL;
	p.digest[0] = '\0';
	assert_int_equal(copa_pkg_fetch(&p, 1, &o, &st, &err), -1);
	assert_non_null(strstr(err.msg, "no valid checksum"));

	copa_pm_pkg_release(&p);
	copa_cache_release(&cache);
	copa_http_free(h);
	copa_fs_rm_rf(AT_FDCWD, dir, NULL);
	free(src);
	free(cdir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fetch_by_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_apkrepo.c: apk repositories (src/pkg/apk/apkrepo.h): the real
 * etc/apk/repositories of each minirootfs (shared test data), apk-tools 2
 * and 3 line forms, lines copa skips with a warning, defaults per release,
 * and index/package URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkrepo.h"
#include "testutil.h"
#include "apkutil.h"

static void real_files(void **state)
{
	static const struct {
		const char *rootfs, *branch;
	} roots[] = {
	    {"alpine/minirootfs/alpine-minirootfs-3.15.11-x86_64.tar.gz", "v3.15"},
	    {"alpine/minirootfs/alpine-minirootfs-3.19.4-x86_64.tar.gz", "v3.19"},
	    {"alpine/minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz", "v3.20"},
	    {"alpine/minirootfs/alpine-minirootfs-3.20.3-aarch64.tar.gz", "v3.20"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(roots); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf b = COPA_BUF_INIT;
		struct copa_apk_repos r = COPA_APK_REPOS_INIT;
		char *main_url = copa_xasprintf("https://dl-cdn.alpinelinux.org/alpine/%s/main",
		                                roots[i].branch);

		apk_rootfs_read(roots[i].rootfs, "etc/apk/repositories", &b);
		assert_ok(copa_apk_repos_parse(&r, b.p, b.len, "'etc/apk/repositories'", &err));
		assert_int_equal(r.n, 2);
		assert_int_equal(r.nwarn, 0);
		assert_string_equal(r.v[0].url, main_url);
		assert_null(r.v[0].tag);
		/* and the default for that release is the same pair */
		struct copa_apk_repos d = COPA_APK_REPOS_INIT;
		const char *ver = roots[i].branch + 1;
		assert_ok(copa_apk_repos_default(&d, "alpine", ver, &err));
		assert_int_equal(d.n, 2);
		assert_string_equal(d.v[0].url, r.v[0].url);
		assert_string_equal(d.v[1].url, r.v[1].url);
		copa_apk_repos_release(&d);
		copa_apk_repos_release(&r);
		copa_buf_release(&b);
		free(main_url);
	}
}

static void forms(void **state)
{
	static const char text[] = "# comment\n"
	                           "\n"
	                           "https://mirror.example/alpine/v3.20/main/\n"
	                           "  @edge https://mirror.example/alpine/edge/testing  \n"
	                           "v2 https://mirror.example/alpine/v3.20/community\n"
	                           "v2 @tag https://example.com main community\n"
	                           "/srv/local-repo\n"
	                           "v3 https://example.com/main\n"
	                           "ndx https://example.com/Packages.adb\n"
	                           "set mirror=x\n"
	                           "http://${mirror}/main\n"
	                           "not-a-url\n"
	                           "@bad!tag https://x/y\n"
	                           "https://x main ../etc\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_repos r = COPA_APK_REPOS_INIT;
	char *u;

	assert_ok(copa_apk_repos_parse(&r, text, sizeof(text) - 1, "repositories", &err));
	assert_int_equal(r.n, 6);
	assert_string_equal(r.v[0].url, "https://mirror.example/alpine/v3.20/main");
	assert_string_equal(r.v[1].url, "https://mirror.example/alpine/edge/testing");
	assert_string_equal(r.v[1].tag, "edge");
	assert_string_equal(r.v[2].url, "https://mirror.example/alpine/v3.20/community");
	assert_string_equal(r.v[3].url, "https://example.com/main");
	assert_string_equal(r.v[3].tag, "tag");
	assert_string_equal(r.v[4].url, "https://example.com/community");
	assert_string_equal(r.v[5].url, "/srv/local-repo");
	assert_int_equal(r.nwarn, 7);
	assert_non_null(strstr(r.warnings[6], "line 14: bad component"));
	assert_non_null(strstr(r.warnings[0], "repositories line 8: 'v3' lines are apk 3's"));
	assert_non_null(
	    strstr(r.warnings[3], "line 11: not a repository URL: 'http://${mirror}/main'"));
	assert_non_null(strstr(r.warnings[5], "line 13: bad tag"));
	u = copa_apk_repo_index_url(&r.v[0], "x86_64");
	assert_string_equal(u, "https://mirror.example/alpine/v3.20/main/x86_64/APKINDEX.tar.gz");
	free(u);
	u = copa_apk_repo_package_url(&r.v[0], "aarch64", "busybox", "1.36.1-r29");
	assert_string_equal(
	    u, "https://mirror.example/alpine/v3.20/main/aarch64/busybox-1.36.1-r29.apk");
	free(u);
	copa_apk_repos_release(&r);
}

static void defaults(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_repos r = COPA_APK_REPOS_INIT;

	assert_ok(copa_apk_repos_default(&r, "alpine", "3.21.3", &err));
	assert_string_equal(r.v[1].url, "https://dl-cdn.alpinelinux.org/alpine/v3.21/community");
	assert_ok(copa_apk_repos_default(&r, "alpine", "3.22_alpha20250108", &err));
	assert_string_equal(r.v[2].url, "https://dl-cdn.alpinelinux.org/alpine/edge/main");
	assert_ok(copa_apk_repos_default(&r, "wolfi", "20230201", &err));
	assert_string_equal(r.v[4].url, "https://packages.wolfi.dev/os");
	assert_int_equal(copa_apk_repos_default(&r, "alpine", "latest", &err), -1);
	assert_non_null(strstr(err.msg, "alpine version 'latest' names no release branch"));
	assert_int_equal(copa_apk_repos_default(&r, "debian", "12", &err), -1);
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	assert_int_equal(copa_apk_repos_add(&r, "not a url", NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_USAGE);
	copa_apk_repos_release(&r);
}

static void cap(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_repos r = COPA_APK_REPOS_INIT;
	struct copa_buf b = COPA_BUF_INIT;

	for (int i = 0; i <= COPA_APK_REPOS_MAX; i++)
		copa_buf_addf(&b, "https://x/%d\n", i);
	assert_int_equal(copa_apk_repos_parse(&r, b.p, b.len, "repositories", &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "repositories line 257: more than 256 repositories"));
	copa_apk_repos_release(&r);
	copa_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_files),
	    cmocka_unit_test(forms),
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

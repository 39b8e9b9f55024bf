/*
 * test_apkprobe.c: what copa reads from an Alpine image before it plans
 * (apkprobe.h): the architecture (etc/apk/arch, else the platform in apk's
 * names), the repositories (the image's http(s) ones, defaults from
 * etc/alpine-release or os-release, --repo adding or replacing, '@tag URL'),
 * the keys (etc/apk/keys and usr/share/apk/keys/<arch> through the view's
 * symlinks, --keyring files), world and the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkprobe.h"
#include "shared_testdata.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <string.h>

#define KEY "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
#define DB  "C:Q1hdUpqRv5mYgJEqW52UmVsvmy8a8=\nP:musl\nV:1.2.5-r0\nA:x86_64\n\n"

static void file(struct copa_view *v, const char *path, const char *content)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view_entry e = {.path = path,
	                            .type = COPA_FT_REG,
	                            .mode = 0644,
	                            .content = content,
	                            .size = content ? strlen(content) : 0};

	if (!copa_view_put(v, &e, &err))
		fail_msg("%s", err.msg);
}

static void link_(struct copa_view *v, const char *path, const char *target)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view_entry e = {.path = path, .type = COPA_FT_SYMLINK, .link = target};

	if (!copa_view_put(v, &e, &err))
		fail_msg("%s", err.msg);
}

static char *real_key(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	char *path = copa_test_shared_path("alpine/keys/" KEY);

	assert_ok(copa_fs_read_file(AT_FDCWD, path, 65536, &b, &err));
	free(path);
	return copa_buf_detach(&b, NULL);
}

static void arch_names(void **state)
{
	(void)state;
	assert_string_equal(copa_apk_arch_from_oci("amd64", NULL), "x86_64");
	assert_string_equal(copa_apk_arch_from_oci("arm64", "v8"), "aarch64");
	assert_string_equal(copa_apk_arch_from_oci("arm", "v7"), "armv7");
	assert_string_equal(copa_apk_arch_from_oci("arm", NULL), "armv7");
	assert_string_equal(copa_apk_arch_from_oci("arm", "v6"), "armhf");
	assert_string_equal(copa_apk_arch_from_oci("386", NULL), "x86");
	assert_string_equal(copa_apk_arch_from_oci("ppc64le", NULL), "ppc64le");
	assert_string_equal(copa_apk_arch_from_oci("s390x", NULL), "s390x");
	assert_string_equal(copa_apk_arch_from_oci("riscv64", NULL), "riscv64");
	assert_null(copa_apk_arch_from_oci("mips64le", NULL));
	assert_null(copa_apk_arch_from_oci(NULL, NULL));
}

/* A 3.20-style image: repositories with a comment, a tag and a file path; keys by symlink. */
static void image_configuration(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_osrelease os = {.id = (char *)"alpine", .version_id = (char *)"3.20.3"};
	struct copa_pm_open_opts o = {.view = v, .os = &os, .oci_arch = "arm64"};
	struct copa_apk_probe p;
	char *key = real_key();

	(void)state;
	file(v, "lib/apk/db/installed", DB);
	file(v, "etc/apk/arch", "x86_64\n");
	file(v, "etc/apk/repositories",
	     "# mirrors\nhttps://dl-cdn.alpinelinux.org/alpine/v3.20/main\n"
	     "@edge https://dl-cdn.alpinelinux.org/alpine/edge/testing/\n/media/cdrom/apks\n");
	file(v, "etc/apk/world", "alpine-baselayout busybox zlib<1.4\n");
	file(v, "usr/share/apk/keys/" KEY, key);
	link_(v, "usr/share/apk/keys/x86_64/" KEY, "../" KEY);
	file(v, "etc/apk/keys/not-a-key.rsa.pub", "hello");
	assert_ok(copa_apk_probe_image(&p, &o, &err));
	assert_string_equal(p.arch, "x86_64"); /* etc/apk/arch wins over the platform */
	assert_string_equal(p.db_path, "lib/apk/db/installed");
	assert_int_equal(p.db.n, 1);
	assert_int_equal(p.repos.n, 2); /* the file path is the build machine's: skipped */
	assert_string_equal(p.repos.v[0].url, "https://dl-cdn.alpinelinux.org/alpine/v3.20/main");
	assert_null(p.repos.v[0].tag);
	assert_string_equal(p.repos.v[1].tag, "edge");
	assert_string_equal(p.repos.v[1].url, "https://dl-cdn.alpinelinux.org/alpine/edge/testing");
	assert_int_equal(copa_apk_keys_count(p.keys),
	                 1); /* through the symlink; not-a-key skipped */
	assert_int_equal(p.world.n, 3);
	assert_string_equal(p.world.v[2].name, "zlib");
	copa_apk_probe_release(&p);
	free(key);
	copa_view_free(v);
}

/* No repositories file: the release's official ones; --repo adds; --repo-replace replaces. */
static void defaults_and_overrides(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_osrelease os = {.id = (char *)"alpine", .version_id = (char *)"3.19.0"};
	char *repos[] = {(char *)"@local http://127.0.0.1:8080/repo", NULL};
	struct copa_pm_open_opts o = {.view = v, .os = &os, .oci_arch = "amd64", .repos = repos};
	struct copa_apk_probe p;

	(void)state;
	file(v, "usr/lib/apk/db/installed", DB);
	file(v, "etc/alpine-release", "3.19.4\n");
	assert_ok(copa_apk_probe_image(&p, &o, &err));
	assert_string_equal(p.arch, "x86_64");
	assert_string_equal(p.db_path, "usr/lib/apk/db/installed");
	assert_int_equal(p.repos.n, 3);
	assert_string_equal(p.repos.v[0].url, "https://dl-cdn.alpinelinux.org/alpine/v3.19/main");
	assert_string_equal(p.repos.v[1].url,
	                    "https://dl-cdn.alpinelinux.org/alpine/v3.19/community");
	assert_string_equal(p.repos.v[2].url, "http://127.0.0.1:8080/repo");
	assert_string_equal(p.repos.v[2].tag, "local");
	assert_int_equal(p.world.n, 0);
	copa_apk_probe_release(&p);

	o.repos_replace = true;
	assert_ok(copa_apk_probe_image(&p, &o, &err));
	assert_int_equal(p.repos.n, 1);
	copa_apk_probe_release(&p);

	/* an unknown OS without a repositories file and without --repo: say what to do */
	os.id = (char *)"postmarketos";
	o.repos = NULL;
	o.repos_replace = false;
	assert_int_equal(copa_apk_probe_image(&p, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--repo"));
	copa_view_free(v);
}

static void refusals(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_osrelease os = {.id = (char *)"alpine", .version_id = (char *)"3.20.3"};
	char *bad_repo[] = {(char *)"deb http://deb.debian.org/debian bookworm main", NULL};
	char *keyring[] = {(char *)"/nonexistent/copa-test.rsa.pub", NULL};
	struct copa_pm_open_opts o = {.view = v, .os = &os, .oci_arch = "mips64le"};
	struct copa_apk_probe p;

	(void)state;
	/* no database */
	assert_int_equal(copa_apk_probe_image(&p, &o, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	file(v, "lib/apk/db/installed", DB);
	/* a platform apk has no name for, and no etc/apk/arch */
	copa_err_clear(&err);
	assert_int_equal(copa_apk_probe_image(&p, &o, &err), -1);
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "mips64le"));
	/* a --repo that is not one line of an apk repositories file */
	o.oci_arch = "amd64";
	o.repos = bad_repo;
	copa_err_clear(&err);
	assert_int_equal(copa_apk_probe_image(&p, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--repo"));
	/* a --keyring that cannot be read is named */
	o.repos = NULL;
	o.keyrings = keyring;
	copa_err_clear(&err);
	assert_int_equal(copa_apk_probe_image(&p, &o, &err), -1);
	assert_non_null(strstr(err.msg, "--keyring '/nonexistent/copa-test.rsa.pub'"));
	/* a malformed etc/apk/arch */
	o.keyrings = NULL;
	file(v, "etc/apk/arch", "../../x\n");
	copa_err_clear(&err);
	assert_int_equal(copa_apk_probe_image(&p, &o, &err), -1);
	assert_non_null(strstr(err.msg, "etc/apk/arch"));
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(arch_names),
	    cmocka_unit_test(image_configuration),
	    cmocka_unit_test(defaults_and_overrides),
	    cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

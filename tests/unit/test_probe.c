#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/probe.h"
#include "testutil.h"

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

static void debian_regular(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_probe p;

	file(v, "usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
	link_(v, "etc/os-release", "../usr/lib/os-release");
	file(v, "var/lib/dpkg/status",
	     "Package: a\nStatus: install ok installed\nVersion: 1\n\n"
	     "Package: b\nStatus: deinstall ok config-files\nVersion: 1\n\n"
	     "Package: c\nStatus: hold ok installed\nVersion: 1\n");
	file(v, "usr/bin/dpkg", "ELF");
	assert_ok(copa_probe_image(v, &p, &err));
	assert_true(p.has_os_release);
	assert_string_equal(p.os.id, "debian");
	assert_int_equal(p.fam, COPA_FAM_DEB);
	assert_string_equal(p.db_path, "var/lib/dpkg/status");
	assert_int_equal(p.n_packages, 2);
	assert_false(p.distroless);
	copa_probe_release(&p);
	copa_view_free(v);
}

static void debian_distroless(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_probe p;

	file(v, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n");
	file(v, "var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4\n");
	file(v, "var/lib/dpkg/status.d/base.md5sums", "abc  etc/x\n");
	file(v, "var/lib/dpkg/status.d/bGliYzY=", "Package: libc6\nVersion: 2.36\n");
	assert_ok(copa_probe_image(v, &p, &err));
	assert_int_equal(p.fam, COPA_FAM_DEB);
	assert_string_equal(p.db_path, "var/lib/dpkg/status.d");
	assert_int_equal(p.n_packages, 2);
	assert_true(p.distroless);
	copa_probe_release(&p);
	copa_view_free(v);
}

/* dpkg's status is authoritative when it holds packages; an empty one beside status.d/ is not. */
static void empty_status_beside_statusd(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_probe p;

	file(v, "var/lib/dpkg/status", "\n");
	file(v, "var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4\n");
	file(v, "var/lib/dpkg/status.d/libc6", "Package: libc6\nVersion: 2.36\n");
	assert_ok(copa_probe_image(v, &p, &err));
	assert_string_equal(p.db_path, "var/lib/dpkg/status.d");
	assert_int_equal(p.n_packages, 2);
	copa_probe_release(&p);
	copa_view_free(v);

	/* Without status.d/, an empty status is an empty database. */
	v = copa_view_new();
	file(v, "var/lib/dpkg/status", "");
	assert_ok(copa_probe_image(v, &p, &err));
	assert_int_equal(p.fam, COPA_FAM_DEB);
	assert_string_equal(p.db_path, "var/lib/dpkg/status");
	assert_int_equal(p.n_packages, 0);
	copa_probe_release(&p);
	copa_view_free(v);
}

static void alpine_and_scratch(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_probe p;

	file(v, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n");
	file(v, "lib/apk/db/installed", "C:Q1x\nP:musl\nV:1\n\nC:Q1y\nP:busybox\nV:1\n");
	file(v, "sbin/apk", "ELF");
	assert_ok(copa_probe_image(v, &p, &err));
	assert_int_equal(p.fam, COPA_FAM_APK);
	assert_int_equal(p.n_packages, 2);
	assert_false(p.distroless);
	copa_probe_release(&p);
	copa_view_free(v);

	v = copa_view_new();
	file(v, "app", "binary");
	assert_ok(copa_probe_image(v, &p, &err));
	assert_false(p.has_os_release);
	assert_int_equal(p.fam, COPA_FAM_NONE);
	assert_null(copa_probe_manager(&p));
	assert_true(p.distroless);
	copa_probe_release(&p);
	copa_view_free(v);
}

static void malformed_status_is_an_error(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_probe p;

	file(v, "var/lib/dpkg/status", "Package: a\n bad\nno colon\n");
	assert_int_equal(copa_probe_image(v, &p, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "var/lib/dpkg/status"));
	copa_probe_release(&p);
	copa_view_free(v);
}

/*
 * A failed probe leaves nothing to release: callers keep the probe only on
 * success, so os-release fields read before the database failed must not
 * outlive the call (the ASan build's leak check catches them too).
 */
static void failed_probe_owns_nothing(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_probe p;

	file(v, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian 12\"\n");
	file(v, "var/lib/dpkg/status", "Package: a\n bad\nno colon\n");
	assert_int_equal(copa_probe_image(v, &p, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_null(p.os.id);
	assert_null(p.os.version_id);
	assert_null(p.os.pretty_name);
	assert_null(p.os.codename);
	assert_null(p.db_path);
	/* No copa_probe_release(): callers do not call it after an error. */
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(debian_regular),
	    cmocka_unit_test(debian_distroless),
	    cmocka_unit_test(empty_status_beside_statusd),
	    cmocka_unit_test(alpine_and_scratch),
	    cmocka_unit_test(malformed_status_is_an_error),
	    cmocka_unit_test(failed_probe_owns_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

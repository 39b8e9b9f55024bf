/*
 * test_version.c: the dpkg, apk and rpm comparators against the vectors of
 * each project's own test suite (tests/unit/data/version_<fam>.data, one case
 * per line: "A < B", "A = B", "A > B", or "! V" for an invalid version).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/version.h"
#include "util/buf.h"
#include "util/fs.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

struct counts {
	int ordered, invalid;
};

static int expect_op(char op)
{
	return op == '<' ? -1 : op == '>' ? 1 : 0;
}

static void check_pair(enum copa_pkgfam fam, const char *file, int lineno, const char *a, char op,
                       const char *b)
{
	struct copa_err err = COPA_ERR_INIT;
	int r = 99, want = expect_op(op);

	if (!copa_version_valid(fam, a))
		fail_msg("%s:%d: '%s' rejected: %s", file, lineno, a,
		         copa_version_invalid_reason(fam, a));
	if (!copa_version_valid(fam, b))
		fail_msg("%s:%d: '%s' rejected: %s", file, lineno, b,
		         copa_version_invalid_reason(fam, b));
	if (copa_version_cmp(fam, a, b, &r, &err) < 0)
		fail_msg("%s:%d: %s", file, lineno, err.msg);
	if (r != want)
		fail_msg("%s:%d: cmp('%s', '%s') = %d, want %d", file, lineno, a, b, r, want);
	assert_int_equal(copa_version_cmp(fam, b, a, &r, &err), 0);
	if (r != -want)
		fail_msg("%s:%d: cmp('%s', '%s') = %d, want %d (reversed)", file, lineno, b, a, r,
		         -want);
	assert_int_equal(copa_version_cmp(fam, a, a, &r, &err), 0);
	if (r != 0)
		fail_msg("%s:%d: '%s' does not equal itself", file, lineno, a);
}

static void check_invalid(enum copa_pkgfam fam, const char *file, int lineno, const char *v)
{
	struct copa_err err = COPA_ERR_INIT;
	int r = 99;

	if (copa_version_valid(fam, v))
		fail_msg("%s:%d: '%s' accepted as a %s version", file, lineno, v,
		         copa_pkgfam_tool(fam));
	if (copa_version_cmp(fam, v, "1", &r, &err) == 0)
		fail_msg("%s:%d: cmp accepted '%s'", file, lineno, v);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "is not a valid"));
	assert_int_equal(r, 99);
}

static struct counts run_file(enum copa_pkgfam fam, const char *name)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	struct counts c = {0, 0};
	char path[512];
	char *line, *save = NULL;
	int lineno = 0;

	snprintf(path, sizeof(path), "%s/%s", COPA_TEST_DATA, name);
	if (copa_fs_read_file(AT_FDCWD, path, 1 << 20, &b, &err) < 0)
		fail_msg("%s", err.msg);
	/* Split by hand: every line counts for the line numbers. */
	for (line = b.p; line && *line; line = save) {
		char *nl = strchr(line, '\n'), *hash, a[300], bb[300], op[4];

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		/* A comment starts at a '#' that begins the line or follows a
		 * blank (apk's data has "A < B\t\t# why"); '#' inside a word is
		 * part of an invalid version under test. */
		for (hash = line; (hash = strchr(hash, '#')); hash++)
			if (hash == line || hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				break;
			}
		if (sscanf(line, " ! %299s", a) == 1) {
			check_invalid(fam, name, lineno, a);
			c.invalid++;
		} else if (sscanf(line, " %299s %3s %299s", a, op, bb) == 3) {
			if (strlen(op) != 1 || !strchr("<=>", op[0]))
				fail_msg("%s:%d: bad operator '%s'", name, lineno, op);
			check_pair(fam, name, lineno, a, op[0], bb);
			c.ordered++;
		} else {
			for (char *p = line; *p; p++)
				if (*p != ' ' && *p != '\t' && *p != '\r')
					fail_msg("%s:%d: cannot read line '%s'", name, lineno,
					         line);
		}
	}
	copa_buf_release(&b);
	return c;
}

static void deb_vectors(void **state)
{
	struct counts c = run_file(COPA_FAM_DEB, "version_deb.data");

	assert_true(c.ordered >= 80);
	assert_true(c.invalid >= 40);
}

static void apk_vectors(void **state)
{
	struct counts c = run_file(COPA_FAM_APK, "version_apk.data");

	assert_true(c.ordered >= 700);
	assert_true(c.invalid >= 2);
}

static void rpm_vectors(void **state)
{
	struct counts c = run_file(COPA_FAM_RPM, "version_rpm.data");

	assert_true(c.ordered >= 100);
	assert_true(c.invalid >= 5);
}

static void common_limits(void **state)
{
	char big[COPA_VERSION_MAX + 2];
	enum copa_pkgfam fams[] = {COPA_FAM_DEB, COPA_FAM_APK, COPA_FAM_RPM};

	/* "1.1.1...11": valid in every family (apk caps a number at 17 digits). */
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = i % 2 ? '.' : '1';
	big[COPA_VERSION_MAX - 1] = '1';
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < 3; i++) {
		assert_false(copa_version_valid(fams[i], ""));
		assert_false(copa_version_valid(fams[i], NULL));
		assert_false(copa_version_valid(fams[i], big));
		assert_false(copa_version_valid(fams[i], "1.0\n"));
		assert_false(copa_version_valid(fams[i], "1.0\x7f"));
		big[COPA_VERSION_MAX] = '\0';
		assert_true(copa_version_valid(fams[i], big));
		big[COPA_VERSION_MAX] = '.';
	}
}

static void dpkg_blanks(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	int r = 99;

	/* t-version.c: surrounding blanks are allowed, embedded ones are not. */
	assert_true(copa_version_valid(COPA_FAM_DEB, "  \t0:0-1"));
	assert_true(copa_version_valid(COPA_FAM_DEB, "0:0-1\t  "));
	assert_false(copa_version_valid(COPA_FAM_DEB, "0:0 0-1"));
	assert_false(copa_version_valid(COPA_FAM_DEB, "  "));
	assert_int_equal(copa_version_cmp(COPA_FAM_DEB, " 0:0-1 ", "0-1", &r, &err), 0);
	assert_int_equal(r, 0);
	assert_false(copa_version_valid(COPA_FAM_RPM, "1.0 -1"));
	assert_false(copa_version_valid(COPA_FAM_APK, "1.0 "));
}

static void none_family_is_unsupported(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	int r;

	assert_false(copa_version_valid(COPA_FAM_NONE, "1.0"));
	assert_int_equal(copa_version_cmp(COPA_FAM_NONE, "1.0", "1.0", &r, &err), -1);
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	assert_string_equal(copa_pkgfam_name(COPA_FAM_RPM), "rpm");
	assert_string_equal(copa_pkgfam_tool(COPA_FAM_DEB), "dpkg");
}

static void raw_segment_comparators(void **state)
{
	assert_int_equal(copa_dpkg_verrevcmp("1.0", NULL), 1);
	assert_int_equal(copa_dpkg_verrevcmp("", NULL), 0);
	assert_int_equal(copa_dpkg_verrevcmp("~", ""), -1);
	assert_int_equal(copa_rpmvercmp("el8", "el8_5"), -1);
	assert_int_equal(copa_rpmvercmp(NULL, ""), 0);
	assert_int_equal(copa_rpmvercmp("1", NULL), 1);
}

static void error_message_names_version(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	int r;

	assert_int_equal(copa_version_cmp(COPA_FAM_DEB, "1.0", "a:1", &r, &err), -1);
	assert_string_equal(err.msg,
	                    "'a:1' is not a valid dpkg version: the epoch is not a number");
	assert_int_equal(copa_version_cmp(COPA_FAM_APK, "1.0_foo", "1.0", &r, &err), -1);
	assert_non_null(strstr(err.msg, "'1.0_foo' is not a valid apk version"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(deb_vectors),
	    cmocka_unit_test(apk_vectors),
	    cmocka_unit_test(rpm_vectors),
	    cmocka_unit_test(common_limits),
	    cmocka_unit_test(dpkg_blanks),
	    cmocka_unit_test(none_family_is_unsupported),
	    cmocka_unit_test(raw_segment_comparators),
	    cmocka_unit_test(error_message_names_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_apkver.c: apk version ordering (src/pkg/apk/apkver.h) against every
 * line of apk-tools' own table, read from the shared test data outside the
 * repository (COPA_SHARED_TESTDATA in the environment, else the build's
 * default, normally ../shared/testdata beside the clone).
 *
 * Line forms (apk-tools test/unit/version_test.c): "V" must be valid, "!V"
 * must be invalid, "A op B" must match, "A !op B" must not; '#' starts a
 * comment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkver.h"
#include "shared_testdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool one_line(struct copa_blob line)
{
	struct copa_blob rest = line, a, op, b;
	const char *hash = copa_blob_chr(line, '#');
	bool invert = false, ok;

	if (hash)
		line.n = (size_t)(hash - line.p);
	line = copa_blob_trim(line);
	if (line.n == 0)
		return true;
	rest = line;
	copa_blob_split(&rest, ' ', &a);
	if (rest.n && copa_blob_chr(rest, ' ')) {
		copa_blob_split(&rest, ' ', &op);
		b = copa_blob_trim(rest);
		if (op.n && op.p[0] == '!') {
			invert = true;
			op.p++, op.n--;
		}
		ok = copa_apkver_match(a, copa_apkver_op_parse(op), b);
	} else {
		if (line.p[0] == '!') {
			invert = true;
			line.p++, line.n--;
		}
		ok = copa_apkver_valid(line);
	}
	return invert ? !ok : ok;
}

static void table(void **state)
{
	char *path = copa_test_shared_path("alpine/version-ordering.data");
	FILE *f = fopen(path, "r");
	char buf[1024];
	int lines = 0, checked = 0, failed = 0;

	if (!f)
		fail_msg(
		    "cannot open '%s' (set COPA_SHARED_TESTDATA to the shared testdata directory)",
		    path);
	while (fgets(buf, sizeof(buf), f)) {
		struct copa_blob l = copa_blob_trim(copa_blob_str(buf));

		lines++;
		if (l.n && l.p[0] != '#')
			checked++;
		if (!one_line(copa_blob_str(buf))) {
			print_error("FAIL line %d: %s", lines, buf);
			failed++;
		}
	}
	fclose(f);
	free(path);
	print_message("%d lines, %d checks, %d failed\n", lines, checked, failed);
	assert_int_equal(failed, 0);
	/* the table is apk-tools' (788 lines); a truncated copy must not pass quietly */
	assert_true(checked > 700);
}

#define V(s) copa_blob_str(s)

static void basics(void **state)
{
	assert_int_equal(copa_apkver_cmp(V("1.0"), V("1.0.1")), COPA_APKV_LESS);
	assert_int_equal(copa_apkver_cmp(V("1.0_rc1"), V("1.0")), COPA_APKV_LESS);
	assert_int_equal(copa_apkver_cmp(V("1.0_p1"), V("1.0")), COPA_APKV_GREATER);
	assert_int_equal(copa_apkver_cmp(V("1.0-r1"), V("1.0-r1")), COPA_APKV_EQUAL);
	assert_int_equal(copa_apkver_cmp(V("1.2.11-r3"), V("1.2.12-r0")), COPA_APKV_LESS);
	assert_int_equal(copa_apkver_sign(copa_apkver_cmp(V("2"), V("10"))), -1);
	assert_int_equal(copa_apkver_cmp(V(""), V("")), COPA_APKV_EQUAL);
	assert_false(copa_apkver_valid(V("")));
	assert_true(copa_apkver_valid(V("1.36.1-r15")));
	/* operators */
	assert_int_equal(copa_apkver_op_parse(V(">=")), COPA_APKV_GREATER | COPA_APKV_EQUAL);
	assert_int_equal(copa_apkver_op_parse(V("><")), COPA_APKV_CHECKSUM);
	assert_int_equal(copa_apkver_op_parse(V("=>x")), 0);
	assert_string_equal(copa_apkver_op_str(copa_apkver_op_parse(V("<~"))), "<~");
	assert_string_equal(copa_apkver_op_str(COPA_APKV_ANY), "");
	assert_true(copa_apkver_match(V("1.2"), COPA_APKV_ANY, V("")));
	assert_false(copa_apkver_match(V("1.2"), COPA_APKV_CONFLICT | COPA_APKV_ANY, V("")));
	assert_true(copa_apkver_match(V("1.2"), COPA_APKV_CONFLICT | COPA_APKV_LESS, V("1.0")));
	assert_true(copa_apkver_match(V("1.2-r5"), COPA_APKV_FUZZY | COPA_APKV_EQUAL, V("1.2")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),
	    cmocka_unit_test(basics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/blob.h"
#include "util/mem.h"

static void split_lines(void **state)
{
	struct copa_blob rest = copa_blob_str("a\nbb\n\nc"), tok;
	const char *want[] = {"a", "bb", "", "c"};
	size_t i = 0;

	while (copa_blob_split(&rest, '\n', &tok)) {
		assert_true(i < 4);
		assert_true(copa_blob_eqs(tok, want[i]));
		i++;
	}
	assert_int_equal(i, 4);
}

static void split_trailing_newline(void **state)
{
	struct copa_blob rest = copa_blob_str("x\n"), tok;
	int n = 0;

	while (copa_blob_split(&rest, '\n', &tok))
		n++;
	assert_int_equal(n, 2); /* "x" and the empty tail */
}

static void trim_and_compare(void **state)
{
	struct copa_blob b = copa_blob_trim(copa_blob_str(" \tPackage: x \r\n"));

	assert_true(copa_blob_eqs(b, "Package: x"));
	assert_true(copa_blob_starts(b, "Pack"));
	assert_true(copa_blob_ends(b, ": x"));
	assert_false(copa_blob_ends(b, "xx: x"));
	assert_true(copa_blob_eqs_ci(copa_blob_str("PACKAGE"), "package"));
	assert_false(copa_blob_eqs_ci(copa_blob_str("PACKAGES"), "package"));
}

static void to_u64(void **state)
{
	uint64_t v;

	assert_int_equal(copa_blob_to_u64(copa_blob_str("12345"), UINT64_MAX, &v), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(copa_blob_to_u64(copa_blob_str(""), UINT64_MAX, &v), -1);
	assert_int_equal(copa_blob_to_u64(copa_blob_str("-1"), UINT64_MAX, &v), -1);
	assert_int_equal(copa_blob_to_u64(copa_blob_str("12a"), UINT64_MAX, &v), -1);
	assert_int_equal(copa_blob_to_u64(copa_blob_str("18446744073709551616"), UINT64_MAX, &v),
	                 -1);
	assert_int_equal(copa_blob_to_u64(copa_blob_str("18446744073709551615"), UINT64_MAX, &v),
	                 0);
	assert_int_equal(copa_blob_to_u64(copa_blob_str("101"), 100, &v), -1);
}

static void dup_copies(void **state)
{
	char *s = copa_blob_dup(copa_blob("abcdef", 3));

	assert_string_equal(s, "abc");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(split_lines),      cmocka_unit_test(split_trailing_newline),
	    cmocka_unit_test(trim_and_compare), cmocka_unit_test(to_u64),
	    cmocka_unit_test(dup_copies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

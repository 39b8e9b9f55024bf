#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/mem.h"

static void grows_and_terminates(void **state)
{
	struct copa_buf b = COPA_BUF_INIT;

	for (int i = 0; i < 1000; i++)
		assert_int_equal(copa_buf_addf(&b, "%d,", i), 0);
	assert_int_equal(b.p[b.len], '\0');
	assert_true(b.len > 3000);
	assert_memory_equal(b.p, "0,1,2,", 6);
	copa_buf_release(&b);
	assert_null(b.p);
}

static void ceiling_is_sticky(void **state)
{
	struct copa_buf b;

	copa_buf_init(&b, 8);
	assert_int_equal(copa_buf_adds(&b, "12345678"), 0);
	assert_false(b.overflow);
	assert_int_equal(copa_buf_addc(&b, '9'), -1);
	assert_true(b.overflow);
	assert_string_equal(copa_buf_str(&b), "12345678");
	assert_int_equal(copa_buf_addf(&b, "%s", "x"), -1);
	copa_buf_reset(&b);
	assert_false(b.overflow);
	assert_string_equal(copa_buf_str(&b), "");
	copa_buf_release(&b);
}

static void detach_and_truncate(void **state)
{
	struct copa_buf b = COPA_BUF_INIT;
	size_t len;
	char *s;

	copa_buf_adds(&b, "hello world");
	copa_buf_truncate(&b, 5);
	s = copa_buf_detach(&b, &len);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	assert_null(b.p);
	free(s);
	s = copa_buf_detach(&b, NULL);
	assert_string_equal(s, "");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(grows_and_terminates),
	    cmocka_unit_test(ceiling_is_sticky),
	    cmocka_unit_test(detach_and_truncate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/proc.h"

static void captures_stdout_and_stdin(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	const char *argv[] = {"cat", NULL};
	struct copa_proc p = {.argv = argv, .stdin_data = "hello", .stdin_len = 5, .out = &out};
	int status = -1;

	assert_int_equal(copa_proc_run(&p, &status, &err), 0);
	assert_int_equal(status, 0);
	assert_string_equal(copa_buf_str(&out), "hello");
	copa_buf_release(&out);
}

static void arguments_are_not_shell(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	const char *argv[] = {"echo", "$(id)", ";", "`x`", NULL};
	struct copa_proc p = {.argv = argv, .out = &out};
	int status;

	assert_int_equal(copa_proc_run(&p, &status, &err), 0);
	assert_string_equal(copa_buf_str(&out), "$(id) ; `x`\n");
	copa_buf_release(&out);
}

static void exit_status_and_missing_program(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *f[] = {"false", NULL};
	const char *missing[] = {"copa-no-such-program-xyz", NULL};
	struct copa_proc p = {.argv = f};
	int status;

	assert_int_equal(copa_proc_run(&p, &status, &err), 0);
	assert_int_equal(status, 1);
	p.argv = missing;
	assert_int_equal(copa_proc_run(&p, &status, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
}

static void timeout_kills_process_group(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	/* The child's own child must die too, or the pipe would stay open. */
	const char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_proc p = {.argv = argv, .out = &out, .timeout_ms = 300};
	int status;

	assert_int_equal(copa_proc_run(&p, &status, &err), -1);
	assert_int_equal(err.code, COPA_E_TIMEOUT);
	copa_buf_release(&out);
}

static void output_cap(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *argv[] = {"yes", NULL};
	struct copa_buf out;
	struct copa_proc p = {.argv = argv, .out = &out, .timeout_ms = 5000};
	int status;

	copa_buf_init(&out, 1000);
	assert_int_equal(copa_proc_run(&p, &status, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(captures_stdout_and_stdin),
	    cmocka_unit_test(arguments_are_not_shell),
	    cmocka_unit_test(exit_status_and_missing_program),
	    cmocka_unit_test(timeout_kills_process_group),
	    cmocka_unit_test(output_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

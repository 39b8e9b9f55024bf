#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/eol.h"

#include <string.h>
#include <time.h>

static time_t day(int y, int m, int d)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};

	return timegm(&tm);
}

static void cycles(void **state)
{
	static const struct {
		const char *id, *version, *want;
	} cases[] = {
	    {"debian", "11", "11"},       {"debian", "12.5", "12"},
	    {"ubuntu", "22.04", "22.04"}, {"alpine", "3.18.4", "3.18"},
	    {"alpine", "3.18", "3.18"},   {"rocky", "9.3", "9"},
	    {"amzn", "2023", "2023"},     {"mariner", "2.0.20240301", "2.0"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(copa_eol_cycle(cases[i].id, cases[i].version, buf, sizeof(buf)));
		assert_string_equal(buf, cases[i].want);
	}
	assert_false(copa_eol_cycle("debian", NULL, buf, sizeof(buf)));
	assert_false(copa_eol_cycle("debian", "", buf, sizeof(buf)));
	assert_false(copa_eol_cycle("debian", "123456789", buf, 4));
}

static void lookups(void **state)
{
	const char *date = NULL;
	bool past = false;

	(void)state;
	assert_true(copa_eol_lookup("debian", "10", day(2024, 6, 30), &date, &past));
	assert_string_equal(date, "2024-06-30");
	assert_false(past); /* the last day is still supported */
	assert_true(copa_eol_lookup("debian", "10", day(2024, 7, 1), &date, &past));
	assert_true(past);
	assert_true(copa_eol_lookup("alpine", "3.18.4", day(2025, 1, 1), &date, &past));
	assert_false(past);
	assert_true(copa_eol_lookup("ubuntu", "18.04", day(2025, 1, 1), &date, &past));
	assert_true(past);
	assert_false(copa_eol_lookup("debian", NULL, day(2025, 1, 1), &date, &past));
	assert_false(copa_eol_lookup("nosuchos", "1", day(2025, 1, 1), &date, &past));
	assert_false(copa_eol_lookup("debian", "99", day(2025, 1, 1), &date, &past));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cycles),
	    cmocka_unit_test(lookups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of apt pinning (src/pkg/deb/aptprefs.h): parsing and apt's priorities. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/aptprefs.h"
#include "testutil.h"

#include <string.h>

static const struct copa_apt_file STATUS = {.status = true};
static const struct copa_apt_file MAIN = {.origin = "Debian",
                                          .label = "Debian",
                                          .suite = "stable",
                                          .codename = "bookworm",
                                          .component = "main",
                                          .arch = "amd64",
                                          .host = "deb.debian.org"};
static const struct copa_apt_file SECURITY = {.origin = "Debian",
                                              .label = "Debian-Security",
                                              .suite = "stable-security",
                                              .codename = "bookworm-security",
                                              .component = "main",
                                              .arch = "amd64",
                                              .host = "security.debian.org"};
static const struct copa_apt_file BACKPORTS = {.origin = "Debian Backports",
                                               .suite = "stable-backports",
                                               .codename = "bookworm-backports",
                                               .component = "main",
                                               .arch = "all",
                                               .host = "deb.debian.org",
                                               .not_automatic = true,
                                               .but_automatic_upgrades = true};

struct logged {
	struct copa_out out;
	char last[512];
	int n;
};

static void keep(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	struct logged *l = (struct logged *)out;

	snprintf(l->last, sizeof(l->last), "%s", msg);
	l->n++;
}

static void parse(const char *text, struct copa_apt_prefs *p, struct logged *l)
{
	struct copa_err err = COPA_ERR_INIT;

	memset(l, 0, sizeof(*l));
	l->out.log = keep;
	l->out.min_level = COPA_LOG_DEBUG;
	assert_ok(
	    copa_apt_prefs_parse(text, strlen(text), "etc/apt/preferences.d/t", p, &l->out, &err));
}

static void defaults_without_pins(void **state)
{
	struct copa_apt_prefs none = {0};
	const struct copa_apt_file both[] = {STATUS, MAIN};

	assert_int_equal(copa_apt_priority(&none, "x", "1", &MAIN, 1, NULL), 500);
	assert_int_equal(copa_apt_priority(&none, "x", "1", &STATUS, 1, NULL), 100);
	assert_int_equal(copa_apt_priority(&none, "x", "1", &BACKPORTS, 1, NULL), 100);
	{
		struct copa_apt_file exp = BACKPORTS;

		exp.but_automatic_upgrades = false;
		assert_int_equal(copa_apt_priority(&none, "x", "1", &exp, 1, NULL), 1);
	}
	/* A version in the status file and a repository: the higher of the two. */
	assert_int_equal(copa_apt_priority(&none, "x", "1", both, 2, NULL), 500);
	assert_int_equal(copa_apt_priority(NULL, "x", "1", &MAIN, 1, NULL), 500);
}

static void specific_pins_first_match(void **state)
{
	struct copa_apt_prefs p = {0};
	struct logged l;
	const struct copa_apt_pin *why;

	parse("Explanation: hold openssl\n"
	      "Package: openssl libssl*\n"
	      "Pin: version 3.0.13*\n"
	      "Pin-Priority: 1001\n"
	      "\n"
	      "Package: openssl\n"
	      "Pin: release a=stable-security\n"
	      "Pin-Priority: -1\n"
	      "\n"
	      "Package: libc6:i386\n"
	      "Pin: origin \"security.debian.org\"\n"
	      "Pin-Priority: 42\n",
	      &p, &l);
	assert_int_equal(p.n, 3);
	assert_int_equal(l.n, 0);
	/* The first record naming the package and matching the version decides. */
	assert_int_equal(copa_apt_priority(&p, "openssl", "3.0.13-1~deb12u1", &SECURITY, 1, &why),
	                 1001);
	assert_string_equal(why->where, "etc/apt/preferences.d/t:1");
	assert_int_equal(copa_apt_priority(&p, "openssl", "3.0.14-1~deb12u1", &SECURITY, 1, &why),
	                 -1);
	assert_string_equal(why->where, "etc/apt/preferences.d/t:6");
	assert_int_equal(copa_apt_priority(&p, "openssl", "3.0.14-1~deb12u1", &MAIN, 1, &why), 500);
	assert_null(why);
	assert_int_equal(copa_apt_priority(&p, "libssl3", "3.0.13-1", &MAIN, 1, NULL), 1001);
	/* An architecture-qualified pin: only that architecture. */
	assert_int_equal(copa_apt_priority(&p, "libc6:i386", "2.36-9", &SECURITY, 1, NULL), 42);
	assert_int_equal(copa_apt_priority(&p, "libc6", "2.36-9", &SECURITY, 1, NULL), 500);
	copa_apt_prefs_release(&p);
}

static void general_pins_per_file(void **state)
{
	struct copa_apt_prefs p = {0};
	struct logged l;
	const struct copa_apt_file both[] = {MAIN, SECURITY};

	parse("Package: *\nPin: release n=*-security\nPin-Priority: 100\n\n"
	      "Package: *\nPin: release o=Debian, a=stable\nPin-Priority: 700\n\n"
	      "Package: *\nPin: release a=now\nPin-Priority: 1001\n\n"
	      "Package: *\nPin: release stable-backports\nPin-Priority: 500\n",
	      &p, &l);
	assert_int_equal(p.n, 4);
	assert_int_equal(copa_apt_priority(&p, "x", "1", &SECURITY, 1, NULL), 100);
	assert_int_equal(copa_apt_priority(&p, "x", "1", &MAIN, 1, NULL), 700);
	assert_int_equal(copa_apt_priority(&p, "x", "1", both, 2, NULL), 700);
	assert_int_equal(copa_apt_priority(&p, "x", "1", &STATUS, 1, NULL), 1001);
	assert_int_equal(copa_apt_priority(&p, "x", "1", &BACKPORTS, 1, NULL), 500);
	copa_apt_prefs_release(&p);
}

static void unsupported_and_malformed_records_are_skipped(void **state)
{
	static const char *const cases[][2] = {
	    {"Package: /^open/\nPin: version *\nPin-Priority: 1\n", "regular expressions"},
	    {"Package: src:openssl\nPin: version *\nPin-Priority: 1\n", "src:"},
	    {"Package: x\nPin: release v=12\nPin-Priority: 1\n", "release keys"},
	    {"Package: x\nPin: frobnicate 1\nPin-Priority: 1\n", "a Pin other than"},
	    {"Package: x\nPin: version 1\nPin-Priority: high\n", "Pin-Priority"},
	    {"Package: x\nPin: version 1\n", "without Package, Pin and Pin-Priority"},
	    {"Package: x\nPin: version 1\nPin-Priority: 99999999999999999999999\n", "Pin-Priority"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct copa_apt_prefs p = {0};
		struct logged l;

		parse(cases[i][0], &p, &l);
		assert_int_equal(p.n, 0);
		assert_int_equal(l.n, 1);
		if (!strstr(l.last, cases[i][1]) || !strstr(l.last, "preferences.d/t:1"))
			fail_msg("case %zu: %s", i, l.last);
		copa_apt_prefs_release(&p);
	}
	/* Not deb822 at all: an error naming the file. */
	{
		struct copa_err err = COPA_ERR_INIT;
		struct copa_apt_prefs p = {0};
		const char *t = "not a record\n";

		assert_int_equal(
		    copa_apt_prefs_parse(t, strlen(t), "etc/apt/preferences", &p, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "etc/apt/preferences"));
		copa_apt_prefs_release(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_without_pins),
	    cmocka_unit_test(specific_pins_first_match),
	    cmocka_unit_test(general_pins_per_file),
	    cmocka_unit_test(unsupported_and_malformed_records_are_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

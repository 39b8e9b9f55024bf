/* Unit tests of dpkg's path filters (src/pkg/deb/dpkgfilter.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "layer/layer.h"
#include "pkg/deb/dpkgfilter.h"
#include "testutil.h"

#include <string.h>

static void parse_and_match(void **state)
{
	static const char cfg[] =
	    "  # comment\n"
	    "force-unsafe-io\n"
	    "path-exclude /usr/share/doc/*\n"
	    "path-include=/usr/share/doc/*/copyright  \n"
	    "path-exclude \"/usr/share/man/*\"\n"
	    "path-exclude='/usr/share/locale/*\n" /* unbalanced: dpkg refuses it */
	    "path-include\n";
	struct copa_dpkg_filters f = {0};

	(void)state;
	copa_dpkg_filters_parse(&f, cfg, sizeof(cfg) - 1);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.v[1].pattern, "/usr/share/doc/*/copyright");
	assert_true(f.v[1].include);
	assert_string_equal(f.v[2].pattern, "/usr/share/man/*");
	assert_true(copa_dpkg_filters_skip(&f, "/usr/share/doc/x/changelog.gz", COPA_FT_REG));
	assert_false(copa_dpkg_filters_skip(&f, "/usr/share/doc/x/copyright", COPA_FT_REG));
	/* '*' crosses '/' (no FNM_PATHNAME); the directory itself does not match. */
	assert_true(copa_dpkg_filters_skip(&f, "/usr/share/man/de/man1/x.1.gz", COPA_FT_REG));
	assert_false(copa_dpkg_filters_skip(&f, "/usr/share/man", COPA_FT_DIR));
	assert_true(copa_dpkg_filters_skip(&f, "/usr/share/man/man1", COPA_FT_DIR));
	/* An excluded directory an include pattern reaches into is kept. */
	assert_false(copa_dpkg_filters_skip(&f, "/usr/share/doc/x", COPA_FT_DIR));
	assert_false(copa_dpkg_filters_skip(&f, "/usr/share/locale/de/x.mo", COPA_FT_REG));
	assert_true(copa_dpkg_filters_valid_name("docker-slim_1"));
	assert_false(copa_dpkg_filters_valid_name("excludes.conf"));
	assert_false(copa_dpkg_filters_valid_name(".hidden"));
	copa_dpkg_filters_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_and_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

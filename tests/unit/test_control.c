#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/control.h"
#include "testutil.h"

static const char status[] = "Package: libpam-runtime\n"
                             "Status: install ok installed\n"
                             "Priority: required\n"
                             "Conffiles:\n"
                             " /etc/pam.conf 87fc76f18e98ee7d3848f6b81b3391e5\n"
                             " /etc/pam.d/other 31aa7f2181889ffb00b87df4126d1701\n"
                             "Description: Runtime support for the PAM library\n"
                             " Contains configuration files.\n"
                             " .\n"
                             " More.\n"
                             "\n\n"
                             "package: second\n"
                             "version:1.0-1  \n";

static void paragraphs_and_fields(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	struct copa_blob v, rest, line;
	int n = 0;

	copa_deb822_init(&p, status, sizeof(status) - 1, "'status'", false);
	assert_int_equal(copa_deb822_next(&p, &para, &err), 1);
	assert_int_equal(para.line, 1);
	assert_true(copa_blob_eqs(copa_deb822_get(&para, "package"), "libpam-runtime"));
	assert_true(copa_blob_eqs(copa_deb822_get(&para, "STATUS"), "install ok installed"));
	v = copa_deb822_get(&para, "Conffiles");
	rest = v;
	while (copa_deb822_lines(&rest, &line)) {
		if (n == 0)
			assert_int_equal(line.n, 0);
		if (n == 2)
			assert_true(copa_blob_eqs(
			    line, "/etc/pam.d/other 31aa7f2181889ffb00b87df4126d1701"));
		n++;
	}
	assert_int_equal(n, 3);
	/* Raw value round-trips byte for byte. */
	assert_true(copa_blob_eqs(
	    copa_deb822_get(&para, "Description"),
	    "Runtime support for the PAM library\n Contains configuration files.\n .\n More."));
	assert_false(copa_deb822_has(&para, "Version"));
	assert_int_equal(copa_deb822_next(&p, &para, &err), 1);
	assert_int_equal(para.line, 13);
	assert_true(copa_blob_eqs(copa_deb822_get_trim(&para, "Version"), "1.0-1"));
	assert_int_equal(copa_deb822_next(&p, &para, &err), 0);
	copa_deb822_para_release(&para);
}

static void malformed(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	static const char *bad[] = {" leading continuation\n", "Package x\n", ": novalue\n",
	                            "A: 1\nno colon here\n"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		copa_deb822_init(&p, bad[i], strlen(bad[i]), "'Packages'", false);
		assert_int_equal(copa_deb822_next(&p, &para, &err), -1);
		assert_int_equal(err.code, COPA_E_INPUT);
		assert_non_null(strstr(err.msg, "'Packages' line"));
	}
	copa_deb822_para_release(&para);
}

static void comments_in_sources(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	static const char src[] = "# comment\nTypes: deb\n# inner\nURIs: http://x\n";
	struct copa_blob rest, w;
	int words = 0;

	copa_deb822_init(&p, src, sizeof(src) - 1, "'debian.sources'", true);
	assert_int_equal(copa_deb822_next(&p, &para, &err), 1);
	assert_int_equal(para.n, 2);
	rest = copa_deb822_get(&para, "uris");
	while (copa_blob_word(&rest, &w))
		words++;
	assert_int_equal(words, 1);
	copa_deb822_para_release(&para);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(paragraphs_and_fields),
	    cmocka_unit_test(malformed),
	    cmocka_unit_test(comments_in_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

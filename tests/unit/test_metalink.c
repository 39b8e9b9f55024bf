/*
 * test_metalink.c: metalink parsing (mirror order, hashes, alternates, what is
 * refused) and the default repository table (every entry parses as a .repo
 * file, the official URLs, COPA_RPM_DEFAULT_MIRROR's rebasing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/metalink.h"
#include "pkg/rpm/repofile.h"
#include "pkg/rpm/rpmdefaults.h"
#include "util/hash.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char repomd[] = "<?xml version=\"1.0\"?><repomd/>\n";

static char *metalink(const char *size, const char *main_hash, const char *alt_hash)
{
	return copa_xasprintf(
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<metalink version=\"3.0\" xmlns=\"http://www.metalinker.org/\" "
	    "xmlns:mm0=\"http://fedorahosted.org/mirrormanager\">\n<files>\n"
	    "<file name=\"repomd.xml\"><mm0:timestamp>1</mm0:timestamp><size>%s</size>\n"
	    "<verification><hash type=\"md5\">00112233445566778899aabbccddeeff</hash>"
	    "<hash type=\"sha256\">%s</hash></verification>\n"
	    "<mm0:alternates><mm0:alternate><size>9</size><verification>"
	    "<hash type=\"sha256\">%s</hash></verification></mm0:alternate></mm0:alternates>\n"
	    "<resources>\n"
	    "<url protocol=\"rsync\" "
	    "preference=\"100\">rsync://a.example/f/repodata/repomd.xml</url>\n"
	    "<url protocol=\"https\" "
	    "preference=\"99\">https://b.example/f/41/repodata/repomd.xml</url>\n"
	    "<url protocol=\"http\" preference=\"100\"> http://c.example/f/41/repodata/repomd.xml "
	    "</url>\n"
	    "<url protocol=\"https\" preference=\"99\">https://d.example/repomd.xml</url>\n"
	    "<url protocol=\"https\">https://e.example/x/repodata/repomd.xml</url>\n"
	    "</resources></file></files></metalink>\n",
	    size, main_hash, alt_hash);
}

static void parse_and_match(void **state)
{
	char h[COPA_HASH_HEX_MAX], why[160], size[32];
	struct copa_err err = COPA_ERR_INIT;
	struct copa_metalink ml;
	_cleanup_free_ char *x = NULL;

	(void)state;
	copa_hash_hex(COPA_HASH_SHA256, repomd, strlen(repomd), h);
	snprintf(size, sizeof(size), "%zu", strlen(repomd));
	x = metalink(size, h, "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
	assert_int_equal(copa_metalink_parse(x, strlen(x), "m", &ml, &err), 0);
	/* preference order, document order among equals, http(s) ending in repodata/repomd.xml */
	assert_int_equal(ml.n_bases, 3);
	assert_string_equal(ml.bases[0], "http://c.example/f/41/");
	assert_string_equal(ml.bases[1], "https://b.example/f/41/");
	assert_string_equal(ml.bases[2], "https://e.example/x/");
	assert_null(ml.bases[3]);
	assert_int_equal(ml.n_hashes, 2);
	assert_int_equal(ml.hashes[0].size, strlen(repomd));
	assert_true(copa_metalink_match(&ml, repomd, strlen(repomd), why, sizeof(why)));
	{
		_cleanup_free_ char *other = copa_xstrdup(repomd);

		other[3] ^= 1; /* same size, other content */
		assert_false(copa_metalink_match(&ml, other, strlen(other), why, sizeof(why)));
		assert_non_null(strstr(why, "sha256"));
	}
	assert_false(copa_metalink_match(&ml, repomd, strlen(repomd) - 1, why, sizeof(why)));
	assert_non_null(strstr(why, "the metalink says"));
	copa_metalink_release(&ml);
}

static void alternate_accepted(void **state)
{
	char h[COPA_HASH_HEX_MAX], why[160];
	struct copa_err err = COPA_ERR_INIT;
	struct copa_metalink ml;
	_cleanup_free_ char *x = NULL;

	(void)state;
	copa_hash_hex(COPA_HASH_SHA256, "123456789", 9, h);
	x = metalink("5000", "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd", h);
	assert_int_equal(copa_metalink_parse(x, strlen(x), "m", &ml, &err), 0);
	assert_true(copa_metalink_match(&ml, "123456789", 9, why, sizeof(why)));
	assert_false(copa_metalink_match(&ml, "12345678X", 9, why, sizeof(why)));
	copa_metalink_release(&ml);
}

static void refused(void **state)
{
	static const struct {
		const char *xml, *msg;
	} cases[] = {
	    {"mirrors\n", "is not XML"},
	    {"<repomd/>", "not a metalink"},
	    {"<metalink><files><file name=\"repomd.xml\"><size>1</size></file></files></metalink>",
	     "no sha256 or sha512 hash"},
	    {"<metalink><files><file name=\"repomd.xml\"><verification><hash type=\"sha256\">"
	     "zz</hash></verification></file></files></metalink>",
	     "not 64 hex digits"},
	    {"<metalink><files><file name=\"repomd.xml\"><verification><hash type=\"sha256\">"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef</hash>"
	     "</verification><resources><url>ftp://x/repodata/repomd.xml</url></resources>"
	     "</file></files></metalink>",
	     "no http(s) mirror"},
	    {"<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"b\">]><metalink>&a;</metalink>",
	     "DOCTYPE"},
	};

	(void)state;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_metalink ml;

		assert_int_equal(
		    copa_metalink_parse(cases[i].xml, strlen(cases[i].xml), "m", &ml, &err), -1);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
		assert_null(ml.bases);
	}
}

static void defaults(void **state)
{
	static const char *const ids[][2] = {
	    {"azurelinux", "3.0"}, {"mariner", "2.0"}, {"fedora", "41"}, {"rocky", "9.3"},
	    {"almalinux", "9.4"},  {"rhel", "9.4"},    {"rhel", "8.10"}, {"centos", "9"},
	    {"amzn", "2023"},      {"ol", "9.4"},
	};
	struct copa_rpm_vars vars = {0};
	struct copa_err err = COPA_ERR_INIT;

	(void)state;
	assert_int_equal(copa_rpm_vars_set(&vars, "releasever", "3.0", &err), 0);
	assert_int_equal(copa_rpm_vars_set(&vars, "basearch", "x86_64", &err), 0);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(ids); i++) {
		const char *t = copa_rpm_default_repos(ids[i][0], ids[i][1]);
		struct copa_rpm_repos r = {0};

		assert_non_null(t);
		if (copa_rpm_repos_parse(&r, &vars, t, strlen(t), "defaults", &err) < 0)
			fail_msg("%s %s: %s", ids[i][0], ids[i][1], err.msg);
		assert_true(r.n > 0);
		for (size_t k = 0; k < r.n; k++)
			assert_true(r.v[k].gpgcheck && r.v[k].gpgkeys[0]);
		if (i == 0) {
			assert_string_equal(r.v[0].baseurls[0], "https://packages.microsoft.com/"
			                                        "azurelinux/3.0/prod/base/x86_64/");
			assert_true(r.v[0].repo_gpgcheck);
		}
		copa_rpm_repos_release(&r);
	}
	assert_null(copa_rpm_default_repos("azurelinux", "4.0"));
	assert_null(copa_rpm_default_repos("rocky", "93"));
	assert_null(copa_rpm_default_repos("sles", "15.5"));
	assert_null(copa_rpm_default_repos(NULL, "9"));
	copa_rpm_vars_release(&vars);
}

static void rebase(void **state)
{
	char *u;

	(void)state;
	u = copa_rpm_default_rebase("https://packages.microsoft.com/azurelinux/3.0/prod/",
	                            "http://127.0.0.1:8080/mirror/");
	assert_string_equal(u, "http://127.0.0.1:8080/mirror/azurelinux/3.0/prod/");
	free(u);
	u = copa_rpm_default_rebase("https://mirrors.fedoraproject.org/metalink?repo=f",
	                            "http://127.0.0.1:1");
	assert_string_equal(u, "http://127.0.0.1:1/metalink?repo=f");
	free(u);
	u = copa_rpm_default_rebase("https://a.example/x", NULL);
	assert_string_equal(u, "https://a.example/x");
	free(u);
	assert_null(copa_rpm_default_rebase("https://a.example/x", "ftp://m.example/"));
	assert_null(copa_rpm_default_rebase("https://a.example/x", "http:///x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_and_match), cmocka_unit_test(alternate_accepted),
	    cmocka_unit_test(refused),         cmocka_unit_test(defaults),
	    cmocka_unit_test(rebase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

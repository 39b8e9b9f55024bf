/*
 * test_vex.c: purl building (the purl-spec's own build vectors in
 * tests/unit/data/purl_build.data), the image and package purl forms copa
 * emits, the VEX builder (dedupe, order, open vulnerabilities) and the
 * summary counts. Schema validation of real output is in tests/e2e/test_vex.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "report/manifest.h"
#include "testutil.h"
#include "util/fs.h"
#include "vex/purl.h"
#include "vex/summary.h"
#include "vex/vex.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *field(char **p)
{
	char *s = *p, *bar = strchr(s, '|');

	if (bar) {
		*bar = '\0';
		*p = bar + 1;
	} else {
		*p = s + strlen(s);
	}
	return strcmp(s, "-") ? s : NULL;
}

static void spec_build_vectors(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf file = COPA_BUF_INIT, out = COPA_BUF_INIT;
	char path[512], *line, *next;
	int n = 0;

	snprintf(path, sizeof(path), "%s/purl_build.data", COPA_TEST_DATA);
	assert_ok(copa_fs_read_file(AT_FDCWD, path, 1 << 20, &file, &err));
	for (line = file.p; line && *line; line = next) {
		char *nl = strchr(line, '\n'), *p = line, *type, *ns, *name, *ver, *qs, *want;
		struct copa_purl_qual q[8];
		size_t nq = 0;

		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		type = field(&p);
		ns = field(&p);
		name = field(&p);
		ver = field(&p);
		qs = field(&p);
		want = field(&p);
		while (qs && *qs && nq < 8) {
			char *comma = strchr(qs, ','), *eq;

			if (comma)
				*comma = '\0';
			eq = strchr(qs, '=');
			assert_non_null(eq);
			*eq = '\0';
			q[nq].key = qs;
			q[nq++].value = eq + 1;
			qs = comma ? comma + 1 : NULL;
		}
		assert_ok(copa_purl_build(&out, type, ns, name, ver, q, nq, &err));
		if (strcmp(copa_buf_str(&out), want))
			fail_msg("got  %s\nwant %s", copa_buf_str(&out), want);
		n++;
	}
	assert_true(n >= 18);
	copa_buf_release(&file);
	copa_buf_release(&out);
}

static void build_rejects(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_purl_qual dup[] = {{"arch", "a"}, {"arch", "b"}};
	struct copa_purl_qual bad[] = {{"Arch", "a"}};

	assert_int_equal(copa_purl_build(&out, "Deb", NULL, "x", NULL, NULL, 0, &err), -1);
	assert_int_equal(copa_purl_build(&out, "deb", NULL, "", NULL, NULL, 0, &err), -1);
	assert_int_equal(copa_purl_build(&out, "deb", NULL, "x", NULL, dup, 2, &err), -1);
	assert_non_null(strstr(err.msg, "duplicate"));
	assert_int_equal(copa_purl_build(&out, "deb", NULL, "x", NULL, bad, 1, &err), -1);
	copa_buf_release(&out);
}

static void image_purls(void **state)
{
	static const struct {
		const char *ref, *arch, *want;
	} t[] = {
	    {"localhost:5000/library/nginx:1.21.6-patched", "amd64",
	     "pkg:oci/nginx@" D64 "?arch=amd64&repository_url=localhost:5000%2Flibrary%2Fnginx"
	     "&tag=1.21.6-patched"},
	    {"localhost:5000/App@sha256:ffff", NULL,
	     "pkg:oci/app@" D64 "?repository_url=localhost:5000%2FApp"},
	    {"registry.example/a/b/c", "arm64",
	     "pkg:oci/c@" D64 "?arch=arm64&repository_url=registry.example%2Fa%2Fb%2Fc"},
	    {"oci:/srv/layouts/web:v2", NULL, "pkg:oci/web@" D64 "?tag=v2"},
	    {"oci:/srv/layouts/web", NULL, "pkg:oci/web@" D64},
	    {"oci-archive:/tmp/Image.tar:latest", NULL, "pkg:oci/image@" D64 "?tag=latest"},
	    {"docker-archive:/tmp/x.tar:repo/app:1.2", NULL, "pkg:oci/app@" D64 "?tag=1.2"},
	};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_ok(copa_purl_oci(&out, t[i].ref, D64, t[i].arch, &err));
		assert_string_equal(copa_buf_str(&out), t[i].want);
	}
	assert_int_equal(copa_purl_oci(&out, "x", "sha256:abc", NULL, &err), -1);
	assert_int_equal(copa_purl_oci(&out, "x", "md5:0123", NULL, &err), -1);
	copa_buf_release(&out);
}

static void package_purls(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;

	assert_ok(copa_purl_package(&out, COPA_FAM_DEB, "debian", "BSDutils", "1:2.36.1-8+deb11u1",
	                            "amd64", "debian-11.3", &err));
	assert_string_equal(
	    copa_buf_str(&out),
	    "pkg:deb/debian/bsdutils@1:2.36.1-8%2Bdeb11u1?arch=amd64&distro=debian-11.3");
	assert_ok(copa_purl_package(&out, COPA_FAM_RPM, "redhat", "Foo", "1:1.1.1k-9.el8_7",
	                            "x86_64", "redhat-8.7", &err));
	assert_string_equal(copa_buf_str(&out), "pkg:rpm/redhat/Foo@1.1.1k-9.el8_7"
	                                        "?arch=x86_64&distro=redhat-8.7&epoch=1");
	assert_ok(copa_purl_package(&out, COPA_FAM_RPM, "oracle", "curl", "0:7.61.1-30.el8", NULL,
	                            NULL, &err));
	assert_string_equal(copa_buf_str(&out), "pkg:rpm/oracle/curl@7.61.1-30.el8");
	assert_ok(copa_purl_package(&out, COPA_FAM_APK, "alpine", "ncurses-libs",
	                            "6.3_p20221119-r1", "x86_64", "alpine-3.17.3", &err));
	assert_string_equal(copa_buf_str(&out), "pkg:apk/alpine/ncurses-libs@6.3_p20221119-r1"
	                                        "?arch=x86_64&distro=alpine-3.17.3");
	assert_int_equal(copa_purl_package(&out, COPA_FAM_NONE, "x", "y", "1", NULL, NULL, &err),
	                 -1);
	copa_buf_release(&out);
}

static struct copa_vex *new_vex(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_vex_opts o = {.author = "Test", .timestamp = 1700000000};
	struct copa_vex *v = copa_vex_new(&o, &err);

	assert_non_null(v);
	return v;
}

static void vex_builder(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_vex *v = new_vex();
	struct copa_vex_opts none = {0};
	const char *s;

	assert_null(copa_vex_new(&none, &err));
	assert_int_equal(err.code, COPA_E_USAGE);
	assert_int_equal(copa_vex_render(v, &out, &err), -1);
	assert_non_null(strstr(err.msg, "no fixed vulnerabilities"));
	assert_ok(copa_vex_add_fixed(v, "CVE-2", "pkg:oci/a@x", "pkg:deb/debian/b@1", &err));
	assert_ok(copa_vex_add_fixed(v, "CVE-1", "pkg:oci/a@x", "pkg:deb/debian/b@1", &err));
	assert_ok(copa_vex_add_fixed(v, "CVE-2", "pkg:oci/a@x", "pkg:deb/debian/b@1", &err));
	assert_ok(copa_vex_add_fixed(v, "CVE-2", "pkg:oci/a@x", "pkg:deb/debian/c@1", &err));
	assert_ok(copa_vex_add_fixed(v, "CVE-2", "pkg:oci/a@y", NULL, &err));
	assert_int_equal(copa_vex_add_fixed(v, "CVE-3", "not a purl", NULL, &err), -1);
	assert_int_equal(copa_vex_add_fixed(v, "", "pkg:oci/a@x", NULL, &err), -1);
	assert_int_equal(copa_vex_count(v), 2);
	assert_ok(copa_vex_render(v, &out, &err));
	s = copa_buf_str(&out);
	assert_non_null(strstr(s, "\"@context\": \"https://openvex.dev/ns/v0.2.0\""));
	assert_non_null(strstr(s, "\"timestamp\": \"2023-11-14T22:13:20Z\""));
	/* Sorted by vulnerability; CVE-2 has two products, the first with two components. */
	assert_true(strstr(s, "\"CVE-1\"") < strstr(s, "\"CVE-2\""));
	assert_non_null(strstr(s, "\"@id\": \"pkg:deb/debian/b@1\"\n            },\n"
	                          "            {\n              \"@id\": \"pkg:deb/debian/c@1\""));
	assert_non_null(strstr(s, "\"@id\": \"pkg:oci/a@y\"\n"));
	copa_buf_release(&out);
	copa_vex_free(v);
}

static void summary_counts_and_vex(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest *m = copa_update_manifest_new("r.json", "trivy");
	struct copa_summary *s = copa_summary_new();
	struct copa_summary_platform *p;
	struct copa_summary_counts c;
	struct copa_vex *v = new_vex();
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_entry e1 = {"libc6", "2.36-9", "2.36-9+deb12u4", "CVE-1", "debian", "os-pkgs"};
	struct copa_entry e2 = {"libc-bin", "2.36-9", "2.36-9+deb12u4",
	                        "CVE-1",    "debian", "os-pkgs"};
	struct copa_entry e3 = {"zlib1g", "1:1.2.13", "", "CVE-9", "debian", "os-pkgs"};
	const char *ids1[] = {"CVE-1", "CVE-2"}, *ids2[] = {"CVE-1"}, *ids3[] = {"CVE-3"};
	const char *ids4[] = {"CVE-9", "CVE-4"};
	const char *scripts[] = {"postinst"};
	struct copa_pkg_result r1 = {.name = "libc6",
	                             .installed_before = "2.36-9",
	                             .requested = "2.36-9+deb12u4",
	                             .chosen = "2.36-9+deb12u4",
	                             .installed = "2.36-9+deb12u4",
	                             .outcome = COPA_OUTCOME_UPDATED,
	                             .vuln_ids = ids1,
	                             .n_vuln_ids = 2,
	                             .skipped_scripts = scripts,
	                             .n_skipped_scripts = 1};
	struct copa_pkg_result r2 = {.name = "libc-bin",
	                             .outcome = COPA_OUTCOME_FAILED,
	                             .reason = "checksum mismatch",
	                             .vuln_ids = ids2,
	                             .n_vuln_ids = 1};
	struct copa_pkg_result r3 = {.name = "tzdata",
	                             .installed_before = "2024a-0+deb12u1",
	                             .outcome = COPA_OUTCOME_ALREADY_FIXED,
	                             .vuln_ids = ids3,
	                             .n_vuln_ids = 1};
	struct copa_pkg_result r4 = {.name = "zlib1g",
	                             .installed = "1:1.2.13.dfsg-1",
	                             .outcome = COPA_OUTCOME_UPDATED,
	                             .vuln_ids = ids4,
	                             .n_vuln_ids = 2};

	assert_ok(
	    copa_update_manifest_set_os(m, "debian", "12.5", "amd64", NULL, COPA_FAM_NONE, &err));
	assert_ok(copa_update_manifest_add(m, &e1, &err));
	assert_ok(copa_update_manifest_add(m, &e2, &err));
	assert_ok(copa_update_manifest_add(m, &e3, &err));
	assert_ok(copa_update_manifest_finish(m, &err));
	copa_summary_set_output(s, "localhost:5000/app:1-patched", D64);
	p = copa_summary_add_manifest(s, m);
	assert_string_equal(p->platform, "linux/amd64");
	assert_ok(copa_summary_add_package(s, p, &r1, &err));
	assert_ok(copa_summary_add_package(s, p, &r2, &err));
	assert_ok(copa_summary_add_package(s, p, &r3, &err));
	assert_ok(copa_summary_add_package(s, p, &r4, &err));
	copa_summary_platform_counts(p, &c);
	assert_int_equal(c.fixed, 5);
	assert_int_equal(c.failed, 1);
	assert_int_equal(c.not_fixable, 1);
	assert_int_equal(c.pkgs[COPA_OUTCOME_UPDATED], 2);
	assert_int_equal(c.pkgs[COPA_OUTCOME_FAILED], 1);
	assert_int_equal(c.pkgs[COPA_OUTCOME_ALREADY_FIXED], 1);

	/* CVE-1 stays open through libc-bin, CVE-9 through the unfixable finding. */
	assert_ok(copa_vex_add_summary(v, s, &err));
	assert_int_equal(copa_vex_count(v), 3);
	assert_ok(copa_vex_render(v, &out, &err));
	assert_null(strstr(copa_buf_str(&out), "\"CVE-1\""));
	assert_null(strstr(copa_buf_str(&out), "\"CVE-9\""));
	assert_null(strstr(copa_buf_str(&out), "libc-bin"));
	assert_non_null(strstr(copa_buf_str(&out), "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?"
	                                           "arch=amd64&distro=debian-12.5"));
	assert_ok(copa_summary_render(s, &out, &err));
	assert_non_null(strstr(copa_buf_str(&out), "\"outcome\": \"already-fixed\""));
	assert_non_null(strstr(copa_buf_str(&out), "\"notFixableYet\": 1"));
	copa_buf_release(&out);
	copa_vex_free(v);
	copa_summary_free(s);
	copa_update_manifest_free(m);
}

static void outcome_names(void **state)
{
	enum copa_outcome o;

	for (int i = COPA_OUTCOME_UPDATED; i <= COPA_OUTCOME_SKIPPED; i++) {
		assert_int_equal(copa_outcome_parse(copa_outcome_name(i), &o), 0);
		assert_int_equal(o, i);
	}
	assert_int_equal(copa_outcome_parse("done", &o), -1);
	assert_true(copa_outcome_fixes(COPA_OUTCOME_ALREADY_FIXED));
	assert_false(copa_outcome_fixes(COPA_OUTCOME_SKIPPED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(spec_build_vectors), cmocka_unit_test(build_rejects),
	    cmocka_unit_test(image_purls),        cmocka_unit_test(package_purls),
	    cmocka_unit_test(vex_builder),        cmocka_unit_test(summary_counts_and_vex),
	    cmocka_unit_test(outcome_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_report.c: the update manifest (folding, caps, OS table, arch
 * normalisation) and the Trivy, Grype and native parsers on small inline
 * documents. The real reports are covered end to end (tests/e2e/test_report.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "report/adapters.h"
#include "report/report.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static struct copa_update_manifest *deb_manifest(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest *m = copa_update_manifest_new("t.json", "test");

	assert_ok(
	    copa_update_manifest_set_os(m, "debian", "12.5", "x86_64", NULL, COPA_FAM_NONE, &err));
	return m;
}

static void add(struct copa_update_manifest *m, const char *name, const char *inst,
                const char *fixed, const char *id)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_entry e = {name, inst, fixed, id, "debian", "os-pkgs"};

	assert_ok(copa_update_manifest_add(m, &e, &err));
}

static void folds_to_highest_fixed_version(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest *m = deb_manifest();

	add(m, "openssl", "3.0.11-1~deb12u2", "3.0.11-1~deb12u3", "CVE-1");
	add(m, "libssl3", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "CVE-2");
	add(m, "openssl", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "CVE-2");
	add(m, "openssl", "3.0.11-1~deb12u2", "3.0.11-1~deb12u10", "CVE-3");
	add(m, "openssl", "3.0.11-1~deb12u2", "3.0.11-1~deb12u3", "CVE-1"); /* duplicate */
	add(m, "zlib1g", "1:1.2.13.dfsg-1", "", "CVE-4");
	assert_ok(copa_update_manifest_finish(m, &err));
	assert_string_equal(m->arch, "amd64");
	assert_int_equal(m->fam, COPA_FAM_DEB);
	assert_int_equal(m->n_entries, 5);
	assert_int_equal(m->n_unfixable, 1);
	assert_int_equal(m->n_updates, 2);
	assert_string_equal(m->updates[0].name, "libssl3");
	assert_string_equal(m->updates[1].name, "openssl");
	assert_string_equal(m->updates[1].fixed, "3.0.13-1~deb12u1");
	assert_int_equal(m->updates[1].n_vuln_ids, 3);
	assert_string_equal(m->updates[1].vuln_ids[0], "CVE-1");
	assert_string_equal(m->updates[1].vuln_ids[1], "CVE-2");
	assert_string_equal(m->updates[1].vuln_ids[2], "CVE-3");
	copa_update_manifest_free(m);
}

static void invalid_versions_and_fields(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest *m = deb_manifest();
	struct copa_entry e = {"a", "1.0", "2.0", "", "", ""};

	assert_int_equal(copa_update_manifest_add(m, &e, &err), -1);
	assert_non_null(strstr(err.msg, "no vulnerability ID"));
	e.vuln_id = "CVE-1";
	e.name = "bad\nname";
	assert_int_equal(copa_update_manifest_add(m, &e, &err), -1);
	assert_non_null(strstr(err.msg, "control character"));
	add(m, "pkg", "1.0-1", "not a version", "CVE-9");
	assert_int_equal(copa_update_manifest_finish(m, &err), -1);
	assert_string_equal(err.msg,
	                    "package 'pkg' (CVE-9): fixed version 'not a version' is not a "
	                    "valid dpkg version: it contains embedded blanks");
	copa_update_manifest_free(m);
}

static void os_table_lookups(void **state)
{
	static const struct {
		const char *name, *id;
		enum copa_pkgfam fam;
	} t[] = {
	    {"debian", "debian", COPA_FAM_DEB},
	    {"Debian GNU/Linux", "debian", COPA_FAM_DEB},
	    {"ubuntu", "ubuntu", COPA_FAM_DEB},
	    {"alpine", "alpine", COPA_FAM_APK},
	    {"redhat", "redhat", COPA_FAM_RPM},
	    {"rhel", "redhat", COPA_FAM_RPM},
	    {"amazonlinux", "amazon", COPA_FAM_RPM},
	    {"amzn", "amazon", COPA_FAM_RPM},
	    {"Amazon Linux", "amazon", COPA_FAM_RPM},
	    {"oraclelinux", "oracle", COPA_FAM_RPM},
	    {"ol", "oracle", COPA_FAM_RPM},
	    {"rockylinux", "rocky", COPA_FAM_RPM},
	    {"almalinux", "alma", COPA_FAM_RPM},
	    {"mariner", "cbl-mariner", COPA_FAM_RPM},
	    {"cbl-mariner", "cbl-mariner", COPA_FAM_RPM},
	    {"azurelinux", "azurelinux", COPA_FAM_RPM},
	    {"opensuseleap", "opensuse-leap", COPA_FAM_RPM},
	    {"opensuse.leap", "opensuse-leap", COPA_FAM_RPM},
	    {"opensuse-tumbleweed", "opensuse-tumbleweed", COPA_FAM_RPM},
	    {"suse linux enterprise server", "sles", COPA_FAM_RPM},
	    {"sles", "sles", COPA_FAM_RPM},
	    {"slem", "slem", COPA_FAM_RPM},
	    {"photon", "photon", COPA_FAM_RPM},
	    {"wolfi", "wolfi", COPA_FAM_APK},
	    {"chainguard", "chainguard", COPA_FAM_APK},
	    {"centos-stream", "centos-stream", COPA_FAM_RPM},
	    {"clnstrt", "cleanstart", COPA_FAM_NONE},
	    {"Red Hat Enterprise Linux Server", "redhat", COPA_FAM_RPM}, /* copa's substring rule */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct copa_os_info *os = copa_os_lookup(t[i].name);

		if (!os)
			fail_msg("'%s' not found", t[i].name);
		assert_string_equal(os->id, t[i].id);
		assert_int_equal(os->fam, t[i].fam);
	}
	assert_null(copa_os_lookup("plan9"));
	assert_null(copa_os_lookup(""));
	assert_null(copa_os_lookup("none"));
	assert_int_equal(copa_os_lookup("debian")->support, COPA_OS_PATCHABLE);
	assert_int_equal(copa_os_lookup("alpine")->support, COPA_OS_PATCHABLE);
	assert_int_equal(copa_os_lookup("wolfi")->support, COPA_OS_PATCHABLE);
	assert_int_equal(copa_os_lookup("postmarketos")->support, COPA_OS_UNSUPPORTED);
	assert_int_equal(copa_os_lookup("rocky")->support, COPA_OS_PATCHABLE);
	assert_int_equal(copa_os_lookup("sles")->support, COPA_OS_PLANNED);
	assert_string_equal(copa_os_lookup("sles")->purl_ns, "suse");
}

static void arch_normalisation(void **state)
{
	static const struct {
		const char *in, *variant, *arch, *out_variant, *deb, *rpm, *apk;
	} t[] = {
	    {"amd64", NULL, "amd64", "", "amd64", "x86_64", "x86_64"},
	    {"x86_64", NULL, "amd64", "", "amd64", "x86_64", "x86_64"},
	    {"aarch64", NULL, "arm64", "", "arm64", "aarch64", "aarch64"},
	    {"arm64", "v8", "arm64", "v8", "arm64", "aarch64", "aarch64"},
	    {"armv7l", NULL, "arm", "v7", "armhf", "armv7hl", "armv7"},
	    {"arm", "v6", "arm", "v6", "armel", "armv6hl", "armhf"},
	    {"i686", NULL, "386", "", "i386", "i686", "x86"},
	    {"ppc64el", NULL, "ppc64le", "", "ppc64el", "ppc64le", "ppc64le"},
	    {"", NULL, "", "", "", "", ""},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_update_manifest *m = copa_update_manifest_new("t", "t");
		struct copa_buf b = COPA_BUF_INIT;

		assert_ok(copa_update_manifest_set_os(m, "debian", "12", t[i].in, t[i].variant,
		                                      COPA_FAM_NONE, &err));
		assert_string_equal(m->arch, t[i].arch);
		assert_string_equal(m->variant, t[i].out_variant);
		assert_string_equal(copa_pkg_arch(COPA_FAM_DEB, m->arch, m->variant), t[i].deb);
		assert_string_equal(copa_pkg_arch(COPA_FAM_RPM, m->arch, m->variant), t[i].rpm);
		assert_string_equal(copa_pkg_arch(COPA_FAM_APK, m->arch, m->variant), t[i].apk);
		copa_update_manifest_platform(m, &b);
		if (!*t[i].arch)
			assert_string_equal(copa_buf_str(&b), "linux");
		copa_buf_release(&b);
		copa_update_manifest_free(m);
	}
}

static struct copa_update_manifest_list parse_ok(const char *scanner, const char *json)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest_list l = {0};

	if (copa_report_parse(scanner, json, strlen(json), "inline.json", &l, &err) < 0)
		fail_msg("%s", err.msg);
	return l;
}

static void parse_fails(const char *scanner, const char *json, const char *needle)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_update_manifest_list l = {0};

	if (copa_report_parse(scanner, json, strlen(json), "inline.json", &l, &err) == 0)
		fail_msg("parsed: %s", json);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' lacks '%s'", err.msg, needle);
	assert_non_null(strstr(err.msg, "report 'inline.json'"));
	copa_update_manifest_list_release(&l);
}

static void trivy_minimal_and_tolerant(void **state)
{
	/* copa's own pkg/report/testdata/trivy_valid.json, plus an unknown key, a
	 * lang-pkgs result and a result without Class (older Trivy). */
	struct copa_update_manifest_list l = parse_ok(
	    "trivy",
	    "{\"SchemaVersion\":2,\"ArtifactName\":\"alpine:3.14.0\",\"NewField\":[1,2],"
	    "\"Metadata\":{\"OS\":{\"Family\":\"alpine\",\"Name\":\"3.14.0\"},"
	    "\"ImageConfig\":{\"architecture\":\"amd64\"}},"
	    "\"Results\":[{\"Target\":\"alpine:3.14.0 (alpine 3.14.0)\",\"Class\":\"os-pkgs\","
	    "\"Type\":\"alpine\",\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-2021-36159\","
	    "\"PkgID\":\"apk-tools@2.12.5-r1\",\"PkgName\":\"apk-tools\",\"InstalledVersion\":"
	    "\"2.12.5-r1\",\"FixedVersion\":\"2.12.6-r0\"}]},"
	    "{\"Class\":\"lang-pkgs\",\"Type\":\"npm\",\"Vulnerabilities\":[{\"VulnerabilityID\":"
	    "\"GHSA-x\",\"PkgName\":\"left-pad\",\"InstalledVersion\":\"1\",\"FixedVersion\":\"2\"}"
	    "]},"
	    "{\"Type\":\"alpine\",\"Vulnerabilities\":[{\"VulnerabilityID\":\"CVE-2\",\"PkgName\":"
	    "\"busybox\",\"InstalledVersion\":\"1.33.1-r2\",\"FixedVersion\":null}]}]}");

	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0]->os_type, "alpine");
	assert_int_equal(l.v[0]->n_entries, 1);
	assert_int_equal(l.v[0]->n_unfixable, 1);
	assert_int_equal(l.v[0]->n_lang_ignored, 1);
	assert_string_equal(l.v[0]->updates[0].fixed, "2.12.6-r0");
	copa_update_manifest_list_release(&l);
}

static void trivy_errors(void **state)
{
	parse_fails("trivy", "", "is empty");
	parse_fails("trivy", "[1,2", "truncated");
	parse_fails("trivy", "hello", "not JSON");
	parse_fails("trivy", "{\"matches\":[],\"descriptor\":{\"name\":\"grype\"}}",
	            "use -s grype");
	parse_fails("trivy", "{\"apiVersion\":\"v1alpha1\"}", "use -s native");
	parse_fails("trivy", "{\"spdxVersion\":\"SPDX-2.3\"}", "an SPDX SBOM");
	parse_fails("trivy", "{\"SchemaVersion\":2,\"Metadata\":{}}", "no OS metadata");
	parse_fails("trivy", "{\"SchemaVersion\":2,\"Metadata\":{\"OS\":{\"Family\":\"debian\"}}}",
	            "no OS version");
	parse_fails("trivy", "{\"SchemaVersion\":\"2\"}", "SchemaVersion is not a number");
	parse_fails("trivy", "{\"SchemaVersion\":2,\"Results\":{}}", "Results is an object");
	parse_fails("trivy", "{\"a\":1,\"a\":2}", "duplicate");
}

static void grype_minimal(void **state)
{
	struct copa_update_manifest_list l = parse_ok(
	    "grype",
	    "{\"matches\":[{\"vulnerability\":{\"id\":\"CVE-1\",\"fix\":{\"versions\":"
	    "[\"1:1.1.1k-9.el8_7\"],\"state\":\"fixed\"}},\"artifact\":{\"name\":\"openssl-libs\","
	    "\"version\":\"1.1.1k-7.el8_6\",\"type\":\"rpm\",\"metadata\":{\"epoch\":1}}},"
	    "{\"vulnerability\":{\"id\":\"CVE-2\",\"fix\":{\"versions\":[\"9.9\",\"1.2\",\"1.5\"],"
	    "\"state\":\"fixed\"}},\"artifact\":{\"name\":\"zlib\",\"version\":\"1.1-1\",\"type\":"
	    "\"rpm\"}},"
	    "{\"vulnerability\":{\"id\":\"CVE-3\",\"fix\":{\"versions\":[],\"state\":\"wont-fix\"}}"
	    ","
	    "\"artifact\":{\"name\":\"bash\",\"version\":\"4.4-1\",\"type\":\"rpm\"}},"
	    "{\"vulnerability\":{\"id\":\"GHSA-1\",\"fix\":{\"versions\":[\"2\"],\"state\":"
	    "\"fixed\"}},"
	    "\"artifact\":{\"name\":\"x\",\"version\":\"1\",\"type\":\"npm\"}}],"
	    "\"source\":{\"type\":\"image\",\"target\":{\"architecture\":\"arm64\"}},"
	    "\"distro\":{\"name\":\"rockylinux\",\"version\":\"8.7\"},"
	    "\"descriptor\":{\"name\":\"grype\",\"version\":\"0.1\"}}");
	struct copa_update_manifest *m = l.v[0];

	assert_string_equal(m->os_type, "rocky");
	assert_string_equal(m->arch, "arm64");
	assert_int_equal(m->n_entries, 2);
	assert_string_equal(m->entries[0].installed, "1:1.1.1k-7.el8_6");
	/* The lowest fix above the installed version. */
	assert_string_equal(m->entries[1].fixed, "1.2");
	assert_int_equal(m->n_unfixable, 1);
	assert_int_equal(m->n_lang_ignored, 1);
	copa_update_manifest_list_release(&l);
	parse_fails("grype", "{\"SchemaVersion\":2,\"Results\":[]}", "use -s trivy");
	parse_fails("grype", "{\"matches\":[],\"descriptor\":{\"name\":\"syft\"}}",
	            "descriptor.name is 'syft'");
	parse_fails("grype", "{\"matches\":[],\"distro\":null,\"source\":{}}", "no OS metadata");
}

static void native_round_trip_in_memory(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_update_manifest_list l = parse_ok(
	    "native",
	    "{\"apiVersion\":\"v1alpha2\",\"metadata\":{\"os\":{\"type\":\"debian\",\"version\":"
	    "\"11.3\"},\"config\":{\"arch\":\"arm\",\"variant\":\"v7\"}},\"osupdates\":[{\"name\":"
	    "\"libcurl4\",\"installedVersion\":\"7.74.0-1.3+deb11u1\",\"fixedVersion\":"
	    "\"7.74.0-1.3+deb11u2\",\"vulnerabilityID\":\"CVE-2021-22945\",\"type\":\"debian\","
	    "\"class\":\"os-pkgs\"},{\"name\":\"zlib1g\",\"installedVersion\":\"1\","
	    "\"fixedVersion\":"
	    "\"\",\"vulnerabilityID\":\"CVE-9\",\"type\":\"debian\",\"class\":\"os-pkgs\"}],"
	    "\"langupdates\":[]}");
	struct copa_update_manifest_list l2 = {0};

	assert_int_equal(l.v[0]->n_unfixable, 1);
	assert_ok(copa_report_write_native((const struct copa_update_manifest *const *)l.v, 1,
	                                   false, &out, &err));
	assert_ok(copa_report_parse("native", out.p, out.len, "again.json", &l2, &err));
	assert_string_equal(l2.v[0]->variant, "v7");
	assert_int_equal(l2.v[0]->n_entries, 1);
	assert_int_equal(l2.v[0]->n_unfixable, 1);
	assert_string_equal(l2.v[0]->unfixable[0].vuln_id, "CVE-9");
	copa_buf_release(&out);
	copa_update_manifest_list_release(&l);
	copa_update_manifest_list_release(&l2);
	parse_fails("native", "{\"apiVersion\":\"v2\"}", "unsupported apiVersion 'v2'");
	parse_fails("native",
	            "{\"apiVersion\":\"v1alpha1\",\"metadata\":{\"os\":{\"type\":"
	            "\"plan9\",\"version\":\"1\"}}}",
	            "unknown OS family 'plan9'");
	parse_fails("native", "[]", "empty");
}

static void scanner_names(void **state)
{
	assert_true(copa_report_scanner_name_valid("grype"));
	assert_true(copa_report_scanner_name_valid("my_scanner-2"));
	assert_false(copa_report_scanner_name_valid("-x"));
	assert_false(copa_report_scanner_name_valid("_x"));
	assert_false(copa_report_scanner_name_valid("a/b"));
	assert_false(copa_report_scanner_name_valid("a b"));
	assert_false(copa_report_scanner_name_valid(""));
	assert_false(copa_report_scanner_name_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(folds_to_highest_fixed_version),
	    cmocka_unit_test(invalid_versions_and_fields),
	    cmocka_unit_test(os_table_lookups),
	    cmocka_unit_test(arch_normalisation),
	    cmocka_unit_test(trivy_minimal_and_tolerant),
	    cmocka_unit_test(trivy_errors),
	    cmocka_unit_test(grype_minimal),
	    cmocka_unit_test(native_round_trip_in_memory),
	    cmocka_unit_test(scanner_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

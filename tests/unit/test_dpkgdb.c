/* Unit tests of the dpkg database model (src/pkg/deb/dpkgdb.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "layer/view.h"
#include "pkg/deb/dpkgdb.h"
#include "testutil.h"
#include "debutil.h"

#include <string.h>

/* A status file as dpkg writes it (sorted, one blank line between stanzas). */
static const char status[] = "Package: adduser\n"
                             "Status: install ok installed\n"
                             "Priority: important\n"
                             "Section: admin\n"
                             "Installed-Size: 849\n"
                             "Maintainer: Debian Adduser Developers <adduser@packages.debian.org>\n"
                             "Architecture: all\n"
                             "Multi-Arch: foreign\n"
                             "Version: 3.134\n"
                             "Depends: passwd\n"
                             "Suggests: liblocale-gettext-perl, perl, cron, quota\n"
                             "Conffiles:\n"
                             " /etc/adduser.conf cc3493ecd2d809ad22d1d4a9a7a1f9b6\n"
                             " /etc/deluser.conf 11a06baf8245fd2a0e5c4b2fb7fa2a52 obsolete\n"
                             "Description: add and remove users and groups\n"
                             " This package includes the 'adduser' and 'deluser' commands.\n"
                             " .\n"
                             " More text.\n"
                             "\n"
                             "Package: libc6\n"
                             "Status: install ok installed\n"
                             "Priority: optional\n"
                             "Section: libs\n"
                             "Installed-Size: 12986\n"
                             "Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n"
                             "Architecture: amd64\n"
                             "Multi-Arch: same\n"
                             "Source: glibc\n"
                             "Version: 2.36-9+deb12u4\n"
                             "Replaces: libc6-amd64\n"
                             "Depends: libgcc-s1\n"
                             "Recommends: libidn2-0 (>= 2.0.5~)\n"
                             "Description: GNU C Library: Shared libraries\n"
                             " Contains the standard libraries.\n"
                             "Homepage: https://www.gnu.org/software/libc/libc.html\n"
                             "\n"
                             "Package: zlib1g\n"
                             "Status: hold ok installed\n"
                             "Priority: optional\n"
                             "Section: libs\n"
                             "Installed-Size: 168\n"
                             "Maintainer: Mark Brown <broonie@debian.org>\n"
                             "Architecture: amd64\n"
                             "Multi-Arch: same\n"
                             "Source: zlib\n"
                             "Version: 1:1.2.13.dfsg-1\n"
                             "Depends: libc6 (>= 2.14)\n"
                             "Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)\n"
                             "Conflicts: zlib1 (<= 1:1.0.4-7)\n"
                             "Description: compression library - runtime\n"
                             " zlib is a library implementing the deflate compression method.\n"
                             "Homepage: http://zlib.net/\n"
                             "\n";

static struct copa_dpkgdb *load(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);

	assert_ok(copa_dpkgdb_parse_status(db, status, sizeof(status) - 1, "'status'", &err));
	return db;
}

static void status_round_trip(void **state)
{
	struct copa_dpkgdb *db = load();
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_dpkg_pkg *p;

	assert_int_equal(db->n, 3);
	p = copa_dpkgdb_find(db, "zlib1g", "amd64", "same");
	assert_non_null(p);
	assert_string_equal(p->version, "1:1.2.13.dfsg-1");
	assert_string_equal(p->want, "hold");
	p = copa_dpkgdb_find(db, "adduser", "amd64", NULL);
	assert_non_null(p); /* arch all replaced by an amd64 build: same package set */
	assert_int_equal(p->n_conffiles, 2);
	assert_string_equal(p->conffiles[1].path, "/etc/deluser.conf");
	assert_true(p->conffiles[1].obsolete);
	assert_null(copa_dpkgdb_find(db, "libc6", "i386", "same"));
	copa_dpkgdb_write_status(db, &out);
	assert_int_equal(out.len, sizeof(status) - 1);
	assert_memory_equal(out.p, status, out.len);
	copa_buf_release(&out);
	copa_dpkgdb_free(db);
}

static void status_malformed(void **state)
{
	static const char *bad[] = {
	    "Version: 1\n\n",                                                   /* no Package */
	    "Package: a\nStatus: install ok\n",                                 /* two words */
	    "Package: a\nStatus: want ok installed\n",                          /* bad want */
	    "Package: a\nArchitecture: all\n\nPackage: a\nArchitecture: all\n", /* twice */
	    "Package: A b\n",                                                   /* invalid name */
	    " continuation\n",
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);

		assert_int_equal(
		    copa_dpkgdb_parse_status(db, bad[i], strlen(bad[i]), "'status'", &err), -1);
		assert_int_equal(err.code, COPA_E_INPUT);
		assert_non_null(strstr(err.msg, "'status'"));
		copa_dpkgdb_free(db);
	}
}

/*
 * A status file at the package cap parses (the duplicate check is a hash
 * lookup: it was a linear scan per stanza, minutes at this size), one stanza
 * more is refused before it is parsed, and a duplicate is still found.
 */
static void status_at_the_cap(void **state)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db;

	for (int k = 0; k < COPA_DPKGDB_MAX_PACKAGES; k++)
		copa_buf_addf(&b,
		              "Package: pkg%d\nStatus: install ok installed\nArchitecture: %s\n"
		              "Version: 1.0\n\n",
		              k / 2, k % 2 ? "i386" : "amd64");
	db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	assert_ok(copa_dpkgdb_parse_status(db, b.p, b.len, "'status'", &err));
	assert_int_equal(db->n, COPA_DPKGDB_MAX_PACKAGES);
	assert_string_equal(db->pkgs[COPA_DPKGDB_MAX_PACKAGES - 1]->arch, "i386");
	copa_dpkgdb_free(db);

	/* One stanza more than the cap. */
	copa_buf_adds(&b, "Package: pkg77\nStatus: install ok installed\nArchitecture: i386\n\n");
	db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	assert_int_equal(copa_dpkgdb_parse_status(db, b.p, b.len, "'status'", &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "more than 200000 packages"));
	copa_dpkgdb_free(db);
	copa_buf_release(&b);

	for (int k = 0; k < 100000; k++)
		copa_buf_addf(&b, "Package: pkg%d\nArchitecture: all\n\n", k);
	copa_buf_adds(&b, "Package: pkg99998\nArchitecture: all\n\n");
	db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	assert_int_equal(copa_dpkgdb_parse_status(db, b.p, b.len, "'status'", &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "package 'pkg99998:all' is listed twice"));
	copa_dpkgdb_free(db);
	copa_buf_release(&b);
}

/* A control file with fields in a scrambled order and values to normalise. */
static const char control[] = "Description: a test\n"
                              " long description\n"
                              " .\n"
                              " end\n"
                              "X-Custom-One: first\n"
                              "Version: 0:2.0-1\n"
                              "Depends: libc6(>=2.34),  Foo |bar:any, baz (< 1.0), qux (1.0)\n"
                              "Package: Newpkg\n"
                              "Homepage: https://example.org\n"
                              "Essential: no\n"
                              "Multi-Arch: No\n"
                              "Architecture: amd64\n"
                              "Priority: OPTIONAL\n"
                              "Filename: pool/x.deb\n"
                              "Size: 12\n"
                              "MD5sum: 0123\n"
                              "Maintainer: Someone <s@example.org>\n"
                              "Pre-Depends: dpkg (>= 1.15)\n"
                              "Installed-Size: 10\n"
                              "Built-Using: gcc-12 (= 12.2.0-14)\n"
                              "Recommended: old-style\n"
                              "Recommends: new-style\n"
                              "Protected: yes\n"
                              "Source: src (2.0-1)\n";

static const char expected[] =
    "Package: newpkg\n"
    "Protected: yes\n"
    "Status: install ok installed\n"
    "Priority: optional\n"
    "Section: utils\n"
    "Installed-Size: 10\n"
    "Maintainer: Someone <s@example.org>\n"
    "Architecture: amd64\n"
    "Source: src (2.0-1)\n"
    "Version: 2.0-1\n"
    "Depends: libc6 (>= 2.34), foo | bar:any, baz (<= 1.0), qux (= 1.0)\n"
    "Pre-Depends: dpkg (>= 1.15)\n"
    "Recommends: old-style, new-style\n"
    "Conffiles:\n"
    " /etc/a 0123456789abcdef0123456789abcdef\n"
    " /etc/b 0123456789abcdef0123456789abcdee obsolete\n"
    "Description: a test\n"
    " long description\n"
    " .\n"
    " end\n"
    "X-Custom-One: first\n"
    "Homepage: https://example.org\n"
    "Built-Using: gcc-12 (= 12.2.0-14)\n";

static void stanza_field_order(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb822_parser p, po;
	struct copa_deb822_para para = {0}, old = {0};
	struct copa_dpkg_conffile cf[2] = {
	    {(char *)"/etc/a", (char *)"0123456789abcdef0123456789abcdef", false, false},
	    {(char *)"/etc/b", (char *)"0123456789abcdef0123456789abcdee", true, false},
	};
	static const char oldst[] = "Package: newpkg\nSection: utils\nPriority: extra\n";
	struct copa_dpkg_stanza_in in = {&para, "install ok installed", cf, 2, &old};
	struct copa_buf out = COPA_BUF_INIT;

	copa_deb822_init(&p, control, sizeof(control) - 1, "control", false);
	assert_int_equal(copa_deb822_next(&p, &para, &err), 1);
	copa_deb822_init(&po, oldst, sizeof(oldst) - 1, "old", false);
	assert_int_equal(copa_deb822_next(&po, &old, &err), 1);
	assert_ok(copa_dpkg_stanza_build(&in, &out, &err));
	assert_string_equal(copa_buf_str(&out), expected);
	copa_buf_release(&out);
	copa_deb822_para_release(&para);
	copa_deb822_para_release(&old);
}

struct norm_case {
	const char *field, *in, *out;
};

static void dependency_normalisation(void **state)
{
	static const struct norm_case cases[] = {
	    {"Depends", "a", "a"},
	    {"Depends", "a,b", "a, b"},
	    {"Depends", " a  ( >=  1:2.0-1 ) ,\n b|c ", "a (>= 1:2.0-1), b | c"},
	    {"Depends", "a (>>1), b (<<2), c (<=3), d (>= 4)",
	     "a (>> 1), b (<< 2), c (<= 3), d (>= 4)"},
	    {"Depends", "a (> 1), b (< 2)", "a (>= 1), b (<= 2)"},
	    {"Depends", "a (0:1.0)", "a (= 1.0)"},
	    {"Depends", "A:amd64 (= 1)", "a:amd64 (= 1)"},
	    {"Depends", "libfoo:any", "libfoo:any"},
	    {"Provides", "x (= 1)", "x (= 1)"},
	    {"Depends", "a (= 0:1:2)", "a (= 0:1:2)"},
	};
	static const struct norm_case bad[] = {
	    {"Depends", "a (>= 1", NULL}, {"Depends", "a (>< 1)", NULL},
	    {"Conflicts", "a | b", NULL}, {"Depends", ", a", NULL},
	    {"Depends", "a b", NULL},     {"Depends", "a (>= )", NULL},
	    {"Depends", "a:", NULL},      {"Depends", "-a", NULL},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf out = COPA_BUF_INIT;

		assert_ok(copa_dpkg_dep_normalize(cases[i].field, copa_blob_str(cases[i].in), &out,
		                                  &err));
		assert_string_equal(copa_buf_str(&out), cases[i].out);
		copa_buf_release(&out);
	}
	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf out = COPA_BUF_INIT;

		if (copa_dpkg_dep_normalize(bad[i].field, copa_blob_str(bad[i].in), &out, &err) ==
		    0)
			fail_msg("'%s' was accepted as '%s'", bad[i].in, copa_buf_str(&out));
		assert_non_null(strstr(err.msg, bad[i].field));
		copa_buf_release(&out);
	}
}

static void version_normalisation(void **state)
{
	static const char *const cases[][2] = {
	    {"1.0", "1.0"},   {"0:1.0", "1.0"},       {"01:1.0-1", "1:1.0-1"},
	    {" 2:3 ", "2:3"}, {"1.0-1-2", "1.0-1-2"}, {"0:1:2-3", "0:1:2-3"},
	};
	static const char *const bad[] = {"", ":1", "a:1", "1:", "1.0-", "1 0", "-1:2"};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf out = COPA_BUF_INIT;

		assert_ok(copa_dpkg_version_normalize(copa_blob_str(cases[i][0]), &out, &err));
		assert_string_equal(copa_buf_str(&out), cases[i][1]);
		copa_buf_release(&out);
	}
	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_buf out = COPA_BUF_INIT;

		assert_int_equal(copa_dpkg_version_normalize(copa_blob_str(bad[i]), &out, &err),
		                 -1);
		copa_buf_release(&out);
	}
}

static struct copa_dpkg_pkg *mkpkg(const char *text)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkg_pkg *p = copa_dpkg_pkg_parse(text, strlen(text), "test", &err);

	if (!p)
		fail_msg("%s", err.msg);
	return p;
}

static void sorted_insertion(void **state)
{
	struct copa_dpkgdb *db = load();
	struct copa_buf out = COPA_BUF_INIT;
	const char *order[] = {"adduser", "bash", "libc6", "libc6", "libc6", "zlib1g", "zz"};
	const char *arch[] = {"all", "amd64", "amd64", "arm64", "i386", "amd64", "all"};

	copa_dpkgdb_replace(db, NULL, mkpkg("Package: zz\nArchitecture: all\n"));
	copa_dpkgdb_replace(db, NULL,
	                    mkpkg("Package: libc6\nArchitecture: i386\nMulti-Arch: same\n"));
	copa_dpkgdb_replace(db, NULL, mkpkg("Package: bash\nArchitecture: amd64\n"));
	copa_dpkgdb_replace(db, NULL,
	                    mkpkg("Package: libc6\nArchitecture: arm64\nMulti-Arch: same\n"));
	assert_int_equal(db->n, 7);
	for (size_t i = 0; i < db->n; i++) {
		assert_string_equal(db->pkgs[i]->name, order[i]);
		assert_string_equal(db->pkgs[i]->arch, arch[i]);
	}
	/* Replacing keeps the position; untouched stanzas stay byte for byte. */
	copa_dpkgdb_replace(db, copa_dpkgdb_find(db, "adduser", "all", "foreign"),
	                    mkpkg("Package: adduser\nArchitecture: all\nVersion: 4\n"));
	copa_dpkgdb_write_status(db, &out);
	assert_true(!strncmp(copa_buf_str(&out),
	                     "Package: adduser\nArchitecture: all\nVersion: 4\n\n"
	                     "Package: bash\n",
	                     60));
	assert_non_null(strstr(copa_buf_str(&out), strstr(status, "Package: zlib1g")));
	assert_true(copa_dpkg_pkg_cmp("a", "amd64", false, "a", "i386", true) < 0);
	assert_true(copa_dpkg_pkg_cmp("a", "i386", true, "a", "amd64", false) > 0);
	assert_true(copa_dpkg_pkg_cmp("a-b", "all", false, "a", "all", false) > 0);
	copa_buf_release(&out);
	copa_dpkgdb_free(db);
}

/* A replaced package keeps the duplicate check true: its new (name, arch) is the one known. */
static void replace_keeps_index(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUSD, NULL);
	static const char a[] = "Package: tool\nVersion: 1\nArchitecture: amd64\n";
	static const char a2[] = "Package: tool\nVersion: 2\nArchitecture: arm64\n";
	static const char c[] = "Package: new\nVersion: 1\nArchitecture: all\n";

	assert_ok(copa_dpkgdb_add_statusd(db, "tool", a, sizeof(a) - 1, &err));
	/* Cross-graded: amd64 is gone, arm64 is there. */
	copa_dpkgdb_replace(db, copa_dpkgdb_find(db, "tool", "amd64", NULL),
	                    mkpkg("Package: tool\nVersion: 2\nArchitecture: arm64\n"));
	assert_ok(copa_dpkgdb_add_statusd(db, "tool-amd64", a, sizeof(a) - 1, &err));
	assert_int_equal(copa_dpkgdb_add_statusd(db, "tool-arm64", a2, sizeof(a2) - 1, &err), -1);
	assert_non_null(strstr(err.msg, "listed twice"));
	copa_dpkgdb_replace(db, NULL, mkpkg("Package: new\nVersion: 1\nArchitecture: all\n"));
	assert_int_equal(copa_dpkgdb_add_statusd(db, "new", c, sizeof(c) - 1, &err), -1);
	assert_non_null(strstr(err.msg, "listed twice"));
	copa_dpkgdb_free(db);
}

static void statusd_file_names(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUSD, "/var/lib/dpkg");
	static const char a[] =
	    "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n";
	static const char b[] =
	    "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n";
	struct copa_dpkg_pkg *p;

	assert_string_equal(db->admindir, "var/lib/dpkg");
	assert_ok(copa_dpkgdb_add_statusd(db, "bGlic3NsMw==", a, sizeof(a) - 1, &err));
	assert_false(db->statusd_status_field);
	assert_ok(copa_dpkgdb_add_statusd(db, "base", b, sizeof(b) - 1, &err));
	assert_true(db->statusd_status_field);
	p = copa_dpkgdb_find(db, "libssl3", "amd64", "same");
	assert_non_null(p);
	assert_string_equal(p->statusd_file, "bGlic3NsMw==");
	assert_null(p->status);
	/* The replacement keeps the original file name. */
	copa_dpkgdb_replace(
	    db, p, mkpkg("Package: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\n"));
	p = copa_dpkgdb_find(db, "libssl3", "amd64", NULL);
	assert_string_equal(p->statusd_file, "bGlic3NsMw==");
	assert_true(p->dirty);
	assert_int_equal(copa_dpkgdb_add_statusd(db, "two", "Package: a\n\nPackage: b\n", 21, &err),
	                 -1);
	assert_non_null(strstr(err.msg, "status.d/two"));
	copa_dpkgdb_free(db);
}

static void conffiles_fields(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkg_conffile *c;
	struct copa_dpkg_ctl_conffile *cc;
	size_t n;
	static const char v[] =
	    "\n /etc/a b c 0123\n /etc/x 11 obsolete\n ./etc/y 22 obsolete remove-on-upgrade\n";
	static const char ctl[] = "/etc/a\n\n/etc/b  \nremove-on-upgrade /etc/c\n";

	assert_ok(copa_dpkg_conffiles_parse(copa_blob(v, sizeof(v) - 1), &c, &n, &err));
	assert_int_equal(n, 3);
	assert_string_equal(c[0].path, "/etc/a b c");
	assert_string_equal(c[0].hash, "0123");
	assert_true(c[1].obsolete && !c[1].remove_on_upgrade);
	assert_string_equal(c[2].path, "/etc/y");
	assert_true(c[2].obsolete && c[2].remove_on_upgrade);
	copa_dpkg_conffiles_free(c, n);
	assert_int_equal(copa_dpkg_conffiles_parse(copa_blob_str("\n /etc/nohash\n"), &c, &n, &err),
	                 -1);

	assert_ok(copa_dpkg_ctl_conffiles_parse(ctl, sizeof(ctl) - 1, &cc, &n, &err));
	assert_int_equal(n, 3);
	assert_string_equal(cc[1].path, "/etc/b");
	assert_true(cc[2].remove_on_upgrade);
	assert_string_equal(cc[2].path, "/etc/c");
	copa_dpkg_ctl_conffiles_free(cc, n);
	assert_int_equal(copa_dpkg_ctl_conffiles_parse("etc/rel\n", 8, &cc, &n, &err), -1);
	assert_int_equal(copa_dpkg_ctl_conffiles_parse("/etc/a", 6, &cc, &n, &err), -1);
	assert_non_null(strstr(err.msg, "newline"));
	assert_int_equal(copa_dpkg_ctl_conffiles_parse("keep /etc/a\n", 12, &cc, &n, &err), -1);
}

static int lookup(void *ctx, bool group, const char *name, uint32_t *id)
{
	if (!strcmp(name, group ? "messagebus" : "root")) {
		*id = group ? 107 : 0;
		return 0;
	}
	return -1;
}

static void diversions_and_overrides(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	static const char div[] =
	    "/usr/bin/a\n/usr/bin/a.distrib\npkg-x\n/bin/sh\n/bin/sh.real\n:\n";
	static const char so[] = "root messagebus 4754 /usr/lib/dbus-1.0/helper\n"
	                         "nobody nogroup 0755 /skipped\n#5 #6 600 /numeric\n";
	const struct copa_dpkg_statoverride *o;

	assert_ok(copa_dpkgdb_parse_diversions(db, div, sizeof(div) - 1, &err));
	assert_string_equal(copa_dpkgdb_divert(db, "/usr/bin/a", "other"), "/usr/bin/a.distrib");
	assert_null(copa_dpkgdb_divert(db, "/usr/bin/a", "pkg-x"));
	assert_string_equal(copa_dpkgdb_divert(db, "/bin/sh", "pkg-x"), "/bin/sh.real");
	assert_null(copa_dpkgdb_divert(db, "/usr/bin/sh", "dash"));
	assert_non_null(copa_dpkgdb_diverted_to(db, "/bin/sh.real"));
	assert_int_equal(copa_dpkgdb_parse_diversions(db, "/a\n/b\n", 6, &err), -1);
	assert_ok(copa_dpkgdb_parse_statoverride(db, so, sizeof(so) - 1, lookup, NULL, &err));
	o = copa_dpkgdb_statoverride(db, "/usr/lib/dbus-1.0/helper");
	assert_non_null(o);
	assert_int_equal(o->mode, 04754);
	assert_int_equal(o->gid, 107);
	assert_null(copa_dpkgdb_statoverride(db, "/skipped"));
	o = copa_dpkgdb_statoverride(db, "/numeric");
	assert_int_equal(o->uid, 5);
	assert_int_equal(o->gid, 6);
	assert_int_equal(
	    copa_dpkgdb_parse_statoverride(db, "root root 99999 /x\n", 19, lookup, NULL, &err), -1);
	copa_dpkgdb_free(db);
}

static int count_path(void *ctx, struct copa_blob p)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_md5(void *ctx, struct copa_blob md5, struct copa_blob p)
{
	(*(int *)ctx)++;
	return !copa_blob_eqs(md5, "3c3a4604a545cdc127456d94e421cd35");
}

static void list_and_md5sums(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_dpkgdb *db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, NULL);
	static const char list[] = "/.\n/usr\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n";
	static const char md5[] =
	    "3c3a4604a545cdc127456d94e421cd35  usr/lib/x86_64-linux-gnu/libssl.so.3\n";
	char *p;
	int n = 0;

	assert_int_equal(copa_dpkg_list_foreach(list, sizeof(list) - 1, count_path, &n), 0);
	assert_int_equal(n, 3);
	n = 0;
	assert_ok(
	    copa_dpkg_md5sums_foreach(md5, sizeof(md5) - 1, "'x.md5sums'", count_md5, &n, &err));
	assert_int_equal(n, 1);
	assert_int_equal(
	    copa_dpkg_md5sums_foreach("nothex  a\n", 10, "'x.md5sums'", count_md5, &n, &err), -1);
	assert_non_null(strstr(err.msg, "'x.md5sums' line 1"));
	p = copa_dpkgdb_info_path(db, "libssl3", "amd64", "same", "list");
	assert_string_equal(p, "var/lib/dpkg/info/libssl3:amd64.list");
	free(p);
	p = copa_dpkgdb_info_path(db, "adduser", "all", "foreign", "md5sums");
	assert_string_equal(p, "var/lib/dpkg/info/adduser.md5sums");
	free(p);
	copa_dpkgdb_free(db);
}

static void load_from_view(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_dpkgdb *db;

	assert_int_equal(copa_dpkgdb_load(v, NULL, &db, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	/* Distroless: status.d, with .md5sums files beside the stanzas. */
	view_file(v, "var/lib/dpkg/status.d/Zm9v", "Package: foo\nVersion: 1\nArchitecture: all\n",
	          0);
	view_file(v, "var/lib/dpkg/status.d/Zm9v.md5sums", "00000000000000000000000000000000  x\n",
	          0);
	view_file(v, "etc/group", "root:x:0:\nstaff:x:50:\n", 0);
	view_file(v, "var/lib/dpkg/statoverride", "root staff 2775 /usr/local/x\n", 0);
	assert_ok(copa_dpkgdb_load(v, NULL, &db, &err));
	assert_int_equal(db->layout, COPA_DPKGDB_STATUSD);
	assert_int_equal(db->n, 1);
	assert_string_equal(db->pkgs[0]->statusd_file, "Zm9v");
	assert_int_equal(copa_dpkgdb_statoverride(db, "/usr/local/x")->gid, 50);
	copa_dpkgdb_free(db);
	/* A status file wins over status.d. */
	view_file(v, "var/lib/dpkg/status", status, 0);
	assert_ok(copa_dpkgdb_load(v, NULL, &db, &err));
	assert_int_equal(db->layout, COPA_DPKGDB_STATUS);
	assert_int_equal(db->n, 3);
	copa_dpkgdb_free(db);
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_round_trip),        cmocka_unit_test(status_malformed),
	    cmocka_unit_test(status_at_the_cap),        cmocka_unit_test(replace_keeps_index),
	    cmocka_unit_test(stanza_field_order),       cmocka_unit_test(dependency_normalisation),
	    cmocka_unit_test(version_normalisation),    cmocka_unit_test(sorted_insertion),
	    cmocka_unit_test(statusd_file_names),       cmocka_unit_test(conffiles_fields),
	    cmocka_unit_test(diversions_and_overrides), cmocka_unit_test(list_and_md5sums),
	    cmocka_unit_test(load_from_view),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the Debian applier (src/pkg/deb/apply.h) on in-memory views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/deb/apply.h"
#include "testutil.h"
#include "debutil.h"
#include "util/hash.h"

#include <string.h>

static const char ctl_v2[] = "Package: t\nVersion: 2\nArchitecture: amd64\nMaintainer: x <x@x>\n"
                             "Description: test\n";

/* A merged-/usr image with package t 1 installed. */
static struct copa_view *base(const char *conffiles_field, const char *extra_list)
{
	struct copa_view *v = copa_view_new();
	char *status =
	    copa_xasprintf("Package: t\nStatus: install ok installed\nArchitecture: amd64\n"
	                   "Version: 1\n%sDescription: test\n\n"
	                   "Package: z\nStatus: install ok installed\nArchitecture: all\n"
	                   "Version: 1\nDescription: z\n\n",
	                   conffiles_field ? conffiles_field : "");
	char *list =
	    copa_xasprintf("/.\n/lib\n/lib/t\n/lib/t/old.so\n/bin\n/bin/t\n/usr\n/usr/share\n"
	                   "/usr/share/t\n/usr/share/t/gone\n/usr/share/t/gone/f\n%s",
	                   extra_list ? extra_list : "");

	view_dir(v, "usr/lib/t");
	view_dir(v, "usr/bin");
	view_link(v, "lib", "usr/lib");
	view_link(v, "bin", "usr/bin");
	view_file(v, "usr/lib/t/old.so", "old", 0);
	view_file(v, "usr/bin/t", "t1", 0755);
	view_file(v, "usr/share/t/gone/f", "gone", 0);
	view_file(v, "usr/share/z/f", "z", 0);
	view_file(v, "var/lib/dpkg/status", status, 0);
	view_file(v, "var/lib/dpkg/info/t.list", list, 0);
	view_file(v, "var/lib/dpkg/info/t.postrm", "#!/bin/sh\n", 0755);
	view_file(v, "var/lib/dpkg/info/z.list",
	          "/.\n/usr\n/usr/share\n/usr/share/z\n/usr/share/z/f\n", 0);
	free(status);
	free(list);
	return v;
}

static const struct tentry data_v2[] = {
    {"./", 'd', NULL, 0},
    {"./lib/", 'd', NULL, 0},
    {"./lib/t/", 'd', NULL, 0},
    {"./lib/t/new.so", 'f', "new", 0},
    {"./bin/", 'd', NULL, 0},
    {"./bin/t", 'f', "t2", 0755},
    {"./usr/", 'd', NULL, 0},
    {"./usr/share/", 'd', NULL, 0},
    {"./usr/share/doc/", 'd', NULL, 0},
    {"./usr/share/doc/t/", 'd', NULL, 0},
    {"./usr/share/doc/t/copyright", 'f', "c", 0},
    {NULL, 0, NULL, 0},
};

struct run {
	struct copa_view *v;
	struct copa_layer_builder *b;
	struct copa_deb_apply *a;
	char *deb;
	struct copa_deb_pkg pkg;
};

static int start(struct run *r, struct copa_view *v, const struct tentry *ctl,
                 const struct tentry *data, struct copa_err *err)
{
	struct copa_buf deb = COPA_BUF_INIT;

	memset(r, 0, sizeof(*r));
	r->v = v;
	r->b = copa_layer_builder_new(-1);
	deb_build(&deb, ctl, data);
	r->deb = write_temp(&deb, ".deb");
	copa_buf_release(&deb);
	r->pkg.deb_path = r->deb;
	r->a = copa_deb_apply_new(v, r->b, NULL, err);
	return r->a ? 0 : -1;
}

static void finish(struct run *r)
{
	copa_deb_apply_free(r->a);
	copa_layer_builder_free(r->b);
	copa_view_free(r->v);
	unlink(r->deb);
	free(r->deb);
}

static void merged_usr_mapping(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	const struct tentry ctl[] = {{"./control", 'f', ctl_v2, 0}, {NULL, 0, NULL, 0}};
	struct copa_deb_apply_result res;
	struct copa_deb_installed inst;
	struct copa_buf data = COPA_BUF_INIT;
	struct run r;

	assert_ok(start(&r, base(NULL, NULL), ctl, data_v2, &err));
	assert_ok(copa_deb_apply_package(r.a, &r.pkg, &res, &err));
	assert_string_equal(res.old_version, "1");
	assert_string_equal(res.skipped[0], "postrm (of t 1)");
	/* Paths land on their canonical place; the symlinks are not shadowed. */
	assert_non_null(copa_layer_builder_get(r.b, "usr/lib/t/new.so"));
	assert_non_null(copa_layer_builder_get(r.b, "usr/bin/t"));
	assert_null(copa_layer_builder_get(r.b, "lib"));
	assert_null(copa_layer_builder_get(r.b, "lib/t"));
	assert_null(copa_layer_builder_get(r.b, "bin"));
	assert_null(copa_layer_builder_get(r.b, "usr/lib/t")); /* existing directory */
	assert_int_equal(copa_view_get(r.v, "lib")->type, COPA_FT_SYMLINK);
	/* The old version's leftovers go; a directory only it owned too. */
	assert_true(copa_layer_builder_is_whiteout(r.b, "usr/lib/t/old.so"));
	assert_true(copa_layer_builder_is_whiteout(r.b, "usr/share/t"));
	assert_false(copa_layer_builder_is_whiteout(r.b, "usr/share/t/gone"));
	assert_false(copa_layer_builder_is_whiteout(r.b, "usr/share"));
	assert_true(copa_layer_builder_is_whiteout(r.b, "var/lib/dpkg/info/t.postrm"));
	assert_null(copa_view_get(r.v, "usr/lib/t/old.so"));
	/* The list keeps the package's own paths, "/." first. */
	assert_ok(copa_deb_apply_read(r.a, "var/lib/dpkg/info/t.list", 4096, &data, &err));
	assert_true(
	    !strncmp(copa_buf_str(&data), "/.\n/lib\n/lib/t\n/lib/t/new.so\n/bin\n/bin/t\n", 38));
	assert_ok(copa_deb_apply_read(r.a, "var/lib/dpkg/info/t.md5sums", 4096, &data, &err));
	assert_non_null(strstr(copa_buf_str(&data), "  lib/t/new.so\n"));
	assert_ok(copa_deb_apply_finish(r.a, &err));
	assert_ok(copa_deb_apply_read(r.a, "var/lib/dpkg/status", 4096, &data, &err));
	assert_true(!strncmp(copa_buf_str(&data),
	                     "Package: t\nStatus: install ok installed\nMaintainer: x <x@x>\n"
	                     "Architecture: amd64\nVersion: 2\nDescription: test\n\nPackage: z\n",
	                     100));
	r.pkg.name = (char *)"t";
	r.pkg.version = (char *)"2";
	assert_ok(copa_deb_verify(r.a, &r.pkg, 1, &inst, &err));
	assert_string_equal(inst.status, "install ok installed");
	copa_deb_installed_release(&inst);
	r.pkg.version = (char *)"3";
	assert_int_equal(copa_deb_verify(r.a, &r.pkg, 1, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_VERIFY);
	assert_non_null(strstr(err.msg, "expected '3'"));
	r.pkg.name = NULL;
	r.pkg.version = NULL;
	copa_deb_apply_result_release(&res);
	copa_buf_release(&data);
	finish(&r);
}

struct conf_case {
	const char *name;
	bool recorded;       /* the database knows the conffile */
	const char *old;     /* content at installation (its md5 recorded) */
	const char *current; /* in the image; NULL: deleted */
	const char *newc;    /* in the package */
	const char *at_path; /* expected layer content at etc/c.conf, NULL: no entry */
	const char *at_dist; /* expected at etc/c.conf.dpkg-dist, NULL: no entry */
};

static void conffile_decisions(void **state)
{
	static const struct conf_case cases[] = {
	    {"untouched, package changed", true, "a", "a", "b", "b", NULL},
	    {"modified, package changed", true, "a", "user", "b", NULL, "b"},
	    {"modified, package same", true, "a", "user", "a", NULL, NULL},
	    {"deleted, package changed", true, "a", NULL, "b", NULL, "b"},
	    {"deleted, package same", true, "a", NULL, "a", NULL, NULL},
	    {"identical to new", true, "a", "b", "b", NULL, NULL},
	    {"unknown, absent", false, NULL, NULL, "b", "b", NULL},
	    {"unknown, present", false, NULL, "admin", "b", NULL, "b"},
	    {"unknown, identical", false, NULL, "b", "b", NULL, NULL},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		const struct conf_case *c = &cases[i];
		struct copa_err err = COPA_ERR_INIT;
		char hex[COPA_HASH_HEX_MAX], *field = NULL;
		const struct tentry ctl[] = {{"./control", 'f', ctl_v2, 0},
		                             {"./conffiles", 'f', "/etc/c.conf\n", 0},
		                             {NULL, 0, NULL, 0}};
		const struct tentry data[] = {{"./", 'd', NULL, 0},
		                              {"./etc/", 'd', NULL, 0},
		                              {"./etc/c.conf", 'f', c->newc, 0},
		                              {NULL, 0, NULL, 0}};
		const struct copa_layer_entry *e;
		struct copa_view *v;
		struct run r;
		struct copa_buf st = COPA_BUF_INIT;

		if (c->recorded) {
			copa_hash_hex(COPA_HASH_MD5, c->old, strlen(c->old), hex);
			field = copa_xasprintf("Conffiles:\n /etc/c.conf %s\n", hex);
		}
		v = base(field, c->recorded ? "/etc\n/etc/c.conf\n" : NULL);
		if (c->current)
			view_file(v, "etc/c.conf", c->current, 0600);
		assert_ok(start(&r, v, ctl, data, &err));
		assert_ok(copa_deb_apply_package(r.a, &r.pkg, NULL, &err));
		e = copa_layer_builder_get(r.b, "etc/c.conf");
		if (!c->at_path != !e)
			fail_msg("%s: entry at the conffile %s", c->name,
			         e ? "written" : "missing");
		if (e)
			assert_memory_equal(e->content, c->at_path, e->size);
		e = copa_layer_builder_get(r.b, "etc/c.conf.dpkg-dist");
		if (!c->at_dist != !e)
			fail_msg("%s: .dpkg-dist %s", c->name, e ? "written" : "missing");
		if (e) {
			assert_memory_equal(e->content, c->at_dist, e->size);
			if (c->current)
				assert_int_equal(e->mode, 0600); /* the installed file's mode */
		}
		assert_false(copa_layer_builder_is_whiteout(r.b, "etc/c.conf"));
		/* The database records the hash of the package's version. */
		copa_hash_hex(COPA_HASH_MD5, c->newc, strlen(c->newc), hex);
		assert_ok(copa_deb_apply_finish(r.a, &err));
		assert_ok(copa_deb_apply_read(r.a, "var/lib/dpkg/status", 4096, &st, &err));
		assert_non_null(strstr(copa_buf_str(&st), hex));
		copa_buf_release(&st);
		free(field);
		finish(&r);
	}
}

static void diversion_mapping(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	const struct tentry ctl[] = {{"./control", 'f', ctl_v2, 0}, {NULL, 0, NULL, 0}};
	struct copa_view *v = base(NULL, NULL);
	struct run r;

	view_file(v, "var/lib/dpkg/diversions", "/bin/t\n/bin/t.distrib\nother\n", 0);
	assert_ok(start(&r, v, ctl, data_v2, &err));
	assert_ok(copa_deb_apply_package(r.a, &r.pkg, NULL, &err));
	assert_non_null(copa_layer_builder_get(r.b, "usr/bin/t.distrib"));
	assert_null(copa_layer_builder_get(r.b, "usr/bin/t"));
	finish(&r);
}

static void failures_change_nothing(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	const struct tentry ctl[] = {{"./control", 'f', ctl_v2, 0}, {NULL, 0, NULL, 0}};
	const struct tentry evil[] = {{"./", 'd', NULL, 0},
	                              {"./usr/share/ok", 'f', "fine", 0},
	                              {"./x", 'l', "/etc", 0},
	                              {"./x/passwd", 'f', "pwned", 0},
	                              {NULL, 0, NULL, 0}};
	const struct tentry conflict[] = {
	    {"./", 'd', NULL, 0}, {"./usr/share/z", 'f', "file", 0}, {NULL, 0, NULL, 0}};
	struct copa_view *v = base(NULL, NULL);
	size_t nview = copa_view_count(v);
	struct run r;

	assert_ok(start(&r, v, ctl, evil, &err));
	assert_int_equal(copa_deb_apply_package(r.a, &r.pkg, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "symlink"));
	assert_int_equal(copa_layer_builder_count(r.b), 0);
	assert_int_equal(copa_view_count(r.v), nview);
	/* The wrong package for the request. */
	r.pkg.name = (char *)"t";
	r.pkg.version = (char *)"9";
	assert_int_equal(copa_deb_apply_package(r.a, &r.pkg, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_VERIFY);
	r.pkg.name = NULL;
	r.pkg.version = NULL;
	finish(&r);
	/* A file over a directory another package owns is a package-level error. */
	assert_ok(start(&r, base(NULL, NULL), ctl, conflict, &err));
	assert_int_equal(copa_deb_apply_package(r.a, &r.pkg, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_PACKAGE);
	assert_non_null(strstr(err.msg, "'z'"));
	assert_int_equal(copa_layer_builder_count(r.b), 0);
	finish(&r);
}

/*
 * A package whose control data is malformed (a bad Depends) fails before it
 * changes anything: no layer entry, no whiteout of the old version's files,
 * the view and the database as they were (it used to fail only when the
 * status stanza was built, after its files were in the layer).
 */
static void malformed_control_changes_nothing(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	static const char bad[] = "Package: t\nVersion: 2\nArchitecture: amd64\n"
	                          "Maintainer: x <x@x>\nDepends: libc6 (>= 2.36\n"
	                          "Description: test\n";
	const struct tentry ctl[] = {{"./control", 'f', bad, 0}, {NULL, 0, NULL, 0}};
	struct copa_view *v = base(NULL, NULL);
	size_t nview = copa_view_count(v);
	const struct copa_dpkgdb *db;
	const struct copa_dpkg_pkg *t = NULL;
	struct run r;

	assert_ok(start(&r, v, ctl, data_v2, &err));
	assert_int_equal(copa_deb_apply_package(r.a, &r.pkg, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "Depends"));
	assert_int_equal(copa_layer_builder_count(r.b), 0);
	assert_false(copa_layer_builder_is_whiteout(r.b, "usr/lib/t/old.so"));
	assert_int_equal(copa_view_count(r.v), nview);
	assert_non_null(copa_view_get(r.v, "usr/lib/t/old.so"));
	db = copa_deb_apply_db(r.a);
	for (size_t i = 0; i < db->n; i++)
		if (!strcmp(db->pkgs[i]->name, "t"))
			t = db->pkgs[i];
	assert_non_null(t);
	assert_string_equal(t->version, "1");
	finish(&r);
}

static void owners_by_name_in_the_image(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	const struct tentry ctl[] = {{"./control", 'f', ctl_v2, 0}, {NULL, 0, NULL, 0}};
	struct copa_view *v = base(NULL, NULL);
	struct run r;

	/* The tar headers name the owner "root"; this image calls uid 77 that. */
	view_file(v, "etc/passwd", "daemon:x:1:1::/:/bin/sh\nroot:x:77:0::/root:/bin/sh\n", 0);
	view_file(v, "etc/group", "root:x:78:\n", 0);
	assert_ok(start(&r, v, ctl, data_v2, &err));
	assert_ok(copa_deb_apply_package(r.a, &r.pkg, NULL, &err));
	assert_int_equal(copa_layer_builder_get(r.b, "usr/bin/t")->uid, 77);
	assert_int_equal(copa_layer_builder_get(r.b, "usr/bin/t")->gid, 78);
	finish(&r);
}

static void no_database(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view *v = copa_view_new();
	struct copa_layer_builder *b = copa_layer_builder_new(-1);

	assert_null(copa_deb_apply_new(v, b, NULL, &err));
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	copa_layer_builder_free(b);
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(merged_usr_mapping),
	    cmocka_unit_test(conffile_decisions),
	    cmocka_unit_test(diversion_mapping),
	    cmocka_unit_test(failures_change_nothing),
	    cmocka_unit_test(malformed_control_changes_nothing),
	    cmocka_unit_test(owners_by_name_in_the_image),
	    cmocka_unit_test(no_database),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

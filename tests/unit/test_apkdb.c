/*
 * test_apkdb.c: the apk installed database (src/pkg/apk/apkdb.h): byte-for-
 * byte round trips of the real Alpine 3.21.3 database and of the database
 * inside each real minirootfs (shared test data), every record regenerated
 * from its fields equal to its text, and one package's record replaced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pkg/apk/apkdb.h"
#include "testutil.h"
#include "apkutil.h"

#include <archive.h>
#include <archive_entry.h>

/* Checks parse → write == input, and that every record regenerates to its own text. */
static size_t round_trip(const char *what, const char *text, size_t n)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apkdb db;
	struct copa_buf out = COPA_BUF_INIT;
	size_t files = 0;

	copa_apkdb_init(&db);
	assert_ok(copa_apkdb_parse(&db, text, n, what, &err));
	copa_apkdb_write(&db, &out);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.p, text, n);
	for (size_t i = 0; i < db.n; i++) {
		struct copa_buf rec = COPA_BUF_INIT;

		copa_apkdb_pkg_write(db.pkgs[i], &rec);
		if (rec.len != db.pkgs[i]->text.n || memcmp(rec.p, db.pkgs[i]->text.p, rec.len))
			fail_msg("%s: package '%s' does not regenerate to its text:\n%s\n---\n%.*s",
			         what, db.pkgs[i]->pkg.name, rec.p, (int)db.pkgs[i]->text.n,
			         db.pkgs[i]->text.p);
		copa_buf_release(&rec);
		for (size_t d = 0; d < db.pkgs[i]->ndirs; d++)
			files += db.pkgs[i]->dirs[d].n;
	}
	print_message("%s: %zu packages, %zu files, %zu bytes identical\n", what, db.n, files, n);
	size_t count = db.n;
	copa_apkdb_release(&db);
	copa_buf_release(&out);
	return count;
}

static void real_3213(void **state)
{
	struct copa_buf b = COPA_BUF_INIT;

	apk_read_shared("alpine/installed/alpine-3.21.3-x86_64.installed", &b);
	assert_int_equal(round_trip("alpine 3.21.3", b.p, b.len), 39);
	copa_buf_release(&b);
}

/* The installed database inside a minirootfs tarball. */
static void minirootfs_db(const char *rel, struct copa_buf *out)
{
	char *path = copa_test_shared_path(rel);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool found = false;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
		fail_msg("cannot open '%s': %s", path, archive_error_string(a));
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);

		if (strcmp(name, "lib/apk/db/installed") == 0 ||
		    strcmp(name, "./lib/apk/db/installed") == 0) {
			char chunk[65536];
			la_ssize_t r;

			while ((r = archive_read_data(a, chunk, sizeof(chunk))) > 0)
				copa_buf_add(out, chunk, (size_t)r);
			found = true;
			break;
		}
	}
	archive_read_free(a);
	if (!found)
		fail_msg("'%s' has no lib/apk/db/installed", path);
	free(path);
}

static void minirootfs(void **state)
{
	static const char *const roots[] = {
	    "alpine/minirootfs/alpine-minirootfs-3.15.11-x86_64.tar.gz",
	    "alpine/minirootfs/alpine-minirootfs-3.19.4-x86_64.tar.gz",
	    "alpine/minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz",
	    "alpine/minirootfs/alpine-minirootfs-3.20.3-aarch64.tar.gz",
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(roots); i++) {
		struct copa_buf b = COPA_BUF_INIT;

		minirootfs_db(roots[i], &b);
		assert_true(round_trip(roots[i], b.p, b.len) >= 14);
		copa_buf_release(&b);
	}
}

static void replace_one(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT, out = COPA_BUF_INIT, again_out = COPA_BUF_INIT;
	struct copa_apkdb db, again;
	struct copa_apkdb_pkg *old, *np;
	size_t pos = 0;

	apk_read_shared("alpine/installed/alpine-3.21.3-x86_64.installed", &b);
	copa_apkdb_init(&db);
	assert_ok(copa_apkdb_parse(&db, b.p, b.len, "installed", &err));
	old = copa_apkdb_find(&db, "busybox");
	assert_non_null(old);
	for (pos = 0; db.pkgs[pos] != old; pos++)
		;

	/* the new version: same fields except the identity, version, one dependency, files */
	np = copa_apkdb_pkg_new(&db);
	np->pkg = old->pkg;
	assert_int_equal(copa_apk_pkg_set(&db.arena, &np->pkg, 'C',
	                                  COPA_BLOB_LIT("Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="), &err),
	                 1);
	assert_int_equal(
	    copa_apk_pkg_set(&db.arena, &np->pkg, 'V', COPA_BLOB_LIT("1.37.0-r99"), &err), 1);
	assert_int_equal(copa_apk_pkg_set(&db.arena, &np->pkg, 'D',
	                                  COPA_BLOB_LIT("so:libc.musl-x86_64.so.1 newdep>=2"),
	                                  &err),
	                 1);
	struct copa_apk_dir *bin = copa_apkdb_add_dir(&db, np, "bin", NULL);
	copa_apkdb_add_file(&db, bin, "busybox", "0:0:755", "Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB=");
	copa_apkdb_add_dir(&db, np, "etc/busybox-paths.d", "0:0:700");
	assert_ptr_equal(copa_apkdb_put(&db, np), old);
	assert_ptr_equal(db.pkgs[pos], np);
	copa_apkdb_write(&db, &out);

	/* everything but busybox's record is byte for byte what it was */
	size_t before = (size_t)(old->text.p - db.lead.p), after_old = before + old->text.n;
	assert_memory_equal(out.p, b.p, before);
	const char *tail = b.p + after_old;
	size_t tail_n = b.len - after_old;
	assert_memory_equal(out.p + out.len - tail_n, tail, tail_n);
	assert_string_equal(strstr(out.p + before, "C:") == out.p + before ? "ok" : "no", "ok");
	assert_non_null(strstr(out.p, "P:busybox\nV:1.37.0-r99\n"));
	assert_non_null(strstr(out.p, "D:so:libc.musl-x86_64.so.1 newdep>=2\n"));
	assert_non_null(strstr(out.p,
	                       "F:bin\nR:busybox\na:0:0:755\nZ:Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB=\n"
	                       "F:etc/busybox-paths.d\nM:0:0:700\n\n"));

	/* and it reads back with the new values, the other packages unchanged */
	copa_apkdb_init(&again);
	assert_ok(copa_apkdb_parse(&again, out.p, out.len, "rewritten", &err));
	assert_int_equal(again.n, db.n);
	struct copa_apkdb_pkg *bb = copa_apkdb_find(&again, "busybox");
	assert_string_equal(bb->pkg.version, "1.37.0-r99");
	assert_int_equal(bb->ndirs, 2);
	assert_string_equal(bb->pkg.depends.v[1].name, "newdep");
	copa_apkdb_write(&again, &again_out);
	assert_int_equal(again_out.len, out.len);

	/* a removed package leaves the rest intact; an added one goes last */
	assert_non_null(copa_apkdb_remove(&again, "busybox"));
	assert_null(copa_apkdb_find(&again, "busybox"));
	assert_null(copa_apkdb_put(&again, bb));
	assert_ptr_equal(again.pkgs[again.n - 1], bb);

	copa_apkdb_release(&again);
	copa_apkdb_release(&db);
	copa_buf_release(&b);
	copa_buf_release(&out);
	copa_buf_release(&again_out);
}

static void append_after_unterminated(void **state)
{
	static const char text[] =
	    "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:a\nV:1-r0\nS:1\nI:1\nT:\nU:\nL:\nF:x\nR:y";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apkdb db;
	struct copa_buf out = COPA_BUF_INIT;

	copa_apkdb_init(&db);
	assert_ok(copa_apkdb_parse(&db, text, sizeof(text) - 1, "db", &err));
	struct copa_apkdb_pkg *p = copa_apkdb_pkg_new(&db);
	assert_int_equal(copa_apk_pkg_set(&db.arena, &p->pkg, 'P', COPA_BLOB_LIT("b"), &err), 1);
	assert_int_equal(copa_apk_pkg_set(&db.arena, &p->pkg, 'V', COPA_BLOB_LIT("2"), &err), 1);
	copa_apkdb_put(&db, p);
	copa_apkdb_write(&db, &out);
	assert_non_null(strstr(out.p, "R:y\n\nC:\nP:b\nV:2\n"));
	copa_apkdb_release(&db);
	copa_buf_release(&out);
}

static void bad(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
	    {"P:a\nV:1\nR:x\n", "line 3: 'R:' before any 'F:'"},
	    {"P:a\nV:1\nF:d\nZ:Q1\n", "line 4: 'Z:' before any 'R:'"},
	    {"P:a\nV:1\nF:d\nR:../x\n", "bad file name"},
	    {"P:a\nV:1\nF:/abs\n", "bad directory '/abs'"},
	    {"P:a\n\nP:b\nV:1\n", "package at line 1: missing 'V:'"},
	    {"P:a\nV:1\nX:new\n", "field 'X:' is from a newer apk"},
	    {"P:a\nV:1\nI:x\n", "line 3: field 'I:' is not a number"},
	    {"P:a\nV:1\n\nP:b\nV:1\n\nP:a\nV:2\n",
	     "package 'a' is installed twice (lines 1 and 7)"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_apkdb db;

		copa_apkdb_init(&db);
		assert_int_equal(copa_apkdb_parse(&db, cases[i].text, strlen(cases[i].text),
		                                  "'lib/apk/db/installed'", &err),
		                 -1);
		if (!strstr(err.msg, cases[i].why) || !strstr(err.msg, "'lib/apk/db/installed'"))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
		copa_apkdb_release(&db);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_3213),   cmocka_unit_test(minirootfs),
	    cmocka_unit_test(replace_one), cmocka_unit_test(append_after_unterminated),
	    cmocka_unit_test(bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

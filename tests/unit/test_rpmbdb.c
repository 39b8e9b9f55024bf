/*
 * test_rpmbdb.c: Berkeley DB rpm databases (src/pkg/rpm/rpmbdb.c) on the real
 * RHEL 8 `Packages` from shared/testdata: converted for librpm and written
 * back unchanged, the record byte for byte (db5.3_dump is the independent
 * reader) and its indexes usable by Debian's rpm (bdb_ro); a record that
 * disappears without being replaced, and a file that is no database, refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/rpmbdb.h"
#include "rpmtest.h"

struct tree {
	char *dir, *bdb, *sq, *out, *pkgs;
};

static void tree_new(struct tree *t)
{
	struct copa_err err = COPA_ERR_INIT;
	_cleanup_free_ char *real = rt_data("rpmdb/rhel-8-bdb/Packages");

	t->dir = rt_mkdtemp();
	t->bdb = copa_xasprintf("%s/bdb", t->dir);
	t->sq = copa_xasprintf("%s/sq", t->dir);
	t->out = copa_xasprintf("%s/out", t->dir);
	t->pkgs = copa_xasprintf("%s/Packages", t->bdb);
	assert_int_equal(copa_fs_mkdir_p(AT_FDCWD, t->sq, 0700, &err), 0);
	assert_int_equal(copa_fs_mkdir_p(AT_FDCWD, t->out, 0700, &err), 0);
	rt_copy(real, t->dir, "bdb/Packages");
}

static void tree_free(struct tree *t)
{
	rt_rm(t->dir);
	free(t->dir);
	free(t->bdb);
	free(t->sq);
	free(t->out);
	free(t->pkgs);
}

/* The data lines of db5.3_dump of path, sorted (hash order is not the point). */
static char *dump(const char *path)
{
	struct copa_buf out = COPA_BUF_INIT;
	_cleanup_free_ char *cmd =
	    copa_xasprintf("db5.3_dump '%s' | sed -n '/^HEADER=END/,/^DATA=END/p' | sort", path);

	assert_int_equal(rt_run(cmd, &out), 0);
	return copa_buf_detach(&out, NULL);
}

static void round_trip_real(void **state)
{
	struct tree t;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_rpmbdb_stats st = {0};
	struct copa_buf q = COPA_BUF_INIT;
	_cleanup_free_ char *pk = NULL, *a = NULL, *b = NULL, *cmd = NULL;

	(void)state;
	tree_new(&t);
	assert_int_equal(copa_rpmbdb_to_sqlite(t.pkgs, t.sq, NULL, &err), 0);
	assert_int_equal(copa_rpmbdb_write(t.pkgs, t.sq, t.out, NULL, &st, NULL, &err), 0);
	assert_int_equal(st.kept, 1);
	assert_int_equal(st.removed, 0);
	assert_int_equal(st.added, 0);
	assert_true(st.index_keys > 20);
	/* the same record and key 0 as the real file */
	pk = copa_xasprintf("%s/Packages", t.out);
	a = dump(t.pkgs);
	b = dump(pk);
	assert_string_equal(a, b);
	/* Name and Basenames answer for the real package */
	cmd = copa_xasprintf("rpm --dbpath '%s' --define '_db_backend bdb_ro' -q libuuid && "
	                     "rpm --dbpath '%s' --define '_db_backend bdb_ro' -qf "
	                     "/usr/lib64/libuuid.so.1.3.0",
	                     t.out, t.out);
	assert_int_equal(rt_run(cmd, &q), 0);
	assert_string_equal(copa_buf_str(&q),
	                    "libuuid-2.32.1-42.el8_8.x86_64\nlibuuid-2.32.1-42.el8_8.x86_64\n");
	/* no Berkeley DB environment beside the files */
	free(cmd);
	cmd = copa_xasprintf("%s/__db.001", t.out);
	assert_false(copa_fs_exists(AT_FDCWD, cmd));
	copa_buf_release(&q);
	tree_free(&t);
}

static void vanished_record_refused(void **state)
{
	struct tree t;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_rpmbdb_stats st = {0};
	struct copa_buf q = COPA_BUF_INIT;
	_cleanup_free_ char *cmd = NULL;
	char *ok[] = {"libuuid", NULL};

	(void)state;
	tree_new(&t);
	assert_int_equal(copa_rpmbdb_to_sqlite(t.pkgs, t.sq, NULL, &err), 0);
	cmd = copa_xasprintf("rpm --dbpath '%s' --define '_db_backend sqlite' -e --justdb "
	                     "--nodeps --noscripts libuuid 2>&1",
	                     t.sq);
	assert_int_equal(rt_run(cmd, &q), 0);
	assert_int_equal(copa_rpmbdb_write(t.pkgs, t.sq, t.out, NULL, &st, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "record 1 (libuuid) is gone"));
	copa_err_clear(&err);
	assert_int_equal(copa_rpmbdb_write(t.pkgs, t.sq, t.out, ok, &st, NULL, &err), 0);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.kept, 0);
	copa_buf_release(&q);
	tree_free(&t);
}

static void not_a_database(void **state)
{
	struct tree t;
	struct copa_err err = COPA_ERR_INIT;

	(void)state;
	tree_new(&t);
	rt_write(t.dir, "bdb/Packages", "this is no Berkeley DB file\n");
	assert_int_equal(copa_rpmbdb_to_sqlite(t.pkgs, t.sq, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "Packages"));
	assert_null(strchr(err.msg, '\n'));
	tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip_real),
	    cmocka_unit_test(vanished_record_refused),
	    cmocka_unit_test(not_a_database),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

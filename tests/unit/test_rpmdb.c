/*
 * test_rpmdb.c: reading real rpm databases (CBL-Mariner 2 sqlite, RHEL 8
 * Berkeley DB) with src/pkg/rpm/rpmdb.c must list exactly what
 * `rpm --root R --dbpath /var/lib/rpm -qa` lists on a copy of the same files;
 * the locations, SUSE's NDB and broken databases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/rpmdb.h"
#include "rpmtest.h"

/* Sorted NEVRAs of what rpm -qa prints for root (a copy of the files; rpm writes -wal/-shm). */
static char **rpm_qa(const char *root, size_t *n)
{
	struct copa_buf out = COPA_BUF_INIT;
	_cleanup_free_ char *cmd =
	    copa_xasprintf("rpm --root '%s' --dbpath /var/lib/rpm -qa 2>/dev/null", root);
	struct copa_blob rest, line;
	char **v = NULL;
	size_t cap = 0;

	assert_int_equal(rt_run(cmd, &out), 0);
	*n = 0;
	rest = copa_blob(out.p, out.len);
	while (copa_blob_split(&rest, '\n', &line)) {
		if (!line.n)
			continue;
		v = copa_xgrow(v, &cap, *n + 1, sizeof(*v));
		v[(*n)++] = copa_blob_dup(line);
	}
	qsort(v, *n, sizeof(*v), rt_cmpstr);
	copa_buf_release(&out);
	return v;
}

static char **ours(const struct copa_rpmdb *db)
{
	char **v = copa_xcalloc(db->n + 1, sizeof(*v));

	for (size_t i = 0; i < db->n; i++)
		v[i] = copa_rpm_pkg_nvra(&db->v[i]);
	qsort(v, db->n, sizeof(*v), rt_cmpstr);
	return v;
}

static int open_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* Reads root's database and checks it against rpm -qa on a second copy of the same file. */
static void check_against_rpm(const char *data, const char *file, size_t expect,
                              enum copa_rpmdb_kind kind)
{
	_cleanup_free_ char *src = rt_data(data);
	_cleanup_free_ char *img = rt_mkdtemp(), *ref = rt_mkdtemp();
	_cleanup_free_ char *rel = copa_xasprintf("var/lib/rpm/%s", file);
	struct copa_rpmdb db = {0};
	struct copa_err err = COPA_ERR_INIT;
	size_t nref;
	char **want, **got;
	int fd;

	rt_copy(src, img, rel);
	rt_copy(src, ref, rel);
	fd = open_root(img);
	if (copa_rpmdb_read(fd, NULL, &db, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	close(fd);
	assert_int_equal(db.kind, kind);
	assert_string_equal(db.dbpath, "var/lib/rpm");
	want = rpm_qa(ref, &nref);
	assert_int_equal(nref, expect); /* guards against rpm silently reading nothing */
	assert_int_equal(db.n, nref);
	got = ours(&db);
	for (size_t i = 0; i < nref; i++)
		assert_string_equal(got[i], want[i]);

	/* The image's tree is never written: no -wal/-shm/lock beside the file. */
	{
		_cleanup_free_ char *wal = copa_xasprintf("%s/var/lib/rpm/rpmdb.sqlite-wal", img);
		_cleanup_free_ char *shm = copa_xasprintf("%s/var/lib/rpm/rpmdb.sqlite-shm", img);
		_cleanup_free_ char *lck = copa_xasprintf("%s/var/lib/rpm/.rpm.lock", img);

		assert_int_equal(access(wal, F_OK), -1);
		assert_int_equal(access(shm, F_OK), -1);
		assert_int_equal(access(lck, F_OK), -1);
	}
	for (size_t i = 0; i < nref; i++) {
		free(want[i]);
		free(got[i]);
	}
	free(want);
	free(got);
	copa_rpmdb_release(&db);
	rt_rm(img);
	rt_rm(ref);
}

static void mariner_sqlite(void **state)
{
	check_against_rpm("rpmdb/mariner-2.0-sqlite/rpmdb.sqlite", "rpmdb.sqlite", 129,
	                  COPA_RPMDB_SQLITE);
}

static void rhel8_bdb(void **state)
{
	check_against_rpm("rpmdb/rhel-8-bdb/Packages", "Packages", 1, COPA_RPMDB_BDB);
}

/* Fields beyond the NEVRA, checked against rpm's own query format. */
static void mariner_fields(void **state)
{
	_cleanup_free_ char *src = rt_data("rpmdb/mariner-2.0-sqlite/rpmdb.sqlite");
	_cleanup_free_ char *img = rt_mkdtemp(), *ref = rt_mkdtemp();
	struct copa_rpmdb db = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf want = COPA_BUF_INIT, got = COPA_BUF_INIT;
	_cleanup_free_ char *cmd = NULL;
	int fd;

	rt_copy(src, img, "var/lib/rpm/rpmdb.sqlite");
	rt_copy(src, ref, "var/lib/rpm/rpmdb.sqlite");
	fd = open_root(img);
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), 0);
	close(fd);
	cmd =
	    copa_xasprintf("rpm --root '%s' --dbpath /var/lib/rpm -qa --qf "
	                   "'%%{NAME}|%%{EPOCH}|%%{VERSION}|%%{RELEASE}|%%{ARCH}|%%{SOURCERPM}|"
	                   "%%{VENDOR}|%%{INSTALLTIME}|%%{BUILDTIME}|%%{LONGSIZE}\\n' 2>/dev/null",
	                   ref);
	assert_int_equal(rt_run(cmd, &want), 0);
	for (size_t i = 0; i < db.n; i++) {
		const struct copa_rpm_pkg *p = &db.v[i];
		_cleanup_free_ char *ep =
		    p->has_epoch ? copa_xasprintf("%u", p->epoch) : copa_xstrdup("(none)");

		copa_buf_addf(&got, "%s|%s|%s|%s|%s|%s|%s|%llu|%llu|%llu\n", p->name, ep,
		              p->version, p->release, p->arch ? p->arch : "(none)",
		              p->sourcerpm ? p->sourcerpm : "(none)",
		              p->vendor ? p->vendor : "(none)", (unsigned long long)p->installtime,
		              (unsigned long long)p->buildtime, (unsigned long long)p->size);
	}
	/* Same order too: both walk the Packages table by header number. */
	assert_string_equal(copa_buf_str(&got), copa_buf_str(&want));
	{
		bool epoch_seen = false;

		for (size_t i = 0; i < db.n; i++) {
			if (strcmp(db.v[i].name, "ca-certificates-base") == 0) {
				_cleanup_free_ char *evr = copa_rpm_pkg_evr(&db.v[i]);

				assert_true(db.v[i].has_epoch);
				assert_int_equal(strncmp(evr, "1:", 2), 0);
				epoch_seen = true;
			}
		}
		assert_true(epoch_seen);
	}
	copa_buf_release(&want);
	copa_buf_release(&got);
	copa_rpmdb_release(&db);
	rt_rm(img);
	rt_rm(ref);
}

/* Fedora layout: the database in usr/lib/sysimage/rpm, var/lib/rpm a symlink to it. */
static void sysimage_layout(void **state)
{
	_cleanup_free_ char *src = rt_data("rpmdb/mariner-2.0-sqlite/rpmdb.sqlite");
	_cleanup_free_ char *img = rt_mkdtemp();
	_cleanup_free_ char *lnk = copa_xasprintf("%s/var/lib/rpm", img);
	_cleanup_free_ char *vl = copa_xasprintf("%s/var/lib", img);
	struct copa_rpmdb db = {0};
	struct copa_err err = COPA_ERR_INIT;
	int fd;

	rt_copy(src, img, "usr/lib/sysimage/rpm/rpmdb.sqlite");
	assert_int_equal(copa_fs_mkdir_p(AT_FDCWD, vl, 0755, &err), 0);
	assert_int_equal(symlink("../../usr/lib/sysimage/rpm", lnk), 0);
	fd = open_root(img);
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), 0);
	assert_string_equal(db.dbpath, "usr/lib/sysimage/rpm");
	assert_int_equal(db.n, 129);
	copa_rpmdb_release(&db);

	/* An explicit %_dbpath (absolute, as in the image's macros) is honoured. */
	assert_int_equal(copa_rpmdb_read(fd, "/usr/lib/sysimage/rpm", &db, NULL, &err), 0);
	assert_int_equal(db.n, 129);
	copa_rpmdb_release(&db);
	/* ... and a %_dbpath that holds nothing is an error naming it. */
	assert_int_equal(copa_rpmdb_read(fd, "/opt/rpmdb", &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "'opt/rpmdb'"));
	close(fd);
	rt_rm(img);
}

/* A symlink pointing out of the image (to a real database on the host) is never followed. */
static void host_symlink_not_followed(void **state)
{
	_cleanup_free_ char *src = rt_data("rpmdb/mariner-2.0-sqlite/rpmdb.sqlite");
	_cleanup_free_ char *host = rt_mkdtemp(), *img = rt_mkdtemp();
	_cleanup_free_ char *target = copa_xasprintf("%s/var/lib/rpm", host);
	_cleanup_free_ char *lnk = copa_xasprintf("%s/var/lib/rpm", img);
	_cleanup_free_ char *vl = copa_xasprintf("%s/var/lib", img);
	struct copa_rpmdb db = {0};
	struct copa_err err = COPA_ERR_INIT;
	int fd;

	rt_copy(src, host, "var/lib/rpm/rpmdb.sqlite");
	assert_int_equal(copa_fs_mkdir_p(AT_FDCWD, vl, 0755, &err), 0);
	assert_int_equal(symlink(target, lnk), 0);
	fd = open_root(img);
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	close(fd);
	rt_rm(img);
	rt_rm(host);
}

static void ndb_refused(void **state)
{
	_cleanup_free_ char *src = rt_data("rpmdb/sle-15-ndb/Packages.db");
	_cleanup_free_ char *img = rt_mkdtemp();
	struct copa_rpmdb db = {0};
	struct copa_err err = COPA_ERR_INIT;
	int fd;

	rt_copy(src, img, "usr/lib/sysimage/rpm/Packages.db");
	fd = open_root(img);
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "'usr/lib/sysimage/rpm/Packages.db'"));
	assert_non_null(strstr(err.msg, "NDB"));
	close(fd);
	rt_rm(img);
}

static void broken_databases(void **state)
{
	_cleanup_free_ char *img = rt_mkdtemp();
	struct copa_rpmdb db = {0};
	struct copa_err err = COPA_ERR_INIT;
	_cleanup_free_ char *var = copa_xasprintf("%s/var", img);
	int fd = open_root(img);

	/* none at all */
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	/* a file that is not sqlite */
	rt_write(img, "var/lib/rpm/rpmdb.sqlite", "this is not an sqlite database\n");
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "'var/lib/rpm/rpmdb.sqlite' is not an SQLite database"));
	assert_int_equal(db.n, 0);
	/* sqlite's header but nothing after it: librpm itself refuses it (and leaks its
	 * connection doing so: tests/lsan-rpm.supp) */
	rt_rm(var);
	rt_write(img, "var/lib/rpm/rpmdb.sqlite", "SQLite format 3");
	{
		_cleanup_free_ char *p = copa_xasprintf("%s/var/lib/rpm/rpmdb.sqlite", img);
		FILE *f = fopen(p, "ab");

		assert_non_null(f);
		fputc(0, f);
		for (int i = 0; i < 100; i++)
			fputc(0x5a, f);
		fclose(f);
	}
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_non_null(strstr(err.msg, "rpm database 'var/lib/rpm'"));
	assert_int_equal(db.n, 0);
	/* a file that is not Berkeley DB */
	rt_rm(var);
	rt_write(img, "var/lib/rpm/Packages", "garbage");
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	/* a directory where the database should be */
	rt_rm(var);
	{
		_cleanup_free_ char *d = copa_xasprintf("%s/var/lib/rpm/rpmdb.sqlite", img);

		assert_int_equal(copa_fs_mkdir_p(AT_FDCWD, d, 0755, &err), 0);
	}
	assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	close(fd);
	rt_rm(img);
}

/* The image's own %_dbpath, from its macro files in rpm's order. */
static void image_dbpath(void **state)
{
	_cleanup_free_ char *img = rt_mkdtemp();
	struct copa_err err = COPA_ERR_INIT;
	char *p = NULL;
	int fd = open_root(img);

	assert_int_equal(copa_rpmdb_image_dbpath(fd, &p, &err), 0);
	assert_null(p);
	/* Fedora's form */
	rt_write(img, "usr/lib/rpm/macros", "%_usr /usr\n%_dbpath\t\t%{_usr}/lib/sysimage/rpm\n");
	assert_int_equal(copa_rpmdb_image_dbpath(fd, &p, &err), 0);
	assert_string_equal(p, "/usr/lib/sysimage/rpm");
	free(p);
	/* macros.d after macros, etc/rpm last; a definition copa cannot expand is skipped */
	rt_write(img, "usr/lib/rpm/macros.d/macros.b", "%_dbpath %{_var}/lib/rpm-b\n");
	rt_write(img, "usr/lib/rpm/macros.d/macros.a", "%_dbpath /a\n");
	rt_write(img, "etc/rpm/macros.zz", "%_dbpath %{_something}/x\n%_dbpath_rebuild /y\n");
	assert_int_equal(copa_rpmdb_image_dbpath(fd, &p, &err), 0);
	assert_string_equal(p, "/var/lib/rpm-b");
	free(p);
	rt_write(img, "etc/rpm/macros.dbpath", "%_dbpath %{_localstatedir}/lib/rpm\n");
	assert_int_equal(copa_rpmdb_image_dbpath(fd, &p, &err), 0);
	assert_string_equal(p, "/var/lib/rpm");
	free(p);
	/* an image whose %_dbpath is unusual: the database is found there */
	{
		_cleanup_free_ char *src = rt_data("rpmdb/mariner-2.0-sqlite/rpmdb.sqlite");
		struct copa_rpmdb db = {0};

		rt_write(img, "etc/rpm/macros.zzz", "%_dbpath /opt/rpmdb\n");
		rt_copy(src, img, "opt/rpmdb/rpmdb.sqlite");
		assert_int_equal(copa_rpmdb_read(fd, NULL, &db, NULL, &err), 0);
		assert_string_equal(db.dbpath, "opt/rpmdb");
		assert_int_equal(db.n, 129);
		copa_rpmdb_release(&db);
	}
	close(fd);
	rt_rm(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(mariner_sqlite),
	    cmocka_unit_test(rhel8_bdb),
	    cmocka_unit_test(mariner_fields),
	    cmocka_unit_test(sysimage_layout),
	    cmocka_unit_test(host_symlink_not_followed),
	    cmocka_unit_test(ndb_refused),
	    cmocka_unit_test(broken_databases),
	    cmocka_unit_test(image_dbpath),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * copa-rpminspect (test helper): drives the RPM foundations (src/pkg/rpm/) on
 * real trees and files for tests/e2e/test_rpm_inspect.py, printing plain
 * lines the test compares with what rpm, createrepo_c and the files say.
 *
 *   copa-rpminspect db ROOT [DBPATH]        kind, dbpath, then "NVRA\tEVR" per package
 *   copa-rpminspect manifest FILE2 [FILE1]  container-manifest-2 read and written back
 *                                           (FILE1 checked against it, then written too)
 *   copa-rpminspect repos ROOT RELEASEVER ARCH
 *                                           "id\tenabled\tgpgcheck\trepo_gpgcheck\tbaseurl..."
 *   copa-rpminspect rpmmd DIR               the packages of the local repository DIR
 *
 * Exit status 1 with the error on stderr when a loader fails.
 */
#include "pkg/rpm/repofile.h"
#include "pkg/rpm/rpmdb.h"
#include "pkg/rpm/rpmmanifest.h"
#include "pkg/rpm/rpmmd.h"
#include "util/fs.h"
#include "util/mem.h"
#include "viewload.h"

#include <fcntl.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const struct copa_err *err)
{
	fprintf(stderr, "copa-rpminspect: %s\n", err->msg);
	return 1;
}

static int cmd_db(int argc, char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_rpmdb db = {0};
	int fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		perror(argv[0]);
		return 1;
	}
	if (copa_rpmdb_read(fd, argc > 1 ? argv[1] : NULL, &db, NULL, &err) < 0)
		return fail(&err);
	printf("%s %s %zu\n", copa_rpmdb_kind_name(db.kind), db.dbpath, db.n);
	for (size_t i = 0; i < db.n; i++) {
		_cleanup_free_ char *nvra = copa_rpm_pkg_nvra(&db.v[i]);
		_cleanup_free_ char *evr = copa_rpm_pkg_evr(&db.v[i]);

		printf("%s\t%s\n", nvra, evr);
	}
	copa_rpmdb_release(&db);
	close(fd);
	return 0;
}

static int read_text(const char *path, struct copa_buf *b, struct copa_err *err)
{
	return copa_fs_read_file(AT_FDCWD, path, COPA_RPMMF_FILE_MAX + 1, b, err);
}

static int cmd_manifest(int argc, char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf in = COPA_BUF_INIT, out = COPA_BUF_INIT;
	struct copa_rpmmf m = {0};
	struct copa_rpmmf1 m1 = {0};

	if (read_text(argv[0], &in, &err) < 0 ||
	    copa_rpmmf_parse(copa_buf_str(&in), in.len, argv[0], &m, &err) < 0 ||
	    copa_rpmmf_write(&m, &out, &err) < 0)
		return fail(&err);
	fwrite(out.p ? out.p : "", 1, out.len, stdout);
	if (argc > 1) {
		copa_buf_reset(&in);
		copa_buf_reset(&out);
		if (read_text(argv[1], &in, &err) < 0 ||
		    copa_rpmmf1_parse(copa_buf_str(&in), in.len, argv[1], &m1, &err) < 0 ||
		    copa_rpmmf_check_pair(&m, &m1, &err) < 0 ||
		    copa_rpmmf_write1(&m, &out, &err) < 0)
			return fail(&err);
		fwrite(out.p ? out.p : "", 1, out.len, stdout);
	}
	copa_rpmmf_release(&m);
	copa_rpmmf1_release(&m1);
	copa_buf_release(&in);
	copa_buf_release(&out);
	return 0;
}

static int cmd_repos(char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_rpm_vars vars = {0};
	struct copa_rpm_repos r = {0};
	struct copa_view *v = copa_test_view_from_dir(argv[0], &err);
	const char *base = copa_rpm_basearch(argv[2]);

	if (!v)
		return fail(&err);
	if (copa_rpm_vars_set(&vars, "releasever", argv[1], &err) < 0 ||
	    copa_rpm_vars_set(&vars, "arch", argv[2], &err) < 0 ||
	    copa_rpm_vars_set(&vars, "basearch", base ? base : argv[2], &err) < 0 ||
	    copa_rpm_repos_read_view(v, &vars, &r, NULL, &err) < 0)
		return fail(&err);
	for (size_t i = 0; i < r.n; i++) {
		printf("%s\t%d\t%d\t%d", r.v[i].id, r.v[i].enabled, r.v[i].gpgcheck,
		       r.v[i].repo_gpgcheck);
		for (char **u = r.v[i].baseurls; *u; u++)
			printf("\t%s", *u);
		printf("\n");
	}
	copa_rpm_repos_release(&r);
	copa_rpm_vars_release(&vars);
	copa_view_free(v);
	return 0;
}

static int cmd_rpmmd(char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	Pool *pool = pool_create();
	Repo *repo = repo_create(pool, "local");
	int fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC), n;
	Solvable *s;
	Id p;

	if (fd < 0) {
		perror(argv[0]);
		return 1;
	}
	pool_setarch(pool, "x86_64");
	n = copa_rpmmd_load_dir(repo, fd, &err);
	close(fd);
	if (n < 0)
		return fail(&err);
	printf("%d\n", n);
	FOR_REPO_SOLVABLES(repo, p, s)
	printf("%s\n", pool_solvable2str(pool, s));
	pool_free(pool);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "db") == 0)
		return cmd_db(argc - 2, argv + 2);
	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "manifest") == 0)
		return cmd_manifest(argc - 2, argv + 2);
	if (argc == 5 && strcmp(argv[1], "repos") == 0)
		return cmd_repos(argv + 2);
	if (argc == 3 && strcmp(argv[1], "rpmmd") == 0)
		return cmd_rpmmd(argv + 2);
	fprintf(stderr, "usage: copa-rpminspect db ROOT [DBPATH] | manifest FILE2 [FILE1] | "
	                "repos ROOT RELEASEVER ARCH | rpmmd DIR\n");
	return 2;
}

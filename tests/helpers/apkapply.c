/*
 * copa-apkapply: a test helper that applies .apk files to a root file
 * system directory with copa's Alpine applier (src/pkg/apk/apkapply.h) and
 * materialises the new layer on top of a copy of it (layermat.h), so the
 * e2e tests can compare copa's result with Alpine's own apk.
 *
 *   copa-apkapply --root DIR --out DIR --keys DIR [--db PATH] [--mtime N]
 *                 [--keep-going] [--layer-list FILE] [--layer-tar FILE]
 *                 [--no-cacerts] [-r NAME]... PKG.apk[=Q1CSUM]...
 *
 * --layer-tar writes the layer itself, uncompressed, as copa puts it in the
 * image (what the tree cannot show: PAX xattrs, device numbers as recorded).
 *
 * Packages are applied in order (`-r NAME` purges an installed package
 * there), then finish. Prints one JSON object per package ({"name",
 * "skipped"} or, with --keep-going, {"file", "error", "entries_before",
 * "entries_after"} for one that failed) and one for the run ({"entries",
 * "whiteouts", "opaques", "versions"}). Exit 0, 1 on an error, 3 when
 * --keep-going skipped a package.
 */
#include "layer/layer.h"
#include "layer/view.h"
#include "layermat.h"
#include "pkg/apk/apkapply.h"
#include "pkg/apk/apkdb.h"
#include "util/fs.h"
#include "util/mem.h"
#include "viewload.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *strv_json(char **v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void emit(json_t *j)
{
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	fflush(stdout);
	json_decref(j);
}

static int usage(void)
{
	fprintf(stderr, "usage: copa-apkapply --root DIR --out DIR --keys DIR [--db PATH] "
	                "[--mtime N] [--keep-going] [--layer-list FILE] [--layer-tar FILE] "
	                "[--no-cacerts] "
	                "[-r NAME]... PKG.apk[=Q1CSUM]...\n");
	return 2;
}

/* The versions the database now records, read back from the view as the image will show it. */
static json_t *versions(struct copa_view *v, const char *db_path, struct copa_err *err)
{
	struct copa_buf text = COPA_BUF_INIT;
	struct copa_apkdb db;
	json_t *o = NULL;

	copa_apkdb_init(&db);
	if (copa_view_read(v, db_path, COPA_APKDB_MAX_FILE, &text, err) == 0 &&
	    copa_apkdb_parse(&db, text.p ? text.p : "", text.len, db_path, err) == 0) {
		o = json_object();
		for (size_t i = 0; i < db.n; i++)
			json_object_set_new(o, db.pkgs[i]->pkg.name,
			                    json_string(db.pkgs[i]->pkg.version));
	}
	copa_apkdb_release(&db);
	copa_buf_release(&text);
	return o;
}

int main(int argc, char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *root = NULL, *outdir = NULL, *keydir = NULL, *listfile = NULL, *tarfile = NULL;
	struct copa_apkapply_opts opts = {0};
	struct copa_apk_keys *keys = copa_apk_keys_new();
	struct copa_view *v = NULL;
	struct copa_layer_builder *b = NULL;
	struct copa_apkapply *a = NULL;
	bool keep_going = false, skipped_any = false;
	int first = argc, stagefd = -1, rc = 1;
	char *stagedir = NULL;

	opts.db_path = "lib/apk/db/installed";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--root") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			outdir = argv[++i];
		else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
			keydir = argv[++i];
		else if (!strcmp(argv[i], "--db") && i + 1 < argc)
			opts.db_path = argv[++i];
		else if (!strcmp(argv[i], "--layer-list") && i + 1 < argc)
			listfile = argv[++i];
		else if (!strcmp(argv[i], "--layer-tar") && i + 1 < argc)
			tarfile = argv[++i];
		else if (!strcmp(argv[i], "--mtime") && i + 1 < argc)
			opts.mtime = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--keep-going"))
			keep_going = true;
		else if (!strcmp(argv[i], "--no-cacerts"))
			opts.no_cacerts = true;
		else if (argv[i][0] == '-' && strcmp(argv[i], "-r"))
			return usage();
		else {
			first = i;
			break;
		}
	}
	if (!root || !outdir || !keydir || first >= argc)
		return usage();
	if (copa_apk_keys_add_dir(keys, AT_FDCWD, keydir, &err) < 0)
		goto out;
	opts.keys = keys;
	v = copa_test_view_from_dir(root, &err);
	if (!v)
		goto out;
	stagedir = copa_fs_mkdtemp(NULL, "copa-apkapply-", &err);
	if (!stagedir)
		goto out;
	stagefd = open(stagedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	b = copa_layer_builder_new(stagefd);
	a = copa_apkapply_new(v, b, &opts, &err);
	if (!a)
		goto out;
	for (int i = first; i < argc; i++) {
		struct copa_pm_applied res = {0};
		size_t before = copa_layer_builder_count(b);
		char *file, *eq;
		int r;

		if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			if (copa_apkapply_remove(a, argv[++i], &err) < 0)
				goto out;
			emit(json_pack("{s:s}", "removed", argv[i]));
			continue;
		}
		file = copa_xstrdup(argv[i]);
		eq = strchr(file, '=');
		if (eq)
			*eq = '\0';
		r = copa_apkapply_package(a, file, eq ? eq + 1 : NULL, &res, &err);
		if (r < 0 && keep_going) {
			emit(json_pack("{s:s, s:s, s:I, s:I}", "file", file, "error", err.msg,
			               "entries_before", (json_int_t)before, "entries_after",
			               (json_int_t)copa_layer_builder_count(b)));
			copa_err_clear(&err);
			skipped_any = true;
			free(file);
			continue;
		}
		if (r < 0) {
			copa_err_wrap(&err, "'%s'", file);
			free(file);
			goto out;
		}
		emit(json_pack("{s:s, s:s, s:o}", "file", file, "name", res.name, "skipped",
		               strv_json(res.skipped)));
		copa_pm_applied_release(&res);
		free(file);
	}
	if (copa_apkapply_finish(a, &err) < 0)
		goto out;
	{
		struct copa_test_mat_counts c;
		json_t *vers = versions(v, opts.db_path, &err);

		if (!vers)
			goto out;
		if (copa_test_layer_materialize(b, root, outdir, listfile, &c, &err) < 0) {
			json_decref(vers);
			goto out;
		}
		if (tarfile) {
			struct copa_layer_write_opts wo = {.compression = COPA_COMPRESS_NONE};
			struct copa_layer_result res;
			int fd = open(tarfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			wo.out_fd = fd;
			if (fd < 0 || copa_layer_builder_write(b, &wo, &res, &err) < 0) {
				if (fd < 0)
					copa_err_sys(&err, COPA_E_IO, errno, "cannot write '%s'",
					             tarfile);
				else
					close(fd);
				json_decref(vers);
				goto out;
			}
			close(fd);
		}
		emit(json_pack("{s:I, s:I, s:I, s:o}", "entries", (json_int_t)c.entries,
		               "whiteouts", (json_int_t)c.whiteouts, "opaques",
		               (json_int_t)c.opaques, "versions", vers));
	}
	rc = skipped_any ? 3 : 0;
out:
	if (rc == 1)
		fprintf(stderr, "copa-apkapply: %s\n", err.msg);
	copa_apkapply_free(a);
	copa_layer_builder_free(b);
	copa_view_free(v);
	copa_apk_keys_free(keys);
	if (stagedir) {
		struct copa_err e2 = COPA_ERR_INIT;

		copa_fs_rm_rf(AT_FDCWD, stagedir, &e2);
		free(stagedir);
	}
	if (stagefd >= 0)
		close(stagefd);
	return rc;
}

/*
 * copa-debapply: a test helper that applies .deb files to a root file
 * system directory with copa's Debian applier and materialises the new
 * layer description on top of a copy of it, so the e2e tests can compare
 * copa's result with real dpkg without going through image tars.
 *
 *   copa-debapply --root DIR --out DIR [--distroless] [--mtime N]
 *                 [--admindir PATH] [--layer-list FILE] PKG.deb...
 *
 * The root is loaded into a merged view (metadata from lstat, content read
 * on demand); --out is created as a copy of the root (cp -a) when it does
 * not exist, then every layer entry is written into it and every whiteout
 * deleted, in tar order, as a container runtime applies a layer. Writes
 * never follow symlinks (a layer path that passes through one is an error:
 * it would be a copa bug). Prints one JSON object per package and one for
 * the run on stdout; --layer-list writes the layer description, one JSON
 * object per entry or whiteout in tar order.
 */
#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/deb/apply.h"
#include "util/fs.h"
#include "util/mem.h"
#include "layermat.h"
#include "viewload.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *strv_json(char **v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static int usage(void)
{
	fprintf(stderr, "usage: copa-debapply --root DIR --out DIR [--distroless] [--mtime N] "
	                "[--admindir PATH] [--layer-list FILE] PKG.deb...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *root = NULL, *outdir = NULL, *admindir = NULL, *listfile = NULL;
	bool distroless = false;
	int64_t mtime = 0;
	int first = 0, stagefd = -1, rc = 1;
	char *stagedir = NULL;
	struct copa_view *v = NULL;
	struct copa_layer_builder *b = NULL;
	struct copa_deb_apply *a = NULL;
	struct copa_deb_apply_opts opts = {0};
	struct copa_deb_pkg *pkgs = NULL;
	size_t npkgs = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--root") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			outdir = argv[++i];
		else if (!strcmp(argv[i], "--admindir") && i + 1 < argc)
			admindir = argv[++i];
		else if (!strcmp(argv[i], "--layer-list") && i + 1 < argc)
			listfile = argv[++i];
		else if (!strcmp(argv[i], "--mtime") && i + 1 < argc)
			mtime = strtoll(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--distroless"))
			distroless = true;
		else if (argv[i][0] == '-')
			return usage();
		else {
			first = i;
			break;
		}
	}
	if (!root || !outdir || !first)
		return usage();
	v = copa_test_view_from_dir(root, &err);
	if (!v)
		goto out;
	stagedir = copa_fs_mkdtemp(NULL, "copa-debapply-", &err);
	if (!stagedir)
		goto out;
	stagefd = open(stagedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	b = copa_layer_builder_new(stagefd);
	opts.admindir = admindir;
	opts.mtime = mtime;
	a = copa_deb_apply_new(v, b, &opts, &err);
	if (!a)
		goto out;
	if (distroless && copa_deb_apply_db(a)->layout != COPA_DPKGDB_STATUSD) {
		copa_err_set(&err, COPA_E_USAGE, "--distroless: '%s' has a status file", root);
		goto out;
	}
	npkgs = (size_t)(argc - first);
	pkgs = copa_xcalloc(npkgs, sizeof(*pkgs));
	for (size_t i = 0; i < npkgs; i++) {
		struct copa_deb_apply_result res;
		json_t *j;

		pkgs[i].deb_path = copa_xstrdup(argv[first + (int)i]);
		if (copa_deb_apply_package(a, &pkgs[i], &res, &err) < 0) {
			copa_err_wrap(&err, "'%s'", pkgs[i].deb_path);
			goto out;
		}
		pkgs[i].name = copa_xstrdup(res.name);
		pkgs[i].arch = copa_xstrdup(res.arch);
		pkgs[i].version = copa_xstrdup(res.version);
		j = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:o, s:I, s:I}", "name", res.name, "arch",
		              res.arch, "version", res.version, "old_version", res.old_version,
		              "skipped", strv_json(res.skipped), "notes", strv_json(res.notes),
		              "written", (json_int_t)res.n_written, "removed",
		              (json_int_t)res.n_removed);
		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
		copa_deb_apply_result_release(&res);
	}
	if (copa_deb_apply_finish(a, &err) < 0)
		goto out;
	if (copa_deb_verify(a, pkgs, npkgs, NULL, &err) < 0)
		goto out;
	{
		struct copa_test_mat_counts c;
		json_t *j;

		if (copa_test_layer_materialize(b, root, outdir, listfile, &c, &err) < 0)
			goto out;
		j = json_pack("{s:o, s:I, s:I, s:I}", "run_notes",
		              strv_json((char **)(uintptr_t)copa_deb_apply_notes(a)), "entries",
		              (json_int_t)c.entries, "whiteouts", (json_int_t)c.whiteouts,
		              "opaques", (json_int_t)c.opaques);
		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "copa-debapply: %s\n", err.msg);
	for (size_t i = 0; i < npkgs; i++)
		copa_deb_pkg_release(&pkgs[i]);
	free(pkgs);
	copa_deb_apply_free(a);
	copa_layer_builder_free(b);
	copa_view_free(v);
	if (stagedir) {
		struct copa_err e2 = COPA_ERR_INIT;

		copa_fs_rm_rf(AT_FDCWD, stagedir, &e2);
		free(stagedir);
	}
	if (stagefd >= 0)
		close(stagefd);
	return rc;
}

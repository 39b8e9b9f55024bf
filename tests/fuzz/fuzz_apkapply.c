/*
 * Fuzz target: what the Alpine applier reads from an image besides the
 * database parser's own input (src/pkg/apk/apkapply.h): `scripts.tar`,
 * `triggers` and `etc/apk/protected_paths.d`, with the installed database
 * that ties them together. The input is four parts separated by
 * "\n--8<--\n" (installed, scripts.tar, triggers, a protected_paths list);
 * they are put into a view, the applier is opened, every package is purged
 * (apk's removal, protected paths and directory permissions) and the
 * database files are written.
 */
#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/apk/apkapply.h"
#include "pkg/apk/apkdb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SEP[] = "\n--8<--\n";

static void put(struct copa_view *v, const char *path, const void *p, size_t n)
{
	struct copa_view_entry e = {0};
	struct copa_err err = COPA_ERR_INIT;

	e.path = path;
	e.type = COPA_FT_REG;
	e.mode = 0644;
	e.size = n;
	e.content = n ? p : "";
	e.layer = COPA_VIEW_NO_LAYER;
	e.data_offset = COPA_VIEW_NO_OFFSET;
	copa_view_put(v, &e, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const files[] = {"lib/apk/db/installed", "lib/apk/db/scripts.tar",
	                                    "lib/apk/db/triggers",
	                                    "etc/apk/protected_paths.d/fuzz.list"};
	struct copa_view *v = copa_view_new();
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_apkapply_opts o = {0};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apkapply *a;
	const uint8_t *p = data, *end = data + size;

	for (size_t i = 0; i < 4; i++) {
		const uint8_t *s =
		    i < 3 ? memmem(p, (size_t)(end - p), SEP, sizeof(SEP) - 1) : NULL;
		const uint8_t *e = s ? s : end;

		put(v, files[i], p, (size_t)(e - p));
		if (!s)
			break;
		p = s + sizeof(SEP) - 1;
	}
	o.db_path = "lib/apk/db/installed";
	o.mtime = 1;
	a = copa_apkapply_new(v, b, &o, &err);
	if (a) {
		struct copa_buf text = COPA_BUF_INIT;
		struct copa_apkdb db;
		char **names = NULL;
		size_t n = 0;

		/* the names first: removing changes the database the applier holds */
		copa_apkdb_init(&db);
		if (copa_view_read(v, o.db_path, COPA_APKDB_MAX_FILE, &text, &err) == 0 &&
		    copa_apkdb_parse(&db, text.p ? text.p : "", text.len, "fuzz", &err) == 0) {
			names = calloc(db.n + 1, sizeof(*names));
			for (size_t i = 0; i < db.n; i++)
				names[n++] = strdup(db.pkgs[i]->pkg.name);
		}
		for (size_t i = 0; i < n; i++) {
			if (!copa_apkapply_version(a, names[i]))
				abort(); /* the applier reads the database the parser reads */
			copa_err_clear(&err);
			if (copa_apkapply_remove(a, names[i], &err) == 0 &&
			    copa_apkapply_version(a, names[i]))
				abort();
			free(names[i]);
		}
		free(names);
		copa_err_clear(&err);
		copa_apkapply_finish(a, &err);
		copa_apkdb_release(&db);
		copa_buf_release(&text);
		copa_apkapply_free(a);
	}
	copa_layer_builder_free(b);
	copa_view_free(v);
	return 0;
}

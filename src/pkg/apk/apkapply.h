/*
 * apkapply.h: installing verified .apk packages into the description of a
 * new layer, against the merged view of an Alpine-family image, the way
 * `apk upgrade --no-scripts` would leave the file system and the database,
 * without running anything from the image.
 *
 * Owns the unpack semantics (paths mapped through the image's symlinks with
 * pkg/pathmap.h; modes, owners, xattrs, hard links; files of the old version
 * that the new one does not have whited out unless another package owns
 * them; a configuration file under etc/ that the image changed kept, the
 * package's version written beside it as `.apk-new`), the installed
 * database (`lib/apk/db/installed` or `usr/lib/apk/db/installed`, records
 * replaced with apkinst.h), `scripts.tar` (the new version's scripts in, the
 * old version's out) and `triggers`, and the natively reproduced effects of
 * skipped scripts that matter to a fix: busybox's applet links and the
 * ca-certificates bundle with its hash links.
 *
 * Invariants: a package applies completely or, on error, leaves the layer,
 * the view and the database as they were (every check and every read of the
 * package happens before the first write). The view always shows the image
 * as the new layer will leave it. Not thread-safe.
 *
 * Callers: the apk package-manager adapter (pkg/apk/pm.c) and its tests.
 */
#ifndef COPA_PKG_APK_APKAPPLY_H
#define COPA_PKG_APK_APKAPPLY_H

#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/apk/apksign.h"
#include "pkg/pm.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copa_apkapply_opts {
	struct copa_out *out;
	const char *db_path; /* the installed database the image has ("lib/apk/db/installed" or
	                        "usr/lib/apk/db/installed") */
	const struct copa_apk_keys *keys; /* trusted keys: every package is verified again */
	int64_t mtime; /* mtime of the files copa generates (database, links); 0: newest package */
	bool no_cacerts; /* do not regenerate the certificate bundle */
};

struct copa_apkapply;

/*
 * Starts applying to `b` against `v` (both borrowed; v is updated as
 * packages are applied): reads the installed database, scripts.tar and
 * triggers from the view. COPA_E_NOTFOUND when the image has no database,
 * COPA_E_INPUT when it is malformed.
 */
struct copa_apkapply *copa_apkapply_new(struct copa_view *v, struct copa_layer_builder *b,
                                        const struct copa_apkapply_opts *o, struct copa_err *err);
void copa_apkapply_free(struct copa_apkapply *a);

/*
 * Installs the package file at `apk_path` (already downloaded), replacing the
 * installed package of the same name when there is one. expect_csum is the
 * index's `C:` for it (the file is verified against it and the keys before
 * anything is written). res->name and res->skipped (the scripts and triggers
 * not run) are filled on success. All or nothing.
 */
int copa_apkapply_package(struct copa_apkapply *a, const char *apk_path, const char *expect_csum,
                          struct copa_pm_applied *res, struct copa_err *err);

/*
 * Removes an installed package the plan drops (apk's purge of a package that
 * an upgrade replaced): its files that no other package owns are whited
 * out, its record, scripts and triggers removed. All or nothing.
 */
int copa_apkapply_remove(struct copa_apkapply *a, const char *name, struct copa_err *err);

/*
 * After the last package: writes the database, scripts.tar and triggers,
 * busybox's applet links when busybox was installed, the certificate bundle
 * when a certificate changed.
 */
int copa_apkapply_finish(struct copa_apkapply *a, struct copa_err *err);

/* The installed version of `name` as the database now says (NULL: not installed). */
const char *copa_apkapply_version(const struct copa_apkapply *a, const char *name);

#endif

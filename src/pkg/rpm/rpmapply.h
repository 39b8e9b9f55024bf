/*
 * rpmapply.h: installing rpm packages into the new layer, and the database.
 *
 * Per package (all or nothing: nothing reaches the layer or the view until
 * the whole payload has been read and checked): librpm reads the header and
 * checks its signature against the repository's keys (an unsigned package,
 * an unknown key or a bad signature is refused when gpgcheck is on) and the
 * header digests; the payload is hashed against the signed payload digest
 * before it is decompressed; then librpm's archive reader unpacks it, every
 * regular file checked against its digest in the header, onto the image's
 * canonical paths (pathmap.h) with the header's modes and owners (names
 * mapped to ids through the image's etc/passwd and etc/group; root when
 * unknown, as rpm does), symlinks, hard links and device nodes; %ghost files
 * are not created; directories the image has keep their metadata. A
 * %config file the image changed (its digest is not the old package's) is
 * kept and the new one written beside it as `.rpmnew` (noreplace) or the
 * image's saved as `.rpmsave` (plain %config), as rpm does. Files of the
 * replaced packages that the new one lacks and no other installed package
 * owns are whited out. Scriptlets and triggers are never run; they are
 * listed in the result.
 *
 * The database: at finish, librpm itself installs the new headers and erases
 * the replaced ones in the private copy of the image's sqlite database
 * (a transaction with JUSTDB, no scripts, triggers or plugins, rooted at "/"
 * with an absolute %_dbpath so librpm never chroots), and the resulting
 * rpmdb.sqlite goes into the layer (-wal/-shm files whited out). A Berkeley
 * DB image keeps its format: its `Packages` gets the transaction's outcome and
 * the index files are rebuilt (rpmbdb.h); `__db.*` environment files are
 * whited out.
 * Callers: the rpm family adapter (pm.c). Single-threaded.
 */
#ifndef COPA_PKG_RPM_RPMAPPLY_H
#define COPA_PKG_RPM_RPMAPPLY_H

#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/pm.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

struct copa_rpm_apply_opts {
	struct copa_view *view;
	struct copa_layer_builder *builder;
	const char *root;  /* absolute private root: root/var/lib/rpm/rpmdb.sqlite is the db copy;
	                      NULL for a distroless image (no database: no whiteouts of old
	                      files, copa_rpm_apply_manifests instead of finish) */
	const char *dbdir; /* the database directory in the image ("var/lib/rpm") */
	const char *bdb;   /* Berkeley DB image: the private copy of its `Packages`, which
	                      finish rewrites with the index files (rpmbdb.h) instead of
	                      putting rpmdb.sqlite into the layer; NULL for sqlite */
	struct copa_out *out;
};

struct copa_rpm_apply;

/* Reads the image's owners; NULL with err set. Options are borrowed. */
struct copa_rpm_apply *copa_rpm_apply_new(const struct copa_rpm_apply_opts *o,
                                          struct copa_err *err);
void copa_rpm_apply_free(struct copa_rpm_apply *a);

/* One package to apply. */
struct copa_rpm_apply_pkg {
	const char *path;  /* the fetched .rpm */
	const char *label; /* "name-evr.arch" for messages */
	bool gpgcheck;
	const struct copa_buf *keys; /* binary OpenPGP public keys */
	size_t n_keys;
	const char *keys_desc;
	char *const *replaces; /* names of installed packages it replaces (NULL-terminated) */
};

/*
 * Installs one package (see above). COPA_E_VERIFY for a signature or digest
 * that does not check out, COPA_E_PACKAGE / COPA_E_INPUT for a package that
 * cannot be installed; the layer and view are unchanged then.
 */
int copa_rpm_apply_package(struct copa_rpm_apply *a, const struct copa_rpm_apply_pkg *p,
                           struct copa_pm_applied *res, struct copa_err *err);

/*
 * Distroless Azure Linux / CBL-Mariner: rewrites the two rpm manifests (mf, the
 * image's container-manifest-2 as parsed) with every applied package: a
 * replaced package's line becomes the new package's (installtime now, the rest
 * from its header, as the toolkit writes it), new packages are appended; both
 * files go into the layer at path2 and path1 (canonical paths in the image).
 */
struct copa_rpmmf;
int copa_rpm_apply_manifests(struct copa_rpm_apply *a, struct copa_rpmmf *mf, const char *path2,
                             const char *path1, struct copa_err *err);

/* Writes the database of everything applied into the layer (nothing when nothing was). */
int copa_rpm_apply_finish(struct copa_rpm_apply *a, struct copa_err *err);

#endif

/*
 * apply.h: installing .deb packages into the description of a new layer,
 * against the merged view of an image, the way dpkg --force-confold would
 * leave the file system and its database, without running any program.
 *
 * Owns the unpack semantics: every data.tar path is mapped onto its
 * canonical path in the image (directory components resolved through the
 * image's symlinks with copa_view_resolve semantics, the last component not
 * followed), so the layer never shadows a symlink such as merged /usr's
 * `lib -> usr/lib`; diversions and stat overrides are honoured; conffiles
 * follow dpkg's decision table (a conffile the image changed is kept and the
 * package's version written as `.dpkg-dist` when the package changed it too;
 * one the image deleted stays deleted); files the old version owned that the
 * new one does not and no other package owns are whited out, empty
 * directories too; the database (status or status.d, info files) is
 * rewritten as dpkg writes it. Maintainer scripts are not run: each result
 * lists the scripts and triggers that were skipped. The effect that matters
 * to a security fix, the ca-certificates bundle, is reproduced natively by
 * copa_deb_apply_finish (cacerts.h).
 *
 * Invariants: a package either applies completely or, on error, leaves the
 * layer, the view and the database untouched (all checks and all reads of
 * the package happen before anything is changed). The view is updated as
 * packages apply, so it always shows the image as the new layer will leave
 * it: later packages, the database validation and the caller see the result.
 * Regular files written by copa keep their content inline in the view when
 * small; larger ones are readable through copa_deb_apply_read.
 *
 * Callers: the Debian package-manager adapter of `copa patch` and the
 * `copa-debapply` test helper. Not thread-safe.
 */
#ifndef COPA_PKG_DEB_APPLY_H
#define COPA_PKG_DEB_APPLY_H

#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/deb/deb.h"
#include "pkg/deb/debfile.h"
#include "pkg/deb/dpkgdb.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copa_deb_apply_opts {
	struct copa_out *out;
	const char *admindir; /* NULL: var/lib/dpkg */
	size_t inline_max; /* regular files up to this size stay inline in the layer; 0: 64 KiB */
	int64_t mtime;     /* mtime of files copa generates; 0: newest mtime of the packages */
	struct copa_debfile_limits limits;
	bool no_cacerts; /* do not regenerate /etc/ssl/certs */
};

/* What applying one package did. Strings are owned; release with copa_deb_apply_result_release. */
struct copa_deb_apply_result {
	char *name, *arch, *version;
	char *old_version; /* NULL for a new package */
	char **skipped;    /* NULL-terminated: maintainer scripts and triggers not run */
	char **notes;      /* NULL-terminated: conffiles kept, files replaced, ... */
	size_t n_written;  /* layer entries written for the package's files */
	size_t n_removed;  /* whiteouts for files of the old version */
};

void copa_deb_apply_result_release(struct copa_deb_apply_result *r);

struct copa_deb_apply;

/*
 * Starts applying packages to `b` against `v` (both borrowed; v is updated
 * as packages are applied). Loads the dpkg database from the view.
 * COPA_E_NOTFOUND when the image has no dpkg database.
 */
struct copa_deb_apply *copa_deb_apply_new(struct copa_view *v, struct copa_layer_builder *b,
                                          const struct copa_deb_apply_opts *opts,
                                          struct copa_err *err);

/*
 * Applies one verified package (p->deb_path). p->name, p->version and
 * p->arch, when set, must match the package's control file (COPA_E_VERIFY
 * otherwise). Errors: COPA_E_INPUT for a malformed or hostile package,
 * COPA_E_PACKAGE for one that cannot be installed over this image (a
 * conflict), COPA_E_IO, COPA_E_LIMIT. On error nothing was changed and the
 * caller may skip the package. res (may be NULL) receives what was done.
 */
int copa_deb_apply_package(struct copa_deb_apply *a, const struct copa_deb_pkg *p,
                           struct copa_deb_apply_result *res, struct copa_err *err);

/*
 * Finishes: writes the status file (regular layout), regenerates the
 * ca-certificates bundle when a certificate changed, and records notes.
 * Call once, after the last package.
 */
int copa_deb_apply_finish(struct copa_deb_apply *a, struct copa_err *err);

/* Notes of the whole run (NULL-terminated, borrowed): bundle regenerated, hooks skipped. */
const char *const *copa_deb_apply_notes(const struct copa_deb_apply *a);

/* The database as it stands (borrowed). */
const struct copa_dpkgdb *copa_deb_apply_db(const struct copa_deb_apply *a);

/*
 * Reads a file as the patched image presents it: the new layer's entry at
 * path when there is one (inline or staged), else the view. path is
 * resolved through the view's symlinks. Replaces out's contents.
 */
int copa_deb_apply_read(struct copa_deb_apply *a, const char *path, size_t max,
                        struct copa_buf *out, struct copa_err *err);

void copa_deb_apply_free(struct copa_deb_apply *a);

/* An installed package as read back from the patched image's database. */
struct copa_deb_installed {
	char *name, *arch, *version, *status; /* status: "install ok installed" or NULL */
};

/*
 * Validation: reads the database back from the new layer and the view (the
 * status file or status.d as the image will present them), checks that
 * every package of pkgs[0..n) is installed ("install ok installed" where
 * the layout records a Status) at exactly its version, and fills out[i]
 * (may be NULL; release with copa_deb_installed_release) with what was
 * found. COPA_E_VERIFY names the first package that is not.
 */
int copa_deb_verify(struct copa_deb_apply *a, const struct copa_deb_pkg *pkgs, size_t n,
                    struct copa_deb_installed *out, struct copa_err *err);
void copa_deb_installed_release(struct copa_deb_installed *i);

#endif

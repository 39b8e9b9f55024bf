/*
 * apkinst.h: the installed-database record of a package, built from the
 * verified .apk the way apk-tools 2.14 records an installation
 * (apk_db_install_archive_entry + apk_db_fdb_write): the package header
 * from `.PKGINFO` with the package's identity and file size, then one `F:`
 * per directory in archive order (`M:` when not root:root 0755), and in
 * each the files in archive order (`R:`, `a:` when not root:root 0644, `Z:`
 * the PAX checksum; a hard link takes its target's).
 *
 * Callers: the Alpine applier, to replace a package's record with
 * copa_apkdb_put(). Data entries whose name starts with '.' and
 * `.keep_*` files are not recorded, as apk does; a file whose directory has
 * no entry in the archive is an error (apk marks the package broken).
 */
#ifndef COPA_PKG_APK_APKINST_H
#define COPA_PKG_APK_APKINST_H

#include "pkg/apk/apkdb.h"
#include "pkg/apk/apkfile.h"

/*
 * Builds the record in db's arena (not yet put into db). apk_size is the
 * size of the .apk file (`S:`). COPA_E_PACKAGE naming the entry on a file
 * without its directory or a hard link without its target.
 */
int copa_apkinst_record(struct copa_apkdb *db, const struct copa_apkfile *f, uint64_t apk_size,
                        struct copa_apkdb_pkg **out, struct copa_err *err);

#endif

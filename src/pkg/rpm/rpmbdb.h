/*
 * rpmbdb.h: Berkeley DB rpm databases (RHEL/UBI 8, CentOS 7, Amazon Linux 2),
 * kept in Berkeley DB and written with libdb 5.3.
 *
 * Debian's librpm 4.18 reads Berkeley DB (its read-only `bdb_ro` backend) but
 * cannot write it. So the transaction runs on an sqlite copy and this module
 * carries its outcome back into the image's own format:
 *
 *   1. copa_rpmbdb_to_sqlite: librpm converts a private copy of the image's
 *      `Packages` into `rpmdb.sqlite` (rpmtsRebuildDB, bdb_ro to sqlite) and
 *      every header blob of `Packages` must come back byte for byte, so that
 *      a blob identifies a record in both databases.
 *   2. the caller runs its JUSTDB transaction on the sqlite copy (the new
 *      headers carry the install-time tags librpm adds).
 *   3. copa_rpmbdb_write: the sqlite copy's headers are exported and matched
 *      against the records of the image's `Packages` (read with bdb_ro):
 *      matched records keep their instance numbers and bytes, unmatched ones
 *      go (each must be a package the caller said it may erase), the rest
 *      get new instance numbers above the largest one; a new `Packages` is
 *      written with them (key 0 holds the largest number, as rpm keeps it).
 *      Then every index file rpm 4.14-4.16 opens is rebuilt from the full
 *      header set, laid out as rpm's db3 backend lays it out (see
 *      docs/ARCHITECTURE.md). libdb is opened without an environment, so no
 *      `__db.*` region or lock file is created, and only on files it creates.
 *
 * Callers: the rpm adapter (pm.c, open) and the applier (rpmapply.c, finish).
 */
#ifndef COPA_PKG_RPM_RPMBDB_H
#define COPA_PKG_RPM_RPMBDB_H

#include "util/err.h"
#include "util/log.h"

#include <stddef.h>

/* The index files written beside `Packages`, NULL-terminated (rpm 4.14-4.16's list). */
extern const char *const copa_rpmbdb_indexes[];

/*
 * Copies the Berkeley DB file `packages` into the directory dbdir (absolute,
 * empty) and has librpm convert it there into rpmdb.sqlite. COPA_E_INPUT
 * when the file is no rpm Packages database or librpm's copy differs from it.
 */
int copa_rpmbdb_to_sqlite(const char *packages, const char *dbdir, struct copa_out *out,
                          struct copa_err *err);

struct copa_rpmbdb_stats {
	size_t kept, removed, added; /* Packages records */
	size_t index_keys;           /* keys over all index files */
};

/*
 * Writes outdir/Packages (the records of the image's `packages`, a copy in a
 * directory of its own, changed as above) and outdir/<index> for every
 * copa_rpmbdb_indexes entry, from the sqlite database in sqlite_dbdir.
 * `erasable` (NULL-terminated) names the packages whose records may go; a
 * record of any other package missing from the sqlite copy is COPA_E_INPUT.
 */
int copa_rpmbdb_write(const char *packages, const char *sqlite_dbdir, const char *outdir,
                      char *const *erasable, struct copa_rpmbdb_stats *st, struct copa_out *out,
                      struct copa_err *err);

#endif

/*
 * rpmdb.h: the installed-package list of an RPM image, read with librpm.
 *
 * Owns finding the image's rpm database (var/lib/rpm or usr/lib/sysimage/rpm,
 * or a %_dbpath the caller read from the image), telling its backend apart
 * (sqlite `rpmdb.sqlite`, Berkeley DB `Packages`, SUSE NDB `Packages.db`,
 * which is refused by name), and listing its packages with librpm itself, so
 * what copa sees is exactly what `rpm --root R --dbpath P -qa` prints.
 *
 * The image's database files are never opened by librpm in place: they are
 * copied (opened beneath the root, no symlinks followed, size-capped) into a
 * private temporary root that is removed afterwards. librpm's sqlite backend
 * writes `-wal`/`-shm` files even for a query, and the image tree may be
 * read-only or shared. librpm is configured through process-global macros
 * (%_dbpath, %_db_backend) and a global log callback: the reader holds a
 * process-wide mutex for the whole read and restores both afterwards, and
 * librpm's messages go to the caller's sink (errors also fail the read).
 * Debian's rpm defaults %_dbpath to ~/.rpmdb and librpm silently lists zero
 * packages for a wrong path, so a database that lists nothing is an error.
 *
 * Callers: the rpm package-manager adapter (probe), test helpers.
 */
#ifndef COPA_PKG_RPM_RPMDB_H
#define COPA_PKG_RPM_RPMDB_H

#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COPA_RPMDB_FILE_MAX (1024ull << 20) /* one database file copied out of the image */
#define COPA_RPMDB_PKGS_MAX 200000          /* packages in one database */

enum copa_rpmdb_kind {
	COPA_RPMDB_NONE,
	COPA_RPMDB_SQLITE, /* rpmdb.sqlite: RHEL 9 family, Fedora, AL2023, Mariner 2, Azure Linux 3
	                    */
	COPA_RPMDB_BDB,    /* Packages: RHEL/UBI 8, CentOS 7, Amazon Linux 2 */
	COPA_RPMDB_NDB,    /* Packages.db: SUSE; detected, never read */
};

/* One installed package (a header of the database). Strings are owned. */
struct copa_rpm_pkg {
	char *name;
	bool has_epoch; /* EPOCH tag present ("(none)" otherwise) */
	uint32_t epoch;
	char *version;
	char *release;
	char *arch;      /* NULL when the header has none (gpg-pubkey) */
	char *sourcerpm; /* NULL when none (gpg-pubkey, source packages) */
	char *vendor;    /* NULL when none */
	uint64_t installtime, buildtime, size;
	bool pubkey; /* a gpg-pubkey pseudo-package (an imported key, not software) */
};

struct copa_rpmdb {
	enum copa_rpmdb_kind kind;
	char *dbpath;           /* relative to the root: "var/lib/rpm", "usr/lib/sysimage/rpm" */
	struct copa_rpm_pkg *v; /* in database order, gpg-pubkey entries included */
	size_t n, cap;
};

/* Frees the contents; db is empty afterwards. */
void copa_rpmdb_release(struct copa_rpmdb *db);

/* "sqlite", "bdb", "ndb", "none". */
const char *copa_rpmdb_kind_name(enum copa_rpmdb_kind kind);

/*
 * Finds the database beneath the directory fd rootfd: in `dbpath` (relative
 * or absolute inside the image) when given, else in the image's own
 * %_dbpath (copa_rpmdb_image_dbpath) when a database is there, else in
 * usr/lib/sysimage/rpm then var/lib/rpm (one of them is often a symlink to
 * the other; symlinks are
 * never followed, the real directory is found by trying both). A directory
 * with rpmdb.sqlite is sqlite (even when an old Packages sits beside it, as
 * after rpm's migration), with Packages BDB, with Packages.db NDB.
 * *where gets the malloc'd relative directory. COPA_E_NOTFOUND when there
 * is none (the caller may look for the distroless rpm manifest).
 */
int copa_rpmdb_locate(int rootfd, const char *dbpath, enum copa_rpmdb_kind *kind, char **where,
                      struct copa_err *err);

/*
 * Reads the database of the tree at rootfd (see copa_rpmdb_locate) into db
 * (which must be zeroed): copies its files into a private directory under
 * $TMPDIR, lists every header with librpm, removes the copy. NDB is refused
 * with COPA_E_UNSUPPORTED naming the file. An empty database, a header
 * without a name/version/release, or an error logged by librpm is
 * COPA_E_INPUT naming the database. librpm's warnings go to out.
 */
int copa_rpmdb_read(int rootfd, const char *dbpath, struct copa_rpmdb *db, struct copa_out *out,
                    struct copa_err *err);

/*
 * The %_dbpath an image's own rpm would use, from its macro files beneath
 * rootfd in rpm's order (usr/lib/rpm/macros, usr/lib/rpm/macros.d/macros.NAME,
 * etc/rpm/macros, etc/rpm/macros.NAME; the last definition wins). Values using
 * %{_usr}, %{_prefix}, %{_var}, %{_localstatedir} or %{_sharedstatedir} are
 * expanded with rpm's defaults; anything else is not understood and skipped.
 * *out gets a malloc'd absolute path, or NULL when no file sets it (the
 * caller then lets copa_rpmdb_locate try the usual places).
 */
int copa_rpmdb_image_dbpath(int rootfd, char **out, struct copa_err *err);

/*
 * Applies the `%_dbpath VALUE` lines of one macro file's text (n bytes) to
 * *dbpath: each definition copa can expand to an absolute path replaces the
 * malloc'd value there (the caller frees it). Other lines are ignored.
 */
void copa_rpmdb_macros_scan(const char *text, size_t n, char **dbpath);

/* name-version-release.arch as `rpm -qa` prints it (no arch: name-version-release). Caller frees.
 */
char *copa_rpm_pkg_nvra(const struct copa_rpm_pkg *p);

/* [epoch:]version-release, as Trivy writes versions. Caller frees. */
char *copa_rpm_pkg_evr(const struct copa_rpm_pkg *p);

#endif

/*
 * apkdb.h: an image's apk installed database (`lib/apk/db/installed`, or
 * `usr/lib/apk/db/installed` with apk 3), read, changed package by package
 * and written back exactly as apk-tools writes it.
 *
 * Owns: the record format (package header fields as in apkpkg.h, then the
 * installed-only fields g r q s f, then `F:` directories with their `M:`
 * ownership and `R:` files with `a:` ownership and `Z:` checksums), the
 * order of records, and the writer.
 *
 * Invariants: every record keeps its text exactly as read; only records
 * replaced or added (dirty) are regenerated, in apk_db_fdb_write()'s order,
 * so untouched records are written back byte for byte. `pkgs` is in file
 * order; a replaced package keeps its position, a new one goes last (where
 * apk appends it). Strings live in the database's arena.
 *
 * Input is hostile: the caller caps the file size (COPA_APKDB_MAX_FILE),
 * the parser caps packages, files and line length. Not thread-safe.
 */
#ifndef COPA_PKG_APK_APKDB_H
#define COPA_PKG_APK_APKDB_H

#include "pkg/apk/apkpkg.h"

#define COPA_APKDB_MAX_FILE     (256u << 20)
#define COPA_APKDB_MAX_PACKAGES 100000
#define COPA_APKDB_MAX_FILES    4000000

struct copa_apk_file {
	const char *name; /* R: name inside the directory */
	const char *acl;  /* a: "uid:gid:mode[:xattr-csum]", NULL for the default */
	const char *csum; /* Z: "Q1..." (content, or a symlink's target), NULL when none */
};

struct copa_apk_dir {
	const char *name; /* F: relative path, no leading '/' ("" is the root) */
	const char *acl;  /* M: as for files, NULL for the default */
	struct copa_apk_file *files;
	size_t n, cap;
};

struct copa_apkdb_pkg {
	struct copa_apk_pkg pkg;
	struct copa_apk_dir *dirs;
	size_t ndirs, capdirs;
	struct copa_blob text; /* the record as read (with its blank line); empty when dirty */
	size_t line;           /* first line in the file, 0 for added packages */
	bool dirty;
};

struct copa_apkdb {
	struct copa_arena arena;
	struct copa_blob lead; /* blank lines before the first record */
	struct copa_apkdb_pkg **pkgs;
	size_t n, cap;
	size_t files;                 /* files in all records, for the cap */
	struct copa_apkdb_pkg **made; /* every record ever allocated, for release */
	size_t nmade, capmade;
};

/* An empty database (an image with apk but no packages writes an empty file). */
void copa_apkdb_init(struct copa_apkdb *db);
void copa_apkdb_release(struct copa_apkdb *db);

/*
 * Parses installed-database text into db (which must be empty). `what`
 * names the file in errors ("'lib/apk/db/installed'"); errors add the line.
 * COPA_E_INPUT on a malformed record (a file line before a directory, a
 * missing name or version, an uppercase field this apk does not know),
 * COPA_E_LIMIT past a cap.
 */
int copa_apkdb_parse(struct copa_apkdb *db, const char *text, size_t n, const char *what,
                     struct copa_err *err);

/* Appends the whole database as apk writes it. */
void copa_apkdb_write(const struct copa_apkdb *db, struct copa_buf *out);

/* Appends one record generated from its fields (what a dirty record becomes). */
void copa_apkdb_pkg_write(const struct copa_apkdb_pkg *p, struct copa_buf *out);

/* The package named `name`, or NULL. */
struct copa_apkdb_pkg *copa_apkdb_find(const struct copa_apkdb *db, const char *name);

/*
 * A new empty record allocated in db (not yet in pkgs). Build it with
 * copa_apk_pkg_set (on &p->pkg with &db->arena) and the add functions, then
 * copa_apkdb_put it.
 */
struct copa_apkdb_pkg *copa_apkdb_pkg_new(struct copa_apkdb *db);

/* Adds a directory (and, with acl, its M: line) to p; strings are copied. */
struct copa_apk_dir *copa_apkdb_add_dir(struct copa_apkdb *db, struct copa_apkdb_pkg *p,
                                        const char *name, const char *acl);

/* Adds a file to dir; acl and csum may be NULL. */
struct copa_apk_file *copa_apkdb_add_file(struct copa_apkdb *db, struct copa_apk_dir *dir,
                                          const char *name, const char *acl, const char *csum);

/*
 * Puts p into the database as dirty: it replaces the package of the same
 * name in place, or is appended. Returns the package it replaced (still
 * valid until the database is released) or NULL.
 */
struct copa_apkdb_pkg *copa_apkdb_put(struct copa_apkdb *db, struct copa_apkdb_pkg *p);

/* Removes the package named `name`; returns it (NULL when absent). */
struct copa_apkdb_pkg *copa_apkdb_remove(struct copa_apkdb *db, const char *name);

#endif

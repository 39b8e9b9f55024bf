/*
 * apkpkg.h: one apk package's metadata, as the APKINDEX and the installed
 * database spell it (`X:value` lines), and apk's dependency strings.
 *
 * Owns: the field letters shared by both files (C P V A S I T U L o m t c k
 * D p i, and the installed database's g r q s f), the parsing of dependency
 * lists (`[!]name[@tag][op version]`, `name><Q1...`, separated by spaces),
 * and writing a package header back in apk-tools' field order and format.
 *
 * Strings live in the arena the caller passes; a package never owns memory.
 * Input is hostile: values are bounded by the caller's file caps, dependency
 * lists by COPA_APK_DEPS_MAX. Not thread-safe per arena.
 */
#ifndef COPA_PKG_APK_APKPKG_H
#define COPA_PKG_APK_APKPKG_H

#include "util/arena.h"
#include "util/blob.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

/* Most entries in one dependency list. */
#define COPA_APK_DEPS_MAX 4096

struct copa_apk_dep {
	const char *name;    /* "musl", "so:libc.musl-x86_64.so.1", "cmd:sh", "/bin/sh" */
	const char *version; /* NULL when any version matches */
	const char *tag;     /* repository tag from "name@tag", or NULL */
	int op;              /* COPA_APKV_* mask; COPA_APKV_CONFLICT for "!name" */
	bool broken;         /* the version is not a valid apk version (apk keeps such deps) */
};

struct copa_apk_deps {
	struct copa_apk_dep *v;
	size_t n;
};

struct copa_apk_pkg {
	const char *csum;                /* C: "Q1" + base64 SHA-1 (identity) */
	const char *name;                /* P: */
	const char *version;             /* V: */
	const char *arch;                /* A: */
	const char *desc;                /* T: */
	const char *url;                 /* U: */
	const char *license;             /* L: */
	const char *origin;              /* o: */
	const char *maintainer;          /* m: */
	const char *commit;              /* c: */
	uint64_t size;                   /* S: .apk file size */
	uint64_t installed_size;         /* I: */
	uint64_t build_time;             /* t: */
	uint64_t provider_priority;      /* k: (0: none) */
	struct copa_apk_deps depends;    /* D: */
	struct copa_apk_deps provides;   /* p: */
	struct copa_apk_deps install_if; /* i: */
	/* installed database only */
	struct copa_apk_deps replaces; /* r: */
	uint64_t replaces_priority;    /* q: */
	const char *repo_tag;          /* s: */
	const char *broken;            /* f: flags */
	const char *tags;              /* g: (space-separated, as read) */
};

/*
 * Parses a space-separated dependency list into the arena. COPA_E_INPUT
 * for an empty name, an unknown operator or a version operator without a
 * version; COPA_E_LIMIT past COPA_APK_DEPS_MAX.
 */
int copa_apk_deps_parse(struct copa_arena *a, struct copa_blob text, struct copa_apk_deps *out,
                        struct copa_err *err);

/* Appends one dependency as apk writes it ("!name@tag>=1.2"). */
void copa_apk_dep_write(const struct copa_apk_dep *d, struct copa_buf *out);

/* Appends a list, entries separated by one space. */
void copa_apk_deps_write(const struct copa_apk_deps *d, struct copa_buf *out);

/*
 * Stores field `letter` = value into p (strings copied into a). Returns 1
 * when the letter is a package field, 0 when it is not (the caller decides
 * whether that is an error), -1 with err set on a bad value (a number that
 * is not one, a bad dependency list, an empty name or version).
 */
int copa_apk_pkg_set(struct copa_arena *a, struct copa_apk_pkg *p, char letter,
                     struct copa_blob value, struct copa_err *err);

/*
 * Appends the package header as apk-tools writes it into an index or the
 * installed database: C P V A S I T U L o m t c k D p i, and with
 * `installed`, then g r q s f. No trailing blank line.
 */
void copa_apk_pkg_write(const struct copa_apk_pkg *p, bool installed, struct copa_buf *out);

/* True when s is an apk identity checksum: "Q1" + 28 base64 characters. */
bool copa_apk_csum_valid(const char *s);

/* Formats a 20-byte SHA-1 as "Q1" + base64 (31 bytes with the NUL). */
void copa_apk_csum_format(const unsigned char sha1[20], char out[32]);

#endif

/*
 * release.h: the Release file of an APT repository suite (the body of
 * InRelease once its signature is verified, or Release beside Release.gpg),
 * and the structure of clearsigned text.
 *
 * Only what copa needs is kept: identity (Origin, Label, Suite, Codename),
 * Date and Valid-Until, Acquire-By-Hash, NotAutomatic/ButAutomaticUpgrades,
 * No-Support-for-Architecture-all, and the SHA256 section (path, size,
 * checksum of every index file). Weaker hash sections are ignored; a Release
 * without SHA256 is refused, as apt refuses it. Input is untrusted until its
 * signature is checked and capped either way. Pure functions, any thread.
 */
#ifndef COPA_PKG_DEB_RELEASE_H
#define COPA_PKG_DEB_RELEASE_H

#include "util/blob.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COPA_RELEASE_MAX       (32u << 20) /* an InRelease file (Debian's are ~150 KB) */
#define COPA_RELEASE_FILES_MAX 200000      /* entries in the SHA256 section */

struct copa_release_file {
	char *path; /* relative to the suite directory: "main/binary-amd64/Packages.xz" */
	uint64_t size;
	char sha256[65];
};

struct copa_release {
	char *origin, *label, *suite, *codename;
	int64_t date;        /* seconds since the epoch; -1 when absent */
	int64_t valid_until; /* -1 when absent */
	bool acquire_by_hash;
	bool not_automatic, but_automatic_upgrades;
	bool no_arch_all;                /* No-Support-for-Architecture-all: Packages */
	char **architectures;            /* NULL-terminated (may be empty) */
	struct copa_release_file *files; /* sorted by path */
	size_t n_files;
};

/*
 * Parses a Release body (n bytes); `what` names it in messages. Errors:
 * COPA_E_INPUT (malformed paragraph, hash line, date; no SHA256 section),
 * COPA_E_LIMIT.
 */
int copa_release_parse(const char *text, size_t n, const char *what, struct copa_release *out,
                       struct copa_err *err);

void copa_release_release(struct copa_release *r);

/* The SHA256 entry of path, or NULL. */
const struct copa_release_file *copa_release_find(const struct copa_release *r, const char *path);

/*
 * Parses an RFC 1123 date as Release files write it ("Sat, 17 Dec 2022
 * 10:14:37 UTC"; the weekday is optional; the zone must be UTC, GMT, Z or
 * +0000). Returns 0 and sets *t, or -1.
 */
int copa_release_parse_date(struct copa_blob s, int64_t *t);

/*
 * Checks that text is exactly one clearsigned message: it starts with
 * "-----BEGIN PGP SIGNED MESSAGE-----", has Hash headers, a blank line, a
 * body without another BEGIN line, one signature block, and nothing but
 * blank lines after "-----END PGP SIGNATURE-----" (apt's rule: content
 * outside the signed part must not sneak into what is parsed). On success
 * *body gets the dash-unescaped body as a malloc'd string (NUL-terminated,
 * length in *body_len) when body is not NULL.
 */
int copa_clearsign_split(const char *text, size_t n, const char *what, char **body,
                         size_t *body_len, struct copa_err *err);

#endif

/*
 * rpmmd.h: rpm-md repository metadata (repodata/repomd.xml and the primary
 * index) into libsolv, with the checksums verified before parsing.
 *
 * repomd.xml is parsed by libsolv's repo_add_repomdxml() into a scratch pool;
 * copa takes the primary entry's location, checksum, open-checksum and size
 * from it. The primary file (gzip, xz, bzip2, zstd, or plain) is hashed in
 * full and compared with the repomd checksum before a single byte of it is
 * parsed; only then is it decompressed (libarchive's built-in filters, chosen
 * by the file's magic bytes, not its name; not libsolv's solv_xfopen, whose
 * zstd reader hangs on a truncated frame) and read by libsolv's repo_add_rpmmd()
 * into the caller's repository. The decompressed stream is counted and, when
 * repomd gives one, hashed against the open-checksum as it is parsed; a
 * mismatch or a stream past the cap drops what was added.
 *
 * Weak checksums (md5, sha1) are refused: the chain repomd.xml (signed) ->
 * primary -> package is only as strong as its weakest link. repomd.xml and
 * primary are untrusted input: sizes are capped, locations are normalised
 * relative paths with no "..". Signature checking of repomd.xml
 * (repomd.xml.asc) is the fetcher's business, before copa_repomd_parse().
 * Not thread-safe per pool (libsolv pools are single-threaded).
 */
#ifndef COPA_PKG_RPM_RPMMD_H
#define COPA_PKG_RPM_RPMMD_H

#include "util/err.h"

#include <solv/pool.h>
#include <solv/repo.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COPA_REPOMD_MAX         (4u << 20)   /* repomd.xml */
#define COPA_RPMMD_PRIMARY_MAX  (1ull << 30) /* compressed primary */
#define COPA_RPMMD_OPEN_MAX     (8ull << 30) /* decompressed primary */
#define COPA_RPMMD_PACKAGES_MAX 2000000      /* solvables from one primary */
#define COPA_RPMMD_CHKSUM_MAX   64

/* One <data> entry of repomd.xml. */
struct copa_repomd_file {
	char *location; /* normalised relative path: "repodata/<hex>-primary.xml.gz" */
	Id chksum_type; /* libsolv REPOKEY_TYPE_SHA256, _SHA384 or _SHA512 */
	unsigned char chksum[COPA_RPMMD_CHKSUM_MAX];
	Id open_type; /* 0 when repomd has no open-checksum */
	unsigned char open_chksum[COPA_RPMMD_CHKSUM_MAX];
	uint64_t size; /* 0 when absent */
};

struct copa_repomd {
	struct copa_repomd_file primary;
};

void copa_repomd_release(struct copa_repomd *md);

/*
 * Parses repomd.xml (n bytes; `name` is named in errors, e.g. its URL) and
 * fills md with its primary entry. COPA_E_INPUT when it is not repomd.xml,
 * has no primary entry, or the entry has no checksum or a bad location;
 * COPA_E_VERIFY for a weak checksum type.
 */
int copa_repomd_parse(const void *xml, size_t n, const char *name, struct copa_repomd *md,
                      struct copa_err *err);

/*
 * Verifies the primary file open on fd (read from its start; the fd is not
 * closed) against f, then adds its packages to repo. Returns the number of
 * packages added, or -1: COPA_E_VERIFY for a checksum or size mismatch,
 * COPA_E_INPUT for a file libsolv cannot parse (with libsolv's reason),
 * COPA_E_LIMIT past a cap. On failure repo holds nothing new.
 */
int copa_rpmmd_add_primary(Repo *repo, int fd, const struct copa_repomd_file *f, const char *name,
                           struct copa_err *err);

/*
 * Loads a repository that sits in a local directory (dirfd: the directory
 * holding repodata/): repodata/repomd.xml, then its primary file, both opened
 * beneath dirfd without following symlinks. Returns the number of packages
 * added, or -1 with an error naming the file.
 */
int copa_rpmmd_load_dir(Repo *repo, int dirfd, struct copa_err *err);

#endif

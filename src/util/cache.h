/*
 * cache.h: copa's content-addressed cache on disk.
 *
 * Layout under the cache root ($XDG_CACHE_HOME/copa, ~/.cache/copa, or
 * --cache-dir):
 *   blobs/<alg>/<hex>   content-addressed files: image blobs, .deb files
 *   <ns>/<key>          derived data keyed by a digest (layer header indexes,
 *                       verified repository indexes, ...); namespaces are
 *                       fixed strings chosen by the calling module
 *   tmp/                files being written
 *
 * Every entry is written to tmp/ and renamed into place, so two copa
 * processes sharing the cache never see a partial file; when both write the
 * same entry the contents are identical and the last rename wins. Blobs are
 * verified against their digest when read (copa_cache_open_blob with verify),
 * and a corrupt entry is deleted and reported as missing.
 */
#ifndef COPA_UTIL_CACHE_H
#define COPA_UTIL_CACHE_H

#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/hash.h"

#include <stdbool.h>

struct copa_cache {
	int dirfd;  /* the cache root */
	char *path; /* absolute path of the root */
};

/*
 * Opens (creating as needed) the cache at dir, or at the default location
 * when dir is NULL, and sweeps it (copa_cache_sweep). Release with
 * copa_cache_release().
 */
int copa_cache_open(struct copa_cache *c, const char *dir, struct copa_err *err);
void copa_cache_release(struct copa_cache *c);

/*
 * Removes what killed runs left: temporary files and load-/stage-
 * directories whose process is gone (copa_fs_sweep_stale), in the root, its
 * namespaces, tmp/ and blobs/. Never touches a live process's files.
 */
void copa_cache_sweep(const struct copa_cache *c);

/* Returns the malloc'd absolute path where a blob lives (it may not exist). */
char *copa_cache_blob_path(const struct copa_cache *c, const char *digest);

/* True when a blob with this digest is present (not verified). */
bool copa_cache_has_blob(const struct copa_cache *c, const char *digest);

/*
 * Opens a cached blob for reading. With verify, the content is hashed first;
 * a mismatch deletes the entry. Returns an fd positioned at 0, or -1 with
 * COPA_E_NOTFOUND when absent or corrupt.
 */
int copa_cache_open_blob(const struct copa_cache *c, const char *digest, bool verify,
                         struct copa_err *err);

/* Starts writing a new cache entry: a temporary file in tmp/. */
int copa_cache_begin(const struct copa_cache *c, struct copa_tmpfile *t, struct copa_err *err);

/*
 * Moves a finished temporary file into blobs/. When `digest` is given the
 * content must match it (re-hashed unless `verified` says the caller already
 * hashed what it wrote); when NULL the sha256 digest is computed. The final
 * digest is written to out_digest when not NULL. Releases nothing: the
 * caller still calls copa_tmpfile_release().
 */
int copa_cache_commit_blob(const struct copa_cache *c, struct copa_tmpfile *t, const char *digest,
                           bool verified, char out_digest[COPA_DIGEST_MAX], struct copa_err *err);

/* Stores data at <ns>/<key> atomically. ns and key must be plain names. */
int copa_cache_put(const struct copa_cache *c, const char *ns, const char *key, const void *data,
                   size_t n, struct copa_err *err);

/*
 * Reads <ns>/<key> into out (up to max bytes). Returns 1 when found, 0 when
 * absent, -1 on error.
 */
int copa_cache_get(const struct copa_cache *c, const char *ns, const char *key, size_t max,
                   struct copa_buf *out, struct copa_err *err);

/* Returns the malloc'd absolute path of <ns>/<key>, creating <ns>/ if needed. */
char *copa_cache_path(const struct copa_cache *c, const char *ns, const char *key,
                      struct copa_err *err);

#endif

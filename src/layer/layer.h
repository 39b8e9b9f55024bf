/*
 * layer.h: reading image layers into a merged view, and building new layers.
 *
 * Read side (copa_image_fs_*): streams each layer blob through libarchive,
 * applies whiteouts and opaque directories in layer order, and builds the
 * merged view (view.h). Hostile entries (absolute paths, "..", whiteouts
 * naming ".." or the root) are rejected or neutralised; nothing is written
 * to the host. Small files under the inline prefixes (package databases,
 * os-release, apt/apk/yum configuration, keyrings) are captured while
 * streaming; other contents are read on demand from the owning layer. The
 * header index of a layer is cached by digest so a second run does not
 * decompress it again.
 *
 * Write side (copa_layer_builder_*): the new layer is described entry by
 * entry: path, type, mode, owner, mtime, link target, xattrs, and for
 * regular files the content, inline or as a file in a staging directory.
 * Metadata lives here, not on the staging files, so copa can run
 * unprivileged: an ordinary user cannot chown files to root, create device
 * nodes or set security.capability, but can describe them in a tar.
 * copa_layer_builder_write() emits a deterministic tar (entries sorted by
 * path, PAX headers, whiteouts as ".wh." files) compressed in one pass that
 * yields both the blob digest and the diff_id.
 */
#ifndef COPA_LAYER_LAYER_H
#define COPA_LAYER_LAYER_H

#include "util/cache.h"
#include "layer/view.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- read side ---- */

struct copa_layer_blob {
	const char *digest; /* blob digest (of the bytes as stored) */
	const char
	    *media_type;  /* decides decompression: tar, +gzip, +zstd, Docker and foreign types */
	const char *path; /* local file holding the blob (cache or OCI layout) */
	uint64_t size;
	const char *diff_id; /* from the config; verified while reading when not NULL */
	bool verified;       /* the file was checked against digest already: not hashed again */
};

struct copa_image_fs_opts {
	struct copa_cache *cache; /* header index cache; NULL: none */
	struct copa_out *out;
	const char *const *inline_prefixes; /* NULL: copa_layer_default_inline */
	size_t inline_max;                  /* per-file cap for inline capture; 0: 8 MiB */
	uint64_t max_entries;               /* all layers together; 0: 2,000,000 */
	uint64_t max_layer_bytes;           /* uncompressed, per layer; 0: 64 GiB */
	unsigned threads;                   /* layers indexed at once; 0: online CPUs (max 8) */
};

/* Path prefixes captured inline by default (NULL-terminated). */
extern const char *const copa_layer_default_inline[];

struct copa_image_fs;

/*
 * Reads layers[0..n) (base first) into a merged view. The blobs must stay
 * readable at their paths while the result is used (content on demand).
 * Errors name the layer digest and the tar entry.
 */
struct copa_image_fs *copa_image_fs_open(const struct copa_layer_blob *layers, size_t n,
                                         const struct copa_image_fs_opts *opts,
                                         struct copa_err *err);
/*
 * Reads several files at once: resolves every path in the view (symlinks
 * and hard links followed, as copa_view_read does), then reads them ordered
 * by layer and offset, so that each compressed layer is decompressed at most
 * once for the whole batch. Calls fn(ctx, i, data, len) for paths[i], in
 * that read order, not in index order; data is borrowed for the call. Stops
 * at the first error (naming the path) or non-zero fn result (returned).
 * Files over max bytes fail with COPA_E_LIMIT.
 */
int copa_image_fs_read_batch(struct copa_image_fs *fs, const char *const *paths, size_t n,
                             size_t max,
                             int (*fn)(void *ctx, size_t i, const void *data, size_t len),
                             void *ctx, struct copa_err *err);

/* The merged view (borrowed, valid until copa_image_fs_free). */
struct copa_view *copa_image_fs_view(struct copa_image_fs *fs);
void copa_image_fs_free(struct copa_image_fs *fs);

/* ---- write side ---- */

struct copa_layer_xattr {
	const char *name; /* e.g. "security.capability" */
	const void *value;
	size_t len;
};

struct copa_layer_entry {
	const char *path; /* normalised, canonical in the image (resolve through the view first) */
	uint8_t type;     /* enum copa_ftype */
	uint32_t mode;    /* permission bits incl. setuid/setgid/sticky */
	uint32_t uid, gid;
	int64_t mtime;
	const char *link; /* symlink target, or hardlink target path (must be in this layer) */
	uint32_t rdev_major, rdev_minor;
	uint64_t size; /* regular files */
	/* Content of a regular file: inline bytes, or a file beneath the staging dir. */
	const void *content;
	const char *staged;
	const struct copa_layer_xattr *xattrs;
	size_t n_xattrs;
};

struct copa_layer_builder;

/*
 * Creates an empty layer description. staging_dirfd (borrowed; -1 for none)
 * is where `staged` content paths are resolved, beneath, without symlinks.
 */
struct copa_layer_builder *copa_layer_builder_new(int staging_dirfd);
void copa_layer_builder_free(struct copa_layer_builder *b);

/*
 * Adds an entry, copying everything it points to (staged content stays a
 * path). An entry at the same path is replaced; a whiteout of that path is
 * dropped. Returns -1 (COPA_E_INPUT) for a path that does not normalise or
 * whose last component starts with ".wh." (reserved for whiteouts).
 */
int copa_layer_builder_add(struct copa_layer_builder *b, const struct copa_layer_entry *e,
                           struct copa_err *err);

/* Records that path is deleted from the lower layers; drops entries at or below it. */
int copa_layer_builder_whiteout(struct copa_layer_builder *b, const char *path,
                                struct copa_err *err);

/* Records that directory dir hides all lower-layer children (opaque whiteout). */
int copa_layer_builder_opaque(struct copa_layer_builder *b, const char *dir, struct copa_err *err);

/* Removes an added entry or whiteout at exactly path; returns -1 when absent. */
int copa_layer_builder_remove(struct copa_layer_builder *b, const char *path);

/* The entry at path, or NULL (also NULL for a whiteout). Borrowed. */
const struct copa_layer_entry *copa_layer_builder_get(const struct copa_layer_builder *b,
                                                      const char *path);
bool copa_layer_builder_is_whiteout(const struct copa_layer_builder *b, const char *path);
/* Entries plus whiteouts. */
size_t copa_layer_builder_count(const struct copa_layer_builder *b);
int copa_layer_builder_staging_fd(const struct copa_layer_builder *b);

enum copa_layer_mark {
	COPA_LAYER_ENTRY,    /* e is the entry */
	COPA_LAYER_WHITEOUT, /* e->path is deleted from lower layers */
	COPA_LAYER_OPAQUE,   /* e->path's lower children are hidden */
};

/*
 * Calls fn for every entry and marker in tar order: sorted bytewise by the
 * name each has in the tar (the path, "dir/.wh.name", "dir/.wh..wh..opq"),
 * so a directory always precedes its contents. Stops on non-zero.
 */
int copa_layer_builder_foreach(const struct copa_layer_builder *b,
                               int (*fn)(void *ctx, const struct copa_layer_entry *e,
                                         enum copa_layer_mark mark),
                               void *ctx);

/*
 * Loads every entry and whiteout of an existing layer blob into b (regular
 * file contents are staged under b's staging directory as "seed-N"). Used
 * to re-patch: the previous patch layer becomes the starting point of the
 * one combined new layer. Later adds replace seeded entries.
 */
int copa_layer_builder_seed(struct copa_layer_builder *b, const struct copa_layer_blob *lb,
                            struct copa_err *err);

enum copa_compression {
	COPA_COMPRESS_NONE,
	COPA_COMPRESS_GZIP,
	COPA_COMPRESS_ZSTD,
};

struct copa_layer_write_opts {
	enum copa_compression compression;
	int level;        /* 0: the default of the format (gzip 6, zstd 3) */
	unsigned threads; /* 0: the number of online CPUs */
	int out_fd;       /* receives the compressed blob */
	struct copa_out *out;
};

struct copa_layer_result {
	char digest[COPA_DIGEST_MAX];  /* sha256 of the blob as written */
	char diff_id[COPA_DIGEST_MAX]; /* sha256 of the uncompressed tar */
	uint64_t size;                 /* blob bytes */
	uint64_t tar_size;             /* uncompressed bytes */
	const char *media_type_oci;    /* media types matching the compression */
	const char *media_type_docker;
};

/*
 * Writes the layer: a deterministic tar of every entry and whiteout,
 * compressed as asked. Same description and options -> byte-identical blob.
 */
int copa_layer_builder_write(const struct copa_layer_builder *b,
                             const struct copa_layer_write_opts *opts,
                             struct copa_layer_result *res, struct copa_err *err);

#endif

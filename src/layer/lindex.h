/*
 * lindex.h: the header index of one layer (internal to src/layer/).
 *
 * The index is what copa keeps of a layer after streaming it once: every
 * tar header in order (normalised path, type, mode, owner, size, mtime,
 * link, device numbers, whiteout kind, the header's offset in the
 * uncompressed stream) plus the inline content of small files under the
 * inline prefixes, and the layer's computed diff_id. Building the merged
 * view needs nothing else, so a second run reads the index from the cache
 * instead of decompressing the layer (read.c). Every string and content
 * pointer lives in the index's arena, or in the buffer it was parsed from.
 */
#ifndef COPA_LAYER_LINDEX_H
#define COPA_LAYER_LINDEX_H

#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum copa_rec_kind {
	COPA_REC_ENTRY,    /* an entry of the merged tree */
	COPA_REC_WHITEOUT, /* path is deleted from the lower layers */
	COPA_REC_OPAQUE,   /* path (a directory, "" for the root) hides its lower children */
};

struct copa_rec {
	uint8_t kind; /* enum copa_rec_kind */
	uint8_t type; /* enum copa_ftype, for entries */
	uint32_t mode, uid, gid, major, minor;
	uint64_t size; /* regular files: content bytes */
	int64_t mtime;
	uint64_t pos;        /* offset of the entry's first header in the uncompressed tar */
	const char *path;    /* normalised */
	const char *link;    /* symlink target as stored; hard link target normalised; or NULL */
	const void *content; /* `size` inline bytes, or NULL */
};

struct copa_lindex {
	struct copa_rec *recs;
	size_t n, cap;
	struct copa_arena arena;
	char diff_id[COPA_DIGEST_MAX]; /* sha256 of the uncompressed stream */
	uint64_t tar_size;             /* bytes of the uncompressed stream */
	bool plain;                    /* the blob is an uncompressed tar (seekable) */
	uint64_t inline_bytes;         /* content captured */
	struct copa_buf backing;       /* a parsed cache entry the pointers may point into */
};

/* Appends a zeroed record and returns it. */
struct copa_rec *copa_lindex_add(struct copa_lindex *ix);
void copa_lindex_release(struct copa_lindex *ix);

/* Serialises ix (with a trailing sha256 of the bytes) into out. */
void copa_lindex_encode(const struct copa_lindex *ix, struct copa_buf *out);

/*
 * Parses an encoded index, taking ownership of *in (moved into ix->backing).
 * Returns -1 (COPA_E_INPUT) on any inconsistency: a damaged cache entry is
 * ignored by the caller, never trusted.
 */
int copa_lindex_decode(struct copa_lindex *ix, struct copa_buf *in, struct copa_err *err);

#endif

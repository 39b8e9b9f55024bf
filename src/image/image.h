/*
 * image.h: image sources and destinations for every transport, and copying
 * between them.
 *
 * Owns reading and writing whole images: registry (through registry.h), OCI
 * layout directories, OCI archives and docker-archives. The patch pipeline
 * uses it in this order:
 *
 *   src  = copa_image_src_open(ref)               resolve, fetch the root
 *   root = copa_image_src_root(src)               tagged manifest or index
 *   copa_image_src_platforms(src, ...)            what an index offers
 *   copa_image_src_load(src, platform, &img)      manifest + config, verified
 *   copa_image_src_layer_blobs(src, &img, ...)    every layer as a local file
 *   ... build a layer, edit img.config, copa_manifest_build(), copa_index_build()
 *   dst  = copa_image_dst_open(ref)
 *   copa_image_dst_copy_blob(dst, src, desc)      untouched blobs, verbatim
 *   copa_image_dst_put_blob_fd(dst, desc, fd)     new layer, new config
 *   copa_image_dst_put_manifest(dst, desc, raw)   platform manifests (index case)
 *   copa_image_dst_commit(dst, desc, raw)         the root, last: tag / index.json
 *
 * Invariants: every byte read from a source is verified against its digest
 * before anyone sees it (blobs, manifests, indexes, configs). A destination
 * writes blobs first and the root last, and leaves nothing half-written:
 * files go to temporary names and are renamed; a destination freed without a
 * commit removes what it staged (an OCI layout keeps only content-addressed
 * blobs, which nothing references). Foreign (non-distributable) layers are
 * never pushed to a registry. Untouched manifests and configs are written
 * from their raw bytes.
 */
#ifndef COPA_IMAGE_IMAGE_H
#define COPA_IMAGE_IMAGE_H

#include "util/cache.h"
#include "image/oci.h"
#include "image/ref.h"
#include "layer/layer.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

struct copa_registry_opts;

struct copa_image_opts {
	struct copa_cache *cache; /* blobs of registry/archive sources; required */
	struct copa_http *http;   /* registry transports; required for them */
	struct copa_out *out;
	const struct copa_registry_opts
	    *registry; /* template (http/out overridden); NULL: defaults */
	unsigned jobs; /* parallel blob transfers; 0: online CPUs, 2..8 */
};

/* ---- sources ---- */

struct copa_image_src;

/*
 * Opens a source: parses what is needed to know the root document (for
 * archives, extracts blobs into the cache, verifying each), and fetches and
 * verifies the root manifest or index. Errors name the reference.
 */
struct copa_image_src *copa_image_src_open(const struct copa_image_ref *ref,
                                           const struct copa_image_opts *opts,
                                           struct copa_err *err);
void copa_image_src_free(struct copa_image_src *s);

struct copa_image_root {
	enum copa_mt_kind kind;        /* COPA_MT_INDEX or COPA_MT_MANIFEST */
	struct copa_desc desc;         /* descriptor of the root (digest of raw bytes) */
	struct copa_index index;       /* when kind is COPA_MT_INDEX */
	struct copa_manifest manifest; /* when kind is COPA_MT_MANIFEST */
};

/* The root document (borrowed, valid until copa_image_src_free). */
const struct copa_image_root *copa_image_src_root(const struct copa_image_src *s);
/* The transport reference the source was opened with (borrowed). */
const struct copa_image_ref *copa_image_src_ref(const struct copa_image_src *s);
/*
 * A docker-archive source: the first RepoTags entry of the image read
 * ("app:1.0"), so an archive named without :REF still has a name; NULL for
 * other transports or an untagged image (borrowed).
 */
const char *copa_image_src_repo_tag(const struct copa_image_src *s);

/*
 * Reads a manifest or index named by a descriptor (capped at
 * COPA_OCI_MAX_MANIFEST) into out, verified against its digest and size.
 */
int copa_image_src_get_doc(struct copa_image_src *s, const struct copa_desc *d,
                           struct copa_buf *out, struct copa_err *err);

/*
 * Returns a malloc'd path of a local file holding the blob, verified: the
 * blob in an OCI layout in place, or the cache entry (downloaded or
 * extracted first). The file stays valid while the source is open.
 */
char *copa_image_src_blob_path(struct copa_image_src *s, const struct copa_desc *d,
                               struct copa_err *err);

struct copa_image_platform {
	struct copa_platform platform;
	struct copa_desc desc; /* the image manifest's descriptor */
	size_t top_pos;        /* position in the root index's manifests[] */
};

/*
 * Lists the runnable images of the source: for an index, every image
 * manifest (through nested indexes, attestations skipped); for a single
 * manifest, one entry with the config's platform. *out is malloc'd; free with
 * copa_image_platforms_free.
 */
int copa_image_src_platforms(struct copa_image_src *s, struct copa_image_platform **out, size_t *n,
                             struct copa_err *err);
void copa_image_platforms_free(struct copa_image_platform *v, size_t n);

struct copa_image {
	struct copa_desc desc; /* manifest descriptor (root's, or the index entry's) */
	struct copa_manifest manifest;
	struct copa_config config;
	struct copa_platform platform; /* from the config */
	size_t top_pos;                /* entry in the root index; SIZE_MAX for a single image */
};

/*
 * Loads one image: with an index, the entry matching `want` (NULL: the
 * host's platform, or the only one); errors list the available platforms.
 * Fetches manifest and config, verifies them and checks that they agree.
 */
int copa_image_src_load(struct copa_image_src *s, const struct copa_platform *want,
                        struct copa_image *img, struct copa_err *err);
void copa_image_release(struct copa_image *img);

struct copa_image_layers {
	struct copa_layer_blob *v; /* v[i] for manifest.layers[i]; strings owned here */
	size_t n;
};

/*
 * Makes every layer blob of img available as a local verified file and
 * fills the layer reader's descriptions (diff_id from the config).
 * Release with copa_image_layers_release.
 */
int copa_image_src_layer_blobs(struct copa_image_src *s, const struct copa_image *img,
                               struct copa_image_layers *out, struct copa_err *err);
void copa_image_layers_release(struct copa_image_layers *l);

/* ---- destinations ---- */

struct copa_image_dst;

/* Opens a destination; nothing visible is written before commit but blobs. */
struct copa_image_dst *copa_image_dst_open(const struct copa_image_ref *ref,
                                           const struct copa_image_opts *opts,
                                           struct copa_err *err);
/* Frees the destination; without a commit, removes everything it staged. */
void copa_image_dst_free(struct copa_image_dst *d);

/* True when the destination holds one image only (docker-archive). */
bool copa_image_dst_single(const struct copa_image_dst *d);
/* The media type family the destination needs, or -1 when it takes both. */
int copa_image_dst_family(const struct copa_image_dst *d);

/* Writes a blob from fd (positioned anywhere; read from offset 0), verified on the way. */
int copa_image_dst_put_blob_fd(struct copa_image_dst *d, const struct copa_desc *desc, int fd,
                               struct copa_err *err);

/* Copies a blob from a source, streaming when the destination allows it. */
int copa_image_dst_copy_blob(struct copa_image_dst *d, struct copa_image_src *s,
                             const struct copa_desc *desc, struct copa_err *err);

/* Writes a manifest or index that the root will reference (by digest). */
int copa_image_dst_put_manifest(struct copa_image_dst *d, const struct copa_desc *desc,
                                const void *raw, size_t n, struct copa_err *err);

/*
 * Writes the root manifest or index and makes it visible under the
 * destination's name (tag, index.json entry, archive file). Every blob and
 * child manifest must have been written. After success, free keeps it.
 */
int copa_image_dst_commit(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                          size_t n, struct copa_err *err);

/* ---- copying ---- */

/*
 * A manifest of the source to write differently: wherever the copy meets the
 * manifest `old_digest`, it writes `raw` (described by `desc`) instead and
 * copies that manifest's blobs. Blobs that exist only in the new manifest
 * (a new layer, a new config) must already be in the destination
 * (copa_image_dst_put_blob_fd) — the copy skips blobs the destination has.
 */
struct copa_image_replace {
	const char *old_digest;
	const struct copa_desc *desc;
	const void *raw;
	size_t n;
};

struct copa_copy_opts {
	const struct copa_platform *platform;     /* copy only this image of an index; NULL: all */
	const struct copa_image_replace *replace; /* manifests to substitute; may be NULL */
	size_t n_replace;
	char *
	    root_digest; /* when not NULL (COPA_DIGEST_MAX bytes): the digest of the root written */
};

/*
 * Copies the source's root image (everything under an index, or one
 * platform) to the destination: blobs first, child manifests, then the root.
 * Untouched documents and blobs keep their bytes and digests. A
 * single-image destination (docker-archive) given an index gets the image
 * of `platform` or of the default platform.
 */
int copa_image_copy(struct copa_image_src *s, struct copa_image_dst *d,
                    const struct copa_copy_opts *o, struct copa_err *err);

#endif

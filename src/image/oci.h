/*
 * oci.h: the image model: media types, descriptors, manifests, indexes,
 * configs and platforms, in both the OCI and the Docker schema 2 families.
 *
 * Invariants:
 *  - Every parsed document keeps its exact bytes (`raw`) and their digest.
 *    Nothing here re-serialises a document that was not edited: untouched
 *    manifests, indexes and configs are written back from `raw`, so their
 *    digests never change.
 *  - Every descriptor keeps the JSON object it was read from (`json`, a
 *    jansson reference; jansson keeps key order), so a rebuilt index or
 *    manifest carries untouched descriptors field for field.
 *  - Untrusted sizes and counts are capped (COPA_OCI_MAX_*); digests are
 *    validated before they are used anywhere (they become file names).
 *
 * Used by the transports (image.h) and by the patch pipeline (assemble).
 */
#ifndef COPA_IMAGE_OCI_H
#define COPA_IMAGE_OCI_H

#include "util/buf.h"
#include "util/err.h"
#include "util/hash.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define COPA_OCI_MAX_MANIFEST      (4u << 20) /* manifest / index bytes */
#define COPA_OCI_MAX_CONFIG        (8u << 20) /* config bytes */
#define COPA_OCI_MAX_LAYERS        1000
#define COPA_OCI_MAX_HISTORY       (4 * COPA_OCI_MAX_LAYERS)
#define COPA_OCI_MAX_INDEX_ENTRIES 1000
#define COPA_OCI_MAX_INDEX_DEPTH   4 /* index -> index -> ... -> manifest */

#define COPA_MT_OCI_INDEX          "application/vnd.oci.image.index.v1+json"
#define COPA_MT_OCI_MANIFEST       "application/vnd.oci.image.manifest.v1+json"
#define COPA_MT_OCI_CONFIG         "application/vnd.oci.image.config.v1+json"
#define COPA_MT_OCI_LAYER          "application/vnd.oci.image.layer.v1.tar"
#define COPA_MT_OCI_LAYER_GZIP     "application/vnd.oci.image.layer.v1.tar+gzip"
#define COPA_MT_OCI_LAYER_ZSTD     "application/vnd.oci.image.layer.v1.tar+zstd"
#define COPA_MT_DOCKER_LIST        "application/vnd.docker.distribution.manifest.list.v2+json"
#define COPA_MT_DOCKER_MANIFEST    "application/vnd.docker.distribution.manifest.v2+json"
#define COPA_MT_DOCKER_CONFIG      "application/vnd.docker.container.image.v1+json"
#define COPA_MT_DOCKER_LAYER       "application/vnd.docker.image.rootfs.diff.tar"
#define COPA_MT_DOCKER_LAYER_GZIP  "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define COPA_MT_DOCKER_LAYER_ZSTD  "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define COPA_MT_OCI_LAYOUT_REFNAME "org.opencontainers.image.ref.name"

enum copa_mt_kind {
	COPA_MT_OTHER, /* attestations, artifacts, signatures: passed through */
	COPA_MT_INDEX,
	COPA_MT_MANIFEST,
	COPA_MT_CONFIG,
	COPA_MT_LAYER,
};

enum copa_mt_family {
	COPA_FAMILY_OCI,
	COPA_FAMILY_DOCKER,
};

enum copa_mt_compression {
	COPA_MT_TAR,
	COPA_MT_GZIP,
	COPA_MT_ZSTD,
};

struct copa_mt_info {
	enum copa_mt_kind kind;
	enum copa_mt_family family;
	enum copa_mt_compression compression; /* layers */
	bool foreign;                         /* non-distributable: never pushed */
};

/* Classifies a media type (parameters after ';' ignored). Unknown: COPA_MT_OTHER. */
struct copa_mt_info copa_mt_classify(const char *media_type);
/* Media type of a layer/config/manifest/index in a family. Static strings. */
const char *copa_mt_layer(enum copa_mt_family f, enum copa_mt_compression c);
const char *copa_mt_config(enum copa_mt_family f);
const char *copa_mt_manifest(enum copa_mt_family f);
const char *copa_mt_index(enum copa_mt_family f);

#define COPA_PLATFORM_FIELD 64

struct copa_platform {
	char os[COPA_PLATFORM_FIELD];
	char arch[COPA_PLATFORM_FIELD];
	char variant[COPA_PLATFORM_FIELD]; /* "" when none */
	char os_version[COPA_PLATFORM_FIELD];
};

/*
 * Parses "os/arch[/variant]" (also "arch" alone, meaning linux/arch) and
 * normalises it (aarch64 -> arm64, arm64/v8 -> arm64, x86_64 -> amd64, arm
 * without variant -> arm/v7).
 */
int copa_platform_parse(const char *s, struct copa_platform *p, struct copa_err *err);
/* Normalises the fields of p in place (see copa_platform_parse). */
void copa_platform_normalize(struct copa_platform *p);
/* The platform this copa runs on (linux/<uname machine>). */
void copa_platform_host(struct copa_platform *p);
/* "os/arch[/variant]" into buf (always NUL-terminated). */
const char *copa_platform_str(const struct copa_platform *p, char *buf, size_t n);
/*
 * True when `have` satisfies `want` after normalisation: same os and arch,
 * and the same variant, or no variant wanted.
 */
bool copa_platform_match(const struct copa_platform *want, const struct copa_platform *have);

struct copa_desc {
	char *media_type;
	char digest[COPA_DIGEST_MAX];
	int64_t size;
	struct copa_mt_info mt;
	bool has_platform;
	struct copa_platform platform;
	bool attestation; /* BuildKit attestation manifest (unknown/unknown or annotated) */
	json_t *json;     /* the descriptor object as read: owned reference */
};

/* Frees a descriptor's contents. */
void copa_desc_release(struct copa_desc *d);
/* Deep copy (json reference shared, it is never mutated in place). */
void copa_desc_copy(struct copa_desc *dst, const struct copa_desc *src);
/*
 * Parses a descriptor object. `what` names its place for errors
 * ("manifest sha256:…: layers[2]").
 */
int copa_desc_parse(json_t *obj, const char *what, struct copa_desc *d, struct copa_err *err);
/*
 * Makes a descriptor from scratch (media type, digest, size); json gets the
 * three fields, plus `annotations` when not NULL (borrowed, copied).
 */
void copa_desc_make(struct copa_desc *d, const char *media_type, const char *digest, int64_t size,
                    json_t *annotations);
/* Value of an annotation on the descriptor (borrowed) or NULL. */
const char *copa_desc_annotation(const struct copa_desc *d, const char *key);

struct copa_manifest {
	struct copa_buf raw;
	char digest[COPA_DIGEST_MAX];
	char *media_type;
	enum copa_mt_family family;
	json_t *json;
	struct copa_desc config;
	struct copa_desc *layers;
	size_t n_layers;
};

struct copa_index {
	struct copa_buf raw;
	char digest[COPA_DIGEST_MAX];
	char *media_type;
	enum copa_mt_family family;
	json_t *json;
	struct copa_desc *manifests;
	size_t n_manifests;
};

struct copa_config {
	struct copa_buf raw;
	char digest[COPA_DIGEST_MAX];
	json_t *json; /* mutable: the patcher appends a diff_id and a history entry */
	struct copa_platform platform;
	char **diff_ids; /* NULL-terminated, validated digests */
	size_t n_diff_ids;
};

/*
 * Parses a manifest (n bytes, capped at COPA_OCI_MAX_MANIFEST). `media_type`
 * is what the container said (descriptor, Content-Type) or NULL; it must
 * agree with the body's mediaType when both are present. The bytes are
 * copied into m->raw and hashed. `what` names the document in errors.
 */
int copa_manifest_parse(const void *data, size_t n, const char *media_type, const char *what,
                        struct copa_manifest *m, struct copa_err *err);
void copa_manifest_release(struct copa_manifest *m);

/* Like copa_manifest_parse for an image index / Docker manifest list. */
int copa_index_parse(const void *data, size_t n, const char *media_type, const char *what,
                     struct copa_index *ix, struct copa_err *err);
void copa_index_release(struct copa_index *ix);

/*
 * Decides whether a document is an index or a manifest from its media type
 * (or, when absent, from the body's "mediaType"/"manifests" members).
 * Returns COPA_MT_INDEX, COPA_MT_MANIFEST, or -1 with err set.
 */
int copa_oci_sniff(const void *data, size_t n, const char *media_type, const char *what,
                   struct copa_err *err);

/*
 * Parses an image config (capped at COPA_OCI_MAX_CONFIG): os, architecture,
 * variant, rootfs.diff_ids. Unknown members are kept in json untouched.
 */
int copa_config_parse(const void *data, size_t n, const char *what, struct copa_config *c,
                      struct copa_err *err);
void copa_config_release(struct copa_config *c);

/*
 * Checks that a manifest and its config describe the same image: as many
 * diff_ids as layers, and (when history is present) as many non-empty
 * history entries as layers.
 */
int copa_image_check(const struct copa_manifest *m, const struct copa_config *c,
                     struct copa_err *err);

/*
 * Appends a layer to an edited config: its diff_id to rootfs.diff_ids and a
 * history entry {created, created_by, comment?}. Updates c->diff_ids; c->raw
 * and c->digest are stale until copa_config_serialize().
 */
int copa_config_append_layer(struct copa_config *c, const char *diff_id, const char *created,
                             const char *created_by, const char *comment, struct copa_err *err);
/* Re-serialises c->json into c->raw (key order kept) and recomputes c->digest. */
int copa_config_serialize(struct copa_config *c, struct copa_err *err);

/*
 * Builds the bytes of a new manifest from `orig`: same media type family and
 * top-level members in the same order, `config` replaced, original layer
 * descriptors kept as they were, `extra` layers appended. out receives the
 * bytes (compact JSON).
 */
int copa_manifest_build(const struct copa_manifest *orig, const struct copa_desc *config,
                        const struct copa_desc *extra, size_t n_extra, struct copa_buf *out,
                        struct copa_err *err);

/* How copa_manifest_build_edit changes the original beyond config and layers. */
struct copa_manifest_edit {
	size_t drop_last; /* original layers dropped from the end (a previous patch) */
	const char *const
	    *annotations; /* key, value, key, value, ..., NULL: set in `annotations` */
};

/*
 * copa_manifest_build with edits: the last `drop_last` original layers are
 * left out and the given annotations set (the member is created when the
 * original has none; other annotations and every other member are kept in
 * their order). orig is not modified. COPA_E_BUG when drop_last exceeds the
 * layers.
 */
int copa_manifest_build_edit(const struct copa_manifest *orig, const struct copa_desc *config,
                             const struct copa_desc *extra, size_t n_extra,
                             const struct copa_manifest_edit *edit, struct copa_buf *out,
                             struct copa_err *err);

/*
 * Converts a Docker schema 2 manifest to an OCI one (what skopeo does when
 * writing Docker images into OCI layouts): media types of the manifest,
 * config and layers are mapped (foreign layers to the non-distributable OCI
 * types), every other member of each descriptor is kept; blobs are unchanged.
 * out receives the bytes.
 */
int copa_manifest_to_oci(const struct copa_manifest *m, struct copa_buf *out, struct copa_err *err);

/*
 * Builds the bytes of a new index from `orig`: entry i is replaced by
 * repl[i] when repl[i] != NULL, otherwise kept as read. A replaced entry
 * keeps every member of the original descriptor (platform, annotations,
 * artifactType, urls...) except digest, size and data, which describe the
 * old content; repl[i]'s members (mediaType, digest, size) override.
 * Other members of the index (annotations, mediaType) keep their order.
 */
int copa_index_build(const struct copa_index *orig, const struct copa_desc *const *repl,
                     struct copa_buf *out, struct copa_err *err);

/* Like copa_index_build, also switching a Docker manifest list to the OCI index type. */
int copa_index_build_oci(const struct copa_index *orig, const struct copa_desc *const *repl,
                         struct copa_buf *out, struct copa_err *err);

#endif

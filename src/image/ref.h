/*
 * ref.h: image references and transports.
 *
 * Owns two grammars:
 *  - Docker-style registry references (distribution/reference): an optional
 *    domain ("host[:port]"), a lowercase repository path, an optional tag and
 *    an optional digest, with Docker's defaults ("nginx" is
 *    "docker.io/library/nginx:latest"; "index.docker.io" is "docker.io").
 *  - skopeo-style transports: a bare reference or "docker://REF" (registry),
 *    "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE[:REF]".
 *
 * Invariants of a parsed struct copa_ref: domain and path are non-empty and
 * valid, path has "library/" prepended for single-component Docker Hub
 * names, and at least one of tag or digest is set (tag "latest" is filled in
 * when neither was written; `tag_defaulted` records that). Parsing never
 * touches the network or the file system. Anyone may call these functions.
 */
#ifndef COPA_IMAGE_REF_H
#define COPA_IMAGE_REF_H

#include "util/err.h"

#include <stdbool.h>

/* Longest accepted reference string (name + tag + digest). */
#define COPA_REF_MAX 1024

struct copa_ref {
	char *domain;       /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *path;         /* "library/nginx" */
	char *tag;          /* NULL when only a digest was given */
	char *digest;       /* "sha256:<hex>" or NULL */
	bool tag_defaulted; /* no tag and no digest were written: tag is "latest" */
};

/*
 * Parses s into ref (owned strings; release with copa_ref_release). Errors
 * (COPA_E_INPUT) quote s and say which part is wrong.
 */
int copa_ref_parse(const char *s, struct copa_ref *ref, struct copa_err *err);
void copa_ref_release(struct copa_ref *ref);

/* "domain/path" (malloc'd). */
char *copa_ref_name(const struct copa_ref *ref);
/* "domain/path[:tag][@digest]" (malloc'd). */
char *copa_ref_string(const struct copa_ref *ref);
/* The tag or digest to ask a registry for: the digest when present (borrowed). */
const char *copa_ref_lookup(const struct copa_ref *ref);

/* True for a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). */
bool copa_ref_tag_valid(const char *tag);
/* True for a valid OCI layout "org.opencontainers.image.ref.name" value. */
bool copa_ref_oci_name_valid(const char *name);

enum copa_transport {
	COPA_TRANSPORT_REGISTRY,
	COPA_TRANSPORT_OCI,
	COPA_TRANSPORT_OCI_ARCHIVE,
	COPA_TRANSPORT_DOCKER_ARCHIVE,
};

struct copa_image_ref {
	enum copa_transport transport;
	char *path;          /* directory or file for local transports */
	char *tag;           /* oci/oci-archive: the ref.name in index.json; NULL: none */
	bool has_ref;        /* registry: always; docker-archive: REF given */
	struct copa_ref ref; /* registry reference, or the docker-archive REF */
	int archive_index;   /* docker-archive "@N": the Nth image; -1 when not used */
};

/*
 * Parses a transport reference ("oci:dir:tag", "docker://x", a bare
 * registry reference, ...) into out (release with copa_image_ref_release).
 */
int copa_image_ref_parse(const char *s, struct copa_image_ref *out, struct copa_err *err);
void copa_image_ref_release(struct copa_image_ref *r);
/* Fills dst with a deep copy of src (owned strings; release with copa_image_ref_release). */
void copa_image_ref_copy(struct copa_image_ref *dst, const struct copa_image_ref *src);
/* The canonical text of a transport reference (malloc'd), e.g. "oci:/d:tag". */
char *copa_image_ref_string(const struct copa_image_ref *r);
/* "registry", "oci", "oci-archive" or "docker-archive". */
const char *copa_transport_name(enum copa_transport t);

#endif

/*
 * registry.h: the OCI distribution API client (pull and push of manifests and
 * blobs), with authentication and retries.
 *
 * One `struct copa_registry` talks to one repository on one registry host.
 * It finds credentials ($DOCKER_CONFIG/config.json auths, credsStore and
 * credHelpers; $REGISTRY_AUTH_FILE / containers auth.json; explicit ones),
 * answers Basic and Bearer challenges (tokens cached per scope), talks plain
 * HTTP only to loopback hosts or hosts the user named, retries 429/5xx and
 * dropped connections with backoff, verifies every digest, resumes blob
 * downloads, and caps manifest sizes. The host is as written in an image
 * reference: "docker.io" is mapped to its real endpoint here.
 *
 * A client may be used from several threads at once (parallel blob
 * downloads): its endpoint, credentials and token cache are locked inside.
 * Credentials and per-host TLS settings are sent only to the registry's own
 * scheme/host/port, never to a redirect target or upload URL elsewhere.
 * Errors name the operation, the reference and the registry, and end with
 * the registry's own error code and message when it sent one.
 */
#ifndef COPA_REGISTRY_REGISTRY_H
#define COPA_REGISTRY_REGISTRY_H

#include "util/buf.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/http.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>

struct copa_registry_opts {
	struct copa_http *http; /* borrowed; carries TLS settings, deadline, retries */
	struct copa_out *out;
	const char *const
	    *plain_http;       /* hosts (host[:port]) allowed over plain HTTP besides loopback */
	bool plain_http_all;   /* every host over plain HTTP (explicit user opt-in) */
	const char *auth_file; /* credentials file to use instead of the search; NULL: search */
	const char *username;  /* explicit credentials (both or neither) */
	const char *password;
	size_t max_manifest; /* 0: 4 MiB */
	uint64_t chunk_size; /* > 0: upload blobs in chunks of this many bytes */
	uint64_t max_blob;   /* cap on a blob of unknown size; 0: 32 GiB */
	/*
	 * Directories holding per-host CA certificates, docker/podman style
	 * (<dir>/<host[:port]>/NAME.crt, plus client.cert/client.key for mTLS);
	 * NULL-terminated. NULL: /etc/docker/certs.d and /etc/containers/certs.d.
	 */
	const char *const *certs_dirs;
};

/* The environment variable naming extra plain-HTTP hosts: "host1,host2:5000". */
#define COPA_INSECURE_REGISTRIES_ENV "COPA_INSECURE_REGISTRIES"

struct copa_registry;

/*
 * Prepares a client for repository `repo` (e.g. "library/nginx") on `host`
 * (e.g. "docker.io", "localhost:5000"). No request is made yet.
 */
struct copa_registry *copa_registry_new(const struct copa_registry_opts *opts, const char *host,
                                        const char *repo, struct copa_err *err);
void copa_registry_free(struct copa_registry *r);

const char *copa_registry_host(const struct copa_registry *r);
const char *copa_registry_repo(const struct copa_registry *r);

/*
 * Fetches the manifest or index at ref (a tag or a digest) with the Accept
 * headers for OCI and Docker schema 2 manifests and indexes. body receives
 * the exact bytes, *media_type (malloc'd) the Content-Type (or the body's
 * mediaType), digest the sha256 of the bytes, verified against ref when ref
 * is a digest and against Docker-Content-Digest when present.
 * COPA_E_NOTFOUND when the tag or repository does not exist.
 */
int copa_registry_get_manifest(struct copa_registry *r, const char *ref, struct copa_buf *body,
                               char **media_type, char digest[COPA_DIGEST_MAX],
                               struct copa_err *err);

/* Most tags copa_registry_list_tags accepts from one repository, and pages it follows. */
#define COPA_REGISTRY_MAX_TAGS  100000
#define COPA_REGISTRY_MAX_PAGES 1000

/*
 * The repository's tags (the tags/list API), following `Link: <...>;
 * rel="next"` pages on the same registry, `n` tags per page (0: 1000).
 * Returns a malloc'd NULL-terminated array of malloc'd valid tags (invalid
 * names a registry sends are dropped) and sets *n. COPA_E_NOTFOUND when the
 * repository does not exist, COPA_E_LIMIT past COPA_REGISTRY_MAX_TAGS.
 */
char **copa_registry_list_tags(struct copa_registry *r, unsigned page_size, size_t *n,
                               struct copa_err *err);

/* HEAD of a manifest: *exists false (and 0 returned) on 404. */
int copa_registry_head_manifest(struct copa_registry *r, const char *ref, bool *exists,
                                char **media_type, char digest[COPA_DIGEST_MAX], int64_t *size,
                                struct copa_err *err);

/*
 * Downloads blob `digest` of `size` bytes (-1: unknown) into fd (truncated,
 * rewritten on restart), verifying size and digest; resumes after a dropped
 * connection with a Range request.
 */
int copa_registry_get_blob(struct copa_registry *r, const char *digest, int64_t size, int fd,
                           struct copa_err *err);

/* HEAD of a blob. */
int copa_registry_blob_exists(struct copa_registry *r, const char *digest, bool *exists,
                              struct copa_err *err);

/*
 * Asks the registry to mount a blob from another repository on the same
 * host. *mounted false means it did not (the caller then uploads).
 */
int copa_registry_mount_blob(struct copa_registry *r, const char *digest, const char *from_repo,
                             bool *mounted, struct copa_err *err);

/*
 * Uploads `size` bytes from fd (from offset 0) as blob `digest`, unless the
 * registry already has it (HEAD first). Monolithic, or chunked when the
 * options ask for it.
 */
int copa_registry_put_blob(struct copa_registry *r, const char *digest, uint64_t size, int fd,
                           struct copa_err *err);

/*
 * Uploads a manifest or index under ref (tag or digest) with Content-Type
 * media_type. digest receives the registry's digest (checked against ours).
 * Callers push manifests last, after every blob they reference.
 */
int copa_registry_put_manifest(struct copa_registry *r, const char *ref, const char *media_type,
                               const void *body, size_t n, char digest[COPA_DIGEST_MAX],
                               struct copa_err *err);

/* ---- helpers, also used by the CLI and the tests ---- */

/*
 * Splits a comma-separated host list (the COPA_INSECURE_REGISTRIES value),
 * trimming spaces and dropping empty items. Returns a NULL-terminated
 * malloc'd vector (free with copa_strv_free), never NULL.
 */
char **copa_registry_parse_host_list(const char *s);

/* True for localhost, 127.0.0.0/8 and ::1, with or without a port. */
bool copa_registry_host_is_loopback(const char *host);

/*
 * True when host may be reached over plain HTTP under opts: loopback, listed
 * in opts->plain_http (an entry without a port matches every port), or
 * plain_http_all.
 */
bool copa_registry_plain_http_allowed(const struct copa_registry_opts *opts, const char *host);

/* The host to connect to: Docker Hub aliases map to "registry-1.docker.io". Borrowed. */
const char *copa_registry_endpoint(const char *host);

/* host[:port] with a DNS name, IPv4 or [IPv6] address and a decimal port. */
bool copa_registry_host_valid(const char *host);

/* The distribution-spec repository name grammar, at most 255 bytes. */
bool copa_registry_repo_valid(const char *repo);

/* The tag grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
bool copa_registry_tag_valid(const char *tag);

/*
 * The URL for the next step of an upload: `location` (absolute or relative,
 * possibly with a query) resolved against the URL that returned it, with
 * "digest=<digest>" appended after '?' or '&' when digest is not NULL.
 * Returns a malloc'd URL, or NULL when location does not parse.
 */
char *copa_registry_upload_url(const char *base, const char *location, const char *digest);

/*
 * Renders a registry error body ({"errors":[{"code","message"}...]}, or
 * plain text) as one short printable line into out ("MANIFEST_UNKNOWN:
 * manifest unknown"). Empty when there is nothing useful.
 */
void copa_registry_error_text(const char *body, size_t n, char *out, size_t outsz);

#endif

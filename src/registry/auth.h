/*
 * auth.h: the authentication pieces of the registry client, exposed for
 * registry.c, the unit tests and the fuzz targets (nothing else calls them).
 *
 * - WWW-Authenticate parsing (RFC 7235: several challenges in one header,
 *   auth-params with tokens or quoted strings, token68, case-insensitive
 *   scheme and parameter names), with caps on length and counts.
 * - Credential lookup for a registry host, as docker and podman do it:
 *   $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json (default ~/.docker),
 *   $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json; in
 *   each file credHelpers[host] -> credsStore -> auths[host]; helpers run as
 *   `docker-credential-<name> get` without a shell and with a timeout.
 * - Token scopes ("repository:<name>:<actions>") and whether a cached token's
 *   scopes cover a request's.
 * - Token-service answers ({"token"|"access_token", "expires_in"}).
 *
 * Invariants: everything returned is owned by the caller and released with
 * the matching _release(); secrets are never put into error messages.
 */
#ifndef COPA_REGISTRY_AUTH_H
#define COPA_REGISTRY_AUTH_H

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

/* Caps on a WWW-Authenticate header (untrusted). */
#define COPA_AUTH_HEADER_MAX     16384
#define COPA_AUTH_CHALLENGES_MAX 16
#define COPA_AUTH_PARAMS_MAX     32

struct copa_auth_param {
	char *name; /* lowercased */
	char *value;
};

struct copa_auth_challenge {
	char *scheme;  /* lowercased: "basic", "bearer" */
	char *token68; /* NULL unless the challenge carries a token68 */
	struct copa_auth_param *params;
	size_t n_params;
};

struct copa_auth_challenges {
	struct copa_auth_challenge *v;
	size_t n;
};

/*
 * Parses one WWW-Authenticate header value of n bytes and appends its
 * challenges to out (so several headers can be collected into one list).
 * Returns -1 with COPA_E_INPUT on malformed input and COPA_E_LIMIT past the
 * caps; out then keeps what it held before the call.
 */
int copa_www_authenticate_parse(const char *s, size_t n, struct copa_auth_challenges *out,
                                struct copa_err *err);
/* Frees every challenge; out is empty and reusable afterwards. */
void copa_auth_challenges_release(struct copa_auth_challenges *c);
/* The first challenge with this scheme (case-insensitive), borrowed, or NULL. */
const struct copa_auth_challenge *copa_auth_challenge_find(const struct copa_auth_challenges *c,
                                                           const char *scheme);
/* A parameter's value (name case-insensitive), borrowed, or NULL. */
const char *copa_auth_challenge_param(const struct copa_auth_challenge *c, const char *name);

/* Credentials for one registry. Any field may be NULL. */
struct copa_cred {
	char *username;
	char *password;
	char *identity_token; /* OAuth2 refresh token ("identitytoken", helper user "<token>") */
	char *registry_token; /* bearer token to send as is ("registrytoken") */
	char *source;         /* where they came from, for messages ("'/x/config.json'") */
};

void copa_cred_release(struct copa_cred *c);

/*
 * Normalises a credentials-file key or a host to the host[:port] form the
 * lookup compares: strips "http://"/"https://" and anything from the first
 * '/' (docker's ConvertToHostname); maps Docker Hub aliases (docker.io,
 * registry-1.docker.io, index.docker.io) to "index.docker.io". Caller frees.
 */
char *copa_cred_key_normalize(const char *key);

/* The server string a credential helper is asked about for this host. Caller frees. */
char *copa_cred_helper_server(const char *host);

/*
 * Looks host (as in an image reference: "docker.io", "localhost:5000") and
 * repo up in one docker config.json or containers auth.json at path:
 * credHelpers[host] -> credsStore -> auths (a helper's miss falls through to
 * auths; an auth.json key with a path, "quay.io/org", matches repositories
 * under it, the longest first). *found is false when nothing matched.
 * A file that does not exist is not an error. A named helper that is not
 * installed is reported as a warning to out and treated as a miss.
 */
int copa_cred_from_file(const char *path, const char *host, const char *repo, struct copa_out *out,
                        struct copa_cred *cred, bool *found, struct copa_err *err);

/* Runs a credential helper (copa_cred_helper_get, or a stand-in in tests and fuzzers). */
typedef int (*copa_cred_helper_fn)(const char *helper, const char *server, struct copa_cred *cred,
                                   bool *found, struct copa_err *err);

/*
 * copa_cred_from_file on the n bytes of a file already read (named `path` in
 * messages), with helpers run through run_helper. Empty input is a miss.
 */
int copa_cred_from_json(const char *data, size_t n, const char *path, const char *host,
                        const char *repo, copa_cred_helper_fn run_helper, struct copa_out *out,
                        struct copa_cred *cred, bool *found, struct copa_err *err);

/*
 * Searches the usual places in order: $REGISTRY_AUTH_FILE,
 * $DOCKER_CONFIG/config.json (else ~/.docker/config.json),
 * $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json.
 * The first file with credentials for the host wins. With auth_file set,
 * only that file is read (and it must exist).
 */
int copa_cred_lookup(const char *auth_file, const char *host, const char *repo,
                     struct copa_out *out, struct copa_cred *cred, bool *found,
                     struct copa_err *err);

/*
 * Runs `docker-credential-<helper> get` with the server on stdin (no shell,
 * 60 s timeout, output capped) and parses {"Username","Secret"}; a username
 * "<token>" makes Secret an identity token. "credentials not found" is a
 * miss (*found false). helper must match [A-Za-z0-9][A-Za-z0-9._-]*.
 */
int copa_cred_helper_get(const char *helper, const char *server, struct copa_cred *cred,
                         bool *found, struct copa_err *err);

/* Decodes a config "auth" value (base64 "user:password") into cred. */
int copa_cred_decode_auth(const char *b64, struct copa_cred *cred, struct copa_err *err);

/* Base64 of n bytes (standard alphabet, padded). Caller frees. */
char *copa_base64_encode(const void *data, size_t n);

/* "repository:<repo>:<actions>". Caller frees. */
char *copa_scope_repo(const char *repo, const char *actions);

/*
 * True when the space-separated scope set `have` grants everything in
 * `want`: each wanted "type:name:a,b" has an entry of the same type and name
 * whose actions include a and b (or "*").
 */
bool copa_scopes_cover(const char *have, const char *want);

/*
 * Parses a token service answer (capped by the caller): `token` or
 * `access_token` (malloc'd into *token), `expires_in` seconds (default 60,
 * at least 60 as docker does, at most a day).
 */
int copa_token_parse(const char *body, size_t n, char **token, long *expires_in,
                     struct copa_err *err);

#endif

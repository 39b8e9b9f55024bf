/*
 * hash.h: streaming message digests (OpenSSL EVP) and content digest strings.
 *
 * A content digest is "<algorithm>:<hex>" as in the OCI image spec; copa
 * produces sha256 and accepts sha256 and sha512. Digest strings from images
 * and registries are validated with copa_digest_valid() before use in paths.
 */
#ifndef COPA_UTIL_HASH_H
#define COPA_UTIL_HASH_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum copa_hash_alg {
	COPA_HASH_SHA256,
	COPA_HASH_SHA512,
	COPA_HASH_SHA1,
	COPA_HASH_MD5,
};

/* Longest digest string: "sha512:" + 128 hex + NUL. */
#define COPA_DIGEST_MAX   136
#define COPA_HASH_HEX_MAX 129

struct copa_hash {
	void *ctx; /* EVP_MD_CTX */
	enum copa_hash_alg alg;
};

/* Starts a digest; aborts on OpenSSL allocation failure. */
void copa_hash_init(struct copa_hash *h, enum copa_hash_alg alg);
void copa_hash_update(struct copa_hash *h, const void *data, size_t n);
/* Finishes into lowercase hex (NUL-terminated) and releases the context. */
void copa_hash_final_hex(struct copa_hash *h, char hex[COPA_HASH_HEX_MAX]);
/* Finishes into raw bytes (up to 64); returns their count; releases the context. */
size_t copa_hash_final_raw(struct copa_hash *h, unsigned char out[64]);
/* Releases an unfinished context (safe after final, and on a zeroed struct). */
void copa_hash_release(struct copa_hash *h);
/* Copies the running state of src into dst (for diff_id and blob digests of one stream). */
void copa_hash_dup(struct copa_hash *dst, const struct copa_hash *src);

/* One-shot helpers: hex of data, and "sha256:<hex>" of data. */
void copa_hash_hex(enum copa_hash_alg alg, const void *data, size_t n, char hex[COPA_HASH_HEX_MAX]);
void copa_sha256_digest(const void *data, size_t n, char digest[COPA_DIGEST_MAX]);

/* Hex length for an algorithm (64 for sha256). */
size_t copa_hash_hex_len(enum copa_hash_alg alg);
/* Algorithm name as used in digests and Release files ("sha256"). */
const char *copa_hash_name(enum copa_hash_alg alg);

/*
 * Validates a content digest string: "sha256:" + 64 lowercase hex or
 * "sha512:" + 128 lowercase hex. On success sets *alg and *hex (pointing into
 * s) when not NULL.
 */
bool copa_digest_parse(const char *s, enum copa_hash_alg *alg, const char **hex);
static inline bool copa_digest_valid(const char *s)
{
	return copa_digest_parse(s, NULL, NULL);
}

/* Hashes a whole file descriptor from its current offset to EOF. */
int copa_hash_fd(int fd, enum copa_hash_alg alg, char hex[COPA_HASH_HEX_MAX], uint64_t *size,
                 struct copa_err *err);

#endif

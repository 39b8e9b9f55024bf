/*
 * apksign.h: apk's trusted keys and v2 signatures (`.SIGN.RSA.<key>` over
 * SHA-1, `.SIGN.RSA256.<key>` over SHA-256, `.SIGN.RSA512.<key>` over
 * SHA-512; PKCS#1 v1.5 RSA), verified with OpenSSL.
 *
 * Owns: the key set (a key's name is its file name, which is what a
 * signature entry names, as in /etc/apk/keys), and the verification of the
 * signature segment of an index or package: the first gzip member, a tar of
 * `.SIGN.*` entries, covering the compressed bytes that follow it.
 *
 * Invariants: a signature is accepted only when a trusted key of that
 * name verifies it; unsigned data, unknown keys and bad signatures are
 * COPA_E_VERIFY errors saying which. Not thread-safe while keys are added;
 * verification afterwards is read-only.
 */
#ifndef COPA_PKG_APK_APKSIGN_H
#define COPA_PKG_APK_APKSIGN_H

#include "util/blob.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* Most keys one set holds, and the largest key file read. */
#define COPA_APK_KEYS_MAX     256
#define COPA_APK_KEY_FILE_MAX 65536

struct copa_apk_keys;

/* A new empty key set; free with copa_apk_keys_free. */
struct copa_apk_keys *copa_apk_keys_new(void);
void copa_apk_keys_free(struct copa_apk_keys *k);

/* Number of keys in the set. */
size_t copa_apk_keys_count(const struct copa_apk_keys *k);

/*
 * Adds a PEM public key under `name` (the file name a signature refers to).
 * A key of the same name replaces the earlier one. COPA_E_INPUT when the
 * PEM is not an RSA public key.
 */
int copa_apk_keys_add_pem(struct copa_apk_keys *k, const char *name, const void *pem, size_t n,
                          struct copa_err *err);

/*
 * Adds every regular file of directory `dir` (relative to atfd) as a key;
 * files that are not PEM public keys are errors naming them. A missing
 * directory adds nothing and is not an error.
 */
int copa_apk_keys_add_dir(struct copa_apk_keys *k, int atfd, const char *dir, struct copa_err *err);

/*
 * Verifies the signature segment `sig_tar` (the inflated first member: a tar
 * of `.SIGN.*` entries) over `signed_bytes` (the compressed bytes it
 * covers). Succeeds when at least one entry is by a trusted key and
 * verifies; *key_name (when not NULL) then points to that key's name, owned
 * by the key set. Errors (COPA_E_VERIFY) say "not signed", "signed by
 * unknown key 'NAME' (add it with --keyring)" or "bad signature by key
 * 'NAME'"; the caller wraps them with the file's name.
 */
int copa_apk_verify_segment(const struct copa_apk_keys *k, struct copa_blob sig_tar,
                            struct copa_blob signed_bytes, const char **key_name,
                            struct copa_err *err);

/*
 * True when the first entry of an inflated segment is a `.SIGN.` file (PAX
 * headers allowed before it): what tells a signature segment from an
 * unsigned file's first stream.
 */
bool copa_apk_is_signature_segment(struct copa_blob tar);

#endif

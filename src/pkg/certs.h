/*
 * certs.h: regenerating a certificate directory's hash links natively, as
 * `openssl rehash` does (the <subject hash>.<n> and .r<n> links, computed
 * with libcrypto's X509_NAME_hash_ex, SHA-1 fingerprints telling duplicates
 * apart, the same numbering rules). Debian's update-ca-certificates runs it
 * on /etc/ssl/certs; Alpine and RPM images carry certificate stores too, so
 * it is family-neutral. Reads and writes through pkg/fs.h: the view shows
 * the result, the layer builder holds it. Not thread-safe.
 */
#ifndef COPA_PKG_CERTS_H
#define COPA_PKG_CERTS_H

#include "layer/layer.h"
#include "layer/view.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The OpenSSL subject-name hash of the single certificate (or CRL issuer)
 * in a PEM text, as `openssl rehash` uses it. Returns 0 and sets *hash,
 * *is_crl and sha1 (20 bytes), or -1 when the text does not hold exactly one
 * certificate or CRL.
 */
int copa_certs_pem_hash(const void *pem, size_t n, unsigned long *hash, bool *is_crl,
                        unsigned char sha1[20]);

/*
 * Rehashes the directory `dir` of the image (relative, e.g. "etc/ssl/certs"):
 * links that are right stay, missing ones are created (symlinks, mtime),
 * stale ones removed. Unreadable or non-certificate files are skipped, as
 * rehash does. Errors: those of the layer builder and the view.
 */
int copa_certs_rehash(struct copa_view *v, struct copa_layer_builder *b, const char *dir,
                      int64_t mtime, struct copa_err *err);

#endif

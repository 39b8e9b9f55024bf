/*
 * purl.h: canonical package URLs (purl-spec, ECMA-427) for the VEX writer.
 *
 * Owns: building purl strings: percent-encoding (only A-Z a-z 0-9 . - _ ~
 * and ':' stay literal; everything else, '/' '+' '@' '%' space included,
 * becomes %XX with uppercase hex), lowercase type, qualifiers sorted by key
 * with empty values dropped; and the type-specific forms copa emits: oci
 * (patched images), deb, apk and rpm (patched packages; rpm's epoch goes in
 * an "epoch" qualifier).
 *
 * Invariant: every string built here parses back to the same components
 * and is the canonical form (re-encoding it changes nothing).
 * Callers: src/vex/ and the test helpers.
 */
#ifndef COPA_VEX_PURL_H
#define COPA_VEX_PURL_H

#include "pkg/version.h"
#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>

struct copa_purl_qual {
	const char *key;   /* lowercase [a-z][a-z0-9._-]* */
	const char *value; /* NULL or "": dropped */
};

/* Appends the purl encoding of s to out. */
void copa_purl_encode(struct copa_buf *out, const char *s);

/*
 * Replaces out with "pkg:type/ns/name@version?k=v&..." (ns, version and
 * qualifiers optional; ns may hold several '/'-separated segments). Fails
 * on an invalid type or qualifier key, a duplicate key, or an empty name.
 */
int copa_purl_build(struct copa_buf *out, const char *type, const char *ns, const char *name,
                    const char *version, const struct copa_purl_qual *quals, size_t n_quals,
                    struct copa_err *err);

/*
 * The purl of an image: "pkg:oci/<name>@<digest>?arch=..&repository_url=..&tag=..".
 * ref is the image reference as the user gave it: a registry reference
 * ("localhost:5000/team/app:1.0-patched", an @digest is ignored) gives name
 * "app", repository_url "localhost:5000/team/app" and tag "1.0-patched"; a
 * transport reference ("oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
 * "docker-archive:FILE[:REF]") gives the tag and a name from the
 * directory or file name, and no repository_url. digest must be
 * "sha256:<64 hex>". arch may be NULL.
 */
int copa_purl_oci(struct copa_buf *out, const char *ref, const char *digest, const char *arch,
                  struct copa_err *err);

/*
 * The purl of an OS package: type deb/apk/rpm from fam, namespace ns (the OS
 * table's purl namespace), name (lowercased for deb and apk), version (for
 * rpm an "E:" epoch moves to the epoch qualifier), qualifiers arch and
 * distro (both optional).
 */
int copa_purl_package(struct copa_buf *out, enum copa_pkgfam fam, const char *ns, const char *name,
                      const char *version, const char *arch, const char *distro,
                      struct copa_err *err);

#endif

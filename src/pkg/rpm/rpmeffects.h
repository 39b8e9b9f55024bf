/*
 * rpmeffects.h: the effects of RPM scriptlets that matter to a fix,
 * reproduced natively (no scriptlet is ever run).
 *
 * Owns noticing, from what the patch layer holds, that a package changed
 * the trust sources (usr/share/pki/ca-trust-source, etc/pki/ca-trust/source:
 * ca-certificates' %post runs `update-ca-trust`) or shared libraries
 * (glibc's file trigger runs `ldconfig`), and redoing update-ca-trust's
 * extraction under etc/pki/ca-trust/extracted: pem/tls-ca-bundle.pem,
 * pem/email-ca-bundle.pem, pem/objsign-ca-bundle.pem,
 * openssl/ca-bundle.trust.crt and java/cacerts (a JKS store, password
 * "changeit"). Trust is read as p11-kit reads it for those formats: anchors
 * (every PEM certificate in the sources' anchors/ directories, trusted for
 * every purpose), `.p11-kit` files (certificate objects with `trusted:
 * true`; a stapled extended key usage extension, matched by public key,
 * limits the purposes; `x-distrusted: true` excludes), and the blocklist/
 * (blacklist/) directories, whose certificates are excluded. Not
 * reproduced: pem/directory-hash and edk2/cacerts.bin (left as the image
 * has them, named in the summary), the distrust-after dates, and
 * etc/ld.so.cache (its binary format is glibc's and version specific;
 * copa does not write it, and the summary lists `ldconfig` as skipped: the
 * loader still finds the libraries of the standard directories). Callers:
 * the rpm adapter (pm.c). Not thread-safe.
 */
#ifndef COPA_PKG_RPM_RPMEFFECTS_H
#define COPA_PKG_RPM_RPMEFFECTS_H

#include "layer/layer.h"
#include "layer/view.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COPA_RPM_TRUST_CERTS_MAX 10000 /* certificates in the trust sources */

struct copa_rpm_effects {
	size_t ca_trust; /* layer entries in the trust sources */
	size_t libs;     /* layer entries that are shared libraries or etc/ld.so.conf(.d) */
};

/*
 * The rpm adapter's hook, called after each package is applied (res: its
 * summary entry): counts what the layer changed since the previous call
 * into *fx, and lists `ldconfig (etc/ld.so.cache not rebuilt)` among the
 * package's skipped effects when it changed libraries.
 */
void copa_rpm_effects_after_package(const struct copa_layer_builder *b, struct copa_rpm_effects *fx,
                                    char ***skipped);

/*
 * The hook called once before the database is written: update-ca-trust
 * when the layer holds trust source entries (an applied package changed
 * them, or a re-patch's seeded layer did: the extraction is idempotent).
 * 0, or -1.
 */
int copa_rpm_effects_finish(struct copa_view *v, struct copa_layer_builder *b,
                            const struct copa_rpm_effects *fx, struct copa_out *out,
                            struct copa_err *err);

/*
 * Reads n bytes of a p11-kit trust file (as in the trust sources) and
 * returns how many certificates it trusts for at least one purpose, after
 * its own distrust and stapled key usage. For tests and fuzzing.
 */
size_t copa_rpm_p11kit_trusted(const char *text, size_t n);

/* What the layer built so far changed (cheap: one walk of the builder). */
void copa_rpm_effects_scan(const struct copa_layer_builder *b, struct copa_rpm_effects *fx);

/*
 * Regenerates the extracted trust files from the sources as the view and
 * the layer leave them (see above), writing only the files the image has
 * a directory for (etc/pki/ca-trust/extracted/<format>/). Returns the number
 * of trusted certificates, or -1 (the builder's and view's errors, or
 * COPA_E_LIMIT).
 */
int copa_rpm_update_ca_trust(struct copa_view *v, struct copa_layer_builder *b, int64_t mtime,
                             struct copa_out *out, struct copa_err *err);

#endif

/*
 * cacerts.h: regenerating /etc/ssl/certs natively, as the ca-certificates
 * package's maintainer script and `update-ca-certificates` would.
 *
 * copa runs no program from the image, but a patched ca-certificates is
 * useless until /etc/ssl/certs/ca-certificates.crt is rebuilt. This module
 * reproduces, against the merged view and into the new layer:
 *  - with `configure`: the postinst's update of /etc/ca-certificates.conf
 *    (new certificates trusted when debconf's trust_new_crts is "yes", the
 *    default; removed ones deselected with '!'; the previous file kept as
 *    .dpkg-old when it changed; a new file with the package's header when
 *    there was none) and the creation of /usr/local/share/ca-certificates;
 *  - update-ca-certificates: the per-certificate /etc/ssl/certs/<name>.pem
 *    symlinks (deselected ones removed), the bundle in the order of the
 *    configuration then the local certificates, orphan symlinks removed;
 *  - `openssl rehash`: the <subject hash>.<n> links (family-neutral, in
 *    pkg/certs.h), only when the set of certificates changed.
 * An image with the bundle but no ca-certificates.conf and no link in
 * /etc/ssl/certs (distroless: the scripts never ran) gets only its bundle
 * rewritten, from the configuration the postinst would have created.
 * Hooks in /etc/ca-certificates/update.d (Java keystores, Mono) are not run;
 * they are reported.
 *
 * Invariant: the view already shows the new packages' files; the result is
 * written to both the builder and the view (pkg/fs.h). Caller: apply.c.
 */
#ifndef COPA_PKG_DEB_CACERTS_H
#define COPA_PKG_DEB_CACERTS_H

#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/deb/dpkgdb.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>

struct copa_cacerts_opts {
	struct copa_view *view;
	struct copa_layer_builder *builder;
	const struct copa_dpkgdb *db; /* stat overrides (may be NULL) */
	bool configure;               /* the ca-certificates package was installed or upgraded */
	const char *config_script;    /* its debconf `config` script (CERTS_LIST), or NULL */
	const char *trust_new;        /* debconf ca-certificates/trust_new_crts; NULL: "yes" */
	int64_t mtime;                /* for the files written */
	struct copa_out *out;
};

struct copa_cacerts_result {
	unsigned added, removed; /* .pem links, as update-ca-certificates counts them */
	unsigned certificates;   /* in the bundle */
	bool rehashed;
	char **notes; /* NULL-terminated, owned */
};

/*
 * Updates /etc/ssl/certs (and, with configure, /etc/ca-certificates.conf).
 * Errors: COPA_E_IO/COPA_E_LIMIT reading the image, COPA_E_BUG.
 */
int copa_cacerts_update(const struct copa_cacerts_opts *o, struct copa_cacerts_result *res,
                        struct copa_err *err);
void copa_cacerts_result_release(struct copa_cacerts_result *r);

#endif

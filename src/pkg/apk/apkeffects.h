/*
 * apkeffects.h: the effects of Alpine maintainer scripts that a security fix
 * depends on, reproduced natively (nothing from the image runs): busybox's
 * applet links (its post-install/post-upgrade and trigger) and
 * ca-certificates' update-ca-certificates. Reads and writes through
 * pkg/fs.h, so the view shows the result and the layer builder holds it.
 *
 * Callers: the Alpine applier (apkapply.c) at finish. Not thread-safe.
 */
#ifndef COPA_PKG_APK_APKEFFECTS_H
#define COPA_PKG_APK_APKEFFECTS_H

#include "layer/layer.h"
#include "layer/view.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>

/* The directories busybox installs applet links into, which its trigger watches. */
#define COPA_APK_BUSYBOX_DIRS 4
extern const char *const copa_apk_busybox_dirs[COPA_APK_BUSYBOX_DIRS];

/*
 * busybox's applet links from the image's etc/busybox-paths.d/busybox (as
 * the new package left it): with stale, links to /bin/busybox in those
 * directories that are no applet any more are removed first (post-upgrade);
 * then a link is made for every applet where the image has nothing
 * (`busybox --install -s`). Without the file, nothing changes and a warning
 * goes to out.
 */
int copa_apk_busybox_links(struct copa_view *v, struct copa_layer_builder *b, bool stale,
                           int64_t mtime, struct copa_out *out, struct copa_err *err);

/*
 * Alpine's update-ca-certificates: ca-cert-*.pem links and the bundle
 * etc/ssl/certs/ca-certificates.crt from etc/ca-certificates.conf and
 * usr/local/share/ca-certificates (see docs/ARCHITECTURE.md).
 */
int copa_apk_update_ca(struct copa_view *v, struct copa_layer_builder *b, int64_t mtime,
                       struct copa_err *err);

#endif

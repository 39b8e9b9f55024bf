/*
 * probe.h: what an image is, read from its merged view: the OS (os-release)
 * and, from the package family that claims the image (pkg/pm.h detect), its
 * database, whether the image is distroless (no package manager binary), and
 * how many packages are installed. Used by `copa inspect` and at the start
 * of `copa patch`. Only reads the view; never executes anything from the image.
 */
#ifndef COPA_CORE_PROBE_H
#define COPA_CORE_PROBE_H

#include "layer/view.h"
#include "pkg/osrelease.h"
#include "pkg/pm.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

struct copa_probe {
	struct copa_osrelease os;
	bool has_os_release;
	enum copa_pkgfam fam;         /* COPA_FAM_NONE: no package database found */
	const struct copa_pm_ops *pm; /* the family's operations; NULL with COPA_FAM_NONE */
	char *db_path;   /* "var/lib/dpkg/status", "var/lib/dpkg/status.d", "lib/apk/db/installed",
	                    ... */
	bool distroless; /* no package manager binary in the image */
	long n_packages; /* installed packages, -1 when the database cannot be counted */
};

/* The package manager's name ("dpkg", "apk", "rpm"), or NULL when the image has none. */
const char *copa_probe_manager(const struct copa_probe *p);

/*
 * Probes the image. A missing os-release is not an error (has_os_release is
 * false); a package database that cannot be read is (COPA_E_INPUT naming it).
 * Release with copa_probe_release(); after a failure there is nothing to release.
 */
int copa_probe_image(struct copa_view *v, struct copa_probe *p, struct copa_err *err);
void copa_probe_release(struct copa_probe *p);

#endif

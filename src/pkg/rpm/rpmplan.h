/*
 * rpmplan.h: choosing the rpm packages to install, with libsolv, as dnf does.
 *
 * The installed packages come from the image's database (a private copy
 * under a temporary root) through libsolv's rpmdb reader with the root set
 * (REPO_USE_ROOTDIR), counted against librpm's own listing: libsolv and
 * librpm silently find nothing under a wrong %_dbpath. The available ones
 * come from the repositories (rpmrepo.h). Requests become one install job
 * per name for the newest version of the installed architecture (or noarch),
 * after checking that it reaches the fixed version (epoch-aware, as Trivy
 * writes `1:2.3-4`); without requests, `dnf upgrade`: update everything,
 * best versions. Install-only packages (kernels: dnf's installonlypkgs) are
 * multiversion jobs, never upgraded in place. A transaction that would
 * erase a package without replacing it is refused (copa only upgrades and
 * adds). Callers: the rpm family adapter (pm.c). Single-threaded.
 */
#ifndef COPA_PKG_RPM_RPMPLAN_H
#define COPA_PKG_RPM_RPMPLAN_H

#include "pkg/pm.h"
#include "pkg/rpm/rpmrepo.h"
#include "util/err.h"
#include "util/log.h"

#include <solv/pool.h>
#include <stddef.h>

/*
 * Loads the database under root (absolute; the database at
 * root/var/lib/rpm/rpmdb.sqlite) into a new installed repository of pool.
 * `expect` is the number of non-gpg-pubkey packages librpm listed: any other
 * count is COPA_E_INPUT.
 */
int copa_rpm_pool_installed(Pool *pool, const char *root, size_t expect, struct copa_out *out,
                            struct copa_err *err);

/* One package of the plan, beside its copa_pm_pkg. */
struct copa_rpm_step {
	Id p;            /* the solvable */
	size_t src;      /* index of its repository in the sources */
	char **replaces; /* NULL-terminated names of the installed packages it replaces */
};

/*
 * Plans (see above) into plan (pkgs in install order, results per request
 * or per update) and steps (one per plan package, malloc'd). Per-package
 * trouble is an outcome; a transaction libsolv cannot solve for everything
 * (no requests) or a checksum copa cannot verify is an error.
 */
int copa_rpm_plan(Pool *pool, const struct copa_rpm_sources *src, const struct copa_pm_request *req,
                  size_t n, struct copa_pm_plan *plan, struct copa_rpm_step **steps,
                  struct copa_out *out, struct copa_err *err);

void copa_rpm_steps_free(struct copa_rpm_step *steps, size_t n);

#endif

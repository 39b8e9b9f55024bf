/*
 * plan.h: choosing the Debian packages to install, with libsolv.
 *
 * Input: the image's dpkg database (probe_repo.h) and the verified package
 * indexes (repo/debrepo.h). Output: the list of copa_deb_pkg to install
 * (updates and the new dependencies they need, each with its URL, size and
 * SHA256 from the verified index) and one outcome per request.
 *
 * Rules (docs/ARCHITECTURE.md, "Debian plan"): nothing is ever removed or
 * replaced by a package of another name; held packages (dpkg "hold") are
 * locked and reported; Recommends are not pulled in; Multi-Arch is modelled
 * (packages of foreign architectures are distinct, Multi-Arch: foreign
 * packages satisfy every architecture, Multi-Arch: same packages stay at one
 * version across architectures); NotAutomatic repositories (backports,
 * experimental) only update packages installed from them; the image's apt
 * pins (aptprefs.h) choose each package's candidate as apt does. Report mode:
 * each request becomes a job "install the highest installable version >= the
 * fixed version"; update-all mode: every installed package with a newer
 * candidate gets a targeted update job, as apt upgrade does. Dependencies
 * the image already left out (distroless images carry no dependency
 * closure) stay out.
 *
 * Single-threaded; the pool lives only inside copa_deb_plan().
 */
#ifndef COPA_PKG_DEB_PLAN_H
#define COPA_PKG_DEB_PLAN_H

#include "util/cache.h"
#include "pkg/deb/aptprefs.h"
#include "pkg/deb/deb.h"
#include "pkg/deb/probe_repo.h"
#include "pkg/deb/debrepo.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

#define COPA_DEB_REQUESTS_MAX 100000

/* One requested update: a package (optionally "name:arch") and its fixed version. */
struct copa_deb_request {
	const char *name;
	const char *fixed_version; /* minimum version; NULL: the newest available */
};

enum copa_deb_outcome {
	COPA_DEB_UPDATED,       /* will be installed at chosen_version */
	COPA_DEB_ALREADY_FIXED, /* installed version >= fixed (or newest) already */
	COPA_DEB_NOT_AVAILABLE, /* no version >= fixed in the repositories (best_available has the
	                           highest) */
	COPA_DEB_HELD,          /* held with dpkg/apt-mark hold: left alone */
	COPA_DEB_NOT_INSTALLED, /* the image does not have this package */
	COPA_DEB_FAILED,        /* the update cannot be installed: reason says why */
};

/* Stable lowercase name ("updated", "already-fixed", "not-available", "held", "not-installed",
 * "failed"). */
const char *copa_deb_outcome_str(enum copa_deb_outcome o);

/*
 * True for outcomes that mean a requested fix is missing (an error without
 * --ignore-errors) in report mode. In update-all mode (plan->update_all)
 * held and kept-back packages are what apt upgrade reports too: warnings.
 */
bool copa_deb_outcome_is_error(enum copa_deb_outcome o);

struct copa_deb_result {
	char *name;              /* package name (no ":arch") */
	char *arch;              /* installed architecture, or NULL (not installed) */
	char *installed_version; /* NULL when not installed */
	char *fixed_version;  /* requested minimum; NULL in update-all mode and "newest" requests */
	char *chosen_version; /* UPDATED: the version that will be installed */
	char *best_available; /* highest version the repositories offer (any outcome), or NULL */
	char *repo;           /* repository of chosen_version or best_available, or NULL */
	enum copa_deb_outcome outcome;
	char *reason; /* one line for FAILED / NOT_AVAILABLE / HELD, else NULL */
};

struct copa_deb_plan {
	struct copa_deb_pkg *pkgs; /* to install, sorted by name then arch; deb_path NULL */
	size_t n_pkgs;
	struct copa_deb_result *results; /* per request (per installed instance), or per update */
	size_t n_results;
	bool update_all;    /* planned without requests */
	size_t n_installed; /* installed packages considered */
	size_t n_available; /* packages in the indexes */
};

struct copa_deb_plan_opts {
	const struct copa_deb_request *requests; /* NULL with n_requests 0: update everything */
	size_t n_requests;
	bool no_new_packages; /* update-all: keep back updates needing new packages (apt-get
	                         upgrade) */
	bool best_available;  /* report mode: when the fixed version is missing, still update to the
	                         highest */
	struct copa_cache
	    *cache; /* keeps the solver form (.solv) of each index; NULL: parse every time */
	const struct copa_apt_prefs
	    *prefs; /* the image's apt pins (probe_repo.h); NULL or empty: none */
	struct copa_out *out;
};

/*
 * Plans the updates. Per-package trouble is an outcome in plan->results,
 * not an error: the caller decides (copa_deb_outcome_is_error, and
 * --ignore-errors). Errors are for input that cannot be planned at all:
 * an unreadable index, a malformed database, an index entry without a
 * checksum (COPA_E_INPUT), a solution that would remove a package
 * (COPA_E_BUG: never expected).
 */
int copa_deb_plan(const struct copa_deb_status *st, const struct copa_deb_indexes *ix,
                  const struct copa_deb_plan_opts *o, struct copa_deb_plan *plan,
                  struct copa_err *err);

void copa_deb_plan_release(struct copa_deb_plan *plan);

/*
 * Plan records (plancache.c). copa_deb_plan keeps each plan in o->cache under a key that
 * digests everything the plan is a function of: the format, libsolv's version, the dpkg status
 * text and architectures, every index (its digest, which the signed Release named, and every
 * field the planner reads), the requests and the options. Returns the key (hex, malloc'd), or
 * NULL when the plan is not cached (with apt pins). A record is JSON plus its sha256;
 * copa_deb_plan_decode refuses anything else (COPA_E_INPUT) and leaves *plan empty.
 */
char *copa_deb_plan_key(const struct copa_deb_status *st, const struct copa_deb_indexes *ix,
                        const struct copa_deb_plan_opts *o);
int copa_deb_plan_encode(const struct copa_deb_plan *plan, struct copa_buf *out,
                         struct copa_err *err);
int copa_deb_plan_decode(const void *data, size_t n, struct copa_deb_plan *plan,
                         struct copa_err *err);

/*
 * Compares two Debian versions (deb-version(7)): <0, 0, >0. The planner's
 * own decisions (already fixed? which candidate satisfies the fixed
 * version?) use this, which is pkg/version.c's dpkg ordering, the one the
 * read-back check, reports and VEX use; libsolv's (below) is used only inside
 * the solver, where it differs from dpkg on an absent vs an empty or "0"
 * revision alone ("1.0" = "1.0-0" for dpkg).
 */
int copa_deb_version_cmp(const char *a, const char *b);

/* libsolv's Debian ordering, as the solver applies it (for the agreement test). */
int copa_deb_solv_version_cmp(const char *a, const char *b);

/* True when s is a syntactically valid Debian version (what copa accepts from reports). */
bool copa_deb_version_valid(const char *s);

#endif

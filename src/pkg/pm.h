/*
 * pm.h: the package-manager interface. The `copa patch` pipeline and
 * `copa inspect` reach a package family (dpkg, apk, rpm) only through this
 * header: a const table of operations per family, in the style of the image
 * module's transports (image/internal.h), and family-neutral types for what
 * flows between the stages.
 *
 *   detect ─▶ open ─▶ plan ─▶ [fetch + prepare on workers] ─▶ apply (each) ─▶ finish ─▶ verify ─▶
 * free
 *
 * Who owns what: a family owns its database reader (one, used by detect,
 * plan, apply and verify alike), its repositories, keys, pins, planner and
 * applier; everything it hands out (plan packages, results) stays owned by
 * the copa_pm until copa_pm_free. The caller owns the merged view and the
 * layer builder and lends them; fetch (pkg/fetch.h) fills the local files.
 * Per-package trouble is an outcome (plan) or a failed package the caller
 * may skip (apply); an error from open/finish/verify means the platform
 * cannot be patched. A failed apply leaves the layer, the view and the
 * database as they were. Single-threaded except prepare, which runs on the
 * fetch workers and may only read the copa_pm.
 *
 * Adding a family: docs/ARCHITECTURE.md, "Adding a package family".
 */
#ifndef COPA_PKG_PM_H
#define COPA_PKG_PM_H

#include "layer/layer.h"
#include "layer/view.h"
#include "pkg/osrelease.h"
#include "pkg/version.h"
#include "util/cache.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/http.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copa_pm_ops;

/* One package chosen for installation (an update or a new dependency). */
struct copa_pm_pkg {
	char *name;
	char *arch;
	char *version;
	char *old_version;       /* the installed version it replaces; NULL for a new package */
	char *url;               /* where to download it */
	char *repo;              /* repository label for messages */
	uint64_t size;           /* from the signed index */
	uint64_t installed_size; /* from the signed index, bytes; 0: not given */
	char digest[COPA_DIGEST_MAX]; /* "sha256:<hex>" from the signed index; "" when the index
	                                 gives no digest of the whole file (apk): see id */
	/*
	 * With an empty digest: what the signed index says identifies the package
	 * (apk: `C:`, the SHA-1 of its control segment, "Q1"+base64). The family's
	 * check operation verifies the download against it; fetch then fills
	 * digest with the sha256 of the verified file (pkg/fetch.h).
	 */
	char *id;
	/* Filled by fetch (pkg/fetch.h): */
	char *local_path; /* the verified file in the cache */
	char *prepared;   /* a file prepare left for apply (removed after apply), or NULL */
};

/* One requested update: a package and its minimum (fixed) version, NULL: the newest. */
struct copa_pm_request {
	const char *name;
	const char *fixed_version;
};

enum copa_pm_outcome {
	COPA_PM_UPDATED,       /* will be installed at chosen_version */
	COPA_PM_ALREADY_FIXED, /* installed version >= fixed (or newest) already */
	COPA_PM_NOT_AVAILABLE, /* no version >= fixed in the repositories */
	COPA_PM_HELD,          /* held in the image: left alone */
	COPA_PM_NOT_INSTALLED, /* the image does not have this package */
	COPA_PM_FAILED,        /* the update cannot be installed: reason says why */
};

/* Stable lowercase name ("updated", "already-fixed", "not-available", "held", "not-installed",
 * "failed"). */
const char *copa_pm_outcome_str(enum copa_pm_outcome o);

/* True for outcomes that mean a requested fix is missing (an error without --ignore-errors). */
bool copa_pm_outcome_is_error(enum copa_pm_outcome o);

/* What the plan says about one request (or, without requests, one update). */
struct copa_pm_result {
	char *name;
	char *arch;              /* installed architecture, or NULL */
	char *installed_version; /* NULL when not installed */
	char *fixed_version;     /* requested minimum, or NULL */
	char *chosen_version;    /* UPDATED: the version that will be installed */
	char *reason;            /* one line for FAILED / NOT_AVAILABLE / HELD, else NULL */
	enum copa_pm_outcome outcome;
};

struct copa_pm_plan {
	struct copa_pm_pkg *pkgs; /* to install, in apply order */
	size_t n_pkgs;
	struct copa_pm_result *results;
	size_t n_results;
};

/* What applying one package did (owned; release with copa_pm_applied_release). */
struct copa_pm_applied {
	char *name;
	char **skipped; /* NULL-terminated: maintainer scripts and triggers not run */
};
void copa_pm_applied_release(struct copa_pm_applied *a);

/* What detect found. db_path is owned (copa_pm_info_release). */
struct copa_pm_info {
	const struct copa_pm_ops *ops; /* the family that claimed the image; NULL: none */
	char *db_path;   /* "var/lib/dpkg/status", "var/lib/dpkg/status.d", "lib/apk/db/installed",
	                    ... */
	long n_packages; /* installed packages, -1 when the database cannot be counted */
	bool distroless; /* no package manager binary in the image */
};
void copa_pm_info_release(struct copa_pm_info *i);

/* For detect: whether path names a regular file (or hard link) in the view, through symlinks. */
bool copa_pm_has_file(struct copa_view *v, const char *path);
/* For detect: true when none of bins (NULL-terminated) is a file in the view. */
bool copa_pm_distroless(struct copa_view *v, const char *const *bins);

/* What open needs. Everything is borrowed and must outlive the copa_pm. */
struct copa_pm_open_opts {
	struct copa_view *view; /* the image's merged view; apply updates it */
	const struct copa_osrelease *os;
	const char *oci_arch, *oci_variant; /* the image config's platform */
	char *const *repos;                 /* --repo entries (NULL-terminated or NULL) */
	bool repos_replace;
	char *const *keyrings; /* --keyring files on the host */
	bool allow_insecure;
	struct copa_http *http;
	struct copa_cache *cache;
	struct copa_out *out;
};

struct copa_pm;

/* A repository as the image configures it (or the family's defaults); nothing fetched. */
struct copa_pm_repo {
	char *id;
	char *url;  /* its first URL: a base URL, else a metalink or mirror list */
	char *from; /* where it is configured ("etc/yum.repos.d/x.repo:3"), or "defaults" */
	bool enabled;
};
struct copa_pm_repos {
	struct copa_pm_repo *v;
	size_t n;
	bool defaults; /* the image configures none: these are the distribution's */
};
void copa_pm_repos_release(struct copa_pm_repos *r);

struct copa_pm_ops {
	enum copa_pkgfam fam;
	const char *name;       /* the tool: "dpkg", "apk", "rpm" */
	const char *pkg_suffix; /* file name suffix for messages: ".deb" */
	/* Claims the image (1), or not (0); -1 for a database that cannot be read. */
	int (*detect)(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err);
	/* NULL: copa detects the family but cannot patch it yet. */
	struct copa_pm *(*open)(const struct copa_pm_open_opts *o, struct copa_err *err);
	/* requests NULL with n 0: everything upgradable. Fills pm->plan. */
	int (*plan)(struct copa_pm *pm, const struct copa_pm_request *req, size_t n,
	            struct copa_err *err);
	/* On a fetch worker, after package i was fetched: optional work ahead (may be NULL). */
	int (*prepare)(const struct copa_pm *pm, size_t i, struct copa_pm_pkg *p,
	               const char *work_dir, struct copa_err *err);
	/*
	 * On a fetch worker: verifies the downloaded file `path` of plan package i
	 * when its index gives no digest of the whole file (p->digest empty), against
	 * the chain of trust the family has (apk: signature, `C:`, datahash).
	 * COPA_E_VERIFY naming the package. May only read pm. NULL: every package
	 * of the family has a digest.
	 */
	int (*check)(const struct copa_pm *pm, size_t i, const struct copa_pm_pkg *p,
	             const char *path, struct copa_err *err);
	/* Applies plan package i (fetched) into b; all or nothing. */
	int (*apply)(struct copa_pm *pm, struct copa_layer_builder *b, size_t i,
	             struct copa_pm_applied *res, struct copa_err *err);
	/* After the last package: the database and side effects (certificates). */
	int (*finish)(struct copa_pm *pm, struct copa_err *err);
	/*
	 * Reads the database back: every plan package i with applied[i] must be
	 * installed at its version; versions[i] (owned by the caller) gets what was found.
	 */
	int (*verify)(struct copa_pm *pm, const bool *applied, char **versions,
	              struct copa_err *err);
	void (*free)(struct copa_pm *pm);
	/*
	 * For `copa inspect`: the repositories open would use without --repo, read from
	 * the view only (oci_arch: the image config's architecture). A configuration
	 * copa cannot read gives an error, which inspect does not treat as fatal.
	 * NULL: the family does not list them.
	 */
	int (*list_repos)(struct copa_view *v, const struct copa_osrelease *os,
	                  const char *oci_arch, struct copa_pm_repos *out, struct copa_err *err);
	/*
	 * The family's own version ordering (-1, 0, 1) and validity, when it is
	 * not pkg/version.c's (apk: apkver.h); pkg/version.c delegates to them.
	 */
	int (*vercmp)(const char *a, const char *b);
	bool (*ver_valid)(const char *v);
};

/* The common head of every family's state. */
struct copa_pm {
	const struct copa_pm_ops *ops;
	struct copa_pm_plan plan;
};

/* The families, in the order detect tries them. */
extern const struct copa_pm_ops copa_pm_deb_ops;
extern const struct copa_pm_ops copa_pm_apk_ops;
extern const struct copa_pm_ops copa_pm_rpm_ops;

/*
 * Finds the family that claims the image (info->ops NULL when none does) and
 * what it says about the database. COPA_E_INPUT for a database that cannot be
 * read. Release with copa_pm_info_release (also after a failure).
 */
int copa_pm_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err);

/* Releases the strings of a plan (for the families' free). */
void copa_pm_plan_release(struct copa_pm_plan *plan);

/* Releases the strings of p (for the families' free). */
void copa_pm_pkg_release(struct copa_pm_pkg *p);

#endif

/*
 * apksolve.h: choosing what an Alpine image should have installed after an
 * upgrade, as `apk upgrade` / `apk add -u NAME` would: the world
 * constraints and every dependency satisfied from the installed packages
 * and the repositories' indexes.
 *
 * Owns: matching a dependency against a package (name or `p:` provides,
 * versions, `><` checksums, `!` conflicts, `@tag` pins), choosing a provider
 * (a package chosen already; else the package of that name; else, as apk's
 * compare_providers, the highest provided version, the provider the image
 * has installed, the highest provider_priority), install_if, and the change list
 * (add, upgrade, remove) against the installed set.
 *
 * What it does not do (apk's solver does): backtracking over alternative
 * providers once a choice conflicts (a conflict is an error naming both
 * packages), `replaces` arbitration of file conflicts (an applier concern),
 * downgrades (`apk upgrade --available`), and virtual packages with no
 * provider. Pure: no I/O; results point into the inputs.
 */
#ifndef COPA_PKG_APK_APKSOLVE_H
#define COPA_PKG_APK_APKSOLVE_H

#include "pkg/apk/apkpkg.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* One repository: its packages and its tag ("" or NULL for an untagged repository). */
struct copa_apksolve_repo {
	const struct copa_apk_pkg *const *pkgs;
	size_t n;
	const char *tag;
};

struct copa_apksolve_in {
	const struct copa_apk_pkg *const *installed; /* the installed database */
	size_t ninstalled;
	const struct copa_apksolve_repo *repos;
	size_t nrepos;
	const struct copa_apk_deps *world; /* etc/apk/world */
	bool upgrade_all;                  /* apk upgrade */
	const char *const *upgrade;        /* apk add -u NAME...: names to move to their newest,
	                                      with their dependencies (add them to world for
	                                      apk add's own semantics) */
	size_t nupgrade;
};

enum copa_apksolve_kind {
	COPA_APKSOLVE_ADD,
	COPA_APKSOLVE_UPGRADE,
	COPA_APKSOLVE_REMOVE,
};

struct copa_apksolve_change {
	enum copa_apksolve_kind kind;
	const struct copa_apk_pkg *old; /* installed package (UPGRADE, REMOVE) */
	const struct copa_apk_pkg *pkg; /* chosen package (ADD, UPGRADE) */
};

struct copa_apksolve_out {
	const struct copa_apk_pkg **chosen; /* the whole installed set afterwards */
	size_t nchosen;
	struct copa_apksolve_change
	    *changes; /* adds and upgrades in dependency order, removals last */
	size_t nchanges;
};

/*
 * Solves; fills out (release with copa_apksolve_out_release). Errors:
 * COPA_E_PACKAGE naming the unsatisfiable dependency and who needs it
 * ("'apk-tools' needs 'so:libssl.so.3', which no repository provides"), or
 * a conflict between two chosen packages.
 */
int copa_apksolve(const struct copa_apksolve_in *in, struct copa_apksolve_out *out,
                  struct copa_err *err);

void copa_apksolve_out_release(struct copa_apksolve_out *out);

/* True when package p satisfies dependency d by name or provides (ignoring d's conflict bit). */
bool copa_apk_dep_satisfied_by(const struct copa_apk_dep *d, const struct copa_apk_pkg *p);

#endif

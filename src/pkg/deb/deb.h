/*
 * deb.h: types shared by the dpkg-family modules: the planner/fetcher
 * (repositories, solver, downloads) hands a list of copa_deb_pkg to the
 * applier (unpacking into the new layer, database rewrite).
 */
#ifndef COPA_PKG_DEB_DEB_H
#define COPA_PKG_DEB_DEB_H

#include <stddef.h>
#include <stdint.h>

/* One binary package chosen for installation (an upgrade or a new dependency). */
struct copa_deb_pkg {
	char *name;
	char *arch; /* Architecture field: "amd64", "all", ... */
	char *version;
	char *multi_arch;  /* "same", "foreign", "allowed" or NULL */
	char *old_version; /* the installed version it replaces; NULL for a new package */
	char *url;         /* download URL */
	char *filename;    /* Filename field (relative to the repository base URI) */
	uint64_t size;
	uint64_t installed_size; /* Installed-Size from the index, in bytes; 0: not given */
	char sha256[65];         /* lowercase hex from the verified Packages index */
	char *repo;     /* repository label for messages ("http://deb.debian.org/debian-security
	                   bookworm-security/main") */
	char *deb_path; /* local path of the downloaded and verified .deb; NULL before fetch */
	char *data_tar; /* its data.tar decompressed ahead by fetch (unpack_dir), or NULL */
};

/* Frees the strings of p (not p itself). */
void copa_deb_pkg_release(struct copa_deb_pkg *p);

struct copa_pm_pkg;
struct copa_pkg_fetch_opts;
struct copa_err;

/* The family-neutral form of p (pkg/pm.h): strings copied, the digest as "sha256:<hex>". */
void copa_deb_pkg_to_pm(const struct copa_deb_pkg *p, struct copa_pm_pkg *out);

/*
 * Downloads and verifies pkgs with the family-neutral fetcher (pkg/fetch.h)
 * and sets each deb_path (for the copa-debplan helper). Errors: as copa_pkg_fetch.
 */
int copa_deb_fetch(struct copa_deb_pkg *pkgs, size_t n, const struct copa_pkg_fetch_opts *o,
                   struct copa_err *err);

#endif

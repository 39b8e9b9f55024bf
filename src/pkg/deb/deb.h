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
	char *arch;        /* Architecture field: "amd64", "all", ... */
	char *version;
	char *multi_arch;  /* "same", "foreign", "allowed" or NULL */
	char *old_version; /* the installed version it replaces; NULL for a new package */
	char *url;         /* download URL */
	char *filename;    /* Filename field (relative to the repository base URI) */
	uint64_t size;
	uint64_t installed_size; /* Installed-Size from the index, in bytes; 0: not given */
	char sha256[65];   /* lowercase hex from the verified Packages index */
	char *repo;        /* repository label for messages ("http://deb.debian.org/debian-security bookworm-security/main") */
	char *deb_path;    /* local path of the downloaded and verified .deb; NULL before fetch */
	char *data_tar;    /* its data.tar decompressed ahead by fetch (unpack_dir), or NULL */
};

/* Frees the strings of p (not p itself). */
void copa_deb_pkg_release(struct copa_deb_pkg *p);

#endif

/*
 * dpkgfilter.h: dpkg's path filters (dpkg(1) --path-exclude/--path-include),
 * as debian *-slim and Ubuntu images configure them in
 * /etc/dpkg/dpkg.cfg.d/ to leave out documentation, man pages and locales.
 *
 * Reproduces dpkg's reading of its configuration (the files of dpkg.cfg.d
 * whose names are letters, digits, '_' and '-', in sorted order, then
 * dpkg.cfg; "option value" or "option=value", quotes stripped) and
 * filter_should_skip(): patterns are fnmatch(3) globs without flags
 * ('*' matches '/') against the path with its leading '/'; the last matching
 * rule wins; an excluded directory or symlink is kept when an include
 * pattern's literal prefix (up to its first wildcard, trailing '/' dropped)
 * is a prefix of the path. Caller: apply.c. The text is the image's.
 */
#ifndef COPA_PKG_DEB_DPKGFILTER_H
#define COPA_PKG_DEB_DPKGFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct copa_dpkg_filter {
	char *pattern;
	bool include;
};

struct copa_dpkg_filters {
	struct copa_dpkg_filter *v;
	size_t n, cap;
};

/* Appends the path-exclude/path-include options of one dpkg configuration file. */
void copa_dpkg_filters_parse(struct copa_dpkg_filters *f, const char *text, size_t len);

/* True when a config file name is one dpkg reads from dpkg.cfg.d. */
bool copa_dpkg_filters_valid_name(const char *name);

/* True when dpkg would not unpack path ("/usr/share/doc/x") of type (enum copa_ftype). */
bool copa_dpkg_filters_skip(const struct copa_dpkg_filters *f, const char *path, uint8_t type);

void copa_dpkg_filters_release(struct copa_dpkg_filters *f);

#endif

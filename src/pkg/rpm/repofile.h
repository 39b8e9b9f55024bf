/*
 * repofile.h: the rpm-md repositories an RPM image is configured with.
 *
 * Owns parsing dnf/yum/tdnf configuration as libdnf reads it: INI text with
 * `[section]` headers, `key=value` lines, `#`/`;` comments and continuation
 * lines (a line starting with a blank continues the previous value: baseurl
 * and gpgkey lists span lines); the [main] section of etc/dnf/dnf.conf,
 * etc/yum.conf and etc/tdnf/tdnf.conf gives defaults (gpgcheck,
 * repo_gpgcheck) and any other section of those files is a repository too.
 * Per repository: baseurl (a list), mirrorlist, metalink, enabled, gpgcheck,
 * repo_gpgcheck, gpgkey (a list), name; other keys are ignored. Values have
 * $releasever, $basearch, $arch and the variables of etc/dnf/vars/NAME and
 * etc/yum/vars/NAME substituted (`$name`, `${name}`, `${name:-word}`,
 * `${name:+word}`; unknown variables stay as written, as dnf leaves them).
 *
 * Trust defaults are copa's, stricter than libdnf's: gpgcheck is on unless
 * the repository (or [main]) turns it off, and `gpgcheck_off` records that it
 * was turned off so the planner can refuse such a repository unless the user
 * allows it. The text is image content: sizes, line lengths and counts are
 * capped, ids and URLs are validated, nothing reaches a shell.
 * Single-threaded.
 */
#ifndef COPA_PKG_RPM_REPOFILE_H
#define COPA_PKG_RPM_REPOFILE_H

#include "layer/view.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

#define COPA_RPM_REPO_FILE_MAX  (1u << 20) /* one .repo/.conf file */
#define COPA_RPM_REPOS_MAX      1000       /* repositories in one image */
#define COPA_RPM_REPO_FILES_MAX 500        /* files in etc/yum.repos.d */
#define COPA_RPM_REPO_URLS_MAX  100        /* baseurl or gpgkey entries of one repository */
#define COPA_RPM_VARS_MAX       100        /* variables */
#define COPA_RPM_VALUE_MAX      8192 /* one value, continuation lines and substitution included */

/* Variables substituted in values: name -> value, later definitions win. */
struct copa_rpm_vars {
	char **names, **values;
	size_t n, cap;
};

struct copa_rpm_repo {
	char *id;           /* the section name, variables substituted as dnf does */
	char *name;         /* name=, or NULL */
	char **baseurls;    /* NULL-terminated (possibly empty) */
	char *mirrorlist;   /* or NULL */
	char *metalink;     /* or NULL */
	bool enabled;       /* default true */
	bool gpgcheck;      /* package signatures; default true (see gpgcheck_off) */
	bool gpgcheck_off;  /* gpgcheck was explicitly turned off (repository or [main]) */
	bool repo_gpgcheck; /* repomd.xml.asc; default false as in dnf */
	char **gpgkeys;     /* NULL-terminated (possibly empty): file:// and https:// URLs */
	char *where;        /* "etc/yum.repos.d/x.repo:3", for messages */
};

struct copa_rpm_repos {
	struct copa_rpm_repo *v;
	size_t n, cap;
	/* [main] defaults seen so far: 0 unset (a zeroed struct), 1 on, 2 off */
	int main_gpgcheck, main_repo_gpgcheck;
};

void copa_rpm_vars_release(struct copa_rpm_vars *vars);
/* Sets name (letters, digits, '_') to value; COPA_E_INPUT for a bad name, LIMIT past the cap. */
int copa_rpm_vars_set(struct copa_rpm_vars *vars, const char *name, const char *value,
                      struct copa_err *err);
/* The value of name, or NULL. Borrowed. */
const char *copa_rpm_vars_get(const struct copa_rpm_vars *vars, const char *name);

/*
 * dnf's $basearch for an rpm architecture ("x86_64" -> "x86_64", "i686" ->
 * "i386", "armv7hl" -> "armhfp", "aarch64" -> "aarch64"); NULL when unknown.
 */
const char *copa_rpm_basearch(const char *arch);

/*
 * Substitutes vars in value (see above) into a malloc'd string; NULL with
 * COPA_E_LIMIT when the result exceeds COPA_RPM_VALUE_MAX.
 */
char *copa_rpm_vars_subst(const struct copa_rpm_vars *vars, const char *value,
                          struct copa_err *err);

void copa_rpm_repos_release(struct copa_rpm_repos *r);

/*
 * Parses one .repo or dnf.conf-style file (n bytes of text; `file` is named
 * in messages and `where`) and appends its repositories to r; [main] updates
 * r's defaults, which apply to the repositories of this and later calls that
 * have no setting of their own (dnf.conf is read before yum.repos.d). A malformed
 * line, a bad id or URL, a duplicate id or an unknown boolean is COPA_E_INPUT
 * naming file and line; a repository with neither baseurl, mirrorlist nor
 * metalink is COPA_E_INPUT naming it. On error, r holds no repository of this file.
 */
int copa_rpm_repos_parse(struct copa_rpm_repos *r, const struct copa_rpm_vars *vars,
                         const char *text, size_t n, const char *file, struct copa_err *err);

/*
 * Reads an image's configuration from the merged view: variables from
 * etc/dnf/vars/NAME and etc/yum/vars/NAME (added to vars, after what the caller
 * set: releasever, basearch, arch), then etc/dnf/dnf.conf, etc/yum.conf,
 * etc/tdnf/tdnf.conf, then etc/yum.repos.d/NAME.repo in name order. Missing
 * files are not errors.
 */
int copa_rpm_repos_read_view(struct copa_view *v, struct copa_rpm_vars *vars,
                             struct copa_rpm_repos *r, struct copa_out *out, struct copa_err *err);

#endif

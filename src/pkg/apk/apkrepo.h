/*
 * apkrepo.h: an image's apk repositories (`etc/apk/repositories`), the
 * defaults for an image without that file, and the URLs of indexes and
 * packages.
 *
 * Owns: the line format apk-tools 2 reads (`#` comments, an optional
 * `@tag`, the URL) plus apk-tools 3's leading `v2` keyword and trailing
 * components (`URL main community` → `URL/main`, `URL/community`). Lines
 * copa cannot use (apk 3's `v3`/`ndx` ADB repositories, `set` variables,
 * unknown keywords) are skipped with a warning naming the line, never
 * guessed at.
 *
 * Input is hostile: COPA_APK_REPOS_MAX repositories, URLs without control
 * characters or spaces. Results are owned by the list.
 */
#ifndef COPA_PKG_APK_APKREPO_H
#define COPA_PKG_APK_APKREPO_H

#include "util/err.h"

#include <stddef.h>

#define COPA_APK_REPOS_MAX 256

struct copa_apk_repo {
	char *url; /* without a trailing '/' */
	char *tag; /* "edge" for "@edge", NULL when untagged */
};

struct copa_apk_repos {
	struct copa_apk_repo *v;
	size_t n, cap;
	char **warnings; /* "repositories line 3: ...": lines skipped; NULL-terminated */
	size_t nwarn;
};

#define COPA_APK_REPOS_INIT                                                                        \
	{                                                                                          \
		NULL, 0, 0, NULL, 0                                                                \
	}

/*
 * Parses the text of a repositories file, appending to r. `what` names the
 * file in warnings and errors. COPA_E_LIMIT past COPA_APK_REPOS_MAX.
 */
int copa_apk_repos_parse(struct copa_apk_repos *r, const char *text, size_t n, const char *what,
                         struct copa_err *err);

/*
 * Appends the official repositories of an OS release, for an image without
 * a repositories file: alpine VERSION_ID "3.20.3" → .../alpine/v3.20/main
 * and /community (an `_alpha` or "edge" version → edge); wolfi → Wolfi's
 * `os` repository. COPA_E_UNSUPPORTED for another OS or a version copa
 * cannot map.
 */
int copa_apk_repos_default(struct copa_apk_repos *r, const char *os_id, const char *version_id,
                           struct copa_err *err);

/* Adds one repository (from --repo); the URL is checked as in a file. */
int copa_apk_repos_add(struct copa_apk_repos *r, const char *url, const char *tag,
                       struct copa_err *err);

void copa_apk_repos_release(struct copa_apk_repos *r);

/* "<url>/<arch>/APKINDEX.tar.gz" (caller frees). */
char *copa_apk_repo_index_url(const struct copa_apk_repo *repo, const char *arch);

/* "<url>/<arch>/<name>-<version>.apk" (caller frees). */
char *copa_apk_repo_package_url(const struct copa_apk_repo *repo, const char *arch,
                                const char *name, const char *version);

#endif

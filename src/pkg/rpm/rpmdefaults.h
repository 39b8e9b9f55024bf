/*
 * rpmdefaults.h: the official repositories of each supported RPM
 * distribution, for images that carry no repository configuration
 * (Azure Linux / CBL-Mariner distroless images have no etc/yum.repos.d).
 *
 * Owns a table keyed by os-release ID and the major part of VERSION_ID,
 * each entry the `.repo` text the distribution itself ships (baseurl,
 * mirrorlist or metalink with $releasever/$basearch, gpgcheck, and gpgkey
 * naming the file where the distribution's release package installs its
 * key). The keys themselves are not carried by copa: they are files of
 * other projects. rpmrepo.h reads them from the image as for any .repo
 * file, and asks for --keyring when the image has none (distroless).
 *
 * COPA_RPM_DEFAULT_MIRROR (environment), when set to an http(s) URL
 * `scheme://host[:port][/prefix]`, replaces the scheme and host of every
 * default URL and puts the prefix before its path: a local copy of the
 * official mirrors (and the e2e tests, which serve one on 127.0.0.1).
 */
#ifndef COPA_PKG_RPM_RPMDEFAULTS_H
#define COPA_PKG_RPM_RPMDEFAULTS_H

#define COPA_RPM_DEFAULT_MIRROR_ENV "COPA_RPM_DEFAULT_MIRROR"

/*
 * The `.repo` text of the official repositories of os-release `id` at
 * `version_id` (static), or NULL when copa has none for it.
 */
const char *copa_rpm_default_repos(const char *id, const char *version_id);

/*
 * url with its scheme and host replaced by mirror's and mirror's path
 * prefixed to its path (malloc'd); a copy of url when mirror is NULL or
 * empty. NULL when mirror is not an http(s) URL.
 */
char *copa_rpm_default_rebase(const char *url, const char *mirror);

#endif

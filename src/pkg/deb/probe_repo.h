/*
 * probe_repo.h: what the Debian planner needs to know about an image, read
 * from its merged view: the dpkg database (var/lib/dpkg/status, or the
 * distroless var/lib/dpkg/status.d/ files), the dpkg architectures, and the
 * repositories with the keys that may sign them.
 *
 * Everything read here is image content: sizes and counts are capped, key
 * files are read from the view (never from the host, except the
 * distribution's own archive keyrings when the image lacks them, and the
 * user's --keyring files), and nothing is executed. Single-threaded.
 */
#ifndef COPA_PKG_DEB_PROBE_REPO_H
#define COPA_PKG_DEB_PROBE_REPO_H

#include "pkg/deb/aptprefs.h"
#include "layer/view.h"
#include "pkg/deb/debsources.h"
#include "pkg/osrelease.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

#define COPA_DEB_STATUS_MAX    (256u << 20) /* status text, all of status.d together */
#define COPA_DEB_STATUSD_FILES 100000
#define COPA_DEB_KEYFILE_MAX   (1u << 20)
#define COPA_DEB_KEYRING_MAX   (16u << 20)

struct copa_deb_status {
	char *text; /* status paragraphs, each ending in a blank line */
	size_t len;
	bool distroless;      /* read from var/lib/dpkg/status.d/ */
	size_t n_files;       /* status.d files read (distroless) */
	char *native_arch;    /* "amd64" */
	char **foreign_archs; /* NULL-terminated, possibly empty: var/lib/dpkg/arch and installed
	                         packages */
};

void copa_deb_status_release(struct copa_deb_status *st);

#define COPA_DEB_PREFS_MAX (1u << 20) /* one preferences file */

/*
 * Reads the image's apt pins: etc/apt/preferences, then the files of
 * etc/apt/preferences.d in name order (only the names apt reads). Records
 * copa cannot use are skipped with a warning (aptprefs.h). Errors:
 * COPA_E_INPUT (a file that is not deb822), COPA_E_LIMIT.
 */
int copa_deb_probe_prefs(struct copa_view *v, struct copa_apt_prefs *out, struct copa_out *log,
                         struct copa_err *err);

/*
 * Finds the dpkg database in the view: var/lib/dpkg/status when present and
 * not empty, else every file of var/lib/dpkg/status.d/ except *.md5sums,
 * concatenated in name order (file names need not be package names). The
 * native architecture comes from the Architecture of the installed dpkg,
 * base-files or libc6 package, else the most common one, else arch_hint
 * (the image config's, mapped with copa_deb_arch_from_oci). Errors:
 * COPA_E_NOTFOUND when the image has no dpkg database, COPA_E_LIMIT.
 */
int copa_deb_probe_status(struct copa_view *v, const char *arch_hint, struct copa_deb_status *st,
                          struct copa_err *err);

/*
 * The dpkg architecture of an OCI platform ("amd64", "arm64", "arm" + "v7"
 * -> "armhf", "arm" + "v5"/"v6" -> "armel", "386" -> "i386", "ppc64le" ->
 * "ppc64el", "mips64le" -> "mips64el", "s390x", "riscv64"), or NULL.
 */
const char *copa_deb_arch_from_oci(const char *arch, const char *variant);

struct copa_deb_repo_opts {
	char *const *repos;    /* --repo entries (NULL-terminated or NULL) */
	bool repo_replace;     /* --repo-replace: only the --repo entries, not the image's */
	char *const *mirrors;  /* "FROM=TO" URI prefix rewrites */
	char *const *keyrings; /* --keyring files on the host, trusted for every repository */
	const char *host_keyring_dir; /* NULL: /usr/share/keyrings */
	struct copa_out *out;
};

/*
 * Builds the repository list: the image's sources (or, when it has none
 * enabled, the official ones of its release), plus or instead of the user's
 * --repo entries, with the mirror rewrites applied, and resolves each
 * source's keyring (repo/debsources.h: keyring, fingerprints,
 * keyring_desc). Key selection follows apt: Signed-By files (or inline key)
 * exclusively when given; else etc/apt/trusted.gpg and trusted.gpg.d/; when
 * the image has neither, the distribution's archive keyring (from the image,
 * else from the host); the user's --keyring files always added.
 */
int copa_deb_probe_repos(struct copa_view *v, const struct copa_osrelease *os,
                         const char *native_arch, const struct copa_deb_repo_opts *o,
                         struct copa_deb_sources *out, struct copa_err *err);

/* Reads a key file (armoured or binary) and appends its binary keys to keyring. */
int copa_deb_key_append(struct copa_buf *keyring, const char *data, size_t n, const char *what,
                        struct copa_err *err);

#endif

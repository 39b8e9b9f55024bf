/*
 * rpmrepo.h: the rpm-md repositories an RPM image is patched from, loaded
 * into a libsolv pool with their keys.
 *
 * Owns choosing the repositories (the image's etc/yum.repos.d and dnf.conf
 * through repofile.h, then `--repo` entries: `NAME=URL` or a `.repo` file on
 * the host, replacing an image repository of the same id, or all of them
 * with `--repo-replace`), their keys (`gpgkey=file://` read from the merged
 * view, `https://` keys fetched, `--keyring` files added to every
 * repository), and fetching each enabled repository's repodata/repomd.xml
 * (verified with gpgv against the repository's keys when repo_gpgcheck=1)
 * and its primary index through the HTTP client, the primary cached in the
 * content-addressed cache by the sha256 that repomd.xml gives it.
 *
 * A repository with gpgcheck turned off is refused unless the caller allows
 * insecure repositories (--allow-insecure-repo). Mirrors are tried in dnf's
 * order, the next one when one fails in any way: the baseurl list, else the
 * metalink's http(s) URLs by preference (repomd.xml then must match the
 * metalink's size and hash, metalink.h), else the mirrorlist's http(s) lines.
 * An image with no repository configuration and no --repo gets its
 * distribution's official repositories (rpmdefaults.h). Callers: the rpm
 * family adapter (pm.c).
 * Single-threaded.
 */
#ifndef COPA_PKG_RPM_RPMREPO_H
#define COPA_PKG_RPM_RPMREPO_H

#include "layer/view.h"
#include "pkg/rpm/repofile.h"
#include "util/buf.h"
#include "util/cache.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

#include <solv/pool.h>
#include <solv/repo.h>
#include <stdbool.h>
#include <stddef.h>

#define COPA_RPM_KEY_MAX        (1u << 20) /* one key file */
#define COPA_RPM_KEYS_MAX       64         /* keys of one repository */
#define COPA_RPM_MIRRORLIST_MAX (1u << 20)

/* One repository in use. */
struct copa_rpm_source {
	char *id;
	char *base;            /* base URL, ending in '/' */
	bool gpgcheck;         /* package signatures are checked (off only when allowed) */
	struct copa_buf *keys; /* binary OpenPGP public keys, one per entry */
	size_t n_keys;
	char *keys_desc; /* where the keys came from, for messages */
	Repo *repo;      /* its packages in the pool (repo->appdata: this source's index + 1) */
};

struct copa_rpm_sources {
	struct copa_rpm_source *v;
	size_t n;
};

void copa_rpm_sources_release(struct copa_rpm_sources *s);

struct copa_rpmrepo_opts {
	struct copa_view *view;
	const char *releasever; /* for $releasever */
	const char *os_id;      /* os-release ID and VERSION_ID: the default repositories */
	const char *version_id;
	const char *arch;   /* rpm architecture: for $basearch and $arch */
	char *const *repos; /* --repo entries, or NULL */
	bool repos_replace;
	char *const *keyrings; /* --keyring files on the host, or NULL */
	bool allow_insecure;
	struct copa_http *http;
	struct copa_cache *cache;
	struct copa_out *out;
	const char *work; /* private directory for downloads */
};

/*
 * Chooses the repositories and loads every enabled one into pool (one libsolv
 * Repo each). COPA_E_INPUT when there is no enabled repository (name one with
 * --repo), COPA_E_VERIFY for a repomd.xml whose signature does not verify,
 * COPA_E_UNSUPPORTED for a repository copa cannot reach (mirrorlist only,
 * gpgcheck=0 without --allow-insecure-repo), network and cache errors as
 * they come, each naming the repository.
 */
int copa_rpmrepo_load(Pool *pool, const struct copa_rpmrepo_opts *o, struct copa_rpm_sources *out,
                      struct copa_err *err);

/*
 * The repositories an image is configured with, without fetching anything
 * (for `copa inspect`): its .repo files and dnf.conf, or, when it has none,
 * its distribution's official ones with their official URLs (*defaults set).
 * releasever is VERSION_ID here (the installed system-release provide is
 * not read), arch an rpm architecture. r is the caller's to release.
 */
int copa_rpmrepo_configured(struct copa_view *view, const char *os_id, const char *version_id,
                            const char *arch, struct copa_rpm_repos *r, bool *defaults,
                            struct copa_out *out, struct copa_err *err);

/*
 * The first mirror of a mirrorlist (n bytes of text: one URL a line, blank
 * lines and '#' comments skipped, as dnf reads it) that is an http(s) URL
 * without blanks or control characters; *url is malloc'd. COPA_E_INPUT when
 * there is none.
 */
int copa_rpm_mirrorlist_first(const char *text, size_t n, char **url, struct copa_err *err);

#endif

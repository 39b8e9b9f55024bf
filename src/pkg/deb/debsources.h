/*
 * debsources.h: the APT repositories of a Debian or Ubuntu image.
 *
 * Owns parsing of the one-line format (sources.list, sources.list.d/NAME.list)
 * and the deb822 format (sources.list.d/NAME.sources), the official
 * repositories of a release for images that carry no sources (distroless,
 * slimmed), and the user's overrides (--repo entries, mirror rewrites).
 *
 * One copa_deb_source is one (URI, suite) pair, as apt expands a deb822
 * entry with several URIs and Suites. deb-src entries and disabled entries
 * are dropped while parsing. Sources text is image content: every field is
 * validated (a URI has a scheme, no control characters, components are plain
 * words), counts and sizes are capped, and nothing in it reaches a shell.
 * Single-threaded; the trust fields are filled in by the probe
 * (pkg/deb/probe_repo.h) and read by the fetcher (repo/debrepo.h).
 */
#ifndef COPA_PKG_DEB_DEBSOURCES_H
#define COPA_PKG_DEB_DEBSOURCES_H

#include "layer/view.h"
#include "pkg/osrelease.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

#define COPA_DEB_SOURCES_MAX       1000       /* repositories in one image */
#define COPA_DEB_SOURCES_FILE_MAX  (1u << 20) /* one sources file */
#define COPA_DEB_SOURCES_FILES_MAX 500        /* files in sources.list.d */

struct copa_deb_source {
	char *uri;   /* base URI without trailing slash ("http://deb.debian.org/debian") */
	char *suite; /* "bookworm"; a flat repository's path ends in '/' ("./") */
	bool flat;
	char **components;   /* NULL-terminated; empty for flat repositories */
	char **archs;        /* arch= / Architectures: NULL-terminated, or NULL: the image's */
	char **signed_by;    /* Signed-By key files and fingerprints, NULL-terminated, or NULL */
	char *signed_by_key; /* inline armoured key block of a deb822 Signed-By, or NULL */
	bool trusted; /* trusted=yes: no signature check (refused unless the user allows it) */
	int check_valid_until; /* -1 not set (yes), 0 no, 1 yes */
	char *fallback_uri;    /* tried when uri does not have the suite (an EOL release moved to an
	                          archive) */
	char *where; /* for messages: "etc/apt/sources.list:3", "--repo", "default for debian 12" */
	bool user;   /* from --repo: Signed-By paths are host paths, not image paths */
	/* Trust, resolved by the probe before fetching. */
	struct copa_buf keyring; /* binary OpenPGP public keys (dearmoured, concatenated) */
	char *
	    *fingerprints; /* the signer must be one of these (Signed-By fingerprints); NULL: any */
	char *keyring_desc; /* where the keys came from, for messages */
};

struct copa_deb_sources {
	struct copa_deb_source *v;
	size_t n, cap;
};

void copa_deb_sources_release(struct copa_deb_sources *s);

/*
 * Parses one-line sources text (n bytes) from `file` (named in messages and
 * in each source's `where`) and appends its deb entries to s. A malformed
 * line is an error naming file and line. Entry types other than deb and
 * deb-src are warned about through out and skipped.
 */
int copa_deb_sources_parse_list(struct copa_deb_sources *s, const char *text, size_t n,
                                const char *file, struct copa_out *out, struct copa_err *err);

/* Parses deb822 sources text (a .sources file); as above. */
int copa_deb_sources_parse_deb822(struct copa_deb_sources *s, const char *text, size_t n,
                                  const char *file, struct copa_out *out, struct copa_err *err);

/*
 * Parses one repository given by the user (--repo): a one-line sources entry
 * "deb [signed-by=/k.gpg] http://mirror/debian bookworm main" (the leading
 * "deb" may be omitted). The source is marked `user` (its Signed-By files
 * are read from the host). COPA_E_USAGE on malformed input.
 */
int copa_deb_sources_add_user(struct copa_deb_sources *s, const char *entry, struct copa_err *err);

/*
 * Reads the image's sources: etc/apt/sources.list, then the *.list and
 * *.sources files of etc/apt/sources.list.d in name order (apt's own rules:
 * other names are ignored). Appends to s.
 */
int copa_deb_sources_read_view(struct copa_view *v, struct copa_deb_sources *s,
                               struct copa_out *out, struct copa_err *err);

/*
 * Appends the official repositories of the release an os-release names:
 * Debian (deb.debian.org: <codename>, -updates, -security; buster and older
 * with "<codename>/updates"; archive.debian.org as the fallback for
 * releases that left the mirrors) or Ubuntu (archive/security.ubuntu.com for
 * amd64 and i386, ports.ubuntu.com otherwise; old-releases.ubuntu.com as the
 * fallback). COPA_E_UNSUPPORTED for other distributions or an unknown
 * release, with a hint to use --repo.
 */
int copa_deb_sources_default(struct copa_deb_sources *s, const struct copa_osrelease *os,
                             const char *arch, struct copa_err *err);

/*
 * Rewrites the URI prefix `from` into `to` in every source (a mirror or a
 * proxy cache of the same repositories; keys stay the same). `rule` is
 * "FROM=TO". Returns the number of sources rewritten, or -1 (COPA_E_USAGE)
 * for a malformed rule.
 */
int copa_deb_sources_rewrite(struct copa_deb_sources *s, const char *rule, struct copa_err *err);

/* "uri suite" of a source, for messages (caller frees). */
char *copa_deb_source_label(const struct copa_deb_source *src);

/*
 * The URL of a file of the suite: "<uri>/dists/<suite>/<rel>", or for a flat
 * repository "<uri>/<suite><rel>". base may replace the source's uri (the
 * fallback). Caller frees.
 */
char *copa_deb_source_url(const struct copa_deb_source *src, const char *base, const char *rel);

/* True when s is an OpenPGP fingerprint as Signed-By accepts it (40 or 64 hex, optional '!'). */
bool copa_deb_is_fingerprint(const char *s);

/* Parses an APT boolean ("yes"/"no", "true"/"false", ...); -1 when it is none. */
int copa_deb_parse_bool(const char *s, size_t n);

#endif

/*
 * debrepo.h: fetching and verifying the package indexes of APT repositories.
 *
 * For every source (debsources.h) whose trust the probe resolved: fetch
 * InRelease (or Release + Release.gpg), always fresh; verify its OpenPGP
 * signature with gpgv against the source's keyring; check Date and
 * Valid-Until; then fetch Packages for each component and architecture (xz,
 * gz, zst, bz2 or plain, by-hash when the Release offers it), check its size
 * and SHA256 against the verified Release, decompress it (capped) and keep
 * it in the content-addressed cache under the digest of its uncompressed
 * content. A repository that fails any check is an error naming it, never a
 * silent fallback. Only what the signed Release lists is ever cached, so a
 * cached index is as good as a fresh one; the Release itself never is.
 *
 * Single caller thread; downloads use the shared HTTP client.
 */
#ifndef COPA_PKG_DEB_DEBREPO_H
#define COPA_PKG_DEB_DEBREPO_H

#include "util/cache.h"
#include "pkg/deb/debsources.h"
#include "util/err.h"
#include "util/hash.h"
#include "util/http.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>

#define COPA_DEB_INDEX_MAX (2ULL << 30) /* uncompressed Packages (bookworm main amd64: ~45 MB) */

struct copa_debrepo_opts {
	struct copa_http *http;   /* required */
	struct copa_cache *cache; /* required: verified indexes are kept here */
	struct copa_out *out;
	const char *native_arch; /* dpkg architecture of the image ("amd64") */
	char *const
	    *foreign_archs;  /* other dpkg architectures of the image, NULL-terminated or NULL */
	bool allow_insecure; /* honour trusted=yes (--allow-insecure-repo) */
	const char *gpgv;    /* NULL: "gpgv" from PATH */
	int64_t now;         /* seconds since the epoch; 0: the clock */
	const char *tmpdir;  /* NULL: $TMPDIR or /tmp */
};

/* One verified Packages file. */
struct copa_deb_index {
	char *repo;  /* "http://deb.debian.org/debian bookworm/main": copa_deb_pkg.repo */
	char *label; /* repo + " amd64": names the index in messages */
	char
	    *base_uri; /* where Filename paths are relative to (the source's URI or its fallback) */
	char *component; /* "" for flat repositories */
	char *arch;      /* "amd64", "all"; "" for flat repositories */
	char *path;      /* absolute path of the uncompressed Packages file in the cache */
	char digest[COPA_DIGEST_MAX]; /* sha256 of that file */
	uint64_t size;
	bool not_automatic; /* Release NotAutomatic: yes (backports, experimental) */
	bool but_automatic_upgrades;
	/* What apt pins match (apt_preferences(5) "release" o=, l=, a=, n= and "origin"); "" when
	 * absent. */
	char *rel_origin, *rel_label, *rel_suite, *rel_codename;
	char *host;
	size_t source; /* index into the sources it came from */
};

struct copa_deb_indexes {
	struct copa_deb_index *v;
	size_t n, cap;
};

void copa_deb_indexes_release(struct copa_deb_indexes *x);

/*
 * Loads every source of s into out (appending). Each source must have its
 * trust resolved (keyring/fingerprints) unless it is `trusted` and
 * o->allow_insecure is set. Errors name the repository and the file:
 * "cannot verify 'InRelease' from 'http://…/bookworm-security': signature
 * by unknown key 6ED0E7B82643E131 (add it with --keyring)" (COPA_E_VERIFY),
 * expired Valid-Until (COPA_E_VERIFY), index checksum mismatch
 * (COPA_E_VERIFY), unsupported URI scheme (COPA_E_UNSUPPORTED), network and
 * HTTP errors.
 */
int copa_debrepo_load(const struct copa_deb_sources *s, const struct copa_debrepo_opts *o,
                      struct copa_deb_indexes *out, struct copa_err *err);

/*
 * Reads a record of gpgv's good verdict on an InRelease (the cache's deb-inrelease entries, see
 * ARCHITECTURE.md "Verified InRelease"): true when rec (NUL-terminated) is exactly `expect` (the
 * lines naming the InRelease, keys, signers and copa's reading of the message, as copa writes
 * them) followed by "signer <uppercase hex>", "verified <seconds>" and "check <sha256 of all
 * the lines before it>", each on its own line; signer and *when receive the values. Pure.
 */
bool copa_debrepo_verified_parse(const char *rec, const char *expect, char signer[72],
                                 int64_t *when);

/*
 * Decompresses an index file (xz, gzip, zstd, bzip2, lzma or plain, told by
 * its content) from in_fd into out_fd, refusing more than max bytes, and
 * returns the sha256 of the output in hex and its size. `what` names it.
 */
int copa_debrepo_decompress(int in_fd, int out_fd, uint64_t max, const char *what,
                            char hex[COPA_HASH_HEX_MAX], uint64_t *size, struct copa_err *err);

#endif

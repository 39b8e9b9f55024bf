/*
 * fetch.h: downloading the packages a plan chose, for every family.
 *
 * Packages are fetched in parallel by a small pool of threads sharing one
 * HTTP client (copa_http is thread-safe), each verified against the size and
 * digest of the signed index while it streams, and stored in the
 * content-addressed cache under that digest, so a second run downloads
 * nothing. A package already in the cache is re-hashed before use.
 *
 * With a prepare callback (the family's pm prepare operation, e.g. the
 * Debian data.tar decompression), each worker also runs it right after
 * fetching a package, so that costly work runs in parallel instead of inside
 * the sequential applier; at most one prepare per CPU runs at once (memory,
 * not just time). A failed prepare is not an error: the applier reads the
 * package itself and reports what is wrong with it.
 *
 * Without keep_going, the first failure stops the remaining downloads and
 * names the package; with it (--ignore-errors), a package that fails is
 * reported by copa_pkg_fetch_wait and the others still arrive.
 */
#ifndef COPA_PKG_FETCH_H
#define COPA_PKG_FETCH_H

#include "pkg/pm.h"
#include "util/cache.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest package fetched when the caller sets no cap: 8 GiB (what one .deb member may hold).
 */
#define COPA_PKG_MAX_SIZE (8ULL << 30)

struct copa_pkg_fetch_opts {
	struct copa_http *http;   /* required */
	struct copa_cache *cache; /* required */
	struct copa_out *out;
	unsigned jobs;      /* parallel downloads; 0: 4 */
	uint64_t max_size;  /* 0: COPA_PKG_MAX_SIZE */
	const char *suffix; /* names packages in messages: name_version_arch<suffix>; NULL: "" */
	bool keep_going;    /* a failed package does not stop the others */
	/*
	 * Verifies a downloaded package whose digest is empty (its index gives
	 * only an identity, copa_pm_pkg.id) before it enters the cache; the
	 * family's check operation. NULL: such a package is an error.
	 */
	int (*check)(void *ctx, size_t i, const struct copa_pm_pkg *p, const char *path,
	             struct copa_err *err);
	void *check_ctx;
	/* Run on the worker after package i was fetched (may be NULL). */
	int (*prepare)(void *ctx, size_t i, struct copa_pm_pkg *p, struct copa_err *err);
	void *prepare_ctx;
};

struct copa_pkg_fetch_stats {
	size_t downloaded; /* packages fetched from the network */
	size_t cached;     /* packages found in the cache */
	size_t failed;     /* packages that could not be fetched (keep_going) */
	uint64_t bytes;    /* bytes downloaded */
};

/*
 * Makes every package of pkgs available locally: sets local_path (malloc'd,
 * owned by the package) to its verified file in the cache. stats may be
 * NULL. Errors: COPA_E_VERIFY (size or checksum mismatch: "package
 * 'libssl3' 3.0.13-1~deb12u1 from '…': content does not match …"),
 * COPA_E_NOTFOUND, COPA_E_NET, COPA_E_HTTP, COPA_E_IO, COPA_E_LIMIT.
 */
int copa_pkg_fetch(struct copa_pm_pkg *pkgs, size_t n, const struct copa_pkg_fetch_opts *o,
                   struct copa_pkg_fetch_stats *stats, struct copa_err *err);

/*
 * The same as a pipeline: start launches the workers (in package order) and
 * returns at once; wait blocks until package i is ready (-1 with its error,
 * or without keep_going the first failure, which stops the rest); end joins
 * the workers, fills stats and returns the first failure, if any (without
 * keep_going). cancel (before end) stops the workers after the packages they
 * are on. pkgs must stay in place until end.
 */
struct copa_pkg_fetch;
struct copa_pkg_fetch *copa_pkg_fetch_start(struct copa_pm_pkg *pkgs, size_t n,
                                            const struct copa_pkg_fetch_opts *o);
int copa_pkg_fetch_wait(struct copa_pkg_fetch *f, size_t i, struct copa_err *err);
void copa_pkg_fetch_cancel(struct copa_pkg_fetch *f);
int copa_pkg_fetch_end(struct copa_pkg_fetch *f, struct copa_pkg_fetch_stats *stats,
                       struct copa_err *err);

#endif

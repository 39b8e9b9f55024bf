/*
 * fetch.h: downloading the .deb files a plan chose.
 *
 * Packages are fetched in parallel by a small pool of threads sharing one
 * HTTP client (copa_http is thread-safe), each verified against the size and
 * SHA256 of the signed index while it streams, and stored in the
 * content-addressed cache as "sha256:<hex>", so a second run downloads
 * nothing. A package already in the cache is re-hashed before use. The
 * first failure stops the remaining downloads and names the package.
 *
 * With unpack_dir, each worker also decompresses the package's data.tar
 * into that directory right after fetching it (data_tar), so the costly
 * decompression runs in parallel instead of inside the sequential applier.
 * A package that cannot be unpacked ahead is left to the applier, which
 * reads the .deb itself and reports what is wrong with it.
 */
#ifndef COPA_PKG_DEB_FETCH_H
#define COPA_PKG_DEB_FETCH_H

#include "util/cache.h"
#include "pkg/deb/deb.h"
#include "pkg/deb/debfile.h"
#include "util/err.h"
#include "util/http.h"
#include "util/log.h"

#include <stddef.h>
#include <stdint.h>

/* The largest package fetched: what one .deb member may hold (debfile.h). */
#define COPA_DEB_MAX_SIZE (8ULL << 30)

struct copa_deb_fetch_opts {
	struct copa_http *http;   /* required */
	struct copa_cache *cache; /* required */
	struct copa_out *out;
	unsigned jobs;            /* parallel downloads; 0: 4 */
	const char *unpack_dir;   /* where to decompress data.tar ahead; NULL: do not */
	struct copa_debfile_limits limits; /* for unpacking ahead */
};

struct copa_deb_fetch_stats {
	size_t downloaded;  /* packages fetched from the network */
	size_t cached;      /* packages found in the cache */
	uint64_t bytes;     /* bytes downloaded */
};

/*
 * Makes every package of pkgs available locally: sets deb_path (malloc'd,
 * owned by the package) to its verified file in the cache. stats may be
 * NULL. Errors: COPA_E_VERIFY (size or checksum mismatch: "package
 * 'libssl3' 3.0.13-1~deb12u1 from '…': content does not match …"),
 * COPA_E_NOTFOUND, COPA_E_NET, COPA_E_HTTP, COPA_E_IO.
 */
int copa_deb_fetch(struct copa_deb_pkg *pkgs, size_t n, const struct copa_deb_fetch_opts *o,
		   struct copa_deb_fetch_stats *stats, struct copa_err *err);

/*
 * The same as a pipeline: start launches the workers (in package order) and
 * returns at once; wait blocks until package i is ready (-1 with the first
 * failure, which stops the rest); end joins the workers, fills stats and
 * returns that failure, if any. cancel (before end) stops the workers after
 * the packages they are on. pkgs must stay in place until end.
 */
struct copa_deb_fetch;
struct copa_deb_fetch *copa_deb_fetch_start(struct copa_deb_pkg *pkgs, size_t n,
					    const struct copa_deb_fetch_opts *o);
int copa_deb_fetch_wait(struct copa_deb_fetch *f, size_t i, struct copa_err *err);
void copa_deb_fetch_cancel(struct copa_deb_fetch *f);
int copa_deb_fetch_end(struct copa_deb_fetch *f, struct copa_deb_fetch_stats *stats,
		       struct copa_err *err);

#endif

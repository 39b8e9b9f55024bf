#include "pkg/fetch.h"

#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Cache namespace: identity (pm.h copa_pm_pkg.id) -> digest of the verified package. */
#define NS_PKG_ID "pkg-id"

struct pool {
	struct copa_pm_pkg *pkgs;
	size_t n;
	const struct copa_pkg_fetch_opts *o;
	atomic_size_t next;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards err, stats, done and failed */
	pthread_cond_t changed;
	struct copa_err err;
	struct copa_pkg_fetch_stats stats;
	bool *done;            /* done[i]: package i is ready, or failed (errs[i] set) */
	struct copa_err *errs; /* keep_going: why package i failed */
	bool failed;
	sem_t unpack_slots; /* prepares at once: one per CPU (memory, not just time) */
};

struct copa_pkg_fetch {
	struct pool pl;
	struct copa_pkg_fetch_opts o;
	pthread_t th[16];
	unsigned started;
};

/* The cache key of an identity: sha256 of it (identities need not be file names). */
static void id_key(const struct copa_pkg_fetch_opts *o, const char *id, char hex[COPA_HASH_HEX_MAX])
{
	struct copa_hash h;
	const char *sfx = o->suffix ? o->suffix : "";

	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, sfx, strlen(sfx));
	copa_hash_update(&h, "\n", 1);
	copa_hash_update(&h, id, strlen(id));
	copa_hash_final_hex(&h, hex);
}

/* A package verified before: its identity's record names a blob that is still intact. */
static bool cached_by_id(const struct copa_pkg_fetch_opts *o, struct copa_pm_pkg *p,
                         const char *key)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	bool ok = false;
	int fd;

	if (copa_cache_get(o->cache, NS_PKG_ID, key, COPA_DIGEST_MAX, &b, &e2) == 1 &&
	    copa_digest_valid(copa_buf_str(&b)) &&
	    (fd = copa_cache_open_blob(o->cache, copa_buf_str(&b), true, &e2)) >= 0) {
		close(fd);
		snprintf(p->digest, sizeof(p->digest), "%s", copa_buf_str(&b));
		p->local_path = copa_cache_blob_path(o->cache, p->digest);
		ok = true;
	}
	copa_buf_release(&b);
	return ok;
}

/*
 * A package whose index gives no digest of the file (apk): downloaded, then
 * verified by the family's check, then stored content-addressed under the
 * sha256 computed here, with a record from its identity to that digest.
 */
static int fetch_by_id(struct pool *pl, size_t i, struct copa_pm_pkg *p, bool *from_cache,
                       const char *what, struct copa_err *err)
{
	const struct copa_pkg_fetch_opts *o = pl->o;
	char key[COPA_HASH_HEX_MAX], digest[COPA_DIGEST_MAX];
	struct copa_tmpfile t = {.fd = -1};
	_cleanup_free_ char *path = NULL;
	int r = -1;

	if (!p->id || !*p->id || !o->check)
		return copa_err_set(err, COPA_E_INPUT, "package '%s' %s has no valid checksum",
		                    p->name, p->version);
	id_key(o, p->id, key);
	if (cached_by_id(o, p, key)) {
		*from_cache = true;
		return 0;
	}
	*from_cache = false;
	if (copa_cache_begin(o->cache, &t, err) < 0)
		return -1;
	{
		struct copa_http_fetch f = {.url = p->url,
		                            .expect_size = p->size ? (int64_t)p->size : -1,
		                            .max_size =
		                                o->max_size ? o->max_size : COPA_PKG_MAX_SIZE,
		                            .fd = t.fd,
		                            .what = what,
		                            .cancel = &pl->stop};

		if (copa_http_fetch(o->http, &f, NULL, err) < 0) {
			copa_err_wrap(err, "package '%s' %s from '%s'", p->name, p->version,
			              p->repo);
			goto out;
		}
	}
	path = copa_xasprintf("%s/tmp/%s", o->cache->path, t.tmp);
	if (o->check(o->check_ctx, i, p, path, err) < 0)
		goto out;
	if (copa_cache_commit_blob(o->cache, &t, NULL, false, digest, err) < 0 ||
	    copa_cache_put(o->cache, NS_PKG_ID, key, digest, strlen(digest), err) < 0) {
		copa_err_wrap(err, "package '%s' %s", p->name, p->version);
		goto out;
	}
	snprintf(p->digest, sizeof(p->digest), "%s", digest);
	p->local_path = copa_cache_blob_path(o->cache, digest);
	r = 0;
out:
	copa_tmpfile_release(&t);
	return r;
}

static int fetch_one(struct pool *pl, size_t i, struct copa_pm_pkg *p, bool *from_cache,
                     struct copa_err *err)
{
	const struct copa_pkg_fetch_opts *o = pl->o;
	const char *digest = p->digest;
	uint64_t max = o->max_size ? o->max_size : COPA_PKG_MAX_SIZE;
	_cleanup_free_ char *what =
	    copa_xasprintf("%s_%s_%s%s", p->name, p->version, p->arch, o->suffix ? o->suffix : "");
	struct copa_tmpfile t = {.fd = -1};
	struct copa_err e2 = COPA_ERR_INIT;
	int fd, r = -1;

	if (*digest && !copa_digest_valid(digest))
		return copa_err_set(err, COPA_E_INPUT, "package '%s' %s has no valid checksum",
		                    p->name, p->version);
	/* A larger package than the family can read is refused before it is downloaded. */
	if (p->size > max)
		return copa_err_set(
		    err, COPA_E_LIMIT,
		    "package '%s' %s from '%s': its index declares %llu bytes, larger "
		    "than the %llu a package may have",
		    p->name, p->version, p->repo ? p->repo : "?", (unsigned long long)p->size,
		    (unsigned long long)max);
	if (!*digest)
		return fetch_by_id(pl, i, p, from_cache, what, err);
	fd = copa_cache_open_blob(o->cache, digest, true, &e2);
	if (fd >= 0) {
		close(fd);
		*from_cache = true;
		p->local_path = copa_cache_blob_path(o->cache, digest);
		return 0;
	}
	*from_cache = false;
	if (copa_cache_begin(o->cache, &t, err) < 0)
		return -1;
	{
		struct copa_http_fetch f = {
		    .url = p->url,
		    .expect_digest = digest,
		    .expect_size = (int64_t)p->size,
		    .fd = t.fd,
		    .what = what,
		    /* Another package failed: stop, do not finish a large download. */
		    .cancel = &pl->stop};

		if (copa_http_fetch(o->http, &f, NULL, err) < 0) {
			copa_err_wrap(err, "package '%s' %s from '%s'", p->name, p->version,
			              p->repo);
			goto out;
		}
	}
	if (copa_cache_commit_blob(o->cache, &t, digest, true, NULL, err) < 0) {
		copa_err_wrap(err, "package '%s' %s", p->name, p->version);
		goto out;
	}
	p->local_path = copa_cache_blob_path(o->cache, digest);
	r = 0;
out:
	copa_tmpfile_release(&t);
	return r;
}

/* Runs the family's prepare; on failure the applier reads the package itself. */
static void prepare_ahead(struct pool *pl, size_t i)
{
	const struct copa_pkg_fetch_opts *o = pl->o;
	struct copa_pm_pkg *p = &pl->pkgs[i];
	struct copa_err e = COPA_ERR_INIT;

	if (o->prepare(o->prepare_ctx, i, p, &e) < 0)
		copa_debug(o->out, "package '%s' %s: not prepared ahead: %s", p->name, p->version,
		           e.msg);
}

static void *worker(void *arg)
{
	struct pool *pl = arg;

	while (!atomic_load(&pl->stop)) {
		size_t i = atomic_fetch_add(&pl->next, 1);
		struct copa_err err = COPA_ERR_INIT;
		bool cached = false;

		if (i >= pl->n)
			break;
		if (fetch_one(pl, i, &pl->pkgs[i], &cached, &err) < 0) {
			bool keep_going = pl->o->keep_going;

			pthread_mutex_lock(&pl->lock);
			if (keep_going) {
				pl->errs[i] = err;
				pl->stats.failed++;
				pl->done[i] = true;
			} else {
				if (!copa_err_is_set(&pl->err))
					pl->err = err;
				pl->failed = true;
			}
			pthread_cond_broadcast(&pl->changed);
			pthread_mutex_unlock(&pl->lock);
			if (keep_going)
				continue;
			atomic_store(&pl->stop, true);
			break;
		}
		if (pl->o->prepare) {
			sem_wait(&pl->unpack_slots);
			prepare_ahead(pl, i);
			sem_post(&pl->unpack_slots);
		}
		pthread_mutex_lock(&pl->lock);
		if (cached) {
			pl->stats.cached++;
		} else {
			pl->stats.downloaded++;
			pl->stats.bytes += pl->pkgs[i].size;
		}
		pl->done[i] = true;
		pthread_cond_broadcast(&pl->changed);
		pthread_mutex_unlock(&pl->lock);
	}
	return NULL;
}

struct copa_pkg_fetch *copa_pkg_fetch_start(struct copa_pm_pkg *pkgs, size_t n,
                                            const struct copa_pkg_fetch_opts *o)
{
	struct copa_pkg_fetch *f = copa_xcalloc(1, sizeof(*f));
	struct pool *pl = &f->pl;
	unsigned jobs = o->jobs ? o->jobs : 4;

	if (!o->http || !o->cache)
		COPA_BUG("copa_pkg_fetch needs http and cache");
	f->o = *o;
	pl->pkgs = pkgs;
	pl->n = n;
	pl->o = &f->o;
	pl->done = copa_xcalloc(n + 1, sizeof(*pl->done));
	pl->errs = copa_xcalloc(n + 1, sizeof(*pl->errs));
	if (jobs > COPA_ARRAY_SIZE(f->th))
		jobs = COPA_ARRAY_SIZE(f->th);
	if (jobs > n)
		jobs = (unsigned)n;
	atomic_init(&pl->next, 0);
	atomic_init(&pl->stop, false);
	pthread_mutex_init(&pl->lock, NULL);
	pthread_cond_init(&pl->changed, NULL);
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		sem_init(&pl->unpack_slots, 0, cpus < 1 ? 1 : cpus > 16 ? 16 : (unsigned)cpus);
	}
	for (unsigned i = 0; i < jobs; i++) {
		if (pthread_create(&f->th[i], NULL, worker, pl) != 0)
			break;
		f->started++;
	}
	/* Without any thread (resource exhaustion), work on this one. */
	if (!f->started && n)
		worker(pl);
	return f;
}

int copa_pkg_fetch_wait(struct copa_pkg_fetch *f, size_t i, struct copa_err *err)
{
	struct pool *pl = &f->pl;
	int r = 0;

	if (i >= pl->n)
		COPA_BUG("copa_pkg_fetch_wait past the last package");
	pthread_mutex_lock(&pl->lock);
	while (!pl->done[i] && !pl->failed)
		pthread_cond_wait(&pl->changed, &pl->lock);
	if (pl->failed) {
		*err = pl->err;
		r = -1;
	} else if (copa_err_is_set(&pl->errs[i])) {
		*err = pl->errs[i];
		r = -1;
	}
	pthread_mutex_unlock(&pl->lock);
	return r;
}

void copa_pkg_fetch_cancel(struct copa_pkg_fetch *f)
{
	atomic_store(&f->pl.stop, true);
}

int copa_pkg_fetch_end(struct copa_pkg_fetch *f, struct copa_pkg_fetch_stats *stats,
                       struct copa_err *err)
{
	struct pool *pl;
	int r = 0;

	if (!f)
		return 0;
	pl = &f->pl;
	for (unsigned i = 0; i < f->started; i++)
		pthread_join(f->th[i], NULL);
	if (stats)
		*stats = pl->stats;
	if (copa_err_is_set(&pl->err)) {
		if (err)
			*err = pl->err;
		r = -1;
	} else if (!atomic_load(&pl->stop)) {
		copa_info(pl->o->out, "packages: %zu downloaded (%llu bytes), %zu from the cache",
		          pl->stats.downloaded, (unsigned long long)pl->stats.bytes,
		          pl->stats.cached);
	}
	pthread_cond_destroy(&pl->changed);
	pthread_mutex_destroy(&pl->lock);
	sem_destroy(&pl->unpack_slots);
	free(pl->done);
	free(pl->errs);
	free(f);
	return r;
}

int copa_pkg_fetch(struct copa_pm_pkg *pkgs, size_t n, const struct copa_pkg_fetch_opts *o,
                   struct copa_pkg_fetch_stats *stats, struct copa_err *err)
{
	return copa_pkg_fetch_end(copa_pkg_fetch_start(pkgs, n, o), stats, err);
}

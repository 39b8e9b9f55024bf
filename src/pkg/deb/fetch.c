#include "pkg/deb/fetch.h"

#include "util/fs.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

struct pool {
	struct copa_deb_pkg *pkgs;
	size_t n;
	const struct copa_deb_fetch_opts *o;
	atomic_size_t next;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards err and stats */
	struct copa_err err;
	struct copa_deb_fetch_stats stats;
};

static int fetch_one(struct pool *pl, struct copa_deb_pkg *p, bool *from_cache,
		     struct copa_err *err)
{
	const struct copa_deb_fetch_opts *o = pl->o;
	_cleanup_free_ char *digest = copa_xasprintf("sha256:%s", p->sha256);
	_cleanup_free_ char *what = copa_xasprintf("%s_%s_%s.deb", p->name, p->version, p->arch);
	struct copa_tmpfile t = {.fd = -1};
	struct copa_err e2 = COPA_ERR_INIT;
	int fd, r = -1;

	if (!copa_digest_valid(digest) || p->size > (1ULL << 40))
		return copa_err_set(err, COPA_E_INPUT, "package '%s' %s has no valid checksum",
				    p->name, p->version);
	fd = copa_cache_open_blob(o->cache, digest, true, &e2);
	if (fd >= 0) {
		close(fd);
		*from_cache = true;
		p->deb_path = copa_cache_blob_path(o->cache, digest);
		return 0;
	}
	*from_cache = false;
	if (copa_cache_begin(o->cache, &t, err) < 0)
		return -1;
	{
		struct copa_http_fetch f = {.url = p->url, .expect_digest = digest,
					    .expect_size = (int64_t)p->size, .fd = t.fd, .what = what};

		if (copa_http_fetch(o->http, &f, NULL, err) < 0) {
			copa_err_wrap(err, "package '%s' %s from '%s'", p->name, p->version, p->repo);
			goto out;
		}
	}
	if (copa_cache_commit_blob(o->cache, &t, digest, true, NULL, err) < 0)
		goto out;
	p->deb_path = copa_cache_blob_path(o->cache, digest);
	r = 0;
out:
	copa_tmpfile_release(&t);
	return r;
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
		if (fetch_one(pl, &pl->pkgs[i], &cached, &err) < 0) {
			pthread_mutex_lock(&pl->lock);
			if (!copa_err_is_set(&pl->err))
				pl->err = err;
			pthread_mutex_unlock(&pl->lock);
			atomic_store(&pl->stop, true);
			break;
		}
		pthread_mutex_lock(&pl->lock);
		if (cached) {
			pl->stats.cached++;
		} else {
			pl->stats.downloaded++;
			pl->stats.bytes += pl->pkgs[i].size;
		}
		pthread_mutex_unlock(&pl->lock);
	}
	return NULL;
}

int copa_deb_fetch(struct copa_deb_pkg *pkgs, size_t n, const struct copa_deb_fetch_opts *o,
		   struct copa_deb_fetch_stats *stats, struct copa_err *err)
{
	struct pool pl = {.pkgs = pkgs, .n = n, .o = o};
	unsigned jobs = o->jobs ? o->jobs : 4;
	pthread_t th[16];
	unsigned started = 0;

	if (!o->http || !o->cache)
		COPA_BUG("copa_deb_fetch needs http and cache");
	if (jobs > COPA_ARRAY_SIZE(th))
		jobs = COPA_ARRAY_SIZE(th);
	if (jobs > n)
		jobs = (unsigned)n;
	atomic_init(&pl.next, 0);
	atomic_init(&pl.stop, false);
	pthread_mutex_init(&pl.lock, NULL);
	for (unsigned i = 0; i < jobs; i++) {
		if (pthread_create(&th[i], NULL, worker, &pl) != 0)
			break;
		started++;
	}
	/* Without any thread (resource exhaustion), work on this one. */
	if (!started && n)
		worker(&pl);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pl.lock);
	if (stats)
		*stats = pl.stats;
	if (copa_err_is_set(&pl.err)) {
		*err = pl.err;
		return -1;
	}
	copa_info(o->out, "packages: %zu downloaded (%llu bytes), %zu from the cache",
		  pl.stats.downloaded, (unsigned long long)pl.stats.bytes, pl.stats.cached);
	return 0;
}

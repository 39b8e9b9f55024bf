/*
 * regimage.c: the registry transport (bare references and docker://) as an
 * image source and destination, on top of registry.h.
 *
 * One client per source or destination, created on first use and shared by
 * the parallel blob transfers of image.c (registry.h documents the client as
 * safe to use from several threads), so the token is fetched once.
 */
#include "image/internal.h"
#include "registry/registry.h"

#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct reg_pool {
	struct copa_registry_opts ropts;
	char *host, *repo;
	pthread_mutex_t lock;
	struct copa_registry *client; /* created on first use; thread-safe (registry.h) */
};

static void pool_init(struct reg_pool *p, const struct copa_image_opts *opts, const char *host,
                      const char *repo)
{
	if (opts->registry)
		p->ropts = *opts->registry;
	p->ropts.http = opts->http;
	p->ropts.out = opts->out;
	p->host = copa_xstrdup(host);
	p->repo = copa_xstrdup(repo);
	pthread_mutex_init(&p->lock, NULL);
}

/* The shared client (borrowed), created on first use. */
static struct copa_registry *pool_get(struct reg_pool *p, struct copa_err *err)
{
	struct copa_registry *r;

	pthread_mutex_lock(&p->lock);
	if (!p->client && p->ropts.http)
		p->client = copa_registry_new(&p->ropts, p->host, p->repo, err);
	else if (!p->ropts.http)
		copa_err_set(err, COPA_E_BUG, "registry transport used without an HTTP client");
	r = p->client;
	pthread_mutex_unlock(&p->lock);
	return r;
}

static void pool_put(struct reg_pool *p, struct copa_registry *r)
{
	(void)p;
	(void)r;
}

static void pool_release(struct reg_pool *p)
{
	copa_registry_free(p->client);
	free(p->host);
	free(p->repo);
	pthread_mutex_destroy(&p->lock);
}

/* ---- source ---- */

static int reg_get_doc(struct copa_image_src *s, const struct copa_desc *d, struct copa_buf *out,
                       struct copa_err *err)
{
	struct reg_pool *p = s->impl;
	struct copa_registry *r = pool_get(p, err);
	char digest[COPA_DIGEST_MAX];
	char *mt = NULL;
	int ret;

	if (!r)
		return -1;
	copa_buf_init(out, COPA_OCI_MAX_MANIFEST);
	ret = copa_registry_get_manifest(r, d->digest, out, &mt, digest, err);
	free(mt);
	pool_put(p, r);
	return ret;
}

static int reg_write_blob(struct copa_image_src *s, const struct copa_desc *d, int fd,
                          struct copa_err *err)
{
	struct reg_pool *p = s->impl;
	struct copa_registry *r = pool_get(p, err);
	int ret;

	if (!r)
		return -1;
	ret = copa_registry_get_blob(r, d->digest, d->size, fd, err);
	pool_put(p, r);
	if (ret < 0 && err->code == COPA_E_NOTFOUND && d->mt.foreign)
		copa_err_wrap(err,
		              "foreign layer %s is not in the registry (copa does not fetch "
		              "non-distributable layers from their urls)",
		              d->digest);
	return ret;
}

static char *reg_blob_path(struct copa_image_src *s, const struct copa_desc *d,
                           struct copa_err *err)
{
	const struct copa_cache *cache = s->opts.cache;
	struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
	int fd;

	if (copa_src_is_verified(s, d->digest))
		return copa_cache_blob_path(cache, d->digest);
	fd = copa_cache_open_blob(cache, d->digest, true, err);
	if (fd >= 0) {
		close(fd);
		copa_src_mark_verified(s, d->digest);
		return copa_cache_blob_path(cache, d->digest);
	}
	copa_err_clear(err);
	if (copa_cache_begin(cache, &t, err) < 0)
		return NULL;
	if (reg_write_blob(s, d, t.fd, err) < 0 ||
	    copa_cache_commit_blob(cache, &t, d->digest, true, NULL, err) < 0) {
		copa_tmpfile_release(&t);
		return NULL;
	}
	copa_tmpfile_release(&t);
	copa_src_mark_verified(s, d->digest);
	return copa_cache_blob_path(cache, d->digest);
}

static void reg_src_free(struct copa_image_src *s)
{
	if (!s->impl)
		return;
	pool_release(s->impl);
	free(s->impl);
}

static const struct src_ops reg_src_ops = {
    .get_doc = reg_get_doc,
    .write_blob = reg_write_blob,
    .blob_path = reg_blob_path,
    .free = reg_src_free,
};

int copa_src_registry_open(struct copa_image_src *s, struct copa_err *err)
{
	struct reg_pool *p = copa_xcalloc(1, sizeof(*p));
	struct copa_registry *r;
	struct copa_buf body = COPA_BUF_INIT;
	char digest[COPA_DIGEST_MAX];
	char *mt = NULL;
	int ret;

	pool_init(p, &s->opts, s->ref.ref.domain, s->ref.ref.path);
	s->impl = p;
	s->ops = &reg_src_ops;
	r = pool_get(p, err);
	if (!r)
		return copa_err_wrap(err, "%s", s->what);
	copa_buf_init(&body, COPA_OCI_MAX_MANIFEST);
	ret = copa_registry_get_manifest(r, copa_ref_lookup(&s->ref.ref), &body, &mt, digest, err);
	pool_put(p, r);
	if (ret < 0) {
		copa_buf_release(&body);
		free(mt);
		return copa_err_wrap(err, "%s", s->what);
	}
	ret = copa_src_set_root(s, NULL, mt, body.p, body.len, err);
	if (ret == 0 && s->ref.ref.digest && strcmp(s->root.desc.digest, s->ref.ref.digest))
		ret = copa_err_set(err, COPA_E_VERIFY, "%s: the registry sent manifest %s", s->what,
		                   s->root.desc.digest);
	copa_buf_release(&body);
	free(mt);
	return ret;
}

bool copa_src_registry_where(const struct copa_image_src *s, const char **host, const char **repo)
{
	if (s->ref.transport != COPA_TRANSPORT_REGISTRY || !s->impl)
		return false;
	*host = s->ref.ref.domain;
	*repo = s->ref.ref.path;
	return true;
}

/* ---- destination ---- */

static int reg_has_blob(struct copa_image_dst *d, const struct copa_desc *desc, bool *has,
                        struct copa_err *err)
{
	struct reg_pool *p = d->impl;
	struct copa_registry *r;
	int ret;

	if (desc->mt.foreign) {
		*has = true; /* never pushed: the descriptor keeps its urls */
		return 0;
	}
	r = pool_get(p, err);
	if (!r)
		return -1;
	ret = copa_registry_blob_exists(r, desc->digest, has, err);
	pool_put(p, r);
	return ret;
}

static int reg_mount_blob(struct copa_image_dst *d, const struct copa_desc *desc,
                          const char *from_repo, bool *mounted, struct copa_err *err)
{
	struct reg_pool *p = d->impl;
	struct copa_registry *r = pool_get(p, err);
	int ret;

	if (!r)
		return -1;
	ret = copa_registry_mount_blob(r, desc->digest, from_repo, mounted, err);
	pool_put(p, r);
	return ret;
}

static int reg_put_blob(struct copa_image_dst *d, const struct copa_desc *desc, int fd,
                        struct copa_err *err)
{
	struct reg_pool *p = d->impl;
	struct copa_registry *r;
	int ret;

	if (desc->mt.foreign)
		return 0;
	r = pool_get(p, err);
	if (!r)
		return -1;
	ret = copa_registry_put_blob(r, desc->digest, (uint64_t)desc->size, fd, err);
	pool_put(p, r);
	return ret;
}

static int reg_put_manifest_ref(struct copa_image_dst *d, const char *ref,
                                const struct copa_desc *desc, const void *raw, size_t n,
                                struct copa_err *err)
{
	struct reg_pool *p = d->impl;
	struct copa_registry *r = pool_get(p, err);
	char digest[COPA_DIGEST_MAX];
	int ret;

	if (!r)
		return -1;
	ret = copa_registry_put_manifest(r, ref, desc->media_type, raw, n, digest, err);
	pool_put(p, r);
	return ret;
}

static int reg_put_manifest(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                            size_t n, struct copa_err *err)
{
	return reg_put_manifest_ref(d, desc->digest, desc, raw, n, err);
}

static int reg_commit(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                      size_t n, struct copa_err *err)
{
	const struct copa_ref *ref = &d->ref.ref;

	if (ref->digest && strcmp(ref->digest, desc->digest))
		return copa_err_set(err, COPA_E_USAGE,
		                    "the destination names digest %s but the image is %s",
		                    ref->digest, desc->digest);
	if (ref->tag && ref->digest && reg_put_manifest_ref(d, desc->digest, desc, raw, n, err) < 0)
		return -1;
	return reg_put_manifest_ref(d, ref->tag ? ref->tag : desc->digest, desc, raw, n, err);
}

static void reg_dst_free(struct copa_image_dst *d)
{
	if (!d->impl)
		return;
	pool_release(d->impl);
	free(d->impl);
}

static const struct dst_ops reg_dst_ops = {
    .has_blob = reg_has_blob,
    .put_blob = reg_put_blob,
    .mount_blob = reg_mount_blob,
    .put_manifest = reg_put_manifest,
    .commit = reg_commit,
    .free = reg_dst_free,
    .single = false,
    .family = -1,
};

int copa_dst_registry_open(struct copa_image_dst *d, struct copa_err *err)
{
	struct reg_pool *p = copa_xcalloc(1, sizeof(*p));

	pool_init(p, &d->opts, d->ref.ref.domain, d->ref.ref.path);
	d->impl = p;
	d->ops = &reg_dst_ops;
	if (!d->opts.http)
		return copa_err_set(err, COPA_E_BUG, "registry destination without an HTTP client");
	return 0;
}

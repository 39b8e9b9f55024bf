/* image.c: transport-independent parts of image.h: roots, platforms, loading, copying. */
#include "image/internal.h"

#include "util/runctl.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers shared by the transports ---- */

int copa_verify_bytes(const struct copa_desc *d, const void *data, size_t n, const char *what,
                      struct copa_err *err)
{
	char got[COPA_DIGEST_MAX];
	enum copa_hash_alg alg;
	char hex[COPA_HASH_HEX_MAX];

	if (d->size >= 0 && (uint64_t)d->size != n)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "%s %s: size is %zu bytes, the descriptor says %lld", what,
		                    d->digest, n, (long long)d->size);
	if (!copa_digest_parse(d->digest, &alg, NULL))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid digest '%s'", what, d->digest);
	copa_hash_hex(alg, data, n, hex);
	snprintf(got, sizeof(got), "%s:%s", copa_hash_name(alg), hex);
	if (strcmp(got, d->digest))
		return copa_err_set(err, COPA_E_VERIFY,
		                    "%s %s: content does not match its digest (got %s)", what,
		                    d->digest, got);
	return 0;
}

bool copa_src_is_verified(struct copa_image_src *s, const char *digest)
{
	bool found = false;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_verified && !found; i++)
		found = !strcmp(s->verified[i], digest);
	pthread_mutex_unlock(&s->lock);
	return found;
}

void copa_src_mark_verified(struct copa_image_src *s, const char *digest)
{
	pthread_mutex_lock(&s->lock);
	s->verified = copa_xgrow(s->verified, &s->cap_verified, s->n_verified + 1, sizeof(char *));
	s->verified[s->n_verified++] = copa_xstrdup(digest);
	pthread_mutex_unlock(&s->lock);
}

int copa_copy_verified(int fd, int out_fd, const struct copa_desc *desc, const char *what,
                       struct copa_err *err)
{
	enum copa_hash_alg alg;
	struct copa_hash h;
	char hex[COPA_HASH_HEX_MAX], got[COPA_DIGEST_MAX];
	uint64_t total = 0, off = 0;
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = copa_xmalloc(chunk);

	if (!copa_digest_parse(desc->digest, &alg, NULL))
		return copa_err_set(err, COPA_E_INPUT, "%s: invalid digest '%s'", what,
		                    desc->digest);
	copa_hash_init(&h, alg);
	for (;;) {
		ssize_t n;

		if (copa_runctl_check(err) < 0) {
			copa_hash_release(&h);
			return -1;
		}
		n = pread(fd, buf, chunk, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			copa_hash_release(&h);
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read %s %s", what,
			                    desc->digest);
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		copa_hash_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
		if (out_fd >= 0 && copa_fs_write_all(out_fd, buf, (size_t)n, err) < 0) {
			copa_hash_release(&h);
			return copa_err_wrap(err, "cannot write %s %s", what, desc->digest);
		}
		if (desc->size >= 0 && total > (uint64_t)desc->size)
			break;
	}
	copa_hash_final_hex(&h, hex);
	if (desc->size >= 0 && total != (uint64_t)desc->size)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "%s %s: size is %s%llu bytes, the descriptor says %lld", what,
		                    desc->digest, total > (uint64_t)desc->size ? "more than " : "",
		                    (unsigned long long)total, (long long)desc->size);
	snprintf(got, sizeof(got), "%s:%s", copa_hash_name(alg), hex);
	if (strcmp(got, desc->digest))
		return copa_err_set(err, COPA_E_VERIFY,
		                    "%s %s: content does not match its digest (got %s)", what,
		                    desc->digest, got);
	return 0;
}

int copa_verify_file(int dirfd, const char *path, const struct copa_desc *desc, const char *what,
                     struct copa_err *err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return copa_err_set(err, COPA_E_NOTFOUND, "%s %s: blob is missing", what,
			                    desc->digest);
		return copa_err_sys(err, COPA_E_IO, errno, "%s %s: cannot open blob", what,
		                    desc->digest);
	}
	return copa_copy_verified(fd, -1, desc, what, err);
}

int copa_dst_end_blob_commit(struct copa_image_dst *d, const struct copa_desc *desc,
                             struct copa_tmpfile *t, struct copa_err *err)
{
	(void)d;
	(void)desc;
	return copa_tmpfile_commit(t, false, err);
}

int copa_dst_put_blob_staged(struct copa_image_dst *d, const struct copa_desc *desc, int fd,
                             struct copa_err *err)
{
	struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
	int r = d->ops->begin_blob(d, desc, &t, err);

	if (r == 0)
		r = copa_copy_verified(fd, t.fd, desc, "blob", err);
	if (r == 0)
		r = d->ops->end_blob(d, desc, &t, err);
	copa_tmpfile_release(&t);
	return r;
}

/* ---- sources ---- */

static void root_release(struct copa_image_root *r)
{
	copa_desc_release(&r->desc);
	copa_index_release(&r->index);
	copa_manifest_release(&r->manifest);
}

int copa_src_set_root(struct copa_image_src *s, const struct copa_desc *desc,
                      const char *media_type, const void *raw, size_t n, struct copa_err *err)
{
	int kind;
	const char *mt;
	_cleanup_free_ char *what = NULL;

	if (desc && copa_verify_bytes(desc, raw, n, "manifest", err) < 0)
		return copa_err_wrap(err, "%s", s->what);
	mt = desc ? desc->media_type : media_type;
	what =
	    desc ? copa_xasprintf("%s: manifest %s", s->what, desc->digest) : copa_xstrdup(s->what);
	kind = copa_oci_sniff(raw, n, mt, what, err);
	if (kind < 0)
		return -1;
	if (copa_mt_classify(mt).kind != (enum copa_mt_kind)kind)
		mt = NULL;
	s->root.kind = (enum copa_mt_kind)kind;
	if (kind == COPA_MT_INDEX) {
		if (copa_index_parse(raw, n, mt, what, &s->root.index, err) < 0)
			return -1;
		mt = s->root.index.media_type;
	} else {
		if (copa_manifest_parse(raw, n, mt, what, &s->root.manifest, err) < 0)
			return -1;
		mt = s->root.manifest.media_type;
	}
	if (desc) {
		copa_desc_copy(&s->root.desc, desc);
	} else {
		char digest[COPA_DIGEST_MAX];

		copa_sha256_digest(raw, n, digest);
		copa_desc_make(&s->root.desc, mt, digest, (int64_t)n, NULL);
	}
	return 0;
}

struct copa_image_src *copa_image_src_open(const struct copa_image_ref *ref,
                                           const struct copa_image_opts *opts, struct copa_err *err)
{
	struct copa_image_src *s = copa_xcalloc(1, sizeof(*s));
	_cleanup_free_ char *text = copa_image_ref_string(ref);
	int r = -1;

	pthread_mutex_init(&s->lock, NULL);
	s->opts = *opts;
	copa_image_ref_copy(&s->ref, ref);
	s->what = copa_xasprintf("image '%s'", text);
	if (!opts->cache) {
		copa_err_set(err, COPA_E_BUG, "image source opened without a cache");
		copa_image_src_free(s);
		return NULL;
	}
	switch (ref->transport) {
	case COPA_TRANSPORT_OCI:
		r = copa_src_layout_open(s, err);
		break;
	case COPA_TRANSPORT_OCI_ARCHIVE:
		r = copa_src_oci_archive_open(s, err);
		break;
	case COPA_TRANSPORT_DOCKER_ARCHIVE:
		r = copa_src_docker_archive_open(s, err);
		break;
	case COPA_TRANSPORT_REGISTRY:
		r = copa_src_registry_open(s, err);
		break;
	}
	if (r < 0) {
		copa_image_src_free(s);
		return NULL;
	}
	return s;
}

void copa_image_src_free(struct copa_image_src *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->free)
		s->ops->free(s);
	root_release(&s->root);
	copa_image_ref_release(&s->ref);
	for (size_t i = 0; i < s->n_verified; i++)
		free(s->verified[i]);
	free(s->verified);
	pthread_mutex_destroy(&s->lock);
	free(s->what);
	free(s->repo_tag);
	free(s);
}

const struct copa_image_root *copa_image_src_root(const struct copa_image_src *s)
{
	return &s->root;
}

const struct copa_image_ref *copa_image_src_ref(const struct copa_image_src *s)
{
	return &s->ref;
}

const char *copa_image_src_repo_tag(const struct copa_image_src *s)
{
	return s->repo_tag;
}

int copa_image_src_get_doc(struct copa_image_src *s, const struct copa_desc *d,
                           struct copa_buf *out, struct copa_err *err)
{
	if (d->size > (int64_t)COPA_OCI_MAX_MANIFEST)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: manifest %s is %lld bytes, more than the limit of %u",
		                    s->what, d->digest, (long long)d->size, COPA_OCI_MAX_MANIFEST);
	copa_buf_reset(out);
	if (s->ops->get_doc(s, d, out, err) < 0)
		return copa_err_wrap(err, "%s", s->what);
	if (copa_verify_bytes(d, out->p, out->len, "manifest", err) < 0)
		return copa_err_wrap(err, "%s", s->what);
	return 0;
}

char *copa_image_src_blob_path(struct copa_image_src *s, const struct copa_desc *d,
                               struct copa_err *err)
{
	char *p = s->ops->blob_path(s, d, err);

	if (!p)
		copa_err_wrap(err, "%s", s->what);
	return p;
}

void copa_image_platforms_free(struct copa_image_platform *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		copa_desc_release(&v[i].desc);
	free(v);
}

struct plist {
	struct copa_image_platform *v;
	size_t n, cap;
};

static int collect_platforms(struct copa_image_src *s, const struct copa_index *ix, size_t top,
                             int depth, struct plist *l, struct copa_err *err)
{
	if (depth > COPA_OCI_MAX_INDEX_DEPTH)
		return copa_err_set(err, COPA_E_LIMIT, "%s: indexes nested deeper than %d levels",
		                    s->what, COPA_OCI_MAX_INDEX_DEPTH);
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct copa_desc *d = &ix->manifests[i];
		size_t pos = depth == 0 ? i : top;

		if (d->attestation)
			continue;
		if (d->mt.kind == COPA_MT_INDEX) {
			struct copa_buf raw = COPA_BUF_INIT;
			struct copa_index sub;
			int r;

			if (copa_image_src_get_doc(s, d, &raw, err) < 0)
				return -1;
			r = copa_index_parse(raw.p, raw.len, d->media_type, s->what, &sub, err);
			copa_buf_release(&raw);
			if (r < 0)
				return -1;
			r = collect_platforms(s, &sub, pos, depth + 1, l, err);
			copa_index_release(&sub);
			if (r < 0)
				return -1;
			continue;
		}
		if (d->mt.kind != COPA_MT_MANIFEST)
			continue;
		l->v = copa_xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
		memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
		copa_desc_copy(&l->v[l->n].desc, d);
		l->v[l->n].top_pos = pos;
		if (d->has_platform) {
			l->v[l->n].platform = d->platform;
		} else {
			/* No platform on the entry: read it from the config. */
			struct copa_image img;
			struct copa_buf raw = COPA_BUF_INIT;
			struct copa_manifest m;
			_cleanup_free_ char *cfg_path = NULL;
			struct copa_config c;
			struct copa_buf cb = COPA_BUF_INIT;
			int r;

			(void)img;
			if (copa_image_src_get_doc(s, d, &raw, err) < 0)
				return -1;
			r = copa_manifest_parse(raw.p, raw.len, d->media_type, s->what, &m, err);
			copa_buf_release(&raw);
			if (r < 0)
				return -1;
			cfg_path = copa_image_src_blob_path(s, &m.config, err);
			if (!cfg_path ||
			    copa_fs_read_file(AT_FDCWD, cfg_path, COPA_OCI_MAX_CONFIG, &cb, err) <
			        0 ||
			    copa_config_parse(cb.p, cb.len, s->what, &c, err) < 0) {
				copa_manifest_release(&m);
				copa_buf_release(&cb);
				return -1;
			}
			l->v[l->n].platform = c.platform;
			copa_config_release(&c);
			copa_manifest_release(&m);
			copa_buf_release(&cb);
		}
		copa_platform_normalize(&l->v[l->n].platform);
		l->n++;
	}
	return 0;
}

static int load_config(struct copa_image_src *s, const struct copa_desc *d, struct copa_config *c,
                       struct copa_err *err)
{
	_cleanup_free_ char *path = copa_image_src_blob_path(s, d, err);
	struct copa_buf raw = COPA_BUF_INIT;
	int r;

	if (!path)
		return -1;
	if (d->size > (int64_t)COPA_OCI_MAX_CONFIG)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: config %s is %lld bytes, more than the limit of %u",
		                    s->what, d->digest, (long long)d->size, COPA_OCI_MAX_CONFIG);
	if (copa_fs_read_file(AT_FDCWD, path, COPA_OCI_MAX_CONFIG, &raw, err) < 0) {
		copa_buf_release(&raw);
		return copa_err_wrap(err, "%s: config %s", s->what, d->digest);
	}
	r = copa_verify_bytes(d, raw.p, raw.len, "config", err);
	if (r == 0) {
		_cleanup_free_ char *what = copa_xasprintf("%s: config %s", s->what, d->digest);

		r = copa_config_parse(raw.p, raw.len, what, c, err);
	} else {
		copa_err_wrap(err, "%s", s->what);
	}
	copa_buf_release(&raw);
	return r;
}

int copa_image_src_platforms(struct copa_image_src *s, struct copa_image_platform **out, size_t *n,
                             struct copa_err *err)
{
	struct plist l = {NULL, 0, 0};

	*out = NULL;
	*n = 0;
	if (s->root.kind == COPA_MT_MANIFEST) {
		struct copa_config c;

		if (load_config(s, &s->root.manifest.config, &c, err) < 0)
			return -1;
		l.v = copa_xcalloc(1, sizeof(*l.v));
		l.v[0].platform = c.platform;
		copa_platform_normalize(&l.v[0].platform);
		copa_desc_copy(&l.v[0].desc, &s->root.desc);
		l.v[0].top_pos = SIZE_MAX;
		l.n = 1;
		copa_config_release(&c);
	} else if (collect_platforms(s, &s->root.index, 0, 0, &l, err) < 0) {
		copa_image_platforms_free(l.v, l.n);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

void copa_image_release(struct copa_image *img)
{
	copa_desc_release(&img->desc);
	copa_manifest_release(&img->manifest);
	copa_config_release(&img->config);
	memset(img, 0, sizeof(*img));
}

static int pick_platform(struct copa_image_src *s, const struct copa_image_platform *v, size_t n,
                         const struct copa_platform *want, size_t *pick, struct copa_err *err)
{
	struct copa_platform host;
	struct copa_buf list = COPA_BUF_INIT;
	char b[256], w[256];

	if (n == 0)
		return copa_err_set(err, COPA_E_NOTFOUND, "%s: the index lists no image manifests",
		                    s->what);
	if (!want && n == 1) {
		*pick = 0;
		return 0;
	}
	if (!want) {
		copa_platform_host(&host);
		want = &host;
	}
	for (size_t i = 0; i < n; i++)
		if (copa_platform_match(want, &v[i].platform)) {
			*pick = i;
			return 0;
		}
	for (size_t i = 0; i < n; i++)
		copa_buf_addf(&list, "%s%s", i ? ", " : "",
		              copa_platform_str(&v[i].platform, b, sizeof(b)));
	copa_err_set(err, COPA_E_NOTFOUND,
	             "%s: no image for platform '%s' (available: %s; choose one with --platform)",
	             s->what, copa_platform_str(want, w, sizeof(w)), copa_buf_str(&list));
	copa_buf_release(&list);
	return -1;
}

int copa_image_src_load(struct copa_image_src *s, const struct copa_platform *want,
                        struct copa_image *img, struct copa_err *err)
{
	memset(img, 0, sizeof(*img));
	img->top_pos = SIZE_MAX;
	if (s->root.kind == COPA_MT_MANIFEST) {
		int r;

		copa_desc_copy(&img->desc, &s->root.desc);
		r = copa_manifest_parse(s->root.manifest.raw.p, s->root.manifest.raw.len,
		                        s->root.manifest.media_type, s->what, &img->manifest, err);
		if (r < 0)
			goto fail;
	} else {
		struct copa_image_platform *v;
		size_t n, pick;
		struct copa_buf raw = COPA_BUF_INIT;
		int r;
		_cleanup_free_ char *what = NULL;

		if (copa_image_src_platforms(s, &v, &n, err) < 0)
			goto fail;
		if (pick_platform(s, v, n, want, &pick, err) < 0) {
			copa_image_platforms_free(v, n);
			goto fail;
		}
		copa_desc_copy(&img->desc, &v[pick].desc);
		img->top_pos = v[pick].top_pos;
		copa_image_platforms_free(v, n);
		if (copa_image_src_get_doc(s, &img->desc, &raw, err) < 0)
			goto fail;
		what = copa_xasprintf("%s: manifest %s", s->what, img->desc.digest);
		r = copa_manifest_parse(raw.p, raw.len, img->desc.media_type, what, &img->manifest,
		                        err);
		copa_buf_release(&raw);
		if (r < 0)
			goto fail;
	}
	if (load_config(s, &img->manifest.config, &img->config, err) < 0)
		goto fail;
	if (copa_image_check(&img->manifest, &img->config, err) < 0) {
		copa_err_wrap(err, "%s", s->what);
		goto fail;
	}
	img->platform = img->config.platform;
	return 0;
fail:
	copa_image_release(img);
	return -1;
}

void copa_image_layers_release(struct copa_image_layers *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((void *)(uintptr_t)l->v[i].digest);
		free((void *)(uintptr_t)l->v[i].media_type);
		free((void *)(uintptr_t)l->v[i].path);
		free((void *)(uintptr_t)l->v[i].diff_id);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int copa_image_src_layer_blobs(struct copa_image_src *s, const struct copa_image *img,
                               struct copa_image_layers *out, struct copa_err *err)
{
	const struct copa_manifest *m = &img->manifest;

	memset(out, 0, sizeof(*out));
	out->v = copa_xcalloc(m->n_layers + 1, sizeof(*out->v));
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct copa_desc *d = &m->layers[i];
		char *path = copa_image_src_blob_path(s, d, err);

		if (!path) {
			copa_image_layers_release(out);
			return -1;
		}
		out->v[i].digest = copa_xstrdup(d->digest);
		out->v[i].media_type = copa_xstrdup(d->media_type);
		out->v[i].path = path;
		out->v[i].size = (uint64_t)d->size;
		out->v[i].verified = true; /* blob_path checked it against d->digest */
		out->v[i].diff_id =
		    i < img->config.n_diff_ids ? copa_xstrdup(img->config.diff_ids[i]) : NULL;
		out->n++;
	}
	return 0;
}

/* ---- destinations ---- */

struct copa_image_dst *copa_image_dst_open(const struct copa_image_ref *ref,
                                           const struct copa_image_opts *opts, struct copa_err *err)
{
	struct copa_image_dst *d = copa_xcalloc(1, sizeof(*d));
	_cleanup_free_ char *text = copa_image_ref_string(ref);
	int r = -1;

	d->opts = *opts;
	copa_image_ref_copy(&d->ref, ref);
	d->what = copa_xasprintf("destination '%s'", text);
	switch (ref->transport) {
	case COPA_TRANSPORT_OCI:
		r = copa_dst_layout_open(d, err);
		break;
	case COPA_TRANSPORT_OCI_ARCHIVE:
		r = copa_dst_oci_archive_open(d, err);
		break;
	case COPA_TRANSPORT_DOCKER_ARCHIVE:
		r = copa_dst_docker_archive_open(d, err);
		break;
	case COPA_TRANSPORT_REGISTRY:
		r = copa_dst_registry_open(d, err);
		break;
	}
	if (r < 0) {
		copa_image_dst_free(d);
		return NULL;
	}
	return d;
}

void copa_image_dst_free(struct copa_image_dst *d)
{
	if (!d)
		return;
	if (d->ops && d->ops->free)
		d->ops->free(d);
	copa_image_ref_release(&d->ref);
	free(d->what);
	free(d);
}

bool copa_image_dst_single(const struct copa_image_dst *d)
{
	return d->ops->single;
}

int copa_image_dst_family(const struct copa_image_dst *d)
{
	return d->ops->family;
}

static int dst_has(struct copa_image_dst *d, const struct copa_desc *desc, bool *has,
                   struct copa_err *err)
{
	*has = false;
	if (!d->ops->has_blob)
		return 0;
	return d->ops->has_blob(d, desc, has, err);
}

/*
 * Where copa last uploaded a blob on a registry: cache record
 * "pushed/<sha256 of host>-<digest hex>" holding the repository. A later push
 * of the same blob to another repository of that registry (the same patch
 * layer for the next image of a fleet) asks for a cross-repository mount
 * from there instead of uploading it again. Best effort both ways.
 */
static char *pushed_key(const char *host, const char *digest)
{
	char hh[COPA_DIGEST_MAX];
	const char *hex = strchr(digest, ':');

	copa_sha256_digest(host, strlen(host), hh);
	return copa_xasprintf("%.16s-%s", hh + 7, hex ? hex + 1 : digest);
}

static bool mount_pushed(struct copa_image_dst *d, const struct copa_desc *desc,
                         struct copa_err *err)
{
	_cleanup_free_ char *key = NULL;
	struct copa_buf rec = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	bool mounted = false;

	if (!d->ops->mount_blob || d->ref.transport != COPA_TRANSPORT_REGISTRY || !d->opts.cache)
		return false;
	key = pushed_key(d->ref.ref.domain, desc->digest);
	if (copa_cache_get(d->opts.cache, "pushed", key, 4096, &rec, &e2) == 1 && rec.len &&
	    strcmp(copa_buf_str(&rec), d->ref.ref.path) != 0 &&
	    d->ops->mount_blob(d, desc, copa_buf_str(&rec), &mounted, &e2) < 0)
		mounted = false; /* the other repository may be gone: upload instead */
	copa_buf_release(&rec);
	(void)err;
	return mounted;
}

static void remember_pushed(struct copa_image_dst *d, const struct copa_desc *desc)
{
	_cleanup_free_ char *key = NULL;
	struct copa_err e2 = COPA_ERR_INIT;

	if (d->ref.transport != COPA_TRANSPORT_REGISTRY || !d->opts.cache)
		return;
	key = pushed_key(d->ref.ref.domain, desc->digest);
	(void)copa_cache_put(d->opts.cache, "pushed", key, d->ref.ref.path, strlen(d->ref.ref.path),
	                     &e2);
}

int copa_image_dst_put_blob_fd(struct copa_image_dst *d, const struct copa_desc *desc, int fd,
                               struct copa_err *err)
{
	bool has;

	if (dst_has(d, desc, &has, err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	if (has)
		return 0;
	if (mount_pushed(d, desc, err))
		return 0;
	if (d->ops->put_blob(d, desc, fd, err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	remember_pushed(d, desc);
	return 0;
}

/* Ends a "copy" task; a blob copied whole moved its size (the writers send no updates). */
static void copy_done(struct copa_image_dst *d, const struct copa_desc *desc, bool ok)
{
	if (ok && desc->size > 0)
		copa_progress(d->opts.out, COPA_PROGRESS_UPDATE, "copy", desc->digest,
		              (uint64_t)desc->size, (uint64_t)desc->size);
	copa_progress_done(d->opts.out, "copy", desc->digest, ok);
}

int copa_image_dst_copy_blob(struct copa_image_dst *d, struct copa_image_src *s,
                             const struct copa_desc *desc, struct copa_err *err)
{
	bool has;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (dst_has(d, desc, &has, err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	if (has)
		return 0;
	if (d->ops->mount_blob && d->ref.transport == COPA_TRANSPORT_REGISTRY) {
		const char *host, *repo;
		bool mounted = false;

		if (copa_src_registry_where(s, &host, &repo) && !strcmp(host, d->ref.ref.domain) &&
		    strcmp(repo, d->ref.ref.path)) {
			if (d->ops->mount_blob(d, desc, repo, &mounted, err) < 0)
				return copa_err_wrap(err, "%s", d->what);
			if (mounted)
				return 0;
		}
	}
	copa_progress(d->opts.out, COPA_PROGRESS_START, "copy", desc->digest, 0,
	              desc->size > 0 ? (uint64_t)desc->size : 0);
	/*
	 * Streaming from the source suits a blob not read yet; one already
	 * fetched into the cache (a layer read for the merged view) is copied
	 * from there, or a cold cache downloads it twice.
	 */
	if (d->ops->begin_blob && s->ops->write_blob && !copa_src_is_verified(s, desc->digest)) {
		struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
		int r;

		if (d->ops->begin_blob(d, desc, &t, err) < 0) {
			copa_progress_done(d->opts.out, "copy", desc->digest, 0);
			return copa_err_wrap(err, "%s", d->what);
		}
		r = s->ops->write_blob(s, desc, t.fd, err);
		if (r < 0)
			copa_err_wrap(err, "%s", s->what);
		else if ((r = d->ops->end_blob(d, desc, &t, err)) < 0)
			copa_err_wrap(err, "%s", d->what);
		copa_tmpfile_release(&t);
		copy_done(d, desc, r == 0);
		return r;
	}
	path = copa_image_src_blob_path(s, desc, err);
	if (path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (path && fd < 0)
		copa_err_sys(err, COPA_E_IO, errno, "cannot open blob '%s'", path);
	else if (path && d->ops->put_blob(d, desc, fd, err) < 0)
		copa_err_wrap(err, "%s", d->what);
	copy_done(d, desc, !copa_err_is_set(err));
	return copa_err_is_set(err) ? -1 : 0;
}

int copa_image_dst_put_manifest(struct copa_image_dst *d, const struct copa_desc *desc,
                                const void *raw, size_t n, struct copa_err *err)
{
	if (copa_verify_bytes(desc, raw, n, "manifest", err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	if (d->ops->put_manifest(d, desc, raw, n, err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	return 0;
}

int copa_image_dst_commit(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                          size_t n, struct copa_err *err)
{
	if (copa_verify_bytes(desc, raw, n, "manifest", err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	if (d->ops->commit(d, desc, raw, n, err) < 0)
		return copa_err_wrap(err, "%s", d->what);
	d->committed = true;
	return 0;
}

/* ---- copying ---- */

struct job_list {
	const struct copa_desc **v;
	size_t n, cap;
};

static void jobs_add(struct job_list *l, const struct copa_desc *d)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i]->digest, d->digest))
			return;
	l->v = copa_xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = d;
}

struct pool {
	struct copa_image_src *s;
	struct copa_image_dst *d;
	struct job_list *jobs;
	size_t next;
	pthread_mutex_t lock;
	struct copa_err err;
	bool failed;
};

static void *worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		const struct copa_desc *desc;
		struct copa_err err = COPA_ERR_INIT;

		pthread_mutex_lock(&p->lock);
		if (p->failed || p->next == p->jobs->n) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		desc = p->jobs->v[p->next++];
		pthread_mutex_unlock(&p->lock);
		if (copa_image_dst_copy_blob(p->d, p->s, desc, &err) < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed) {
				p->failed = true;
				p->err = err;
			}
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
	}
}

static int copy_blobs(struct copa_image_src *s, struct copa_image_dst *d, struct job_list *jobs,
                      struct copa_err *err)
{
	struct pool p = {.s = s, .d = d, .jobs = jobs};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = s->opts.jobs ? s->opts.jobs : cpus < 2 ? 2 : cpus > 8 ? 8 : (unsigned)cpus;
	pthread_t th[16];
	unsigned started = 0;

	if (n > 16)
		n = 16;
	if (n > jobs->n)
		n = (unsigned)jobs->n;
	if (n <= 1) {
		for (size_t i = 0; i < jobs->n; i++)
			if (copa_image_dst_copy_blob(d, s, jobs->v[i], err) < 0)
				return -1;
		return 0;
	}
	pthread_mutex_init(&p.lock, NULL);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	if (started == 0)
		worker(&p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (p.failed) {
		*err = p.err;
		return -1;
	}
	return 0;
}

static int copy_manifest_blobs(struct copa_image_src *s, struct copa_image_dst *d,
                               const struct copa_manifest *m, struct copa_err *err)
{
	struct job_list jobs = {NULL, 0, 0};
	int r;

	/* Large layers first so the parallel transfers finish together. */
	for (size_t i = 0; i < m->n_layers; i++)
		jobs_add(&jobs, &m->layers[i]);
	for (size_t i = 1; i < jobs.n; i++)
		for (size_t j = i; j > 0 && jobs.v[j]->size > jobs.v[j - 1]->size; j--) {
			const struct copa_desc *t = jobs.v[j];

			jobs.v[j] = jobs.v[j - 1];
			jobs.v[j - 1] = t;
		}
	jobs_add(&jobs, &m->config);
	r = copy_blobs(s, d, &jobs, err);
	free(jobs.v);
	return r;
}

/*
 * Copies one document (manifest or index) and everything it references.
 * out_raw/out_desc receive the document as written: the same bytes, or the
 * OCI conversion when `convert` (Docker family into an OCI-only destination).
 * Children are written here; the root is left to the caller's commit.
 */
static const struct copa_image_replace *find_replace(const struct copa_copy_opts *o,
                                                     const char *digest)
{
	for (size_t i = 0; o && i < o->n_replace; i++)
		if (!strcmp(o->replace[i].old_digest, digest))
			return &o->replace[i];
	return NULL;
}

static int copy_doc(struct copa_image_src *s, struct copa_image_dst *d,
                    const struct copa_desc *desc, const void *raw, size_t n, int depth,
                    bool convert, bool is_root, const struct copa_copy_opts *o,
                    struct copa_buf *out_raw, struct copa_desc *out_desc, struct copa_err *err)
{
	_cleanup_free_ char *what = copa_xasprintf("%s: manifest %s", s->what, desc->digest);
	const struct copa_image_replace *rp = find_replace(o, desc->digest);
	int kind, r = -1;
	bool changed = false;

	if (rp) {
		/* The substitute stands where the original stood, and is "changed". */
		desc = rp->desc;
		raw = rp->raw;
		n = rp->n;
		changed = true;
	}

	if (depth > COPA_OCI_MAX_INDEX_DEPTH)
		return copa_err_set(err, COPA_E_LIMIT, "%s: indexes nested deeper than %d levels",
		                    s->what, COPA_OCI_MAX_INDEX_DEPTH);
	kind = copa_oci_sniff(raw, n, desc->media_type, what, err);
	copa_buf_reset(out_raw);
	if (kind == COPA_MT_MANIFEST) {
		struct copa_manifest m;

		if (copa_manifest_parse(raw, n, desc->media_type, what, &m, err) < 0)
			return -1;
		r = copy_manifest_blobs(s, d, &m, err);
		if (r == 0 && convert && m.family == COPA_FAMILY_DOCKER) {
			r = copa_manifest_to_oci(&m, out_raw, err);
			changed = true;
		} else if (r == 0 && rp) {
			copa_buf_add(out_raw, raw, n);
		}
		copa_manifest_release(&m);
	} else if (kind == COPA_MT_INDEX) {
		struct copa_index ix;
		struct copa_desc *kids;
		const struct copa_desc **repl;

		if (copa_index_parse(raw, n, desc->media_type, what, &ix, err) < 0)
			return -1;
		kids = copa_xcalloc(ix.n_manifests + 1, sizeof(*kids));
		repl = copa_xcalloc(ix.n_manifests + 1, sizeof(*repl));
		r = 0;
		for (size_t i = 0; r == 0 && i < ix.n_manifests; i++) {
			struct copa_buf craw = COPA_BUF_INIT, cout = COPA_BUF_INIT;

			r = copa_image_src_get_doc(s, &ix.manifests[i], &craw, err);
			if (r == 0)
				r = copy_doc(s, d, &ix.manifests[i], craw.p, craw.len, depth + 1,
				             convert, false, o, &cout, &kids[i], err);
			if (r == 0 && strcmp(kids[i].digest, ix.manifests[i].digest)) {
				repl[i] = &kids[i];
				changed = true;
			}
			copa_buf_release(&craw);
			copa_buf_release(&cout);
		}
		if (r == 0 && convert && ix.family == COPA_FAMILY_DOCKER) {
			r = copa_index_build_oci(&ix, repl, out_raw, err);
			changed = true;
		} else if (r == 0 && changed) {
			r = copa_index_build(&ix, repl, out_raw, err);
		}
		for (size_t i = 0; i < ix.n_manifests; i++)
			copa_desc_release(&kids[i]);
		free(kids);
		free(repl);
		copa_index_release(&ix);
	}
	if (r < 0)
		return -1;
	if (changed) {
		char digest[COPA_DIGEST_MAX];
		const char *mt = kind == COPA_MT_INDEX ? COPA_MT_OCI_INDEX : COPA_MT_OCI_MANIFEST;

		if (!convert || (rp && out_raw->len == n && !memcmp(out_raw->p, raw, n)))
			mt = desc->media_type;
		copa_sha256_digest(out_raw->p, out_raw->len, digest);
		copa_desc_make(out_desc, mt, digest, (int64_t)out_raw->len, NULL);
	} else {
		copa_buf_add(out_raw, raw, n);
		copa_desc_copy(out_desc, desc);
	}
	if (!is_root && copa_image_dst_put_manifest(d, out_desc, out_raw->p, out_raw->len, err) < 0)
		return -1;
	return 0;
}

static int copy_root(struct copa_image_src *s, struct copa_image_dst *d,
                     const struct copa_desc *desc, const void *raw, size_t n,
                     const struct copa_copy_opts *o, struct copa_err *err)
{
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_desc od = {0};
	bool convert = copa_image_dst_family(d) == COPA_FAMILY_OCI;
	int r = copy_doc(s, d, desc, raw, n, 0, convert, true, o, &out, &od, err);

	if (r == 0)
		r = copa_image_dst_commit(d, &od, out.p, out.len, err);
	if (r == 0 && o && o->root_digest)
		snprintf(o->root_digest, COPA_DIGEST_MAX, "%s", od.digest);
	copa_buf_release(&out);
	copa_desc_release(&od);
	return r;
}

static int copy_one_image(struct copa_image_src *s, struct copa_image_dst *d,
                          const struct copa_platform *want, const struct copa_copy_opts *o,
                          struct copa_err *err)
{
	struct copa_image img;
	int r;

	if (copa_image_src_load(s, want, &img, err) < 0)
		return -1;
	r = copy_root(s, d, &img.desc, img.manifest.raw.p, img.manifest.raw.len, o, err);
	copa_image_release(&img);
	return r;
}

int copa_image_copy(struct copa_image_src *s, struct copa_image_dst *d,
                    const struct copa_copy_opts *o, struct copa_err *err)
{
	const struct copa_image_root *root = &s->root;
	const struct copa_platform *want = o ? o->platform : NULL;

	if (root->kind == COPA_MT_INDEX && (want || copa_image_dst_single(d)))
		return copy_one_image(s, d, want, o, err);
	if (root->kind == COPA_MT_MANIFEST) {
		if (want) {
			struct copa_image img;
			char a[256], b[256];
			int r = copa_image_src_load(s, NULL, &img, err);
			bool ok = r == 0 && copa_platform_match(want, &img.platform);

			if (r == 0 && !ok)
				copa_err_set(err, COPA_E_NOTFOUND,
				             "%s: no image for platform '%s' (available: %s)",
				             s->what, copa_platform_str(want, a, sizeof(a)),
				             copa_platform_str(&img.platform, b, sizeof(b)));
			copa_image_release(&img);
			if (!ok)
				return -1;
		}
		return copy_root(s, d, &root->desc, root->manifest.raw.p, root->manifest.raw.len, o,
		                 err);
	}
	return copy_root(s, d, &root->desc, root->index.raw.p, root->index.raw.len, o, err);
}

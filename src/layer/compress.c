/*
 * compress.c: the one-pass compressor of new layers (see compress.h).
 */
#include "layer/compress.h"

#include "util/runctl.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_DONE };

struct slot {
	unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len;
	enum slot_state state;
};

struct copa_zpipe {
	enum copa_compression comp;
	int level;
	int out_fd;
	struct copa_out *log;
	struct copa_hash tar_hash, blob_hash;
	uint64_t tar_size, blob_size;

	/* Chunks: gzip uses all of them; zstd and none only slot 0. */
	struct slot *slots;
	size_t n_slots, cur, out_cap;

	/* gzip worker pool (no threads when n_workers == 0: compress inline). */
	struct libdeflate_compressor *inline_c;
	pthread_t *workers;
	unsigned n_workers, started;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	size_t *queue; /* ring of slot indexes */
	size_t q_head, q_len;
	bool stop;

	/* zstd */
	ZSTD_CCtx *zc;
	unsigned char *zout;
	size_t zout_cap;
};

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static int write_out(struct copa_zpipe *z, const void *p, size_t n, struct copa_err *err)
{
	if (!n)
		return 0;
	copa_hash_update(&z->blob_hash, p, n);
	z->blob_size += n;
	if (copa_fs_write_all(z->out_fd, p, n, err) < 0)
		return copa_err_wrap(err, "cannot write the layer blob");
	return 0;
}

static size_t gzip_chunk(struct libdeflate_compressor *c, struct slot *s, size_t cap)
{
	return libdeflate_gzip_compress(c, s->in, s->in_len, s->out, cap);
}

static void *worker_main(void *arg)
{
	struct copa_zpipe *z = arg;
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(z->level);

	if (!c)
		COPA_BUG("libdeflate_alloc_compressor(%d) failed", z->level);
	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct slot *s;

		while (!z->q_len && !z->stop)
			pthread_cond_wait(&z->cv_work, &z->mu);
		if (!z->q_len)
			break;
		s = &z->slots[z->queue[z->q_head]];
		z->q_head = (z->q_head + 1) % z->n_slots;
		z->q_len--;
		pthread_mutex_unlock(&z->mu);
		s->out_len = gzip_chunk(c, s, z->out_cap);
		pthread_mutex_lock(&z->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&z->cv_done);
	}
	pthread_mutex_unlock(&z->mu);
	libdeflate_free_compressor(c);
	return NULL;
}

/* Waits for a queued gzip chunk and writes its member out. */
static int gzip_collect(struct copa_zpipe *z, struct slot *s, struct copa_err *err)
{
	if (s->state == SLOT_FREE || s->state == SLOT_FILLING)
		return 0;
	pthread_mutex_lock(&z->mu);
	while (s->state != SLOT_DONE)
		pthread_cond_wait(&z->cv_done, &z->mu);
	pthread_mutex_unlock(&z->mu);
	s->state = SLOT_FREE;
	s->in_len = 0;
	if (!s->out_len)
		return copa_err_set(err, COPA_E_BUG, "gzip compression of a layer chunk failed");
	return write_out(z, s->out, s->out_len, err);
}

static int zstd_feed(struct copa_zpipe *z, const void *p, size_t n, bool end, struct copa_err *err)
{
	ZSTD_inBuffer in = {p, n, 0};

	for (;;) {
		ZSTD_outBuffer out = {z->zout, z->zout_cap, 0};
		size_t left =
		    ZSTD_compressStream2(z->zc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);

		if (ZSTD_isError(left))
			return copa_err_set(err, COPA_E_IO, "zstd compression failed: %s",
			                    ZSTD_getErrorName(left));
		if (write_out(z, z->zout, out.pos, err) < 0)
			return -1;
		if (end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

/* Hands the current chunk over (compress, queue or write) and starts the next. */
static int submit(struct copa_zpipe *z, struct copa_err *err)
{
	struct slot *s = &z->slots[z->cur];

	if (!s->in_len)
		return 0;
	copa_hash_update(&z->tar_hash, s->in, s->in_len);
	copa_progress(z->log, COPA_PROGRESS_UPDATE, "compress", "layer", z->tar_size, 0);
	switch (z->comp) {
	case COPA_COMPRESS_NONE:
		if (write_out(z, s->in, s->in_len, err) < 0)
			return -1;
		s->in_len = 0;
		return 0;
	case COPA_COMPRESS_ZSTD:
		if (zstd_feed(z, s->in, s->in_len, false, err) < 0)
			return -1;
		s->in_len = 0;
		return 0;
	case COPA_COMPRESS_GZIP:
		break;
	}
	if (!z->n_workers) {
		s->out_len = gzip_chunk(z->inline_c, s, z->out_cap);
		s->state = SLOT_DONE;
		if (gzip_collect(z, s, err) < 0)
			return -1;
	} else {
		pthread_mutex_lock(&z->mu);
		s->state = SLOT_QUEUED;
		z->queue[(z->q_head + z->q_len) % z->n_slots] = z->cur;
		z->q_len++;
		pthread_cond_signal(&z->cv_work);
		pthread_mutex_unlock(&z->mu);
		/* The next slot is the oldest one in flight: write it out before reuse. */
		z->cur = (z->cur + 1) % z->n_slots;
		if (gzip_collect(z, &z->slots[z->cur], err) < 0)
			return -1;
	}
	z->slots[z->cur].state = SLOT_FILLING;
	return 0;
}

static const char *const media_oci[] = {
    [COPA_COMPRESS_NONE] = "application/vnd.oci.image.layer.v1.tar",
    [COPA_COMPRESS_GZIP] = "application/vnd.oci.image.layer.v1.tar+gzip",
    [COPA_COMPRESS_ZSTD] = "application/vnd.oci.image.layer.v1.tar+zstd",
};
static const char *const media_docker[] = {
    [COPA_COMPRESS_NONE] = "application/vnd.docker.image.rootfs.diff.tar",
    [COPA_COMPRESS_GZIP] = "application/vnd.docker.image.rootfs.diff.tar.gzip",
    [COPA_COMPRESS_ZSTD] = "application/vnd.docker.image.rootfs.diff.tar.zstd",
};

static int setup_gzip(struct copa_zpipe *z, unsigned threads, struct copa_err *err)
{
	if (z->level == 0)
		z->level = 6;
	if (z->level < 1 || z->level > 12)
		return copa_err_set(err, COPA_E_USAGE, "gzip level %d is out of range (1-12)",
		                    z->level);
	z->inline_c = libdeflate_alloc_compressor(z->level);
	if (!z->inline_c)
		COPA_BUG("libdeflate_alloc_compressor(%d) failed", z->level);
	z->out_cap = libdeflate_gzip_compress_bound(z->inline_c, COPA_GZIP_CHUNK);
	/* One thread: compress on the caller's thread, no pool. */
	z->n_workers = threads > 1 ? threads : 0;
	z->n_slots = z->n_workers ? 2 * (size_t)z->n_workers + 1 : 1;
	z->slots = copa_xcalloc(z->n_slots, sizeof(*z->slots));
	for (size_t i = 0; i < z->n_slots; i++) {
		z->slots[i].in = copa_xmalloc(COPA_GZIP_CHUNK);
		z->slots[i].out = copa_xmalloc(z->out_cap);
	}
	if (!z->n_workers)
		return 0;
	z->queue = copa_xcalloc(z->n_slots, sizeof(*z->queue));
	z->workers = copa_xcalloc(z->n_workers, sizeof(*z->workers));
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->cv_work, NULL);
	pthread_cond_init(&z->cv_done, NULL);
	for (unsigned i = 0; i < z->n_workers; i++) {
		if (pthread_create(&z->workers[i], NULL, worker_main, z) != 0) {
			if (i == 0)
				return copa_err_sys(err, COPA_E_IO, errno,
				                    "cannot start compression threads");
			z->n_workers = i; /* fewer threads still produce the same bytes */
			break;
		}
		z->started++;
	}
	return 0;
}

static int setup_zstd(struct copa_zpipe *z, unsigned threads, struct copa_err *err)
{
	size_t r;

	if (z->level == 0)
		z->level = 3;
	if (z->level < 1 || z->level > ZSTD_maxCLevel())
		return copa_err_set(err, COPA_E_USAGE, "zstd level %d is out of range (1-%d)",
		                    z->level, ZSTD_maxCLevel());
	z->zc = ZSTD_createCCtx();
	if (!z->zc)
		COPA_BUG("ZSTD_createCCtx failed");
	r = ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel, z->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->zc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return copa_err_set(err, COPA_E_IO, "cannot set up zstd: %s", ZSTD_getErrorName(r));
	/*
	 * nbWorkers >= 1 always, even on one CPU: libzstd's multithreaded
	 * output does not depend on the worker count, but differs from the
	 * single-threaded mode (0). A library built without threads refuses.
	 */
	(void)ZSTD_CCtx_setParameter(z->zc, ZSTD_c_nbWorkers, (int)(threads ? threads : 1));
	z->zout_cap = ZSTD_CStreamOutSize();
	z->zout = copa_xmalloc(z->zout_cap);
	z->n_slots = 1;
	z->slots = copa_xcalloc(1, sizeof(*z->slots));
	z->slots[0].in = copa_xmalloc(COPA_GZIP_CHUNK);
	return 0;
}

struct copa_zpipe *copa_zpipe_new(const struct copa_layer_write_opts *opts, struct copa_err *err)
{
	struct copa_zpipe *z = copa_xcalloc(1, sizeof(*z));
	unsigned threads = opts->threads ? opts->threads : online_cpus();
	int r = 0;

	z->comp = opts->compression;
	z->level = opts->level;
	z->out_fd = opts->out_fd;
	z->log = opts->out;
	copa_hash_init(&z->tar_hash, COPA_HASH_SHA256);
	copa_hash_init(&z->blob_hash, COPA_HASH_SHA256);
	if (threads > 64)
		threads = 64;
	switch (z->comp) {
	case COPA_COMPRESS_NONE:
		z->n_slots = 1;
		z->slots = copa_xcalloc(1, sizeof(*z->slots));
		z->slots[0].in = copa_xmalloc(COPA_GZIP_CHUNK);
		break;
	case COPA_COMPRESS_GZIP:
		r = setup_gzip(z, threads, err);
		break;
	case COPA_COMPRESS_ZSTD:
		r = setup_zstd(z, threads, err);
		break;
	default:
		r = copa_err_set(err, COPA_E_USAGE, "unknown layer compression %d", (int)z->comp);
	}
	if (r < 0) {
		copa_zpipe_free(z);
		return NULL;
	}
	z->slots[0].state = SLOT_FILLING;
	copa_progress(z->log, COPA_PROGRESS_START, "compress", "layer", 0, 0);
	return z;
}

void *copa_zpipe_space(struct copa_zpipe *z, size_t *avail, struct copa_err *err)
{
	struct slot *s = &z->slots[z->cur];

	if (s->in_len == COPA_GZIP_CHUNK) {
		/* Once per chunk: a canceled or late run stops compressing. */
		if (copa_runctl_check(err) < 0 || submit(z, err) < 0)
			return NULL;
		s = &z->slots[z->cur];
	}
	*avail = COPA_GZIP_CHUNK - s->in_len;
	return s->in + s->in_len;
}

int copa_zpipe_commit(struct copa_zpipe *z, size_t n, struct copa_err *err)
{
	struct slot *s = &z->slots[z->cur];

	if (n > COPA_GZIP_CHUNK - s->in_len)
		COPA_BUG("commit past the chunk end");
	s->in_len += n;
	z->tar_size += n;
	return 0;
}

int copa_zpipe_write(struct copa_zpipe *z, const void *data, size_t n, struct copa_err *err)
{
	const unsigned char *p = data;

	while (n) {
		size_t avail;
		void *dst = copa_zpipe_space(z, &avail, err);

		if (!dst)
			return -1;
		if (avail > n)
			avail = n;
		memcpy(dst, p, avail);
		copa_zpipe_commit(z, avail, err);
		p += avail;
		n -= avail;
	}
	return 0;
}

uint64_t copa_zpipe_tell(const struct copa_zpipe *z)
{
	return z->tar_size;
}

int copa_zpipe_finish(struct copa_zpipe *z, struct copa_layer_result *res, struct copa_err *err)
{
	char hex[COPA_HASH_HEX_MAX];

	if (submit(z, err) < 0)
		return -1;
	if (z->comp == COPA_COMPRESS_GZIP) {
		for (size_t i = 1; i <= z->n_slots; i++)
			if (gzip_collect(z, &z->slots[(z->cur + i) % z->n_slots], err) < 0)
				return -1;
	} else if (z->comp == COPA_COMPRESS_ZSTD) {
		if (zstd_feed(z, NULL, 0, true, err) < 0)
			return -1;
	}
	memset(res, 0, sizeof(*res));
	copa_hash_final_hex(&z->tar_hash, hex);
	snprintf(res->diff_id, sizeof(res->diff_id), "sha256:%s", hex);
	copa_hash_final_hex(&z->blob_hash, hex);
	snprintf(res->digest, sizeof(res->digest), "sha256:%s", hex);
	res->size = z->blob_size;
	res->tar_size = z->tar_size;
	res->media_type_oci = media_oci[z->comp];
	res->media_type_docker = media_docker[z->comp];
	copa_progress(z->log, COPA_PROGRESS_UPDATE, "compress", "layer", z->tar_size, z->tar_size);
	copa_progress_done(z->log, "compress", "layer", 1);
	return 0;
}

void copa_zpipe_free(struct copa_zpipe *z)
{
	if (!z)
		return;
	if (z->started) {
		pthread_mutex_lock(&z->mu);
		z->stop = true;
		pthread_cond_broadcast(&z->cv_work);
		pthread_mutex_unlock(&z->mu);
		for (unsigned i = 0; i < z->started; i++)
			pthread_join(z->workers[i], NULL);
	}
	if (z->workers) {
		pthread_mutex_destroy(&z->mu);
		pthread_cond_destroy(&z->cv_work);
		pthread_cond_destroy(&z->cv_done);
	}
	for (size_t i = 0; i < z->n_slots; i++) {
		free(z->slots[i].in);
		free(z->slots[i].out);
	}
	free(z->slots);
	free(z->queue);
	free(z->workers);
	libdeflate_free_compressor(z->inline_c);
	ZSTD_freeCCtx(z->zc);
	free(z->zout);
	copa_hash_release(&z->tar_hash);
	copa_hash_release(&z->blob_hash);
	free(z);
}

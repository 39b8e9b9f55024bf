/*
 * read.c: reading image layers into the merged view (copa_image_fs_*).
 *
 * Each layer is turned into a header index (lindex.h) by streaming its blob
 * once through two libarchive readers: the first only decompresses (raw
 * format; gzip, zstd or nothing), the second parses the tar from what the
 * first yields. Between them copa hashes the uncompressed stream (the
 * diff_id); under the first it hashes the blob as stored (the digest). The
 * index is cached by blob digest, so a second run skips decompression.
 * Layers are indexed on worker threads and applied to the view in order,
 * each layer's whiteouts and opaque markers before its entries (the OCI
 * rule: they only hide lower layers, wherever they stand in the tar).
 *
 * Content on demand: a view entry's data_offset is the offset of its tar
 * header in the uncompressed stream. An uncompressed layer is read from that
 * offset directly; a compressed one is decompressed from the start, and the
 * open reader is kept so that further reads later in the same layer go on
 * from where the last one stopped.
 */
#include "layer/layer.h"
#include "layer/lindex.h"

#include "util/runctl.h"
#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define CACHE_NS          "layer-index"
#define MAX_PATH_LEN      4096
#define MAX_INDEX_BYTES   (1ull << 30)
#define INLINE_TOTAL_MAX  (512ull << 20)
#define DEFAULT_INLINE    (8u << 20)
#define DEFAULT_ENTRIES   2000000u
#define DEFAULT_LAYER_MAX (64ull << 30)
#define IO_BUF            (128u * 1024)

const char *const copa_layer_default_inline[] = {
    "etc/",
    "var/lib/dpkg/",
    "lib/apk/db/",
    "usr/lib/apk/db/",
    "var/lib/rpm/",
    "usr/lib/sysimage/rpm/",
    "var/lib/rpmmanifest/",
    "usr/lib/os-release",
    "usr/share/keyrings/",
    "usr/share/ca-certificates/",
    "usr/share/distro-info/",
    "usr/local/share/ca-certificates/",
    NULL,
};

struct fs_layer {
	char *digest; /* for messages: the blob digest or its path */
	char *path;
	bool plain;
};

/* The reader kept open between content reads (see the file comment). */
struct stream;
struct cursor {
	struct stream *s; /* NULL: closed */
	int layer;
	uint64_t base; /* uncompressed offset where the tar reader started */
	int64_t last;  /* header position (from base) of the last entry read; -1 */
};

struct copa_image_fs {
	struct copa_view *view;
	struct fs_layer *layers;
	size_t n;
	struct cursor cur;
	struct copa_out *out;
};

/* ---- options ---- */

struct ropts {
	const char *const *prefixes;
	size_t inline_max;
	uint64_t max_entries, max_layer_bytes;
	uint64_t inline_total; /* shared by the worker threads (atomic) */
	struct copa_cache *cache;
	struct copa_out *out;
	char key_suffix[17]; /* options hash in cache keys */
};

static void ropts_init(struct ropts *o, const struct copa_image_fs_opts *in)
{
	struct copa_hash h;
	char hex[COPA_HASH_HEX_MAX];
	char num[32];

	memset(o, 0, sizeof(*o));
	o->prefixes = in && in->inline_prefixes ? in->inline_prefixes : copa_layer_default_inline;
	o->inline_max = in && in->inline_max ? in->inline_max : DEFAULT_INLINE;
	o->max_entries = in && in->max_entries ? in->max_entries : DEFAULT_ENTRIES;
	o->max_layer_bytes = in && in->max_layer_bytes ? in->max_layer_bytes : DEFAULT_LAYER_MAX;
	o->cache = in ? in->cache : NULL;
	o->out = in ? in->out : NULL;
	/* Cached indexes depend on what was captured inline: key them by it. */
	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, "copa-layer-index-1", 19);
	snprintf(num, sizeof(num), "%zu", o->inline_max);
	copa_hash_update(&h, num, strlen(num) + 1);
	for (const char *const *p = o->prefixes; *p; p++)
		copa_hash_update(&h, *p, strlen(*p) + 1);
	copa_hash_final_hex(&h, hex);
	memcpy(o->key_suffix, hex, 16);
	o->key_suffix[16] = '\0';
}

static bool wants_inline(const struct ropts *o, const char *path)
{
	for (const char *const *p = o->prefixes; *p; p++)
		if (strncmp(path, *p, strlen(*p)) == 0)
			return true;
	return false;
}

/* A tar name made printable for messages: control bytes become '?', long ones are cut. */
static const char *printable(const char *s, char *buf, size_t n)
{
	size_t i = 0;

	for (; s && *s && i + 4 < n; s++)
		buf[i++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	if (s && *s)
		i += (size_t)snprintf(buf + i, n - i, "...");
	buf[i < n ? i : n - 1] = '\0';
	return buf;
}

/* ---- the two-stage stream ---- */

struct stream {
	int fd;
	unsigned char *inbuf, *outbuf;
	struct archive *dec, *tar;
	struct copa_hash blob, diff;
	uint64_t blob_bytes, tar_bytes, max_tar;
	bool hashing, too_big;
	bool blob_known; /* the blob was verified before: only its size is counted */
	const char *dec_error;
	/* Progress of the compressed bytes read (first pass only; out NULL: none). */
	struct copa_out *out;
	const char *id;
	uint64_t total, reported;
};

static la_ssize_t read_blob(struct archive *a, void *ctx, const void **buf)
{
	struct stream *s = ctx;
	ssize_t n;

	if (copa_runctl_stopped()) {
		archive_set_error(a, ECANCELED, "stopped (signal or --timeout)");
		return -1;
	}
	do
		n = read(s->fd, s->inbuf, IO_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read error");
		return -1;
	}
	if (s->hashing && !s->blob_known)
		copa_hash_update(&s->blob, s->inbuf, (size_t)n);
	s->blob_bytes += (uint64_t)n;
	if (s->out && s->blob_bytes - s->reported >= (1u << 20)) {
		s->reported = s->blob_bytes;
		copa_progress(s->out, COPA_PROGRESS_UPDATE, "unpack", s->id, s->blob_bytes,
		              s->total);
	}
	*buf = s->inbuf;
	return n;
}

static la_ssize_t read_tar(struct archive *a, void *ctx, const void **buf)
{
	struct stream *s = ctx;
	la_ssize_t n = archive_read_data(s->dec, s->outbuf, IO_BUF);

	if (n < 0) {
		s->dec_error = archive_error_string(s->dec);
		archive_set_error(a, EIO, "%s",
		                  s->dec_error ? s->dec_error : "decompression failed");
		return -1;
	}
	s->tar_bytes += (uint64_t)n;
	if (s->tar_bytes > s->max_tar) {
		s->too_big = true;
		archive_set_error(a, EFBIG, "uncompressed layer is too large");
		return -1;
	}
	if (s->hashing)
		copa_hash_update(&s->diff, s->outbuf, (size_t)n);
	*buf = s->outbuf;
	return n;
}

/* For a reader that starts in the middle of an uncompressed layer: read the fd directly. */
static la_ssize_t read_plain(struct archive *a, void *ctx, const void **buf)
{
	return read_blob(a, ctx, buf);
}

static la_int64_t skip_plain(struct archive *a, void *ctx, la_int64_t request)
{
	struct stream *s = ctx;
	off_t now = lseek(s->fd, 0, SEEK_CUR);

	if (now < 0 || lseek(s->fd, request, SEEK_CUR) < 0)
		return 0;
	return request;
}

static void stream_close(struct stream *s)
{
	if (s->tar)
		archive_read_free(s->tar);
	if (s->dec)
		archive_read_free(s->dec);
	s->tar = s->dec = NULL;
	free(s->inbuf);
	free(s->outbuf);
	s->inbuf = s->outbuf = NULL;
	if (s->hashing) {
		copa_hash_release(&s->blob);
		copa_hash_release(&s->diff);
		s->hashing = false;
	}
}

static int archive_fail(struct archive *a, const char *what, struct copa_err *err)
{
	const char *m = archive_error_string(a);

	return copa_err_set(err, COPA_E_INPUT, "%s: %s", what, m ? m : "unknown libarchive error");
}

/* An error of the tar reader, explained by what happened below it when it can be. */
static int stream_fail(const struct stream *s, const char *what, struct copa_err *err)
{
	if (s->too_big)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "uncompressed layer is larger than %llu bytes",
		                    (unsigned long long)s->max_tar);
	if (s->dec_error)
		return copa_err_set(err, COPA_E_INPUT, "cannot decompress: %s", s->dec_error);
	return archive_fail(s->tar, what, err);
}

/*
 * Opens the decompress+tar chain over fd (positioned at 0), or only a tar
 * reader over fd when plain_from_here (an uncompressed layer read from the
 * current offset).
 */
static int stream_open(struct stream *s, int fd, bool hashing, bool plain_from_here,
                       uint64_t max_tar, struct copa_err *err)
{
	struct archive_entry *ae;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->max_tar = max_tar;
	s->inbuf = copa_xmalloc(IO_BUF);
	s->outbuf = copa_xmalloc(IO_BUF);
	if (hashing) {
		copa_hash_init(&s->blob, COPA_HASH_SHA256);
		copa_hash_init(&s->diff, COPA_HASH_SHA256);
		s->hashing = true;
	}
	s->tar = archive_read_new();
	if (!s->tar)
		COPA_BUG("archive_read_new failed");
	archive_read_support_format_tar(s->tar);
	if (plain_from_here) {
		archive_read_set_callback_data(s->tar, s);
		archive_read_set_read_callback(s->tar, read_plain);
		archive_read_set_skip_callback(s->tar, skip_plain);
		if (archive_read_open1(s->tar) != ARCHIVE_OK)
			return archive_fail(s->tar, "cannot read the tar stream", err);
		return 0;
	}
	s->dec = archive_read_new();
	if (!s->dec)
		COPA_BUG("archive_read_new failed");
	archive_read_support_filter_gzip(s->dec);
	archive_read_support_filter_zstd(s->dec);
	archive_read_support_format_raw(s->dec);
	if (archive_read_open(s->dec, s, NULL, read_blob, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(s->dec, &ae) != ARCHIVE_OK)
		return archive_fail(s->dec, "cannot decompress", err);
	if (archive_read_open(s->tar, s, NULL, read_tar, NULL) != ARCHIVE_OK)
		return stream_fail(s, "cannot read the tar stream", err);
	return 0;
}

static bool stream_is_plain(const struct stream *s)
{
	return s->dec && archive_filter_code(s->dec, 0) == ARCHIVE_FILTER_NONE;
}

/* Reads what is left of the uncompressed stream and of the blob, for the digests. */
static int stream_drain(struct stream *s, struct copa_err *err)
{
	const void *p;

	for (;;) {
		la_ssize_t n = read_tar(s->tar, s, &p);

		if (n < 0)
			return stream_fail(s, "decompression failed", err);
		if (n == 0)
			break;
	}
	for (;;) {
		la_ssize_t n = read_blob(s->dec, s, &p);

		if (n < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read the layer blob");
		if (n == 0)
			return 0;
	}
}

/* ---- indexing one layer ---- */

struct job {
	const struct copa_layer_blob *blob;
	struct ropts *o;
	struct copa_lindex ix;
	struct copa_err err;
	int r;
	bool done;
};

enum name_kind { NAME_ENTRY, NAME_WHITEOUT, NAME_OPAQUE, NAME_IGNORE };

/*
 * Classifies a normalised tar path: a whiteout (target written to *target),
 * an opaque marker (its directory), AUFS metadata to ignore, or an entry.
 */
static int classify(const char *norm, struct copa_buf *target, enum name_kind *kind,
                    struct copa_err *err)
{
	const char *base = strrchr(norm, '/');
	size_t dirlen = base ? (size_t)(base - norm) : 0;
	const char *wh;

	base = base ? base + 1 : norm;
	*kind = NAME_ENTRY;
	/* A directory component reserved for whiteouts: AUFS metadata (.wh..wh.plnk/...). */
	for (wh = norm; wh < base; wh = strchr(wh, '/') + 1)
		if (strncmp(wh, ".wh.", 4) == 0) {
			*kind = NAME_IGNORE;
			return 0;
		}
	if (strncmp(base, ".wh.", 4) != 0)
		return 0;
	copa_buf_reset(target);
	copa_buf_add(target, norm, dirlen);
	if (strcmp(base, ".wh..wh..opq") == 0) {
		*kind = NAME_OPAQUE;
		return 0;
	}
	if (strncmp(base, ".wh..wh.", 8) == 0) {
		*kind = NAME_IGNORE;
		return 0;
	}
	base += 4;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return copa_err_set(err, COPA_E_INPUT, "whiteout names '%s', not a file", base);
	if (dirlen)
		copa_buf_addc(target, '/');
	copa_buf_adds(target, base);
	*kind = NAME_WHITEOUT;
	return 0;
}

static int bad_path(const char *raw, struct copa_err *err)
{
	for (const char *p = raw; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return copa_err_set(err, COPA_E_INPUT,
			                    "the name contains a control character");
	return copa_err_set(err, COPA_E_INPUT, "the path leaves the layer root ('..')");
}

static int capture(struct job *j, struct stream *s, struct copa_rec *rec, struct copa_err *err)
{
	unsigned char *dst;
	uint64_t got = 0;
	uint64_t total;

	total = __atomic_add_fetch(&j->o->inline_total, rec->size, __ATOMIC_RELAXED);
	if (total > INLINE_TOTAL_MAX)
		return 0; /* enough captured: the rest is read on demand */
	dst = copa_arena_alloc(&j->ix.arena, rec->size ? (size_t)rec->size : 1);
	while (got < rec->size) {
		la_ssize_t n = archive_read_data(s->tar, dst + got, (size_t)(rec->size - got));

		if (n < 0)
			return stream_fail(s, "cannot read the content", err);
		if (n == 0)
			return copa_err_set(err, COPA_E_INPUT, "the content is truncated");
		got += (uint64_t)n;
	}
	rec->content = dst;
	j->ix.inline_bytes += rec->size;
	return 0;
}

/* Turns one tar header into a record of the index (or nothing, for ignored names). */
static int index_entry(struct job *j, struct stream *s, struct archive_entry *ae,
                       struct copa_buf *norm, struct copa_buf *tmp, struct copa_err *err)
{
	const char *raw = archive_entry_pathname(ae);
	const char *hl = archive_entry_hardlink(ae);
	struct copa_rec *rec;
	enum name_kind kind;
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
	la_int64_t size = archive_entry_size(ae);

	if (!raw || !*raw)
		return copa_err_set(err, COPA_E_INPUT, "an entry has no name");
	if (strlen(raw) > MAX_PATH_LEN)
		return copa_err_set(err, COPA_E_LIMIT, "the name is longer than %d bytes",
		                    MAX_PATH_LEN);
	if (copa_path_normalize(raw, norm) < 0)
		return bad_path(raw, err);
	if (classify(norm->p, tmp, &kind, err) < 0)
		return -1;
	if (kind == NAME_IGNORE)
		return 0;
	if (j->ix.n >= j->o->max_entries)
		return copa_err_set(err, COPA_E_LIMIT, "the layer has more than %llu entries",
		                    (unsigned long long)j->o->max_entries);
	if (kind != NAME_ENTRY) {
		rec = copa_lindex_add(&j->ix);
		rec->kind = kind == NAME_WHITEOUT ? COPA_REC_WHITEOUT : COPA_REC_OPAQUE;
		rec->path = copa_arena_strndup(&j->ix.arena, tmp->p, tmp->len);
		rec->pos = (uint64_t)archive_read_header_position(s->tar);
		return 0;
	}
	if (size < 0 || (uint64_t)size > j->o->max_layer_bytes)
		return copa_err_set(err, COPA_E_LIMIT, "the size %lld is out of range",
		                    (long long)size);
	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return copa_err_set(err, COPA_E_INPUT, "the owner %lld:%lld is out of range",
		                    (long long)uid, (long long)gid);
	rec = copa_lindex_add(&j->ix);
	rec->kind = COPA_REC_ENTRY;
	rec->path = copa_arena_strndup(&j->ix.arena, norm->p, norm->len);
	rec->mode = archive_entry_perm(ae) & 07777;
	rec->uid = (uint32_t)uid;
	rec->gid = (uint32_t)gid;
	rec->mtime = archive_entry_mtime(ae);
	rec->pos = (uint64_t)archive_read_header_position(s->tar);
	if (hl) {
		if (strlen(hl) > MAX_PATH_LEN || copa_path_normalize(hl, tmp) < 0 || !tmp->len) {
			char b[128];

			return copa_err_set(err, COPA_E_INPUT, "hard link target '%s' is invalid",
			                    printable(hl, b, sizeof(b)));
		}
		rec->type = COPA_FT_HARDLINK;
		rec->link = copa_arena_strndup(&j->ix.arena, tmp->p, tmp->len);
		return 0;
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		rec->type = COPA_FT_REG;
		rec->size = (uint64_t)size;
		if (rec->size <= j->o->inline_max && wants_inline(j->o, rec->path))
			return capture(j, s, rec, err);
		return 0;
	case AE_IFDIR:
		rec->type = COPA_FT_DIR;
		return 0;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(ae);

		if (t && strlen(t) > MAX_PATH_LEN)
			return copa_err_set(err, COPA_E_LIMIT, "the symlink target is too long");
		rec->type = COPA_FT_SYMLINK;
		rec->link = copa_arena_strdup(&j->ix.arena, t ? t : "");
		return 0;
	}
	case AE_IFCHR:
	case AE_IFBLK:
		rec->type = archive_entry_filetype(ae) == AE_IFCHR ? COPA_FT_CHR : COPA_FT_BLK;
		rec->major = (uint32_t)archive_entry_rdevmajor(ae);
		rec->minor = (uint32_t)archive_entry_rdevminor(ae);
		return 0;
	case AE_IFIFO:
		rec->type = COPA_FT_FIFO;
		return 0;
	default:
		/* Sockets and unknown types cannot be materialised: leave them out. */
		j->ix.n--;
		return 0;
	}
}

static int stream_layer(struct job *j, int fd, struct copa_err *err)
{
	const struct copa_layer_blob *lb = j->blob;
	struct stream s;
	struct archive_entry *ae;
	struct copa_buf norm = COPA_BUF_INIT, tmp = COPA_BUF_INIT;
	char hex[COPA_HASH_HEX_MAX];
	char name[160];
	enum copa_hash_alg alg = COPA_HASH_SHA256;
	const char *want_hex = NULL;
	int r = 0;

	if (lb->digest)
		copa_digest_parse(lb->digest, &alg, &want_hex);
	if (stream_open(&s, fd, true, false, j->o->max_layer_bytes, err) < 0) {
		r = -1;
		goto out;
	}
	s.out = j->o->out;
	s.id = lb->digest;
	s.total = lb->size;
	/* The image source hashed the file when it handed out its path: once is enough. */
	s.blob_known = lb->verified && want_hex;
	if (alg != COPA_HASH_SHA256) { /* the blob hash must use the digest's algorithm */
		copa_hash_release(&s.blob);
		copa_hash_init(&s.blob, alg);
	}
	for (;;) {
		int ar = archive_read_next_header(s.tar, &ae);

		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			r = stream_fail(&s, "malformed tar", err);
			goto out;
		}
		if (index_entry(j, &s, ae, &norm, &tmp, err) < 0) {
			copa_err_wrap(err, "tar entry '%s'",
			              printable(archive_entry_pathname(ae), name, sizeof(name)));
			r = -1;
			goto out;
		}
	}
	j->ix.plain = stream_is_plain(&s);
	if (stream_drain(&s, err) < 0) {
		r = -1;
		goto out;
	}
	j->ix.tar_size = s.tar_bytes;
	copa_hash_final_hex(&s.diff, hex);
	snprintf(j->ix.diff_id, sizeof(j->ix.diff_id), "sha256:%s", hex);
	copa_hash_final_hex(&s.blob, hex);
	if (want_hex && !s.blob_known && strcmp(hex, want_hex) != 0) {
		r = copa_err_set(
		    err, COPA_E_VERIFY,
		    "the blob does not match its digest (it hashes to %s:%s): the file "
		    "is corrupt; delete it and pull the image again",
		    copa_hash_name(alg), hex);
		goto out;
	}
	if (lb->size && s.blob_bytes != lb->size)
		r = copa_err_set(err, COPA_E_VERIFY,
		                 "the blob has %llu bytes, the manifest says %llu",
		                 (unsigned long long)s.blob_bytes, (unsigned long long)lb->size);
out:
	stream_close(&s);
	copa_buf_release(&norm);
	copa_buf_release(&tmp);
	return r;
}

static char *cache_key(const struct job *j)
{
	const char *hex;

	if (!j->o->cache || !j->blob->digest || !copa_digest_parse(j->blob->digest, NULL, &hex))
		return NULL;
	return copa_xasprintf("%s-%s", hex, j->o->key_suffix);
}

static bool index_from_cache(struct job *j, const char *key)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err cerr = COPA_ERR_INIT;

	if (copa_cache_get(j->o->cache, CACHE_NS, key, MAX_INDEX_BYTES, &b, &cerr) != 1) {
		copa_buf_release(&b);
		return false;
	}
	if (copa_lindex_decode(&j->ix, &b, &cerr) < 0 || j->ix.n > j->o->max_entries) {
		copa_debug(j->o->out, "ignoring the cached index of layer %s: %s", j->blob->digest,
		           cerr.msg);
		copa_lindex_release(&j->ix);
		return false;
	}
	__atomic_add_fetch(&j->o->inline_total, j->ix.inline_bytes, __ATOMIC_RELAXED);
	return true;
}

static int index_layer(struct job *j)
{
	const struct copa_layer_blob *lb = j->blob;
	struct copa_err *err = &j->err;
	_cleanup_free_ char *key = cache_key(j);
	_cleanup_close_ int fd = -1;

	if (!lb->path)
		return copa_err_set(err, COPA_E_NOTFOUND, "the blob is not available locally");
	if (!key || !index_from_cache(j, key)) {
		fd = open(lb->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return copa_err_sys(err, errno == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO,
			                    errno, "cannot open '%s'", lb->path);
		copa_progress(j->o->out, COPA_PROGRESS_START, "unpack", lb->digest, 0, lb->size);
		if (stream_layer(j, fd, err) < 0) {
			copa_progress_done(j->o->out, "unpack", lb->digest, 0);
			return -1;
		}
		copa_progress(j->o->out, COPA_PROGRESS_UPDATE, "unpack", lb->digest, lb->size,
		              lb->size);
		copa_progress_done(j->o->out, "unpack", lb->digest, 1);
		if (key) {
			struct copa_buf enc = COPA_BUF_INIT;
			struct copa_err cerr = COPA_ERR_INIT;

			copa_lindex_encode(&j->ix, &enc);
			if (copa_cache_put(j->o->cache, CACHE_NS, key, enc.p, enc.len, &cerr) < 0)
				copa_warn(j->o->out, "cannot cache the index of layer %s: %s",
				          lb->digest, cerr.msg);
			copa_buf_release(&enc);
		}
	} else {
		copa_debug(j->o->out, "layer %s: header index from the cache", lb->digest);
	}
	if (lb->diff_id && strcmp(lb->diff_id, j->ix.diff_id) != 0)
		return copa_err_set(
		    err, COPA_E_VERIFY,
		    "the uncompressed content hashes to %s, but the image config "
		    "says its diff_id is %s: the image is corrupt or was tampered with",
		    j->ix.diff_id, lb->diff_id);
	return 0;
}

static bool media_type_ok(const char *mt)
{
	static const char *const known[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.oci.image.layer.v1.tar+zstd",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	    "application/vnd.docker.image.rootfs.diff.tar",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	    "application/vnd.docker.image.rootfs.diff.tar.zstd",
	    "application/vnd.docker.image.rootfs.foreign.diff.tar",
	    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};

	if (!mt)
		return true;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(known); i++)
		if (strcmp(mt, known[i]) == 0)
			return true;
	return false;
}

static void run_job(struct job *j)
{
	if (!media_type_ok(j->blob->media_type))
		j->r = copa_err_set(&j->err, COPA_E_UNSUPPORTED,
		                    "unsupported layer media type '%s'", j->blob->media_type);
	else
		j->r = index_layer(j);
	if (j->r < 0)
		copa_err_wrap(&j->err, "layer %s",
		              j->blob->digest ? j->blob->digest
		              : j->blob->path ? j->blob->path
		                              : "(unnamed)");
}

/* ---- workers ---- */

struct pool {
	struct job *jobs;
	size_t n, next;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *pool_main(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&p->mu);
		if (p->stop || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		j = &p->jobs[p->next++];
		pthread_mutex_unlock(&p->mu);
		run_job(j);
		pthread_mutex_lock(&p->mu);
		j->done = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/* ---- applying an index to the view ---- */

static int apply_markers(struct copa_view *v, const struct copa_lindex *ix, struct copa_buf *canon)
{
	for (size_t i = 0; i < ix->n; i++) {
		const struct copa_rec *r = &ix->recs[i];
		const struct copa_view_entry *e = NULL;
		struct copa_err ignore = COPA_ERR_INIT;

		if (r->kind == COPA_REC_ENTRY)
			continue;
		/* A missing parent means there is nothing to hide. */
		if (copa_view_resolve(v, r->path, 0, canon, &e, &ignore) < 0 || !e)
			continue;
		if (r->kind == COPA_REC_WHITEOUT && canon->len)
			copa_view_remove(v, canon->p);
		else if (r->kind == COPA_REC_OPAQUE && e->type == COPA_FT_DIR)
			copa_view_clear_children(v, copa_buf_str(canon));
	}
	return 0;
}

static int apply_entries(struct copa_view *v, const struct copa_lindex *ix, uint32_t layer,
                         struct copa_buf *canon, struct copa_err *err)
{
	for (size_t i = 0; i < ix->n; i++) {
		const struct copa_rec *r = &ix->recs[i];
		struct copa_view_entry e = {.path = r->path,
		                            .type = r->type,
		                            .mode = r->mode,
		                            .uid = r->uid,
		                            .gid = r->gid,
		                            .size = r->size,
		                            .mtime = r->mtime,
		                            .link = r->link,
		                            .rdev_major = r->major,
		                            .rdev_minor = r->minor,
		                            .layer = layer,
		                            .data_offset = r->pos,
		                            .content = r->content};

		if (r->kind != COPA_REC_ENTRY)
			continue;
		if (r->type == COPA_FT_HARDLINK) {
			const struct copa_view_entry *t = NULL;
			struct copa_err ignore = COPA_ERR_INIT;

			/* Share the target's content: later layers may replace the target path. */
			e.size = 0;
			e.data_offset = COPA_VIEW_NO_OFFSET;
			e.layer = layer;
			if (copa_view_resolve(v, r->link, 0, canon, &t, &ignore) == 0 && t &&
			    (t->type == COPA_FT_REG ||
			     (t->type == COPA_FT_HARDLINK && copa_view_link_has_data(t)))) {
				e.link = canon->p;
				e.size = t->size;
				e.content = t->content;
				e.layer = t->layer;
				e.data_offset = t->data_offset;
			}
		}
		if (!copa_view_put(v, &e, err)) {
			char b[160];

			return copa_err_wrap(err, "tar entry '%s'",
			                     printable(r->path, b, sizeof(b)));
		}
	}
	return 0;
}

static int apply_index(struct copa_view *v, const struct copa_lindex *ix, uint32_t layer,
                       struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT;
	int r = apply_markers(v, ix, &canon);

	if (r == 0)
		r = apply_entries(v, ix, layer, &canon, err);
	copa_buf_release(&canon);
	return r;
}

/* ---- content on demand ---- */

static void cursor_close(struct cursor *c)
{
	if (c->s) {
		stream_close(c->s);
		if (c->s->fd >= 0)
			close(c->s->fd);
		free(c->s);
	}
	c->s = NULL;
	c->layer = -1;
	c->last = -1;
	c->base = 0;
}

static int cursor_open(struct copa_image_fs *fs, uint32_t layer, uint64_t pos, struct copa_err *err)
{
	const struct fs_layer *l = &fs->layers[layer];
	struct cursor *c = &fs->cur;
	int fd;

	cursor_close(c);
	if (!l->path)
		return copa_err_set(err, COPA_E_NOTFOUND, "the blob is not available locally");
	fd = open(l->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", l->path);
	if (l->plain && lseek(fd, (off_t)pos, SEEK_SET) < 0) {
		close(fd);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot seek in '%s'", l->path);
	}
	c->s = copa_xcalloc(1, sizeof(*c->s));
	if (stream_open(c->s, fd, false, l->plain, UINT64_MAX, err) < 0) {
		cursor_close(c);
		return -1;
	}
	c->layer = (int)layer;
	c->base = l->plain ? pos : 0;
	if (!l->plain)
		copa_debug(fs->out, "layer %s: decompressing from the start", l->digest);
	return 0;
}

/* Positions the cursor on the header at e->data_offset. */
static int cursor_seek(struct copa_image_fs *fs, const struct copa_view_entry *e,
                       struct archive_entry **ae, struct copa_err *err)
{
	struct cursor *c = &fs->cur;
	bool reuse = c->s && c->layer == (int)e->layer && !fs->layers[e->layer].plain &&
	             c->last >= 0 && c->base + (uint64_t)c->last < e->data_offset;

	/* Uncompressed layers are read from the offset directly; others go forward or restart. */
	if (!reuse && cursor_open(fs, e->layer, e->data_offset, err) < 0)
		return -1;
	for (;;) {
		int ar = archive_read_next_header(c->s->tar, ae);
		uint64_t at;

		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
			return copa_err_set(err, COPA_E_INPUT,
			                    "the entry is not at offset %llu: %s",
			                    (unsigned long long)e->data_offset,
			                    ar == ARCHIVE_EOF ? "end of the layer"
			                                      : archive_error_string(c->s->tar));
		c->last = archive_read_header_position(c->s->tar);
		at = c->base + (uint64_t)c->last;
		if (at == e->data_offset)
			return 0;
		if (at > e->data_offset)
			return copa_err_set(err, COPA_E_INPUT, "no entry starts at offset %llu",
			                    (unsigned long long)e->data_offset);
	}
}

static int read_content(void *ctx, const struct copa_view_entry *e, size_t max,
                        struct copa_buf *out, struct copa_err *err)
{
	struct copa_image_fs *fs = ctx;
	struct cursor *c = &fs->cur;
	struct archive_entry *ae;
	uint64_t got = 0;

	if (e->layer >= fs->n || e->data_offset == COPA_VIEW_NO_OFFSET)
		return copa_err_set(err, COPA_E_BUG, "'%s' has no layer to read from", e->path);
	if (e->size > max)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %zu bytes", e->path,
		                    max);
	if (cursor_seek(fs, e, &ae, err) < 0)
		goto fail;
	if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae) ||
	    (uint64_t)archive_entry_size(ae) != e->size) {
		copa_err_set(err, COPA_E_INPUT, "the layer changed since it was indexed");
		goto fail;
	}
	if (copa_buf_grow(out, (size_t)e->size) < 0)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' does not fit the buffer", e->path);
	while (got < e->size) {
		la_ssize_t n =
		    archive_read_data(c->s->tar, out->p + out->len, (size_t)(e->size - got));

		if (n < 0) {
			archive_fail(c->s->tar, "cannot read the content", err);
			goto fail;
		}
		if (n == 0) {
			copa_err_set(err, COPA_E_INPUT, "the content is truncated");
			goto fail;
		}
		out->len += (size_t)n;
		out->p[out->len] = '\0';
		got += (uint64_t)n;
	}
	return 0;
fail:
	cursor_close(c);
	return copa_err_wrap(err, "cannot read '%s' from layer %s", e->path,
	                     fs->layers[e->layer].digest);
}

/* ---- public ---- */

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

static int build(struct copa_image_fs *fs, struct job *jobs, size_t n, unsigned threads,
                 struct copa_err *err)
{
	struct pool p = {.jobs = jobs, .n = n};
	pthread_t th[8];
	unsigned nth = threads ? (threads > 8 ? 8 : threads) : online_cpus(), started = 0;
	uint64_t entries = 0;
	int r = 0;

	/* One layer: index it on this thread. */
	if (nth > n || n == 1)
		nth = n == 1 ? 0 : (unsigned)n;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	/* The calling thread applies; workers index ahead of it. */
	for (unsigned i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, pool_main, &p) == 0)
			started++;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct job *j = &jobs[i];

		if (!started) {
			run_job(j);
		} else {
			pthread_mutex_lock(&p.mu);
			while (!j->done)
				pthread_cond_wait(&p.cv, &p.mu);
			pthread_mutex_unlock(&p.mu);
		}
		if (j->r < 0) {
			*err = j->err;
			r = -1;
			break;
		}
		entries += j->ix.n;
		if (entries > j->o->max_entries) {
			r = copa_err_set(err, COPA_E_LIMIT,
			                 "the image has more than %llu entries in its layers",
			                 (unsigned long long)j->o->max_entries);
			break;
		}
		fs->layers[i].plain = j->ix.plain;
		if (apply_index(fs->view, &j->ix, (uint32_t)i, err) < 0) {
			copa_err_wrap(err, "layer %s", fs->layers[i].digest);
			r = -1;
		}
		copa_lindex_release(&j->ix);
	}
	pthread_mutex_lock(&p.mu);
	p.stop = true;
	pthread_mutex_unlock(&p.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return r;
}

struct copa_image_fs *copa_image_fs_open(const struct copa_layer_blob *layers, size_t n,
                                         const struct copa_image_fs_opts *opts,
                                         struct copa_err *err)
{
	struct copa_image_fs *fs = copa_xcalloc(1, sizeof(*fs));
	struct ropts o;
	struct job *jobs = copa_xcalloc(n ? n : 1, sizeof(*jobs));
	int r;

	ropts_init(&o, opts);
	fs->out = o.out;
	fs->view = copa_view_new();
	fs->layers = copa_xcalloc(n ? n : 1, sizeof(*fs->layers));
	fs->n = n;
	fs->cur.layer = -1;
	fs->cur.last = -1;
	for (size_t i = 0; i < n; i++) {
		fs->layers[i].digest = copa_xstrdup(layers[i].digest ? layers[i].digest
		                                    : layers[i].path ? layers[i].path
		                                                     : "(unnamed)");
		fs->layers[i].path = layers[i].path ? copa_xstrdup(layers[i].path) : NULL;
		jobs[i].blob = &layers[i];
		jobs[i].o = &o;
		jobs[i].err = (struct copa_err)COPA_ERR_INIT;
	}
	r = build(fs, jobs, n, opts ? opts->threads : 0, err);
	for (size_t i = 0; i < n; i++)
		copa_lindex_release(&jobs[i].ix);
	free(jobs);
	if (r < 0) {
		copa_image_fs_free(fs);
		return NULL;
	}
	copa_view_set_reader(fs->view, read_content, fs);
	return fs;
}

struct batch_item {
	size_t i;
	const struct copa_view_entry *e;
};

static int cmp_batch(const void *x, const void *y)
{
	const struct batch_item *a = x, *b = y;

	if (a->e->layer != b->e->layer)
		return a->e->layer < b->e->layer ? -1 : 1;
	if (a->e->data_offset != b->e->data_offset)
		return a->e->data_offset < b->e->data_offset ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* The entry whose bytes copa_view_read would return for path. */
static int batch_entry(struct copa_view *v, const char *path, size_t max,
                       const struct copa_view_entry **out, struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = NULL;
	int r = copa_view_resolve(v, path, COPA_VIEW_FOLLOW, &canon, &e, err);

	copa_buf_release(&canon);
	if (r < 0)
		return -1;
	if (e && e->type == COPA_FT_HARDLINK && !copa_view_link_has_data(e)) {
		e = copa_view_get(v, e->link ? e->link : "");
		if (!e || e->type != COPA_FT_REG)
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s' is a hard link to a missing file", path);
	}
	if (!e)
		return copa_err_set(err, COPA_E_NOTFOUND, "'%s' is not in the image", path);
	if (e->type != COPA_FT_REG && e->type != COPA_FT_HARDLINK)
		return copa_err_set(err, COPA_E_INPUT, "'%s' is not a regular file", path);
	if (e->size > max)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "'%s' is %llu bytes, more than the %zu allowed", path,
		                    (unsigned long long)e->size, max);
	*out = e;
	return 0;
}

int copa_image_fs_read_batch(struct copa_image_fs *fs, const char *const *paths, size_t n,
                             size_t max,
                             int (*fn)(void *ctx, size_t i, const void *data, size_t len),
                             void *ctx, struct copa_err *err)
{
	struct batch_item *items = copa_xcalloc(n ? n : 1, sizeof(*items));
	struct copa_buf b = COPA_BUF_INIT;
	size_t k = 0;
	int r = 0;

	/* Inline contents first: they need no reading. */
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct copa_view_entry *e = NULL;

		r = batch_entry(fs->view, paths[i], max, &e, err);
		if (r == 0 && e->content)
			r = fn(ctx, i, e->content, (size_t)e->size);
		else if (r == 0)
			items[k++] = (struct batch_item){i, e};
	}
	if (k > 1)
		qsort(items, k, sizeof(*items), cmp_batch);
	for (size_t j = 0; j < k && r == 0; j++) {
		copa_buf_reset(&b);
		r = read_content(fs, items[j].e, max, &b, err);
		if (r == 0)
			r = fn(ctx, items[j].i, b.p ? b.p : "", b.len);
	}
	copa_buf_release(&b);
	free(items);
	return r;
}

struct copa_view *copa_image_fs_view(struct copa_image_fs *fs)
{
	return fs->view;
}

void copa_image_fs_free(struct copa_image_fs *fs)
{
	if (!fs)
		return;
	cursor_close(&fs->cur);
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->layers[i].digest);
		free(fs->layers[i].path);
	}
	free(fs->layers);
	copa_view_free(fs->view);
	free(fs);
}

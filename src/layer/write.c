/*
 * write.c: the deterministic tar writer behind copa_layer_builder_write.
 *
 * The tar is POSIX pax: a ustar header per entry, preceded by a pax extended
 * header ('x') only when a value does not fit ustar (path or link longer
 * than 100 bytes, size of 8 GiB or more, ids over 2097151, mtime out of
 * range) or the entry has xattrs (SCHILY.xattr.<name>, as GNU tar, Go's
 * archive/tar and libarchive read them). Owners are numeric with empty
 * uname/gname; the pax header's own fields are fixed. Nothing depends on the
 * clock, the host, the user running copa or the libarchive version: the
 * bytes are a function of the builder's description only.
 *
 * Hard links: a tar extractor links to a path it has already extracted, so
 * in every group of hard-linked entries the first one in tar order carries
 * the content and the others link to it, whichever of them the description
 * called the target.
 */
#include "layer/compress.h"
#include "layer/layer.h"

#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK           512
#define MAX_LINK        4095
#define MAX_XATTR_NAME  255
#define MAX_XATTR_VALUE (64u * 1024)

struct wentry {
	const struct copa_layer_entry *e;
	enum copa_layer_mark mark;
	int32_t root;    /* hard-link groups: the regular entry holding the content; -1 */
	int32_t carrier; /* for a group's root: the member written first; -1 */
};

struct writer {
	const struct copa_layer_builder *b;
	struct copa_zpipe *z;
	struct wentry *v;
	size_t n, cap;
	struct copa_buf pax, name;
};

static int collect(void *ctx, const struct copa_layer_entry *e, enum copa_layer_mark mark)
{
	struct writer *w = ctx;

	w->v = copa_xgrow(w->v, &w->cap, w->n + 1, sizeof(*w->v));
	w->v[w->n++] = (struct wentry){e, mark, -1, -1};
	return 0;
}

/* ---- hard-link groups ---- */

static int32_t find_entry(const struct copa_strmap *idx, const char *link)
{
	struct copa_buf nb = COPA_BUF_INIT;
	uint32_t i;
	bool ok = link && copa_path_normalize(link, &nb) == 0 && nb.len &&
	          copa_strmap_get(idx, nb.p, nb.len, &i);

	copa_buf_release(&nb);
	return ok ? (int32_t)i : -1;
}

static int link_groups(struct writer *w, struct copa_err *err)
{
	struct copa_strmap idx = COPA_STRMAP_INIT;
	int r = 0;

	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].mark == COPA_LAYER_ENTRY)
			copa_strmap_put(&idx, w->v[i].e->path, strlen(w->v[i].e->path),
			                (uint32_t)i);
	for (size_t i = 0; i < w->n && r == 0; i++) {
		const struct copa_layer_entry *e = w->v[i].e;
		int32_t j = (int32_t)i;
		size_t steps = 0;

		if (w->v[i].mark != COPA_LAYER_ENTRY || e->type != COPA_FT_HARDLINK)
			continue;
		while (j >= 0 && w->v[j].e->type == COPA_FT_HARDLINK && steps++ <= w->n)
			j = find_entry(&idx, w->v[j].e->link);
		if (j < 0 || w->v[j].e->type != COPA_FT_REG) {
			r = copa_err_set(err, COPA_E_INPUT,
			                 "new layer: hard link '%s' points to '%s', which is not a "
			                 "regular file in the same layer",
			                 e->path, e->link ? e->link : "");
			break;
		}
		w->v[i].root = j;
		w->v[j].root = j;
	}
	/* Members are visited in tar order, so the first one seen carries the content. */
	for (size_t i = 0; i < w->n && r == 0; i++) {
		int32_t root = w->v[i].root;

		if (root >= 0 && w->v[root].carrier < 0)
			w->v[root].carrier = (int32_t)i;
	}
	copa_strmap_release(&idx);
	return r;
}

/* ---- header encoding ---- */

/* Writes v as width-1 zero-padded octal digits and a NUL; false when it does not fit. */
static bool put_octal(char *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0;) {
		field[i] = (char)('0' + (v & 7));
		v >>= 3;
	}
	return v == 0;
}

static size_t digits10(size_t v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Appends one pax record "<len> <key>=<value>\n"; len counts the whole record. */
static void pax_record(struct copa_buf *b, const char *key, const void *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3;
	size_t len = base + digits10(base);

	if (digits10(len) != digits10(base))
		len = base + digits10(len);
	copa_buf_addf(b, "%zu %s=", len, key);
	copa_buf_add(b, val, vlen);
	copa_buf_addc(b, '\n');
}

static void pax_number(struct copa_buf *b, const char *key, long long v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", v);

	pax_record(b, key, num, (size_t)n);
}

static int cmp_xattr(const void *x, const void *y)
{
	const struct copa_layer_xattr *a = *(const struct copa_layer_xattr *const *)x;
	const struct copa_layer_xattr *b = *(const struct copa_layer_xattr *const *)y;

	return strcmp(a->name, b->name);
}

static int pax_xattrs(struct copa_buf *b, const struct copa_layer_entry *e, struct copa_err *err)
{
	const struct copa_layer_xattr **x;
	int r = 0;

	if (!e->n_xattrs)
		return 0;
	x = copa_xmalloc(e->n_xattrs * sizeof(*x));
	for (size_t i = 0; i < e->n_xattrs; i++)
		x[i] = &e->xattrs[i];
	qsort(x, e->n_xattrs, sizeof(*x), cmp_xattr);
	for (size_t i = 0; i < e->n_xattrs && r == 0; i++) {
		const char *name = x[i]->name;
		size_t nlen = strlen(name);

		if (!nlen || nlen > MAX_XATTR_NAME || strchr(name, '=') ||
		    strpbrk(name, "\n\r\t ") || x[i]->len > MAX_XATTR_VALUE ||
		    (i && strcmp(x[i - 1]->name, name) == 0)) {
			r = copa_err_set(err, COPA_E_INPUT,
			                 "new layer: entry '%s': invalid or duplicate xattr '%s'",
			                 e->path, name);
			break;
		}
		char *key = copa_xasprintf("SCHILY.xattr.%s", name);

		pax_record(b, key, x[i]->value, x[i]->len);
		free(key);
	}
	free(x);
	return r;
}

struct hdr {
	const char *name; /* tar name (directories end with '/') */
	char type;        /* ustar typeflag */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t mtime;
	const char *link;
	uint32_t major, minor;
	const struct copa_layer_entry *xattrs_of; /* NULL: none */
};

static void checksum(unsigned char *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < BLOCK; i++)
		sum += h[i];
	put_octal((char *)h + 148, 7, sum);
	h[155] = ' ';
}

static void fill_ustar(unsigned char *h, const char *name, char type, uint32_t mode, uint32_t uid,
                       uint32_t gid, uint64_t size, uint64_t mtime, const char *link)
{
	size_t n = strlen(name);

	memset(h, 0, BLOCK);
	memcpy(h, name, n > 100 ? 100 : n);
	put_octal((char *)h + 100, 8, mode & 07777);
	put_octal((char *)h + 108, 8, uid);
	put_octal((char *)h + 116, 8, gid);
	put_octal((char *)h + 124, 12, size);
	put_octal((char *)h + 136, 12, mtime);
	h[156] = (unsigned char)type;
	if (link) {
		n = strlen(link);
		memcpy(h + 157, link, n > 100 ? 100 : n);
	}
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
}

static int write_pax(struct writer *w, const char *name, struct copa_err *err)
{
	unsigned char h[BLOCK];
	const char *base = strrchr(name, '/');
	char pname[100];
	size_t k = 0, pad;

	/* A fixed, harmless name: "PaxHeaders.0/" + the entry's base name in ASCII. */
	base = base && base[1] ? base + 1 : name;
	k = (size_t)snprintf(pname, sizeof(pname), "PaxHeaders.0/");
	for (const char *p = base; *p && *p != '/' && k < sizeof(pname) - 1; p++)
		pname[k++] = (*p > 0x20 && *p < 0x7f) ? *p : '_';
	pname[k] = '\0';
	fill_ustar(h, pname, 'x', 0644, 0, 0, w->pax.len, 0, NULL);
	checksum(h);
	if (copa_zpipe_write(w->z, h, BLOCK, err) < 0 ||
	    copa_zpipe_write(w->z, w->pax.p, w->pax.len, err) < 0)
		return -1;
	pad = (BLOCK - w->pax.len % BLOCK) % BLOCK;
	memset(h, 0, sizeof(h));
	return copa_zpipe_write(w->z, h, pad, err);
}

#define USTAR_MAX_ID  07777777u
#define USTAR_MAX_NUM 077777777777ull

static int write_header(struct writer *w, const struct hdr *x, const char *what,
                        struct copa_err *err)
{
	unsigned char h[BLOCK];
	struct copa_buf *pax = &w->pax;
	bool big_size = x->size > USTAR_MAX_NUM;
	bool bad_time = x->mtime < 0 || (uint64_t)x->mtime > USTAR_MAX_NUM;

	copa_buf_reset(pax);
	if (strlen(x->name) > 100)
		pax_record(pax, "path", x->name, strlen(x->name));
	if (x->link && strlen(x->link) > 100)
		pax_record(pax, "linkpath", x->link, strlen(x->link));
	if (big_size)
		pax_number(pax, "size", (long long)x->size);
	if (x->uid > USTAR_MAX_ID)
		pax_number(pax, "uid", x->uid);
	if (x->gid > USTAR_MAX_ID)
		pax_number(pax, "gid", x->gid);
	if (bad_time)
		pax_number(pax, "mtime", x->mtime);
	if (x->xattrs_of && pax_xattrs(pax, x->xattrs_of, err) < 0)
		return -1;
	if (pax->len && write_pax(w, x->name, err) < 0)
		return -1;
	fill_ustar(h, x->name, x->type, x->mode, x->uid > USTAR_MAX_ID ? 0 : x->uid,
	           x->gid > USTAR_MAX_ID ? 0 : x->gid, big_size ? 0 : x->size,
	           bad_time ? 0 : (uint64_t)x->mtime, x->link);
	if (x->type == '3' || x->type == '4') {
		if (!put_octal((char *)h + 329, 8, x->major) ||
		    !put_octal((char *)h + 337, 8, x->minor))
			return copa_err_set(err, COPA_E_INPUT,
			                    "new layer: %s '%s': device number %u:%u is too large",
			                    what, x->name, x->major, x->minor);
	}
	checksum(h);
	return copa_zpipe_write(w->z, h, BLOCK, err);
}

/* ---- content ---- */

static int pad_to_block(struct writer *w, uint64_t size, struct copa_err *err)
{
	static const unsigned char zero[BLOCK];

	return copa_zpipe_write(w->z, zero, (BLOCK - size % BLOCK) % BLOCK, err);
}

static int copy_staged(struct writer *w, const struct copa_layer_entry *e, struct copa_err *err)
{
	int sfd = copa_layer_builder_staging_fd(w->b);
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t left = e->size;
	char probe;

	if (sfd < 0)
		return copa_err_set(err, COPA_E_BUG,
		                    "new layer: '%s' is staged but there is no "
		                    "staging directory",
		                    e->path);
	fd = copa_fs_open_beneath(sfd, e->staged, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0, err);
	if (fd < 0)
		return copa_err_wrap(err, "new layer: content of '%s'", e->path);
	if (fstat(fd, &st) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "new layer: cannot stat staged '%s'",
		                    e->staged);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != e->size)
		return copa_err_set(
		    err, COPA_E_IO,
		    "new layer: staged '%s' for '%s' is %s of %lld bytes, expected a "
		    "regular file of %llu",
		    e->staged, e->path, S_ISREG(st.st_mode) ? "a file" : "not a file",
		    (long long)st.st_size, (unsigned long long)e->size);
	while (left) {
		size_t avail;
		void *dst = copa_zpipe_space(w->z, &avail, err);
		ssize_t n;

		if (!dst)
			return -1;
		if (avail > left)
			avail = (size_t)left;
		n = read(fd, dst, avail);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return copa_err_sys(err, COPA_E_IO, errno,
			                    "new layer: cannot read staged '%s'", e->staged);
		if (n == 0)
			return copa_err_set(err, COPA_E_IO,
			                    "new layer: staged '%s' shrank while "
			                    "being written",
			                    e->staged);
		copa_zpipe_commit(w->z, (size_t)n, err);
		left -= (uint64_t)n;
	}
	if (pread(fd, &probe, 1, (off_t)e->size) > 0)
		return copa_err_set(err, COPA_E_IO,
		                    "new layer: staged '%s' grew while being written", e->staged);
	return pad_to_block(w, e->size, err);
}

static int write_content(struct writer *w, const struct copa_layer_entry *e, struct copa_err *err)
{
	if (e->content) {
		if (copa_zpipe_write(w->z, e->content, (size_t)e->size, err) < 0)
			return -1;
		return pad_to_block(w, e->size, err);
	}
	if (e->staged)
		return copy_staged(w, e, err);
	if (e->size)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "new layer: '%s' has %llu bytes but neither content nor a staged file", e->path,
		    (unsigned long long)e->size);
	return 0;
}

/* ---- entries ---- */

static const char *tar_name(struct writer *w, const struct wentry *x)
{
	const char *path = x->e->path;
	const char *slash = strrchr(path, '/');

	copa_buf_reset(&w->name);
	switch (x->mark) {
	case COPA_LAYER_ENTRY:
		copa_buf_adds(&w->name, path);
		if (x->e->type == COPA_FT_DIR)
			copa_buf_addc(&w->name, '/');
		break;
	case COPA_LAYER_WHITEOUT:
		if (slash)
			copa_buf_addf(&w->name, "%.*s/.wh.%s", (int)(slash - path), path,
			              slash + 1);
		else
			copa_buf_addf(&w->name, ".wh.%s", path);
		break;
	case COPA_LAYER_OPAQUE:
		copa_buf_addf(&w->name, "%s/.wh..wh..opq", path);
		break;
	}
	return copa_buf_str(&w->name);
}

static int write_entry(struct writer *w, size_t i, struct copa_err *err)
{
	const struct wentry *x = &w->v[i];
	const struct copa_layer_entry *e = x->e;
	const struct copa_layer_entry *meta = x->root >= 0 ? w->v[x->root].e : e;
	struct hdr h = {.name = tar_name(w, x),
	                .mode = meta->mode,
	                .uid = meta->uid,
	                .gid = meta->gid,
	                .mtime = meta->mtime};

	if (x->mark != COPA_LAYER_ENTRY) {
		/* Whiteouts are empty regular files; their attributes carry no meaning. */
		h.type = '0';
		h.mode = 0644;
		h.uid = h.gid = 0;
		h.mtime = 0;
		return write_header(w, &h, "whiteout", err);
	}
	if (x->root >= 0) {
		const struct wentry *root = &w->v[x->root];
		size_t carrier = (size_t)root->carrier;

		h.xattrs_of = root->e;
		if (carrier == i) {
			h.type = '0';
			h.size = root->e->size;
			if (write_header(w, &h, "file", err) < 0)
				return -1;
			return write_content(w, root->e, err);
		}
		h.type = '1';
		h.link = w->v[carrier].e->path;
		return write_header(w, &h, "hard link", err);
	}
	h.xattrs_of = e;
	switch ((enum copa_ftype)e->type) {
	case COPA_FT_REG:
		h.type = '0';
		h.size = e->size;
		if (write_header(w, &h, "file", err) < 0)
			return -1;
		return write_content(w, e, err);
	case COPA_FT_DIR:
		h.type = '5';
		return write_header(w, &h, "directory", err);
	case COPA_FT_SYMLINK:
		if (!e->link || !*e->link || strlen(e->link) > MAX_LINK)
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "new layer: symlink '%s' has an empty or too long target", e->path);
		h.type = '2';
		h.link = e->link;
		return write_header(w, &h, "symlink", err);
	case COPA_FT_CHR:
	case COPA_FT_BLK:
		h.type = e->type == COPA_FT_CHR ? '3' : '4';
		h.major = e->rdev_major;
		h.minor = e->rdev_minor;
		return write_header(w, &h, "device", err);
	case COPA_FT_FIFO:
		h.type = '6';
		return write_header(w, &h, "fifo", err);
	case COPA_FT_HARDLINK:
		break; /* handled above through the group */
	}
	return copa_err_set(err, COPA_E_INPUT, "new layer: entry '%s' has an unknown type %u",
	                    e->path, e->type);
}

int copa_layer_builder_write(const struct copa_layer_builder *b,
                             const struct copa_layer_write_opts *opts,
                             struct copa_layer_result *res, struct copa_err *err)
{
	static const unsigned char eof[2 * BLOCK];
	struct writer w = {.b = b};
	int r = -1;

	copa_layer_builder_foreach(b, collect, &w);
	if (link_groups(&w, err) < 0)
		goto out;
	w.z = copa_zpipe_new(opts, err);
	if (!w.z)
		goto out;
	for (size_t i = 0; i < w.n; i++)
		if (write_entry(&w, i, err) < 0)
			goto out;
	if (copa_zpipe_write(w.z, eof, sizeof(eof), err) < 0)
		goto out;
	r = copa_zpipe_finish(w.z, res, err);
out:
	if (r < 0)
		copa_progress_done(opts->out, "compress", "layer", 0);
	copa_zpipe_free(w.z);
	free(w.v);
	copa_buf_release(&w.pax);
	copa_buf_release(&w.name);
	return r;
}

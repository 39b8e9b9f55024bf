/*
 * debfile.c: .deb container and tar reading with libarchive (see debfile.h).
 */
#include "pkg/deb/debfile.h"

#include "util/runctl.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_XATTRS      64
#define MAX_XATTR_VALUE 65536
#define MAX_CTL_FILES   256

static void limits_fill(struct copa_debfile_limits *l, const struct copa_debfile_limits *in)
{
	if (in)
		*l = *in;
	else
		memset(l, 0, sizeof(*l));
	if (!l->max_member)
		l->max_member = 8ull << 30;
	if (!l->max_control)
		l->max_control = 64ull << 20;
	if (!l->max_data)
		l->max_data = 32ull << 30;
	if (!l->max_entries)
		l->max_entries = 1000000;
	if (!l->max_path)
		l->max_path = 4096;
	if (l->installed_size && l->installed_size < (l->max_data - (64u << 20)) / 2)
		l->max_data = 2 * l->installed_size + (64u << 20);
	l->label = NULL; /* borrowed by the caller; copied into the debfile */
}

void copa_debfile_free(struct copa_debfile *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_ctl; i++) {
		free(d->ctl[i].name);
		free(d->ctl[i].data);
	}
	free(d->ctl);
	free(d->label);
	free(d->data_member);
	free(d->data_tar);
	free(d->path);
	free(d);
}

const struct copa_debfile_ctl *copa_debfile_ctl(const struct copa_debfile *d, const char *name)
{
	for (size_t i = 0; i < d->n_ctl; i++)
		if (!strcmp(d->ctl[i].name, name))
			return &d->ctl[i];
	return NULL;
}

/* ---- the outer ar archive ---- */

static struct archive *outer_open(const struct copa_debfile *d, struct copa_err *err)
{
	struct archive *a = archive_read_new();
	int r;

	if (!a)
		COPA_BUG("archive_read_new failed");
	archive_read_support_format_ar(a);
	if (d->path)
		r = archive_read_open_filename(a, d->path, 65536);
	else
		r = archive_read_open_memory(a, d->mem, d->mem_len);
	if (r != ARCHIVE_OK) {
		int e = archive_errno(a);

		copa_err_set(
		    err, e == ENOENT || e == EACCES || e == EISDIR ? COPA_E_IO : COPA_E_INPUT,
		    "'%s' is not a Debian package: %s", d->label,
		    archive_error_string(a) ? archive_error_string(a) : "not an ar archive");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

enum member_kind { M_BINARY, M_CONTROL, M_DATA, M_SKIP, M_OTHER };

struct comp {
	const char *ext;
	int filter;
};

static const struct comp control_comps[] = {
    {"", ARCHIVE_FILTER_NONE},
    {".gz", ARCHIVE_FILTER_GZIP},
    {".xz", ARCHIVE_FILTER_XZ},
    {".zst", ARCHIVE_FILTER_ZSTD},
    {NULL, 0},
};

static const struct comp data_comps[] = {
    {"", ARCHIVE_FILTER_NONE},
    {".gz", ARCHIVE_FILTER_GZIP},
    {".xz", ARCHIVE_FILTER_XZ},
    {".bz2", ARCHIVE_FILTER_BZIP2},
    {".lzma", ARCHIVE_FILTER_LZMA},
    {".zst", ARCHIVE_FILTER_ZSTD},
    {NULL, 0},
};

static const struct comp *match_member(const char *name, const char *base, const struct comp *comps)
{
	size_t n = strlen(base);

	if (strncmp(name, base, n))
		return NULL;
	for (const struct comp *c = comps; c->ext; c++)
		if (!strcmp(name + n, c->ext))
			return c;
	return NULL;
}

/* ---- the inner tar archives ---- */

struct inner_src {
	struct archive *outer;
	uint64_t read; /* compressed bytes taken from the member */
	uint64_t max;
	char msg[256];
};

static la_ssize_t inner_read(struct archive *a, void *ctx, const void **buf)
{
	struct inner_src *s = ctx;
	size_t size = 0;
	la_int64_t off;
	int r;

	if (copa_runctl_stopped()) {
		archive_set_error(a, ECANCELED, "stopped (signal or --timeout)");
		return -1;
	}
	r = archive_read_data_block(s->outer, buf, &size, &off);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		archive_set_error(a, EIO, "%s",
		                  archive_error_string(s->outer) ? archive_error_string(s->outer)
		                                                 : "read error");
		return -1;
	}
	s->read += size;
	if (s->read > s->max) {
		archive_set_error(a, EFBIG, "member larger than %llu bytes",
		                  (unsigned long long)s->max);
		return -1;
	}
	return (la_ssize_t)size;
}

/* Opens a member's content as a tar archive, or with raw as one stream. */
static struct archive *inner_open(struct inner_src *src, const struct comp *expect, bool raw,
                                  const char *label, const char *member, struct copa_err *err)
{
	struct archive *a = archive_read_new();
	int filter;

	if (!a)
		COPA_BUG("archive_read_new failed");
	if (raw)
		archive_read_support_format_raw(a);
	else
		archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open(a, src, NULL, inner_read, NULL) != ARCHIVE_OK) {
		copa_err_set(err, archive_errno(a) == EFBIG ? COPA_E_LIMIT : COPA_E_INPUT,
		             "'%s': member '%s': %s", label, member,
		             archive_error_string(a) ? archive_error_string(a) : "cannot read");
		archive_read_free(a);
		return NULL;
	}
	filter = archive_filter_count(a) > 1 ? archive_filter_code(a, 0) : ARCHIVE_FILTER_NONE;
	if (archive_filter_count(a) > 2 || filter != expect->filter) {
		copa_err_set(err, COPA_E_INPUT,
		             "'%s': member '%s' is not compressed as its name says (%s)", label,
		             member, archive_filter_name(a, 0) ? archive_filter_name(a, 0) : "?");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int tar_error(struct archive *a, const char *label, const char *member, struct copa_err *err)
{
	int e = archive_errno(a);

	return copa_err_set(err, e == EFBIG ? COPA_E_LIMIT : COPA_E_INPUT, "'%s': member '%s': %s",
	                    label, member,
	                    archive_error_string(a) ? archive_error_string(a) : "corrupt tar");
}

static int cmp_ctl(const void *a, const void *b)
{
	return strcmp(((const struct copa_debfile_ctl *)a)->name,
	              ((const struct copa_debfile_ctl *)b)->name);
}

static int read_control(struct copa_debfile *d, struct archive *outer, const char *member,
                        const struct comp *comp, struct copa_err *err)
{
	struct inner_src src = {outer, 0, d->lim.max_control, {0}};
	struct archive *a = inner_open(&src, comp, false, d->label, member, err);
	struct archive_entry *ae;
	size_t cap = 0;
	uint64_t total = 0;
	int r = 0, hr;

	if (!a)
		return -1;
	while ((hr = archive_read_next_header(a, &ae)) == ARCHIVE_OK || hr == ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(ae);
		struct copa_buf norm = COPA_BUF_INIT;
		struct copa_debfile_ctl *c;
		la_int64_t size = archive_entry_size(ae);
		mode_t type = archive_entry_filetype(ae);

		if (!raw || raw[0] == '/' || copa_path_normalize(raw, &norm) < 0) {
			copa_buf_release(&norm);
			r = copa_err_set(err, COPA_E_INPUT,
			                 "'%s': control member has an invalid name '%s'", d->label,
			                 raw ? raw : "");
			break;
		}
		if (norm.len == 0 && type == AE_IFDIR) {
			copa_buf_release(&norm);
			continue;
		}
		if (type != AE_IFREG || archive_entry_hardlink(ae) || strchr(norm.p, '/') ||
		    norm.len == 0) {
			r = copa_err_set(err, COPA_E_INPUT,
			                 "'%s': control area entry '%s' is not a plain file",
			                 d->label, norm.p);
			copa_buf_release(&norm);
			break;
		}
		if (copa_debfile_ctl(d, norm.p)) {
			r = copa_err_set(err, COPA_E_INPUT, "'%s': control file '%s' appears twice",
			                 d->label, norm.p);
			copa_buf_release(&norm);
			break;
		}
		if (d->n_ctl >= MAX_CTL_FILES || size < 0 ||
		    (total += (uint64_t)size) > d->lim.max_control) {
			r = copa_err_set(err, COPA_E_LIMIT,
			                 "'%s': control area larger than allowed", d->label);
			copa_buf_release(&norm);
			break;
		}
		d->ctl = copa_xgrow(d->ctl, &cap, d->n_ctl + 1, sizeof(*d->ctl));
		c = &d->ctl[d->n_ctl++];
		memset(c, 0, sizeof(*c));
		c->name = copa_buf_detach(&norm, NULL);
		c->mode = (uint32_t)archive_entry_perm(ae) & 07777;
		c->mtime = (int64_t)archive_entry_mtime(ae);
		c->data = copa_xmalloc((size_t)size + 1);
		{
			la_ssize_t got;
			size_t have = 0;

			while (have < (size_t)size &&
			       (got = archive_read_data(a, c->data + have, (size_t)size - have)) >
			           0)
				have += (size_t)got;
			if (have != (size_t)size) {
				r = tar_error(a, d->label, member, err);
				break;
			}
		}
		c->data[size] = '\0';
		c->size = (size_t)size;
	}
	if (r == 0 && hr != ARCHIVE_EOF)
		r = tar_error(a, d->label, member, err);
	archive_read_free(a);
	if (r == 0 && !copa_debfile_ctl(d, "control"))
		r = copa_err_set(err, COPA_E_INPUT, "'%s': the control area has no 'control' file",
		                 d->label);
	if (r == 0 && d->n_ctl > 1)
		qsort(d->ctl, d->n_ctl, sizeof(*d->ctl), cmp_ctl);
	return r;
}

/* Positions `a` at the data member (its header read). Returns its comp or NULL. */
static const struct comp *walk_members(struct copa_debfile *d, struct archive *a, bool load,
                                       struct copa_err *err)
{
	struct archive_entry *ae;
	enum { WANT_BINARY, WANT_CONTROL, WANT_DATA } state = WANT_BINARY;
	int hr;

	while ((hr = archive_read_next_header(a, &ae)) == ARCHIVE_OK || hr == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(ae);
		la_int64_t size = archive_entry_size(ae);
		const struct comp *c;

		if (!name)
			name = "";
		if (size < 0 || (uint64_t)size > d->lim.max_member) {
			copa_err_set(err, COPA_E_LIMIT, "'%s': member '%s' is larger than allowed",
			             d->label, name);
			return NULL;
		}
		if (state == WANT_BINARY) {
			char buf[64];
			la_ssize_t n;
			size_t i = 2;

			if (strcmp(name, "debian-binary")) {
				copa_err_set(err, COPA_E_INPUT,
				             "'%s': the first member is '%s', not 'debian-binary'",
				             d->label, name);
				return NULL;
			}
			n = size < (la_int64_t)sizeof(buf) ? archive_read_data(a, buf, sizeof(buf))
			                                   : -1;
			if (n < 4 || buf[0] != '2' || buf[1] != '.' || buf[n - 1] != '\n') {
				copa_err_set(
				    err, COPA_E_INPUT,
				    "'%s': unsupported package format (debian-binary is not 2.x)",
				    d->label);
				return NULL;
			}
			while (i < (size_t)n - 1 && buf[i] >= '0' && buf[i] <= '9')
				i++;
			if (i == 2 || i != (size_t)n - 1) {
				copa_err_set(
				    err, COPA_E_INPUT,
				    "'%s': unsupported package format (debian-binary is not 2.x)",
				    d->label);
				return NULL;
			}
			state = WANT_CONTROL;
			continue;
		}
		if (name[0] == '_')
			continue;
		if (state == WANT_CONTROL) {
			c = match_member(name, "control.tar", control_comps);
			if (!c) {
				copa_err_set(err, COPA_E_INPUT,
				             "'%s': expected a control.tar member, found '%s'",
				             d->label, name);
				return NULL;
			}
			if (load && read_control(d, a, name, c, err) < 0)
				return NULL;
			state = WANT_DATA;
			continue;
		}
		c = match_member(name, "data.tar", data_comps);
		if (!c) {
			copa_err_set(err, COPA_E_INPUT,
			             "'%s': expected a data.tar member, found '%s'", d->label,
			             name);
			return NULL;
		}
		if (load) {
			free(d->data_member);
			d->data_member = copa_xstrdup(name);
		}
		return c;
	}
	if (hr != ARCHIVE_EOF)
		copa_err_set(err, COPA_E_INPUT, "'%s' is not a valid Debian package: %s", d->label,
		             archive_error_string(a) ? archive_error_string(a)
		                                     : "corrupt ar archive");
	else
		copa_err_set(err, COPA_E_INPUT, "'%s' is not a valid Debian package: no %s member",
		             d->label,
		             state == WANT_BINARY    ? "debian-binary"
		             : state == WANT_CONTROL ? "control.tar"
		                                     : "data.tar");
	return NULL;
}

/* Reads n bytes at off of the package file or memory; false when short. */
static bool ar_get(const struct copa_debfile *d, int fd, uint64_t off, void *buf, size_t n)
{
	if (!d->path) {
		if (off > d->mem_len || d->mem_len - off < n)
			return false;
		memcpy(buf, (const char *)d->mem + off, n);
		return true;
	}
	return pread(fd, buf, n, (off_t)off) == (ssize_t)n;
}

/*
 * The ar headers as dpkg-deb reads them, up to and including the data
 * member: libarchive hands out a member whose size runs past the end of the
 * file (cut short, it looks complete) and reads sizes with trailing junk.
 * Every header must end in "`\n", its size be decimal digits padded with
 * spaces, and its member lie within the file. What follows the data member
 * is ignored, as dpkg-deb ignores it.
 */
static int ar_check(const struct copa_debfile *d, struct copa_err *err)
{
	_cleanup_close_ int fd = -1;
	uint64_t total, off = 8;
	char magic[8];

	if (d->path) {
		struct stat st;

		fd = open(d->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", d->label);
		total = (uint64_t)st.st_size;
	} else {
		total = d->mem_len;
	}
	if (!ar_get(d, fd, 0, magic, sizeof(magic)) || memcmp(magic, "!<arch>\n", 8))
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s' is not a Debian package: not an ar archive", d->label);
	while (off < total) {
		char h[60], name[17];
		uint64_t size = 0;
		size_t i = 48, k = 16;

		if (!ar_get(d, fd, off, h, sizeof(h)))
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s' is not a valid Debian package: truncated member "
			                    "header at offset %llu",
			                    d->label, (unsigned long long)off);
		while (k > 0 && (h[k - 1] == ' ' || h[k - 1] == '/'))
			k--;
		memcpy(name, h, k);
		name[k] = '\0';
		for (size_t j = 0; j < k; j++)
			if ((unsigned char)name[j] < 0x20 || (unsigned char)name[j] >= 0x7f)
				name[j] = '?';
		if (h[58] != '`' || h[59] != '\n')
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "'%s' is not a valid Debian package: member '%s' has a corrupt header",
			    d->label, name);
		while (i < 58 && h[i] == ' ')
			i++;
		if (i == 58)
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "'%s' is not a valid Debian package: member '%s' has no size", d->label,
			    name);
		for (; i < 58 && h[i] >= '0' && h[i] <= '9'; i++)
			size = size * 10 + (uint64_t)(h[i] - '0');
		for (; i < 58; i++)
			if (h[i] != ' ')
				return copa_err_set(err, COPA_E_INPUT,
				                    "'%s' is not a valid Debian package: member "
				                    "'%s' has an invalid size",
				                    d->label, name);
		off += sizeof(h);
		if (size > total - off)
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "'%s' is not a valid Debian package: member '%s' is truncated (its "
			    "header says %llu bytes, the file holds %llu)",
			    d->label, name, (unsigned long long)size,
			    (unsigned long long)(total - off));
		if (!strncmp(name, "data.tar", 8))
			break;
		off += size + (size & 1);
	}
	return 0;
}

static int open_common(struct copa_debfile *d, struct copa_debfile **out, struct copa_err *err)
{
	struct archive *a;
	const struct comp *c;

	if (ar_check(d, err) < 0) {
		copa_debfile_free(d);
		return -1;
	}
	a = outer_open(d, err);
	if (!a) {
		copa_debfile_free(d);
		return -1;
	}
	c = walk_members(d, a, true, err);
	archive_read_free(a);
	if (!c) {
		copa_debfile_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

static char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return copa_xstrdup(s ? s + 1 : path);
}

int copa_debfile_open(const char *path, const struct copa_debfile_limits *lim,
                      struct copa_debfile **out, struct copa_err *err)
{
	struct copa_debfile *d = copa_xcalloc(1, sizeof(*d));

	*out = NULL;
	limits_fill(&d->lim, lim);
	d->path = copa_xstrdup(path);
	d->label = lim && lim->label ? copa_xstrdup(lim->label) : base_name(path);
	return open_common(d, out, err);
}

int copa_debfile_open_mem(const void *data, size_t n, const char *label,
                          const struct copa_debfile_limits *lim, struct copa_debfile **out,
                          struct copa_err *err)
{
	struct copa_debfile *d = copa_xcalloc(1, sizeof(*d));

	*out = NULL;
	limits_fill(&d->lim, lim);
	d->mem = data;
	d->mem_len = n;
	d->label = copa_xstrdup(label ? label : "package");
	return open_common(d, out, err);
}

/* ---- data.tar ---- */

struct copa_debfile_reader {
	struct archive *a;
	const struct copa_debfile *d;
	const char *path;
};

ssize_t copa_debfile_read(struct copa_debfile_reader *r, void *buf, size_t n, struct copa_err *err)
{
	la_ssize_t got = archive_read_data(r->a, buf, n);

	if (got < 0)
		return tar_error(r->a, r->d->label, r->path, err);
	return (ssize_t)got;
}

enum seen_kind { SEEN_REG = 1, SEEN_LINK = 2, SEEN_OTHER = 3 };

struct data_state {
	struct copa_arena arena;
	struct copa_strmap seen; /* path -> enum seen_kind */
	bool have_symlinks;
};

static bool has_wh_component(const char *p)
{
	for (;;) {
		if (!strncmp(p, ".wh.", 4))
			return true;
		p = strchr(p, '/');
		if (!p)
			return false;
		p++;
	}
}

/* True when a proper prefix of path is a symlink the package ships. */
static const char *below_own_symlink(const struct data_state *s, const char *path)
{
	uint32_t kind;

	if (!s->have_symlinks)
		return NULL;
	for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/'))
		if (copa_strmap_get(&s->seen, path, (size_t)(p - path), &kind) && kind == SEEN_LINK)
			return p;
	return NULL;
}

static int check_name(const struct copa_debfile *d, const char *raw, struct copa_buf *norm,
                      const char *what, struct copa_err *err)
{
	if (!raw)
		return copa_err_set(err, COPA_E_INPUT, "'%s': data.tar entry without a name",
		                    d->label);
	if (strlen(raw) > d->lim.max_path)
		return copa_err_set(err, COPA_E_LIMIT, "'%s': data.tar %s longer than %zu bytes",
		                    d->label, what, d->lim.max_path);
	if (raw[0] == '/')
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s': refusing data.tar %s '%s': absolute path", d->label,
		                    what, raw);
	if (copa_path_normalize(raw, norm) < 0)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s': refusing data.tar %s '%s': '..' or a control character",
		                    d->label, what, raw);
	if (has_wh_component(norm->p))
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s': refusing data.tar %s '%s': names starting with '.wh.' "
		                    "are whiteouts in image layers",
		                    d->label, what, raw);
	return 0;
}

static int fill_entry(const struct copa_debfile *d, struct data_state *s, struct archive_entry *ae,
                      struct copa_debfile_entry *e, struct copa_layer_xattr *xa,
                      struct copa_buf *norm, struct copa_buf *lnorm, struct copa_err *err)
{
	const char *raw = archive_entry_pathname(ae);
	const char *hl = archive_entry_hardlink(ae);
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
	uint32_t kind;
	const char *bad;

	if (check_name(d, raw, norm, "entry", err) < 0)
		return -1;
	e->path = norm->p;
	if (hl) {
		if (check_name(d, hl, lnorm, "hard link target", err) < 0)
			return -1;
		if (!copa_strmap_get(&s->seen, lnorm->p, lnorm->len, &kind) || kind != SEEN_REG)
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s': data.tar hard link '%s' points to '%s', not an "
			                    "earlier regular file of the package",
			                    d->label, raw, hl);
		e->type = COPA_FT_HARDLINK;
		e->link = lnorm->p;
	} else {
		switch (archive_entry_filetype(ae)) {
		case AE_IFREG:
			e->type = COPA_FT_REG;
			break;
		case AE_IFDIR:
			e->type = COPA_FT_DIR;
			break;
		case AE_IFLNK:
			e->type = COPA_FT_SYMLINK;
			e->link = archive_entry_symlink(ae);
			if (!e->link || !*e->link)
				return copa_err_set(err, COPA_E_INPUT,
				                    "'%s': data.tar symlink '%s' has no target",
				                    d->label, raw);
			if (strlen(e->link) > d->lim.max_path)
				return copa_err_set(err, COPA_E_LIMIT,
				                    "'%s': data.tar symlink '%s' target too long",
				                    d->label, raw);
			break;
		case AE_IFCHR:
			e->type = COPA_FT_CHR;
			break;
		case AE_IFBLK:
			e->type = COPA_FT_BLK;
			break;
		case AE_IFIFO:
			e->type = COPA_FT_FIFO;
			break;
		default:
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s': data.tar entry '%s' has an unsupported type",
			                    d->label, raw);
		}
	}
	if (norm->len == 0 && e->type != COPA_FT_DIR)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s': data.tar root entry is not a directory", d->label);
	if (copa_strmap_get(&s->seen, norm->p, norm->len, &kind) && norm->len)
		return copa_err_set(err, COPA_E_INPUT, "'%s': data.tar lists '%s' twice", d->label,
		                    raw);
	bad = below_own_symlink(s, norm->p);
	if (bad)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s': refusing data.tar entry '%s': it passes through the "
		                    "symlink '%.*s' the package ships",
		                    d->label, raw, (int)(bad - norm->p), norm->p);
	if (archive_entry_sparse_count(ae) > 0)
		return copa_err_set(err, COPA_E_INPUT, "'%s': data.tar entry '%s' is a sparse file",
		                    d->label, raw);
	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s': data.tar entry '%s' has an invalid owner", d->label,
		                    raw);
	e->mode = (uint32_t)archive_entry_perm(ae) & 07777;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->uname = archive_entry_uname(ae);
	e->gname = archive_entry_gname(ae);
	e->mtime = (int64_t)archive_entry_mtime(ae);
	e->size = e->type == COPA_FT_REG ? (uint64_t)archive_entry_size(ae) : 0;
	e->rdev_major = (uint32_t)archive_entry_rdevmajor(ae);
	e->rdev_minor = (uint32_t)archive_entry_rdevminor(ae);
	e->n_xattrs = 0;
	if (archive_entry_xattr_reset(ae) > 0) {
		const char *xn;
		const void *xv;
		size_t xs;

		while (archive_entry_xattr_next(ae, &xn, &xv, &xs) == ARCHIVE_OK) {
			if (e->n_xattrs >= MAX_XATTRS || xs > MAX_XATTR_VALUE || !xn || !*xn ||
			    strlen(xn) > 255)
				return copa_err_set(err, COPA_E_LIMIT,
				                    "'%s': data.tar entry '%s' has too many or too "
				                    "large extended attributes",
				                    d->label, raw);
			xa[e->n_xattrs].name = xn;
			xa[e->n_xattrs].value = xv;
			xa[e->n_xattrs].len = xs;
			e->n_xattrs++;
		}
	}
	e->xattrs = e->n_xattrs ? xa : NULL;
	kind = e->type == COPA_FT_REG       ? SEEN_REG
	       : e->type == COPA_FT_SYMLINK ? SEEN_LINK
	                                    : SEEN_OTHER;
	if (kind == SEEN_LINK)
		s->have_symlinks = true;
	copa_strmap_put(&s->seen, copa_arena_strndup(&s->arena, norm->p, norm->len), norm->len,
	                kind);
	return 0;
}

/* Opens the .deb (into *outer) and its data member through src: as tar, or raw. */
static struct archive *data_member_open(struct copa_debfile *d, struct archive **outer,
                                        struct inner_src *src, bool raw, struct copa_err *err)
{
	const struct comp *c;

	*outer = outer_open(d, err);
	if (!*outer)
		return NULL;
	c = walk_members(d, *outer, false, err);
	if (!c)
		return NULL;
	src->outer = *outer;
	src->max = d->lim.max_member;
	return inner_open(src, c, raw, d->label, d->data_member, err);
}

static int data_limit_error(const struct copa_debfile *d, struct copa_err *err)
{
	if (d->lim.installed_size)
		return copa_err_set(
		    err, COPA_E_LIMIT,
		    "'%s': data.tar unpacks to more than %llu bytes, far more than the "
		    "%llu KiB its index declares (Installed-Size): refusing a "
		    "decompression bomb",
		    d->label, (unsigned long long)d->lim.max_data,
		    (unsigned long long)(d->lim.installed_size >> 10));
	return copa_err_set(err, COPA_E_LIMIT, "'%s': data.tar unpacks to more than %llu bytes",
	                    d->label, (unsigned long long)d->lim.max_data);
}

/* The data member decompressed ahead of time (copa_debfile_use_data_tar). */
static struct archive *data_tar_open(const struct copa_debfile *d, struct copa_err *err)
{
	struct archive *a = archive_read_new();

	if (!a)
		COPA_BUG("archive_read_new failed");
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, d->data_tar, 65536) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_IO, "'%s': cannot read its unpacked '%s': %s", d->label,
		             d->data_member,
		             archive_error_string(a) ? archive_error_string(a) : "read error");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

int copa_debfile_extract_data(struct copa_debfile *d, int out_fd, struct copa_err *err)
{
	struct archive *outer = NULL, *a = NULL;
	struct inner_src src = {0};
	struct archive_entry *ae;
	uint64_t total = 0, cap = d->lim.max_data + (64u << 20);
	char buf[65536];
	int r = -1, hr;

	a = data_member_open(d, &outer, &src, true, err);
	if (!a)
		goto out;
	hr = archive_read_next_header(a, &ae);
	if (hr == ARCHIVE_EOF) {
		r = 0;
		goto out;
	}
	if (hr != ARCHIVE_OK && hr != ARCHIVE_WARN) {
		tar_error(a, d->label, d->data_member, err);
		goto out;
	}
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0) {
			tar_error(a, d->label, d->data_member, err);
			goto out;
		}
		total += (uint64_t)n;
		if (total > cap) {
			data_limit_error(d, err);
			goto out;
		}
		if (copa_fs_write_all(out_fd, buf, (size_t)n, err) < 0) {
			copa_err_wrap(err, "'%s': unpacking '%s'", d->label, d->data_member);
			goto out;
		}
	}
	r = 0;
out:
	if (a)
		archive_read_free(a);
	archive_read_free(outer);
	return r;
}

void copa_debfile_set_label(struct copa_debfile *d, const char *label)
{
	free(d->label);
	d->label = copa_xstrdup(label);
}

void copa_debfile_use_data_tar(struct copa_debfile *d, const char *path)
{
	free(d->data_tar);
	d->data_tar = copa_xstrdup(path);
}

int copa_debfile_data_foreach(struct copa_debfile *d, copa_debfile_entry_fn fn, void *ctx,
                              struct copa_err *err)
{
	struct archive *outer = NULL, *a = NULL;
	struct inner_src src = {0};
	struct data_state s = {COPA_ARENA_INIT, COPA_STRMAP_INIT, false};
	struct copa_buf norm = COPA_BUF_INIT, lnorm = COPA_BUF_INIT;
	struct copa_layer_xattr xa[MAX_XATTRS];
	struct archive_entry *ae;
	uint64_t count = 0, total = 0;
	int r = -1, hr;

	if (d->data_tar) {
		a = data_tar_open(d, err);
		if (!a)
			goto out;
	} else {
		a = data_member_open(d, &outer, &src, false, err);
		if (!a)
			goto out;
	}
	r = 0;
	while ((hr = archive_read_next_header(a, &ae)) == ARCHIVE_OK || hr == ARCHIVE_WARN) {
		struct copa_debfile_entry e = {0};
		struct copa_debfile_reader rd = {a, d, NULL};

		if (++count > d->lim.max_entries) {
			r = copa_err_set(err, COPA_E_LIMIT,
			                 "'%s': data.tar has more than %llu entries", d->label,
			                 (unsigned long long)d->lim.max_entries);
			break;
		}
		r = fill_entry(d, &s, ae, &e, xa, &norm, &lnorm, err);
		if (r < 0)
			break;
		total += e.size;
		if (total > d->lim.max_data ||
		    (uint64_t)archive_filter_bytes(a, 0) > d->lim.max_data + (64u << 20)) {
			r = data_limit_error(d, err);
			break;
		}
		e.index = count - 1;
		rd.path = e.path;
		r = fn(ctx, &e, &rd, err);
		if (r)
			break;
	}
	if (r == 0 && hr != ARCHIVE_EOF)
		r = tar_error(a, d->label, d->data_member, err);
out:
	if (a)
		archive_read_free(a);
	archive_read_free(outer);
	copa_buf_release(&norm);
	copa_buf_release(&lnorm);
	copa_strmap_release(&s.seen);
	copa_arena_release(&s.arena);
	return r;
}

/*
 * seed.c: loading an existing layer blob into a layer builder, so that a
 * re-patch starts from copa's previous patch layer and replaces it with one
 * combined layer instead of stacking a second one.
 */
#include "layer/layer.h"

#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#define SEED_MAX_ENTRIES 1000000
/*
 * Extended attributes kept per entry of the previous patch layer. A file
 * carries a handful (security.capability, an ACL or two); the cap bounds
 * what a crafted layer can make copa hold, and above it the seed fails
 * rather than dropping attributes.
 */
#define SEED_MAX_XATTRS 1024

static int stage_content(struct archive *a, int staging_fd, const char *name, int64_t size,
                         struct copa_err *err)
{
	_cleanup_close_ int fd =
	    copa_fs_open_beneath(staging_fd, name, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
	char buf[65536];
	int64_t total = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

		if (n < 0)
			return copa_err_set(err, COPA_E_INPUT, "cannot read its content: %s",
			                    archive_error_string(a));
		if (n == 0)
			break;
		if (copa_fs_write_all(fd, buf, (size_t)n, err) < 0)
			return -1;
		total += n;
	}
	if (total != size)
		return copa_err_set(err, COPA_E_INPUT,
		                    "content is %lld bytes, the header says %lld", (long long)total,
		                    (long long)size);
	return 0;
}

static uint8_t ftype_of(struct archive_entry *ae)
{
	if (archive_entry_hardlink(ae))
		return COPA_FT_HARDLINK;
	switch (archive_entry_filetype(ae)) {
	case AE_IFDIR:
		return COPA_FT_DIR;
	case AE_IFLNK:
		return COPA_FT_SYMLINK;
	case AE_IFCHR:
		return COPA_FT_CHR;
	case AE_IFBLK:
		return COPA_FT_BLK;
	case AE_IFIFO:
		return COPA_FT_FIFO;
	default:
		return COPA_FT_REG;
	}
}

/* Adds one tar entry (not a whiteout) to the builder. */
static int seed_entry(struct copa_layer_builder *b, struct archive *a, struct archive_entry *ae,
                      const char *path, size_t ordinal, int staging_fd, struct copa_err *err)
{
	struct copa_layer_entry e = {0};
	_cleanup_free_ struct copa_layer_xattr *xs = NULL;
	size_t xcap = 0;
	struct copa_buf link = COPA_BUF_INIT;
	char staged[64];
	const char *xname;
	const void *xval;
	size_t xlen;
	int r = 0;

	e.path = path;
	e.type = ftype_of(ae);
	e.mode = (uint32_t)archive_entry_perm(ae) | ((uint32_t)archive_entry_mode(ae) & 07000);
	e.uid = (uint32_t)archive_entry_uid(ae);
	e.gid = (uint32_t)archive_entry_gid(ae);
	e.mtime = archive_entry_mtime(ae);
	e.rdev_major = (uint32_t)archive_entry_rdevmajor(ae);
	e.rdev_minor = (uint32_t)archive_entry_rdevminor(ae);
	if (e.type == COPA_FT_SYMLINK) {
		e.link = archive_entry_symlink(ae);
	} else if (e.type == COPA_FT_HARDLINK) {
		if (copa_path_normalize(archive_entry_hardlink(ae), &link) < 0 || link.len == 0) {
			copa_buf_release(&link);
			return copa_err_set(err, COPA_E_INPUT, "invalid hard link target");
		}
		e.link = link.p;
	} else if (e.type == COPA_FT_REG) {
		e.size = (uint64_t)archive_entry_size(ae);
		snprintf(staged, sizeof(staged), "seed-%zu", ordinal);
		if (stage_content(a, staging_fd, staged, archive_entry_size(ae), err) < 0) {
			copa_buf_release(&link);
			return -1;
		}
		e.staged = staged;
	}
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &xname, &xval, &xlen) == ARCHIVE_OK) {
		if (e.n_xattrs == SEED_MAX_XATTRS) {
			copa_buf_release(&link);
			return copa_err_set(err, COPA_E_LIMIT,
			                    "more than %d extended attributes, the most copa keeps "
			                    "per file",
			                    SEED_MAX_XATTRS);
		}
		xs = copa_xgrow(xs, &xcap, e.n_xattrs + 1, sizeof(*xs));
		xs[e.n_xattrs++] = (struct copa_layer_xattr){xname, xval, xlen};
	}
	e.xattrs = xs;
	r = copa_layer_builder_add(b, &e, err);
	copa_buf_release(&link);
	return r;
}

int copa_layer_builder_seed(struct copa_layer_builder *b, const struct copa_layer_blob *lb,
                            struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct copa_buf path = COPA_BUF_INIT;
	int staging_fd = copa_layer_builder_staging_fd(b);
	size_t ordinal = 0;
	int r = 0, ar;

	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, lb->path, 1 << 16) != ARCHIVE_OK) {
		r = copa_err_set(err, COPA_E_IO, "layer %s: cannot open '%s': %s", lb->digest,
		                 lb->path, archive_error_string(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ae);
		const char *base;

		if (!name || copa_path_normalize(name, &path) < 0) {
			r = copa_err_set(err, COPA_E_INPUT,
			                 "layer %s: tar entry '%s': invalid path", lb->digest,
			                 name ? name : "");
			break;
		}
		if (path.len == 0)
			continue;
		if (++ordinal > SEED_MAX_ENTRIES) {
			r = copa_err_set(err, COPA_E_LIMIT, "layer %s: more than %d entries",
			                 lb->digest, SEED_MAX_ENTRIES);
			break;
		}
		base = strrchr(path.p, '/');
		base = base ? base + 1 : path.p;
		if (!strncmp(base, ".wh.", 4)) {
			/* The marker's directory, then what it hides. */
			size_t dirlen = (size_t)(base - path.p);
			_cleanup_free_ char *dir = copa_xstrndup(path.p, dirlen ? dirlen - 1 : 0);

			if (!strcmp(base, ".wh..wh..opq"))
				r = copa_layer_builder_opaque(b, dir, err);
			else if (strncmp(base, ".wh..wh.", 8) != 0) {
				_cleanup_free_ char *target =
				    *dir ? copa_xasprintf("%s/%s", dir, base + 4)
				         : copa_xstrdup(base + 4);

				r = copa_layer_builder_whiteout(b, target, err);
			}
		} else {
			r = seed_entry(b, a, ae, path.p, ordinal, staging_fd, err);
		}
		if (r < 0) {
			copa_err_wrap(err, "layer %s: tar entry '%s'", lb->digest, name);
			break;
		}
	}
	if (r == 0 && ar != ARCHIVE_EOF)
		r = copa_err_set(err, COPA_E_INPUT, "layer %s: %s", lb->digest,
		                 archive_error_string(a));
out:
	copa_buf_release(&path);
	archive_read_free(a);
	return r;
}

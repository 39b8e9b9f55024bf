#include "viewload.h"

#include "util/fs.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *const inline_prefixes[] = {
    "etc/", "var/lib/dpkg/", "usr/share/keyrings/", "usr/lib/os-release", "lib/apk/",
};

static bool wants_inline(const char *path)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (path[0] == '/')
		path++;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(inline_prefixes); i++)
		if (strncmp(path, inline_prefixes[i], strlen(inline_prefixes[i])) == 0)
			return true;
	return false;
}

struct dirctx {
	int rootfd;
};

static int dir_reader(void *ctx, const struct copa_view_entry *e, size_t max, struct copa_buf *out,
                      struct copa_err *err)
{
	struct dirctx *d = ctx;
	int fd;
	int r;

	/* Entries added after loading (a new layer's) have no file in the directory. */
	if (e->layer == COPA_VIEW_NO_LAYER)
		return copa_err_set(err, COPA_E_BUG, "'%s' has no content in the view", e->path);
	fd = copa_fs_open_beneath(d->rootfd, e->path, O_RDONLY, 0, err);
	if (fd < 0)
		return -1;
	r = copa_fs_read_fd(fd, max, out, err);
	close(fd);
	return r;
}

static int walk(struct copa_view *v, int dirfd, const char *rel, int depth, struct copa_err *err)
{
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (depth > 64)
		return copa_err_set(err, COPA_E_LIMIT, "'%s': directories nested too deep", rel);
	fd = openat(dirfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open directory '%s'", rel);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read '%s'", rel);
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		_cleanup_free_ char *path = NULL;
		char link[PATH_MAX];
		struct copa_view_entry e = {0};

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = rel[0] ? copa_xasprintf("%s/%s", rel, de->d_name) : copa_xstrdup(de->d_name);
		if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = copa_err_sys(err, COPA_E_IO, errno, "cannot stat '%s'", path);
			break;
		}
		e.path = path;
		e.mode = st.st_mode & 07777;
		e.uid = st.st_uid;
		e.gid = st.st_gid;
		e.mtime = st.st_mtime;
		e.layer = 0;
		if (S_ISDIR(st.st_mode)) {
			e.type = COPA_FT_DIR;
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(dirfd, path, link, sizeof(link) - 1);

			if (n < 0) {
				r = copa_err_sys(err, COPA_E_IO, errno, "cannot read link '%s'",
				                 path);
				break;
			}
			link[n] = 0;
			e.type = COPA_FT_SYMLINK;
			e.link = link;
		} else if (S_ISREG(st.st_mode)) {
			e.type = COPA_FT_REG;
			e.size = (uint64_t)st.st_size;
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			e.type = S_ISCHR(st.st_mode) ? COPA_FT_CHR : COPA_FT_BLK;
			e.rdev_major = major(st.st_rdev);
			e.rdev_minor = minor(st.st_rdev);
		} else if (S_ISFIFO(st.st_mode)) {
			e.type = COPA_FT_FIFO;
		} else {
			continue;
		}
		if (!copa_view_put(v, &e, err)) {
			r = -1;
			break;
		}
		if (S_ISDIR(st.st_mode))
			r = walk(v, dirfd, path, depth + 1, err);
	}
	closedir(d);
	return r;
}

struct copa_view *copa_test_view_from_dir(const char *dir, struct copa_err *err)
{
	/* One tree per helper process; the directory stays open for on-demand reads. */
	static struct dirctx dctx = {.rootfd = -1};
	struct copa_view *v = copa_view_new();
	struct dirctx *d = &dctx;

	if (d->rootfd >= 0)
		close(d->rootfd);
	d->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->rootfd < 0) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", dir);
		copa_view_free(v);
		return NULL;
	}
	copa_view_set_reader(v, dir_reader, d);
	if (walk(v, d->rootfd, "", 0, err) < 0) {
		copa_view_free(v);
		return NULL;
	}
	return v;
}

struct copa_view *copa_test_view_from_tar(const char *tar, struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct copa_view *v = copa_view_new();
	struct copa_buf content = COPA_BUF_INIT;
	int ar;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, tar, 65536) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_IO, "cannot open '%s': %s", tar, archive_error_string(a));
		goto fail;
	}
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		struct copa_view_entry e = {0};
		const char *path = archive_entry_pathname(ae);
		mode_t m = archive_entry_filetype(ae);

		if (!path)
			continue;
		e.path = path;
		e.mode = archive_entry_perm(ae) & 07777;
		e.uid = (uint32_t)archive_entry_uid(ae);
		e.gid = (uint32_t)archive_entry_gid(ae);
		e.mtime = archive_entry_mtime(ae);
		if (archive_entry_hardlink(ae)) {
			e.type = COPA_FT_HARDLINK;
			e.link = archive_entry_hardlink(ae);
		} else if (m == AE_IFDIR) {
			e.type = COPA_FT_DIR;
		} else if (m == AE_IFLNK) {
			e.type = COPA_FT_SYMLINK;
			e.link = archive_entry_symlink(ae);
		} else if (m == AE_IFREG) {
			e.type = COPA_FT_REG;
			e.size = (uint64_t)archive_entry_size(ae);
		} else if (m == AE_IFCHR || m == AE_IFBLK) {
			e.type = m == AE_IFCHR ? COPA_FT_CHR : COPA_FT_BLK;
			e.rdev_major = archive_entry_rdevmajor(ae);
			e.rdev_minor = archive_entry_rdevminor(ae);
		} else if (m == AE_IFIFO) {
			e.type = COPA_FT_FIFO;
		} else {
			continue;
		}
		const struct copa_view_entry *stored = copa_view_put(v, &e, err);

		if (!stored)
			goto fail;
		if (e.type == COPA_FT_REG && wants_inline(stored->path) && e.size <= (64u << 20)) {
			char buf[65536];
			la_ssize_t n;
			_cleanup_free_ char *at = copa_xstrdup(stored->path);

			copa_buf_reset(&content);
			while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
				copa_buf_add(&content, buf, (size_t)n);
			if (copa_view_set_content(v, at, content.p ? content.p : "", content.len,
			                          err) < 0)
				goto fail;
		}
	}
	if (ar != ARCHIVE_EOF) {
		copa_err_set(err, COPA_E_INPUT, "'%s': %s", tar, archive_error_string(a));
		goto fail;
	}
	archive_read_free(a);
	copa_buf_release(&content);
	return v;
fail:
	archive_read_free(a);
	copa_buf_release(&content);
	copa_view_free(v);
	return NULL;
}

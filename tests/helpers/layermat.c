/* layermat.c (test helpers only): see layermat.h. */
#include "layermat.h"

#include "util/fs.h"
#include "util/mem.h"
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct mat {
	int outfd;
	int stagefd;
	struct copa_err *err;
	size_t entries, whiteouts, opaques;
	FILE *list;
};

static const char *type_name(uint8_t t)
{
	switch (t) {
	case COPA_FT_REG:
		return "file";
	case COPA_FT_DIR:
		return "dir";
	case COPA_FT_SYMLINK:
		return "symlink";
	case COPA_FT_HARDLINK:
		return "hardlink";
	case COPA_FT_CHR:
		return "chr";
	case COPA_FT_BLK:
		return "blk";
	case COPA_FT_FIFO:
		return "fifo";
	}
	return "?";
}

static void list_entry(struct mat *m, const struct copa_layer_entry *e, enum copa_layer_mark mark)
{
	json_t *j;

	if (!m->list)
		return;
	if (mark != COPA_LAYER_ENTRY)
		j = json_pack("{s:s, s:s}", "path", e->path, "mark",
		              mark == COPA_LAYER_WHITEOUT ? "whiteout" : "opaque");
	else
		j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:I, s:s?, s:b}", "path", e->path, "type",
		              type_name(e->type), "mode", (int)e->mode, "uid", (int)e->uid, "gid",
		              (int)e->gid, "mtime", (json_int_t)e->mtime, "link", e->link, "staged",
		              e->staged != NULL);
	json_dumpf(j, m->list, JSON_COMPACT);
	fputc('\n', m->list);
	json_decref(j);
}

static int split(const char *path, char **dir, const char **base)
{
	const char *s = strrchr(path, '/');

	*dir = s ? copa_xstrndup(path, (size_t)(s - path)) : copa_xstrdup("");
	*base = s ? s + 1 : path;
	return 0;
}

static int open_parent(struct mat *m, const char *path, const char **base)
{
	char *dir;
	int fd;

	split(path, &dir, base);
	fd = copa_fs_open_beneath(m->outfd, dir, O_RDONLY | O_DIRECTORY, 0, m->err);
	if (fd < 0)
		copa_err_wrap(m->err, "layer entry '%s'", path);
	free(dir);
	return fd;
}

static int clear(int dfd, const char *name, bool keep_dir, struct copa_err *err)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : copa_err_sys(err, COPA_E_IO, errno, "stat '%s'", name);
	if (S_ISDIR(st.st_mode) && keep_dir)
		return 0;
	return copa_fs_rm_rf(dfd, name, err);
}

static int apply_meta(int dfd, const char *name, const struct copa_layer_entry *e,
                      struct copa_err *err)
{
	struct timespec ts[2] = {{e->mtime, 0}, {e->mtime, 0}};

	if (fchownat(dfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "chown '%s'", e->path);
	if (e->type != COPA_FT_SYMLINK && fchmodat(dfd, name, e->mode, 0) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "chmod '%s'", e->path);
	for (size_t i = 0; i < e->n_xattrs; i++) {
		char *p = copa_xasprintf("/proc/self/fd/%d/%s", dfd, name);
		int r = lsetxattr(p, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].len, 0);

		free(p);
		if (r < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "setxattr '%s'", e->path);
	}
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "utimes '%s'", e->path);
	return 0;
}

static int write_reg(struct mat *m, int dfd, const char *name, const struct copa_layer_entry *e)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return copa_err_sys(m->err, COPA_E_IO, errno, "create '%s'", e->path);
	if (e->content) {
		r = copa_fs_write_all(fd, e->content, (size_t)e->size, m->err);
	} else if (e->staged) {
		struct copa_buf data = COPA_BUF_INIT;
		int sfd = copa_fs_open_beneath(m->stagefd, e->staged, O_RDONLY, 0, m->err);

		r = sfd < 0 ? -1 : copa_fs_read_fd(sfd, SIZE_MAX, &data, m->err);
		if (r == 0)
			r = copa_fs_write_all(fd, data.p ? data.p : "", data.len, m->err);
		if (sfd >= 0)
			close(sfd);
		copa_buf_release(&data);
	}
	close(fd);
	return r;
}

/*
 * First pass: whiteouts and opaque markers apply to the lower layers (the
 * root copy) wherever they sit in the tar, so they are all applied before
 * any entry is written. A marker whose parent is already gone is moot.
 */
static int mat_delete(void *ctx, const struct copa_layer_entry *e, enum copa_layer_mark mark)
{
	struct mat *m = ctx;
	const char *base;
	char *dir;
	int dfd, r = 0;

	list_entry(m, e, mark);
	if (mark == COPA_LAYER_ENTRY)
		return 0;
	if (mark == COPA_LAYER_OPAQUE) {
		dir = copa_xstrdup(e->path);
		base = NULL;
	} else {
		split(e->path, &dir, &base);
	}
	dfd = copa_fs_open_beneath(m->outfd, dir, O_RDONLY | O_DIRECTORY, 0, m->err);
	free(dir);
	if (dfd < 0) {
		copa_err_clear(m->err);
		return 0;
	}
	if (mark == COPA_LAYER_WHITEOUT) {
		r = copa_fs_rm_rf(dfd, base, m->err);
		m->whiteouts++;
	} else {
		DIR *d = fdopendir(dup(dfd));
		struct dirent *de;

		while (d && r == 0 && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				r = copa_fs_rm_rf(dfd, de->d_name, m->err);
		if (d)
			closedir(d);
		m->opaques++;
	}
	close(dfd);
	return r;
}

static int mat_entry(void *ctx, const struct copa_layer_entry *e, enum copa_layer_mark mark)
{
	struct mat *m = ctx;
	const char *base;
	int dfd;
	int r = 0;

	if (mark != COPA_LAYER_ENTRY)
		return 0;
	dfd = open_parent(m, e->path, &base);

	if (dfd < 0)
		return -1;
	m->entries++;
	r = clear(dfd, base, e->type == COPA_FT_DIR, m->err);
	switch (e->type) {
	case COPA_FT_DIR:
		if (r == 0 && mkdirat(dfd, base, 0700) < 0 && errno != EEXIST)
			r = copa_err_sys(m->err, COPA_E_IO, errno, "mkdir '%s'", e->path);
		break;
	case COPA_FT_REG:
		if (r == 0)
			r = write_reg(m, dfd, base, e);
		break;
	case COPA_FT_SYMLINK:
		if (r == 0 && symlinkat(e->link, dfd, base) < 0)
			r = copa_err_sys(m->err, COPA_E_IO, errno, "symlink '%s'", e->path);
		break;
	case COPA_FT_HARDLINK:
		if (r == 0) {
			const char *tbase;
			int tfd = open_parent(m, e->link, &tbase);

			if (tfd < 0 || linkat(tfd, tbase, dfd, base, 0) < 0)
				r = tfd < 0 ? -1
				            : copa_err_sys(m->err, COPA_E_IO, errno, "link '%s'",
				                           e->path);
			if (tfd >= 0)
				close(tfd);
		}
		close(dfd);
		return r; /* a hard link shares its target's metadata */
	case COPA_FT_CHR:
	case COPA_FT_BLK:
	case COPA_FT_FIFO: {
		mode_t t = e->type == COPA_FT_CHR   ? S_IFCHR
		           : e->type == COPA_FT_BLK ? S_IFBLK
		                                    : S_IFIFO;

		if (r == 0 &&
		    mknodat(dfd, base, t | 0600, makedev(e->rdev_major, e->rdev_minor)) < 0)
			r = copa_err_sys(m->err, COPA_E_IO, errno, "mknod '%s'", e->path);
		break;
	}
	}
	if (r == 0)
		r = apply_meta(dfd, base, e, m->err);
	close(dfd);
	return r;
}

int copa_test_layer_materialize(const struct copa_layer_builder *b, const char *root,
                                const char *outdir, const char *listfile,
                                struct copa_test_mat_counts *counts, struct copa_err *err)
{
	struct mat m = {-1, copa_layer_builder_staging_fd(b), err, 0, 0, 0, NULL};
	struct stat st;
	int r = -1;

	if (stat(outdir, &st) < 0) {
		const char *cp[] = {"cp", "-a", "--reflink=auto", root, outdir, NULL};
		int status;

		if (copa_proc_run(&(struct copa_proc){.argv = cp}, &status, err) < 0)
			return -1;
		if (status != 0)
			return copa_err_set(err, COPA_E_EXEC, "cp -a '%s' '%s' exited %d", root,
			                    outdir, status);
	}
	m.outfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m.outfd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", outdir);
	if (listfile && !(m.list = fopen(listfile, "w"))) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot write '%s'", listfile);
		goto out;
	}
	if (copa_layer_builder_foreach(b, mat_delete, &m) != 0 ||
	    copa_layer_builder_foreach(b, mat_entry, &m) != 0)
		goto out;
	if (counts) {
		counts->entries = m.entries;
		counts->whiteouts = m.whiteouts;
		counts->opaques = m.opaques;
	}
	r = 0;
out:
	if (m.list)
		fclose(m.list);
	close(m.outfd);
	return r;
}

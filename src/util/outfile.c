/*
 * outfile.c: output paths the user named (see outfile.h).
 */
#include "util/outfile.h"

#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

enum kind {
	KIND_STDOUT,
	KIND_REPLACE, /* atomic replace of .target (missing or regular) */
	KIND_IN_PLACE /* open and write .target (device, FIFO, socket) */
};

struct resolved {
	enum kind kind;
	char *target;
	mode_t mode; /* of the file replaced; 0644 for a new one */
};

/* Follows a dangling symlink chain to the path it would create. */
static int dangling_target(const char *path, char **out, struct copa_err *err)
{
	char *cur = copa_xstrdup(path);

	for (int hops = 0; hops < MAX_LINKS; hops++) {
		char buf[PATH_MAX];
		ssize_t n = readlink(cur, buf, sizeof(buf) - 1);
		char *next;

		if (n < 0) {
			if (errno == EINVAL || errno == ENOENT) {
				*out = cur;
				return 0;
			}
			copa_err_sys(err, COPA_E_IO, errno, "cannot read the symlink '%s'", cur);
			free(cur);
			return -1;
		}
		buf[n] = 0;
		if (buf[0] == '/') {
			next = copa_xstrdup(buf);
		} else {
			_cleanup_free_ char *dir = copa_path_dir(cur);

			next = copa_xasprintf("%s/%s", dir, buf);
		}
		free(cur);
		cur = next;
	}
	free(cur);
	return copa_err_set(err, COPA_E_IO, "'%s': too many levels of symlinks", path);
}

static int resolve(const char *path, struct resolved *r, struct copa_err *err)
{
	struct stat lst, st;

	memset(r, 0, sizeof(*r));
	r->mode = 0644;
	if (!strcmp(path, "-")) {
		r->kind = KIND_STDOUT;
		return 0;
	}
	if (!*path)
		return copa_err_set(err, COPA_E_USAGE, "an output path is empty");
	if (lstat(path, &lst) < 0) {
		if (errno != ENOENT)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot look at '%s'", path);
		r->kind = KIND_REPLACE;
		r->target = copa_xstrdup(path);
		return 0;
	}
	if (!S_ISLNK(lst.st_mode)) {
		st = lst;
	} else if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot follow '%s'", path);
		r->kind = KIND_REPLACE;
		return dangling_target(path, &r->target, err);
	}
	if (S_ISDIR(st.st_mode))
		return copa_err_set(err, COPA_E_IO, "'%s' is a directory: name a file", path);
	if (!S_ISREG(st.st_mode)) {
		/* A device, FIFO or socket (also through /dev/stdout): written in place. */
		r->kind = KIND_IN_PLACE;
		r->target = copa_xstrdup(path);
		return 0;
	}
	r->kind = KIND_REPLACE;
	r->mode = st.st_mode & 07777;
	if (!S_ISLNK(lst.st_mode)) {
		r->target = copa_xstrdup(path);
		return 0;
	}
	/* A symlink to a regular file: replace the file it points to, keep the link. */
	r->target = realpath(path, NULL);
	if (!r->target)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot resolve '%s'", path);
	return 0;
}

int copa_outfile_check(const char *path, struct copa_err *err)
{
	struct resolved r;
	struct copa_tmpfile t;
	int rc = 0;

	if (resolve(path, &r, err) < 0) {
		free(r.target);
		return -1;
	}
	switch (r.kind) {
	case KIND_STDOUT:
		break;
	case KIND_IN_PLACE:
		if (access(r.target, W_OK) < 0)
			rc = copa_err_sys(err, COPA_E_IO, errno, "cannot write '%s'", path);
		break;
	case KIND_REPLACE:
		/* What the final write does first: create a file beside the target. */
		if (copa_tmpfile_open(&t, AT_FDCWD, r.target, 0, err) < 0)
			rc = copa_err_wrap(err, "cannot write '%s'", path);
		else
			copa_tmpfile_release(&t);
		break;
	}
	free(r.target);
	return rc;
}

int copa_outfile_write(const char *path, const void *data, size_t n, struct copa_err *err)
{
	struct resolved r;
	int fd, rc = 0;

	if (resolve(path, &r, err) < 0) {
		free(r.target);
		return -1;
	}
	switch (r.kind) {
	case KIND_STDOUT:
		rc = copa_fs_write_all(STDOUT_FILENO, data, n, err);
		break;
	case KIND_IN_PLACE:
		fd = open(r.target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			rc = copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", path);
			break;
		}
		rc = copa_fs_write_all(fd, data, n, err);
		if (close(fd) < 0 && rc == 0)
			rc = copa_err_sys(err, COPA_E_IO, errno, "cannot write '%s'", path);
		break;
	case KIND_REPLACE:
		rc = copa_fs_write_atomic(AT_FDCWD, r.target, data, n, r.mode, err);
		break;
	}
	free(r.target);
	return rc;
}

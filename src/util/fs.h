/*
 * fs.h: file-system helpers that work relative to directory fds.
 *
 * Content from images and packages is hostile: paths built from it are opened
 * with copa_fs_open_beneath(), which refuses to leave the given root and to
 * follow any symlink (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, with an
 * O_NOFOLLOW component walk where openat2 is unavailable). Outputs are written
 * under a temporary name in the destination directory and renamed into place,
 * so a failed run never leaves a half-written file behind.
 */
#ifndef COPA_UTIL_FS_H
#define COPA_UTIL_FS_H

#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Reads the whole file at path (relative to dirfd, or absolute; AT_FDCWD
 * works) into out, refusing files larger than max bytes. Replaces out's
 * contents. Errors name the path.
 */
int copa_fs_read_file(int dirfd, const char *path, size_t max, struct copa_buf *out,
                      struct copa_err *err);

/* Reads everything from fd (up to max bytes) into out, appending. */
int copa_fs_read_fd(int fd, size_t max, struct copa_buf *out, struct copa_err *err);

/* Writes all n bytes to fd, retrying short writes and EINTR. */
int copa_fs_write_all(int fd, const void *data, size_t n, struct copa_err *err);
/* Writes all n bytes at offset off (pwrite), retrying short writes and EINTR. */
int copa_fs_pwrite_all(int fd, const void *data, size_t n, uint64_t off, struct copa_err *err);

/*
 * A file being written under a temporary name beside its final one.
 * Open with copa_tmpfile_open(), write to .fd, then commit (rename into place)
 * or abort (unlink). Release always; it aborts when not committed.
 */
struct copa_tmpfile {
	int dirfd;   /* owned: the directory both names live in */
	char *tmp;   /* temporary name within dirfd */
	char *final; /* final name within dirfd */
	int fd;
	bool done;
};

/*
 * Creates a temporary file beside `path` (relative to dirfd or absolute),
 * whose directory must exist. mode is applied at commit.
 */
int copa_tmpfile_open(struct copa_tmpfile *t, int dirfd, const char *path, mode_t mode,
                      struct copa_err *err);
/* Flushes (fsync when durable), closes and renames into place. */
int copa_tmpfile_commit(struct copa_tmpfile *t, bool durable, struct copa_err *err);
/* Unlinks the temporary file if it was not committed and frees everything. */
void copa_tmpfile_release(struct copa_tmpfile *t);

/* Writes data to path atomically (temp file + rename). */
int copa_fs_write_atomic(int dirfd, const char *path, const void *data, size_t n, mode_t mode,
                         struct copa_err *err);

/*
 * Creates path and its missing parents (like mkdir -p). A relative path is
 * resolved beneath dirfd without following symlinks (image content); an
 * absolute path is the user's own (a cache or output directory) and is
 * resolved normally.
 */
int copa_fs_mkdir_p(int dirfd, const char *path, mode_t mode, struct copa_err *err);

/*
 * Opens path relative to rootfd without leaving rootfd's tree and without
 * following symlinks in any component (the last one included: with O_CREAT
 * an existing symlink is an error, never a redirection). Returns an fd or -1.
 */
int copa_fs_open_beneath(int rootfd, const char *path, int flags, mode_t mode,
                         struct copa_err *err);

/* Removes path (file or directory tree) beneath dirfd; a missing path is not an error. */
int copa_fs_rm_rf(int dirfd, const char *path, struct copa_err *err);

/*
 * Creates a fresh private directory "<parent>/<prefix><pid>-XXXXXX"; returns
 * its malloc'd path.
 */
char *copa_fs_mkdtemp(const char *parent, const char *prefix, struct copa_err *err);

/*
 * The directory part of path: what comes before its last '/', "." when it has
 * none, "/" for "/name". Returns a malloc'd string the caller frees.
 */
char *copa_path_dir(const char *path);

/* Returns $TMPDIR or /tmp (borrowed). */
const char *copa_fs_tmpdir(void);

/* True when path exists (lstat) relative to dirfd. */
bool copa_fs_exists(int dirfd, const char *path);

/*
 * Normalises a path found in an image, tar member or package: strips leading
 * "/" and "./", collapses "//" and "/./", drops a trailing "/". Any ".."
 * component, an empty result other than the root, or a NUL/control-free check
 * failure makes it return -1 (the caller names the entry in its error).
 * The root itself normalises to "" (returns 0 with an empty out).
 */
int copa_path_normalize(const char *in, struct copa_buf *out);

/*
 * Removes what a killed copa left in the directory dirfd: temporary files
 * (".NAME.tmp-PID-N" from copa_tmpfile_open; only NAME == tmp_base when
 * tmp_base is given) and directories "<prefix>PID-XXXXXX" for each of the
 * NULL-terminated prefixes (copa_fs_mkdtemp). Only entries owned by the
 * effective user whose PID is not running and that nobody holds an flock on
 * (a writer keeps one on its temporary file, and a destination on its
 * staging directory, so a copa in another PID namespace is left alone).
 * Best effort; returns how many entries it removed.
 */
int copa_fs_sweep_stale(int dirfd, const char *const *prefixes, const char *tmp_base);

#endif

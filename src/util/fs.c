#include "util/fs.h"

#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int copa_fs_read_fd(int fd, size_t max, struct copa_buf *out, struct copa_err *err)
{
	for (;;) {
		ssize_t n;

		if (copa_buf_grow(out, 1 << 16) < 0 && copa_buf_grow(out, 1) < 0)
			return copa_err_set(err, COPA_E_LIMIT, "larger than %zu bytes", max);
		n = read(fd, out->p + out->len, out->cap - out->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return copa_err_sys(err, COPA_E_IO, errno, "read failed");
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->p[out->len] = '\0';
		if (max && out->len > max)
			return copa_err_set(err, COPA_E_LIMIT, "larger than %zu bytes", max);
	}
	if (!out->p)
		copa_buf_add(out, "", 0);
	return 0;
}

int copa_fs_read_file(int dirfd, const char *path, size_t max, struct copa_buf *out,
                      struct copa_err *err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	copa_buf_reset(out);
	if (fd < 0)
		return copa_err_sys(err, errno == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO, errno,
		                    "cannot open '%s'", path);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && max && (uint64_t)st.st_size > max)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "'%s' is %lld bytes, more than the %zu allowed", path,
		                    (long long)st.st_size, max);
	if (copa_fs_read_fd(fd, max, out, err) < 0)
		return copa_err_wrap(err, "'%s'", path);
	return 0;
}

int copa_fs_write_all(int fd, const void *data, size_t n, struct copa_err *err)
{
	const char *p = data;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return copa_err_sys(err, COPA_E_IO, errno, "write failed");
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int copa_fs_pwrite_all(int fd, const void *data, size_t n, uint64_t off, struct copa_err *err)
{
	const char *p = data;

	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return copa_err_sys(err, COPA_E_IO, errno, "write failed");
		}
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

static void split_dir(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*dir = copa_xstrdup(".");
		*base = path;
	} else if (slash == path) {
		*dir = copa_xstrdup("/");
		*base = slash + 1;
	} else {
		*dir = copa_xstrndup(path, (size_t)(slash - path));
		*base = slash + 1;
	}
}

char *copa_path_dir(const char *path)
{
	char *dir;
	const char *base;

	split_dir(path, &dir, &base);
	return dir;
}

int copa_tmpfile_open(struct copa_tmpfile *t, int dirfd, const char *path, mode_t mode,
                      struct copa_err *err)
{
	_cleanup_free_ char *dir = NULL;
	const char *base;
	static unsigned counter;

	memset(t, 0, sizeof(*t));
	t->dirfd = -1;
	t->fd = -1;
	split_dir(path, &dir, &base);
	if (!*base)
		return copa_err_set(err, COPA_E_BUG, "'%s' names a directory, not a file", path);
	t->dirfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open directory '%s'", dir);
	t->final = copa_xstrdup(base);
	for (int tries = 0; tries < 100; tries++) {
		free(t->tmp);
		t->tmp = copa_xasprintf(".%s.tmp-%d-%u", base, (int)getpid(),
		                        __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
		t->fd =
		    openat(t->dirfd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		           mode & 0777 ? mode & 0777 : 0600);
		if (t->fd >= 0 || errno != EEXIST)
			break;
	}
	if (t->fd < 0) {
		int e = errno;

		copa_tmpfile_release(t);
		return copa_err_sys(err, COPA_E_IO, e, "cannot create a temporary file for '%s'",
		                    path);
	}
	if (mode)
		fchmod(t->fd, mode);
	/* Held until the file is closed: copa_fs_sweep_stale never takes a file being written. */
	flock(t->fd, LOCK_EX | LOCK_NB);
	return 0;
}

int copa_tmpfile_commit(struct copa_tmpfile *t, bool durable, struct copa_err *err)
{
	if (durable && fsync(t->fd) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot flush '%s'", t->final);
	if (close(t->fd) < 0) {
		t->fd = -1;
		return copa_err_sys(err, COPA_E_IO, errno, "cannot write '%s'", t->final);
	}
	t->fd = -1;
	if (renameat(t->dirfd, t->tmp, t->dirfd, t->final) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot rename into '%s'", t->final);
	t->done = true;
	return 0;
}

void copa_tmpfile_release(struct copa_tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (!t->done && t->tmp && t->dirfd >= 0)
		unlinkat(t->dirfd, t->tmp, 0);
	if (t->dirfd >= 0)
		close(t->dirfd);
	free(t->tmp);
	free(t->final);
	t->fd = -1;
	t->dirfd = -1;
	t->tmp = NULL;
	t->final = NULL;
}

int copa_fs_write_atomic(int dirfd, const char *path, const void *data, size_t n, mode_t mode,
                         struct copa_err *err)
{
	struct copa_tmpfile t;
	int r;

	if (copa_tmpfile_open(&t, dirfd, path, mode, err) < 0)
		return -1;
	r = copa_fs_write_all(t.fd, data, n, err);
	if (r == 0)
		r = copa_tmpfile_commit(&t, false, err);
	copa_tmpfile_release(&t);
	if (r < 0)
		return copa_err_wrap(err, "'%s'", path);
	return 0;
}

static int openat2_beneath(int rootfd, const char *path, int flags, mode_t mode)
{
#ifdef SYS_openat2
	struct open_how how = {
	    .flags = (uint64_t)flags,
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
#else
	errno = ENOSYS;
	return -1;
#endif
}

/* Fallback: walk the components with O_NOFOLLOW, refusing "..". */
static int walk_beneath(int rootfd, const char *path, int flags, mode_t mode)
{
	_cleanup_free_ char *copy = copa_xstrdup(path);
	char *save = NULL;
	int dfd = dup(rootfd);
	char *comp = strtok_r(copy, "/", &save);

	if (dfd < 0)
		return -1;
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		int fd;

		if (strcmp(comp, "..") == 0) {
			close(dfd);
			errno = EXDEV;
			return -1;
		}
		if (!next) {
			fd = openat(dfd, comp, flags | O_NOFOLLOW, mode);
			close(dfd);
			return fd;
		}
		fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (fd < 0)
			return -1;
		dfd = fd;
		comp = next;
	}
	/* Empty path: the root itself. */
	return dfd;
}

int copa_fs_open_beneath(int rootfd, const char *path, int flags, mode_t mode, struct copa_err *err)
{
	static int have_openat2 = 1;
	int fd = -1;

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	flags |= O_CLOEXEC;
	if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED)) {
		fd = openat2_beneath(rootfd, path, flags | ((flags & O_CREAT) ? O_NOFOLLOW : 0),
		                     mode);
		if (fd < 0 && (errno == ENOSYS || errno == EPERM))
			__atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
		else if (fd >= 0 || errno != ENOSYS)
			goto done;
	}
	fd = walk_beneath(rootfd, path, flags, mode);
done:
	if (fd < 0) {
		int code = errno == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO;

		if (errno == EXDEV || errno == ELOOP)
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "refusing '%s': it leaves the tree or passes through a symlink", path);
		return copa_err_sys(err, code, errno, "cannot open '%s'", path);
	}
	return fd;
}

int copa_fs_mkdir_p(int dirfd, const char *path, mode_t mode, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	const char *p = path;
	int r = 0;

	while (*p == '/')
		p++;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);
		_cleanup_close_ int fd = -1;

		copa_buf_reset(&b);
		copa_buf_add(&b, path, n);
		if (mkdirat(dirfd, b.p, mode) < 0 && errno != EEXIST) {
			r = copa_err_sys(err, COPA_E_IO, errno, "cannot create directory '%s'",
			                 b.p);
			break;
		}
		/* Beneath dirfd, refuse to continue through a symlink or non-directory. */
		if (path[0] == '/')
			fd = open(b.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		else
			fd = copa_fs_open_beneath(dirfd, b.p, O_RDONLY | O_DIRECTORY, 0, err);
		if (fd < 0 && path[0] == '/')
			copa_err_sys(err, COPA_E_IO, errno, "cannot open directory '%s'", b.p);
		if (fd < 0) {
			r = -1;
			break;
		}
		if (!slash)
			break;
		p = slash + 1;
		while (*p == '/')
			p++;
	}
	copa_buf_release(&b);
	return r;
}

static int rm_rf_at(int parent, const char *name, struct copa_err *err)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return copa_err_sys(err, COPA_E_IO, errno, "cannot stat '%s'", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot remove '%s'", name);
		return 0;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open directory '%s'", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read directory '%s'", name);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rm_rf_at(dirfd(d), de->d_name, err) < 0) {
			r = -1;
			break;
		}
	}
	closedir(d);
	if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = copa_err_sys(err, COPA_E_IO, errno, "cannot remove directory '%s'", name);
	return r;
}

int copa_fs_rm_rf(int dirfd, const char *path, struct copa_err *err)
{
	return rm_rf_at(dirfd, path, err);
}

const char *copa_fs_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

char *copa_fs_mkdtemp(const char *parent, const char *prefix, struct copa_err *err)
{
	/* The PID in the name lets copa_fs_sweep_stale tell a crashed run's directory. */
	char *path = copa_xasprintf("%s/%s%d-XXXXXX", parent ? parent : copa_fs_tmpdir(), prefix,
	                            (int)getpid());

	if (!mkdtemp(path)) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot create a temporary directory in '%s'",
		             parent ? parent : copa_fs_tmpdir());
		free(path);
		return NULL;
	}
	return path;
}

bool copa_fs_exists(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int copa_path_normalize(const char *in, struct copa_buf *out)
{
	const char *p = in;

	copa_buf_reset(out);
	copa_buf_add(out, "", 0);
	while (*p) {
		const char *end;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
				return -1;
		if (out->len)
			copa_buf_addc(out, '/');
		copa_buf_add(out, p, n);
		p += n;
	}
	return out->overflow ? -1 : 0;
}

/* The PID a copa temporary name carries, or 0: ".NAME.tmp-PID-N" or "<prefix>PID-XXXXXX". */
static pid_t stale_pid(const char *name, const char *const *prefixes, const char *tmp_base)
{
	const char *p = NULL;
	char *end;
	long pid;

	if (name[0] == '.' && (p = strstr(name, ".tmp-")) != NULL) {
		size_t blen = tmp_base ? strlen(tmp_base) : 0;

		if (tmp_base &&
		    ((size_t)(p - name) != blen + 1 || strncmp(name + 1, tmp_base, blen)))
			return 0;
		p += 5;
	} else {
		for (size_t i = 0; prefixes && prefixes[i]; i++)
			if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) {
				p = name + strlen(prefixes[i]);
				break;
			}
		if (!p)
			return 0;
	}
	if (*p < '1' || *p > '9')
		return 0;
	errno = 0;
	pid = strtol(p, &end, 10);
	if (errno || *end != '-' || pid <= 0 || pid > INT32_MAX)
		return 0;
	return (pid_t)pid;
}

static bool pid_alive(pid_t pid)
{
	return pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH;
}

int copa_fs_sweep_stale(int dirfd, const char *const *prefixes, const char *tmp_base)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int removed = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		pid_t pid = stale_pid(de->d_name, prefixes, tmp_base);
		struct stat st;
		struct copa_err e = COPA_ERR_INIT;
		_cleanup_close_ int lk = -1;

		if (!pid || pid_alive(pid) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_uid != geteuid() || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
			continue;
		/* A writer in another PID namespace still holds its lock: leave it. */
		lk = openat(dirfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (lk < 0 || flock(lk, LOCK_EX | LOCK_NB) < 0)
			continue;
		if (S_ISDIR(st.st_mode) ? rm_rf_at(dirfd, de->d_name, &e) == 0
		                        : unlinkat(dirfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

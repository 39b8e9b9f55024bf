#include "util/cache.h"

#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char *default_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg == '/')
		return copa_xasprintf("%s/copa", xdg);
	if (home && *home == '/')
		return copa_xasprintf("%s/.cache/copa", home);
	return copa_xasprintf("%s/copa-cache-%d", copa_fs_tmpdir(), (int)getuid());
}

static bool plain_name(const char *s)
{
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int copa_cache_open(struct copa_cache *c, const char *dir, struct copa_err *err)
{
	_cleanup_free_ char *path = dir ? copa_xstrdup(dir) : default_dir();
	char *real;

	c->dirfd = -1;
	c->path = NULL;
	if (copa_fs_mkdir_p(AT_FDCWD, path, 0700, err) < 0)
		return copa_err_wrap(err, "cache directory '%s' (choose another with --cache-dir)",
		                     path);
	c->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open cache directory '%s'",
		                    path);
	real = realpath(path, NULL);
	c->path = real ? real : copa_xstrdup(path);
	if (copa_fs_mkdir_p(c->dirfd, "blobs/sha256", 0700, err) < 0 ||
	    copa_fs_mkdir_p(c->dirfd, "blobs/sha512", 0700, err) < 0 ||
	    copa_fs_mkdir_p(c->dirfd, "tmp", 0700, err) < 0) {
		copa_cache_release(c);
		return copa_err_wrap(err, "cache directory '%s'", path);
	}
	copa_cache_sweep(c);
	return 0;
}

void copa_cache_sweep(const struct copa_cache *c)
{
	/* Staging directories of a run (core/patch.c) and temporary files of every writer. */
	static const char *const prefixes[] = {"load-", "stage-", NULL};
	_cleanup_close_ int dup_fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	struct dirent *de;

	if (!d)
		return;
	dup_fd = -1; /* owned by d */
	copa_fs_sweep_stale(c->dirfd, prefixes, NULL);
	while ((de = readdir(d)) != NULL) {
		_cleanup_close_ int fd = -1;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(c->dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		copa_fs_sweep_stale(fd, prefixes, NULL);
		if (!strcmp(de->d_name, "blobs")) {
			_cleanup_close_ int a =
			    openat(fd, "sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			_cleanup_close_ int b =
			    openat(fd, "sha512", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (a >= 0)
				copa_fs_sweep_stale(a, NULL, NULL);
			if (b >= 0)
				copa_fs_sweep_stale(b, NULL, NULL);
		}
	}
	closedir(d);
}

void copa_cache_release(struct copa_cache *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd);
	c->dirfd = -1;
	free(c->path);
	c->path = NULL;
}

static char *blob_rel(const char *digest)
{
	enum copa_hash_alg alg;
	const char *hex;

	if (!copa_digest_parse(digest, &alg, &hex))
		return NULL;
	return copa_xasprintf("blobs/%s/%s", copa_hash_name(alg), hex);
}

char *copa_cache_blob_path(const struct copa_cache *c, const char *digest)
{
	_cleanup_free_ char *rel = blob_rel(digest);

	if (!rel)
		return NULL;
	return copa_xasprintf("%s/%s", c->path, rel);
}

bool copa_cache_has_blob(const struct copa_cache *c, const char *digest)
{
	_cleanup_free_ char *rel = blob_rel(digest);

	return rel && copa_fs_exists(c->dirfd, rel);
}

int copa_cache_open_blob(const struct copa_cache *c, const char *digest, bool verify,
                         struct copa_err *err)
{
	_cleanup_free_ char *rel = blob_rel(digest);
	_cleanup_close_ int fd = -1;
	enum copa_hash_alg alg;
	const char *hex;
	char got[COPA_HASH_HEX_MAX];

	if (!rel)
		return copa_err_set(err, COPA_E_INPUT, "invalid digest '%s'", digest);
	fd = openat(c->dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return copa_err_set(err, COPA_E_NOTFOUND, "blob %s is not in the cache",
			                    digest);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open cached blob %s", digest);
	}
	if (!verify)
		return steal_fd(&fd);
	copa_digest_parse(digest, &alg, &hex);
	if (copa_hash_fd(fd, alg, got, NULL, err) < 0)
		return copa_err_wrap(err, "cached blob %s", digest);
	if (strcmp(got, hex) != 0) {
		unlinkat(c->dirfd, rel, 0);
		return copa_err_set(err, COPA_E_NOTFOUND,
		                    "cached blob %s was corrupt and has been removed", digest);
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot rewind cached blob %s", digest);
	return steal_fd(&fd);
}

int copa_cache_begin(const struct copa_cache *c, struct copa_tmpfile *t, struct copa_err *err)
{
	if (copa_tmpfile_open(t, c->dirfd, "tmp/entry", 0644, err) < 0)
		return copa_err_wrap(err, "cache '%s'", c->path);
	return 0;
}

int copa_cache_commit_blob(const struct copa_cache *c, struct copa_tmpfile *t, const char *digest,
                           bool verified, char out_digest[COPA_DIGEST_MAX], struct copa_err *err)
{
	char computed[COPA_DIGEST_MAX];
	_cleanup_free_ char *rel = NULL;

	if (!digest || !verified) {
		enum copa_hash_alg alg = COPA_HASH_SHA256;
		char hex[COPA_HASH_HEX_MAX];
		int fd;

		if (digest && !copa_digest_parse(digest, &alg, NULL))
			return copa_err_set(err, COPA_E_INPUT, "invalid digest '%s'", digest);
		fd = openat(t->dirfd, t->tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot reopen cache entry");
		if (copa_hash_fd(fd, alg, hex, NULL, err) < 0) {
			close(fd);
			return -1;
		}
		close(fd);
		snprintf(computed, sizeof(computed), "%s:%s", copa_hash_name(alg), hex);
		if (digest && strcmp(computed, digest) != 0)
			return copa_err_set(err, COPA_E_VERIFY,
			                    "content does not match its digest %s (got %s)", digest,
			                    computed);
		digest = computed;
	}
	rel = blob_rel(digest);
	if (!rel)
		return copa_err_set(err, COPA_E_INPUT, "invalid digest '%s'", digest);
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (renameat(t->dirfd, t->tmp, c->dirfd, rel) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot store blob %s in the cache",
		                    digest);
	t->done = true;
	if (out_digest)
		snprintf(out_digest, COPA_DIGEST_MAX, "%s", digest);
	return 0;
}

char *copa_cache_path(const struct copa_cache *c, const char *ns, const char *key,
                      struct copa_err *err)
{
	if (!plain_name(ns) || !plain_name(key)) {
		copa_err_set(err, COPA_E_BUG, "invalid cache key '%s/%s'", ns, key);
		return NULL;
	}
	if (copa_fs_mkdir_p(c->dirfd, ns, 0700, err) < 0)
		return NULL;
	return copa_xasprintf("%s/%s/%s", c->path, ns, key);
}

int copa_cache_put(const struct copa_cache *c, const char *ns, const char *key, const void *data,
                   size_t n, struct copa_err *err)
{
	_cleanup_free_ char *rel = NULL;

	if (!plain_name(ns) || !plain_name(key))
		return copa_err_set(err, COPA_E_BUG, "invalid cache key '%s/%s'", ns, key);
	if (copa_fs_mkdir_p(c->dirfd, ns, 0700, err) < 0)
		return -1;
	rel = copa_xasprintf("%s/%s", ns, key);
	return copa_fs_write_atomic(c->dirfd, rel, data, n, 0644, err);
}

int copa_cache_get(const struct copa_cache *c, const char *ns, const char *key, size_t max,
                   struct copa_buf *out, struct copa_err *err)
{
	_cleanup_free_ char *rel = NULL;
	struct copa_err e2 = COPA_ERR_INIT;

	if (!plain_name(ns) || !plain_name(key))
		return copa_err_set(err, COPA_E_BUG, "invalid cache key '%s/%s'", ns, key);
	rel = copa_xasprintf("%s/%s", ns, key);
	if (copa_fs_read_file(c->dirfd, rel, max, out, &e2) < 0) {
		if (e2.code == COPA_E_NOTFOUND)
			return 0;
		if (err)
			*err = e2;
		return -1;
	}
	return 1;
}

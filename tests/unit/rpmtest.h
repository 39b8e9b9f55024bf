/*
 * rpmtest.h: small helpers shared by the rpm unit tests: where the shared
 * test data lives, temporary trees, copying files, running a real tool.
 * Header-only (static functions) so each test program stays one file.
 */
#ifndef COPA_TESTS_RPMTEST_H
#define COPA_TESTS_RPMTEST_H

#include "util/blob.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef COPA_SHARED_TESTDATA
#define COPA_SHARED_TESTDATA "../shared/testdata"
#endif

/* The shared test data directory: $COPA_SHARED_TESTDATA or the build-time default. */
static inline const char *rt_shared(void)
{
	const char *e = getenv("COPA_SHARED_TESTDATA");

	return e && *e ? e : COPA_SHARED_TESTDATA;
}

/* Path of a file in the shared rpm data; aborts the test program when missing. */
static inline char *rt_data(const char *rel)
{
	char *p = copa_xasprintf("%s/rpm/%s", rt_shared(), rel);

	if (access(p, R_OK) != 0) {
		fprintf(stderr,
		        "rpm test data '%s' is missing: put the project's shared/ beside "
		        "the clone or set COPA_SHARED_TESTDATA\n",
		        p);
		exit(1);
	}
	return p;
}

static inline char *rt_mkdtemp(void)
{
	struct copa_err err = COPA_ERR_INIT;
	char *d = copa_fs_mkdtemp(copa_fs_tmpdir(), "copa-rpmtest-", &err);

	if (!d) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	return d;
}

static inline void rt_rm(const char *dir)
{
	struct copa_err err = COPA_ERR_INIT;

	copa_fs_rm_rf(AT_FDCWD, dir, &err);
}

/* Copies the host file src to root/rel, creating parents; aborts on failure. */
static inline void rt_copy(const char *src, const char *root, const char *rel)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	_cleanup_free_ char *dst = copa_xasprintf("%s/%s", root, rel);
	_cleanup_free_ char *dir = copa_path_dir(dst);

	if (copa_fs_read_file(AT_FDCWD, src, 1u << 30, &b, &err) < 0 ||
	    copa_fs_mkdir_p(AT_FDCWD, dir, 0755, &err) < 0 ||
	    copa_fs_write_atomic(AT_FDCWD, dst, b.p ? b.p : "", b.len, 0644, &err) < 0) {
		fprintf(stderr, "copy %s: %s\n", src, err.msg);
		exit(1);
	}
	copa_buf_release(&b);
}

/* Writes text to root/rel, creating parents. */
static inline void rt_write(const char *root, const char *rel, const char *text)
{
	struct copa_err err = COPA_ERR_INIT;
	_cleanup_free_ char *dst = copa_xasprintf("%s/%s", root, rel);
	_cleanup_free_ char *dir = copa_path_dir(dst);

	if (copa_fs_mkdir_p(AT_FDCWD, dir, 0755, &err) < 0 ||
	    copa_fs_write_atomic(AT_FDCWD, dst, text, strlen(text), 0644, &err) < 0) {
		fprintf(stderr, "write %s: %s\n", dst, err.msg);
		exit(1);
	}
}

/* Runs a shell command line built by the test itself (fixed strings, temp paths) and captures
 * stdout. */
static inline int rt_run(const char *cmd, struct copa_buf *out)
{
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t n;

	if (!p)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		copa_buf_add(out, chunk, n);
	return pclose(p);
}

static inline int rt_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

#endif

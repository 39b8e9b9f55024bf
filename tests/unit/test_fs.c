#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	char *dir = copa_fs_mkdtemp(NULL, "copa-test-fs-", &err);

	if (!dir)
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	copa_fs_rm_rf(AT_FDCWD, *state, NULL);
	free(*state);
	return 0;
}

static int rootfd(void **state)
{
	return open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void atomic_write_and_read(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	int root = rootfd(state);

	assert_int_equal(copa_fs_mkdir_p(root, "a/b/c", 0755, &err), 0);
	assert_int_equal(copa_fs_write_atomic(root, "a/b/c/f", "data", 4, 0640, &err), 0);
	assert_int_equal(copa_fs_read_file(root, "a/b/c/f", 100, &b, &err), 0);
	assert_string_equal(b.p, "data");
	/* The cap applies. */
	assert_int_equal(copa_fs_read_file(root, "a/b/c/f", 3, &b, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	/* No temporary file is left beside it. */
	{
		int d = openat(root, "a/b/c", O_RDONLY | O_DIRECTORY);
		DIR *dir = fdopendir(d);
		struct dirent *de;
		int n = 0;

		while ((de = readdir(dir)))
			if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
				n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(dir);
		assert_int_equal(n, 1);
	}
	copa_buf_release(&b);
	close(root);
}

/* An empty file reads as "" into a buffer that was never used: the buffer's
 * invariant (p[len] == '\0') holds from its first allocation. The freed block
 * of 'x's is what malloc hands back for it, so a missing terminator shows. */
static void empty_file_reads_as_empty_string(void **state)
{
	int root = rootfd(state);
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	char *junk = malloc((1 << 16) + 1);

	assert_non_null(junk);
	memset(junk, 'x', (1 << 16) + 1);
	free(junk);
	assert_int_equal(copa_fs_write_atomic(root, "empty", "", 0, 0644, &err), 0);
	assert_int_equal(copa_fs_read_file(root, "empty", 100, &b, &err), 0);
	assert_non_null(b.p);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	copa_buf_release(&b);
	close(root);
}

static void tmpfile_abort_leaves_nothing(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_tmpfile t;
	int root = rootfd(state);

	assert_int_equal(copa_tmpfile_open(&t, root, "out.json", 0644, &err), 0);
	assert_int_equal(copa_fs_write_all(t.fd, "{", 1, &err), 0);
	copa_tmpfile_release(&t);
	assert_false(copa_fs_exists(root, "out.json"));
	close(root);
}

static void open_beneath_refuses_escape(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	int root = rootfd(state);
	int fd;

	assert_int_equal(copa_fs_mkdir_p(root, "stage/usr", 0755, &err), 0);
	assert_int_equal(symlinkat("/etc", root, "stage/etc"), 0);
	assert_int_equal(symlinkat("../..", root, "stage/up"), 0);
	{
		int stage = openat(root, "stage", O_RDONLY | O_DIRECTORY);

		fd = copa_fs_open_beneath(stage, "etc/passwd", O_RDONLY, 0, &err);
		assert_int_equal(fd, -1);
		fd = copa_fs_open_beneath(stage, "up/x", O_WRONLY | O_CREAT, 0644, &err);
		assert_int_equal(fd, -1);
		fd = copa_fs_open_beneath(stage, "../x", O_WRONLY | O_CREAT, 0644, &err);
		assert_int_equal(fd, -1);
		/* A symlink as the last component is not followed on create. */
		fd = copa_fs_open_beneath(stage, "etc", O_WRONLY | O_CREAT, 0644, &err);
		assert_int_equal(fd, -1);
		fd = copa_fs_open_beneath(stage, "/usr/new", O_WRONLY | O_CREAT, 0644, &err);
		assert_true(fd >= 0);
		close(fd);
		assert_true(copa_fs_exists(stage, "usr/new"));
		close(stage);
	}
	assert_false(copa_fs_exists(root, "x"));
	close(root);
}

static void mkdir_p_refuses_symlink(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	int root = rootfd(state);

	assert_int_equal(copa_fs_mkdir_p(root, "real", 0755, &err), 0);
	assert_int_equal(symlinkat("/tmp", root, "link"), 0);
	assert_int_equal(copa_fs_mkdir_p(root, "link/sub", 0755, &err), -1);
	close(root);
}

static void normalize(void **state)
{
	struct copa_buf b = COPA_BUF_INIT;
	static const struct {
		const char *in, *out;
	} ok[] = {
	    {"./usr/bin/x", "usr/bin/x"},
	    {"/etc//passwd", "etc/passwd"},
	    {"a/./b/", "a/b"},
	    {"./", ""},
	    {"", ""},
	    {".wh.x", ".wh.x"},
	};
	static const char *bad[] = {"../x", "a/../../b", "a/..", "a/\nb"};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(ok); i++) {
		assert_int_equal(copa_path_normalize(ok[i].in, &b), 0);
		assert_string_equal(copa_buf_str(&b), ok[i].out);
	}
	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad); i++)
		assert_int_equal(copa_path_normalize(bad[i], &b), -1);
	copa_buf_release(&b);
}

static void path_dir(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"out.tar", "."},
	    {"/out.tar", "/"},
	    {"a/b/out.tar", "a/b"},
	    {"/tmp/x", "/tmp"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		char *dir = copa_path_dir(cases[i].in);

		assert_string_equal(dir, cases[i].out);
		free(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(atomic_write_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_file_reads_as_empty_string, setup, teardown),
	    cmocka_unit_test_setup_teardown(tmpfile_abort_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(open_beneath_refuses_escape, setup, teardown),
	    cmocka_unit_test_setup_teardown(mkdir_p_refuses_symlink, setup, teardown),
	    cmocka_unit_test(normalize),
	    cmocka_unit_test(path_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

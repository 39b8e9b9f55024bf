#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/cache.h"
#include "testutil.h"
#include "util/mem.h"

#include <fcntl.h>
#include <unistd.h>

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	*state = copa_fs_mkdtemp(NULL, "copa-test-cache-", &err);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	copa_fs_rm_rf(AT_FDCWD, *state, NULL);
	free(*state);
	return 0;
}

static void blob_roundtrip_and_corruption(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_cache c;
	struct copa_tmpfile t;
	char digest[COPA_DIGEST_MAX], want[COPA_DIGEST_MAX];
	char *path;
	int fd;
	struct copa_buf b = COPA_BUF_INIT;

	assert_ok(copa_cache_open(&c, *state, &err));
	copa_sha256_digest("layer", 5, want);
	assert_false(copa_cache_has_blob(&c, want));
	assert_int_equal(copa_cache_begin(&c, &t, &err), 0);
	assert_int_equal(copa_fs_write_all(t.fd, "layer", 5, &err), 0);
	/* A wrong expected digest is refused and nothing is stored. */
	assert_int_equal(
	    copa_cache_commit_blob(
	        &c, &t, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
	        false, NULL, &err),
	    -1);
	assert_int_equal(err.code, COPA_E_VERIFY);
	assert_int_equal(copa_cache_commit_blob(&c, &t, NULL, false, digest, &err), 0);
	copa_tmpfile_release(&t);
	assert_string_equal(digest, want);
	assert_true(copa_cache_has_blob(&c, want));

	fd = copa_cache_open_blob(&c, want, true, &err);
	assert_true(fd >= 0);
	assert_int_equal(copa_fs_read_fd(fd, 100, &b, &err), 0);
	assert_string_equal(b.p, "layer");
	close(fd);

	/* Corrupt it on disk: a verified read removes it and says so. */
	path = copa_cache_blob_path(&c, want);
	assert_int_equal(copa_fs_write_atomic(AT_FDCWD, path, "LAYER", 5, 0644, &err), 0);
	assert_int_equal(copa_cache_open_blob(&c, want, true, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	assert_false(copa_cache_has_blob(&c, want));
	assert_int_equal(copa_cache_open_blob(&c, "sha256:../../x", true, &err), -1);

	free(path);
	copa_buf_release(&b);
	copa_cache_release(&c);
}

static void keyed_entries(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_cache c;
	struct copa_buf b = COPA_BUF_INIT;

	assert_ok(copa_cache_open(&c, *state, &err));
	assert_int_equal(copa_cache_get(&c, "layer-index", "k", 100, &b, &err), 0);
	assert_int_equal(copa_cache_put(&c, "layer-index", "k", "v1", 2, &err), 0);
	assert_int_equal(copa_cache_get(&c, "layer-index", "k", 100, &b, &err), 1);
	assert_string_equal(b.p, "v1");
	assert_int_equal(copa_cache_put(&c, "layer-index", "../k", "v", 1, &err), -1);
	copa_buf_release(&b);
	copa_cache_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(blob_roundtrip_and_corruption, setup, teardown),
	    cmocka_unit_test_setup_teardown(keyed_entries, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

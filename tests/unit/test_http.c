#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/fs.h"
#include "testutil.h"
#include "util/hash.h"
#include "util/http.h"
#include "util/mem.h"

#include <fcntl.h>
#include <unistd.h>

static void url_resolve(void **state)
{
	char *u = copa_url_resolve("http://reg:5000/v2/a/blobs/uploads/",
	                           "/v2/a/blobs/uploads/x?_state=1");

	assert_string_equal(u, "http://reg:5000/v2/a/blobs/uploads/x?_state=1");
	free(u);
	u = copa_url_resolve("http://reg:5000/v2/a/", "https://cdn.example/blob?sig=1");
	assert_string_equal(u, "https://cdn.example/blob?sig=1");
	free(u);
	u = copa_url_resolve("http://reg/dists/x/", "InRelease");
	assert_string_equal(u, "http://reg/dists/x/InRelease");
	free(u);
}

static void same_origin(void **state)
{
	assert_true(copa_url_same_origin("http://a:5000/x", "http://a:5000/y?z"));
	assert_true(copa_url_same_origin("https://A/x", "https://a:443/y"));
	assert_false(copa_url_same_origin("http://a:5000/x", "http://a:5001/x"));
	assert_false(copa_url_same_origin("http://a/x", "https://a/x"));
	assert_false(copa_url_same_origin("http://a/x", "http://b/x"));
	assert_false(copa_url_same_origin("not a url", "http://b/x"));
}

static void escape(void **state)
{
	char *e = copa_url_escape("repository:a/b:pull,push");

	assert_string_equal(e, "repository%3Aa%2Fb%3Apull%2Cpush");
	free(e);
}

/* A file:// fetch exercises the download path: size cap, digest check, truncation. */
static void fetch_file_url_verifies(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_http_opts o = {0};
	struct copa_http *h = copa_http_new(&o, &err);
	char *dir = copa_fs_mkdtemp(NULL, "copa-test-http-", &err);
	char *src = copa_xasprintf("%s/src", dir);
	char *dst = copa_xasprintf("%s/dst", dir);
	char *url = copa_xasprintf("file://%s", src);
	char digest[COPA_DIGEST_MAX];
	int fd;
	struct copa_http_fetch f = {0};
	struct copa_buf got = COPA_BUF_INIT;

	assert_non_null(h);
	assert_int_equal(copa_fs_write_atomic(AT_FDCWD, src, "0123456789", 10, 0644, &err), 0);
	copa_sha256_digest("0123456789", 10, digest);
	fd = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644);
	/* Pre-existing junk must not survive. */
	assert_int_equal(write(fd, "junkjunkjunkjunk", 16), 16);
	f.url = url;
	f.expect_digest = digest;
	f.expect_size = 10;
	f.fd = fd;
	f.what = "test file";
	assert_ok(copa_http_fetch(h, &f, NULL, &err));
	assert_int_equal(copa_fs_read_file(AT_FDCWD, dst, 100, &got, &err), 0);
	assert_string_equal(got.p, "0123456789");

	f.expect_size = 5;
	assert_int_equal(copa_http_fetch(h, &f, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_VERIFY);

	f.expect_size = -1;
	f.expect_digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
	assert_int_equal(copa_http_fetch(h, &f, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_VERIFY);
	assert_non_null(strstr(err.msg, "test file"));

	close(fd);
	copa_buf_release(&got);
	copa_fs_rm_rf(AT_FDCWD, dir, NULL);
	free(dir);
	free(src);
	free(dst);
	free(url);
	copa_http_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(url_resolve),
	    cmocka_unit_test(same_origin),
	    cmocka_unit_test(escape),
	    cmocka_unit_test(fetch_file_url_verifies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Run control (cancel flag, deadline), output paths and the link-local guard's address test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/fs.h"
#include "util/http.h"
#include "util/mem.h"
#include "util/outfile.h"
#include "util/runctl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void cancel_wins_and_names_the_signal(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	copa_runctl_reset();
	assert_int_equal(copa_runctl_check(&err), 0);
	copa_runctl_cancel(SIGTERM);
	copa_runctl_cancel(SIGINT); /* the first signal is the one reported */
	assert_int_equal(copa_runctl_signal(), SIGTERM);
	assert_int_equal(copa_runctl_check(&err), -1);
	assert_int_equal(err.code, COPA_E_CANCELED);
	assert_non_null(strstr(err.msg, "SIGTERM"));
	copa_runctl_reset();
	assert_false(copa_runctl_stopped());
}

static void deadline_names_the_flag(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	copa_runctl_reset();
	copa_runctl_set_timeout(60000);
	assert_int_equal(copa_runctl_check(&err), 0);
	copa_runctl_set_timeout(1);
	usleep(5000);
	assert_int_equal(copa_runctl_check(&err), -1);
	assert_int_equal(err.code, COPA_E_TIMEOUT);
	assert_non_null(strstr(err.msg, "--timeout 1ms"));
	copa_runctl_set_timeout(0);
	assert_int_equal(copa_runctl_check(&err), 0);
	copa_runctl_reset();
}

static bool v4_forbidden(const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	return copa_http_addr_forbidden((const struct sockaddr *)&a);
}

static bool v6_forbidden(const char *ip)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};

	assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
	return copa_http_addr_forbidden((const struct sockaddr *)&a);
}

static void link_local_and_metadata_addresses(void **state)
{
	assert_true(v4_forbidden("169.254.169.254"));
	assert_true(v4_forbidden("169.254.0.1"));
	assert_true(v4_forbidden("100.100.100.200"));
	assert_false(v4_forbidden("127.0.0.1"));
	assert_false(v4_forbidden("169.253.255.255"));
	assert_false(v4_forbidden("10.0.0.1"));
	assert_true(v6_forbidden("fe80::1"));
	assert_true(v6_forbidden("febf::1"));
	assert_true(v6_forbidden("::ffff:169.254.169.254"));
	assert_true(v6_forbidden("fd00:ec2::254"));
	assert_false(v6_forbidden("::1"));
	assert_false(v6_forbidden("fec0::1"));
	assert_true(copa_http_host_forbidden("169.254.169.254"));
	assert_true(copa_http_host_forbidden("fe80::1"));
	assert_false(copa_http_host_forbidden("metadata.google.internal")); /* names: on connect */
}

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	char *dir = copa_fs_mkdtemp(NULL, "copa-test-outfile-", &err);

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

static char *path_in(void **state, const char *name)
{
	return copa_xasprintf("%s/%s", (const char *)*state, name);
}

static void outfile_keeps_symlinks_and_writes_devices_in_place(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	_cleanup_free_ char *real = path_in(state, "real.json");
	_cleanup_free_ char *link = path_in(state, "link.json");
	_cleanup_free_ char *dangling = path_in(state, "dangling.json");
	_cleanup_free_ char *created = path_in(state, "created.json");
	_cleanup_free_ char *null_link = path_in(state, "null");
	struct stat st;

	/* A symlink to a regular file: the file changes, the link stays. */
	assert_int_equal(copa_fs_write_atomic(AT_FDCWD, real, "old", 3, 0600, &err), 0);
	assert_int_equal(symlink(real, link), 0);
	assert_int_equal(copa_outfile_check(link, &err), 0);
	assert_int_equal(copa_outfile_write(link, "new", 3, &err), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(copa_fs_read_file(AT_FDCWD, real, 100, &b, &err), 0);
	assert_memory_equal(b.p, "new", 3);
	assert_int_equal(stat(real, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A dangling symlink: its target is created. */
	assert_int_equal(symlink("created.json", dangling), 0);
	assert_int_equal(copa_outfile_write(dangling, "x", 1, &err), 0);
	assert_int_equal(lstat(dangling, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat(created, &st), 0);
	assert_int_equal(st.st_size, 1);
	/* A symlink to a device: written in place. */
	assert_int_equal(symlink("/dev/null", null_link), 0);
	assert_int_equal(copa_outfile_check(null_link, &err), 0);
	assert_int_equal(copa_outfile_write(null_link, "x", 1, &err), 0);
	assert_int_equal(lstat(null_link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	copa_buf_release(&b);
}

static void outfile_refuses_directories_and_missing_parents(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	_cleanup_free_ char *missing = path_in(state, "no/such/dir/x.json");

	assert_int_equal(copa_outfile_check(*state, &err), -1);
	assert_non_null(strstr(err.msg, "is a directory"));
	assert_int_equal(copa_outfile_check(missing, &err), -1);
	assert_int_equal(err.code, COPA_E_IO);
	assert_int_equal(copa_outfile_check("-", &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cancel_wins_and_names_the_signal),
	    cmocka_unit_test(deadline_names_the_flag),
	    cmocka_unit_test(link_local_and_metadata_addresses),
	    cmocka_unit_test_setup_teardown(outfile_keeps_symlinks_and_writes_devices_in_place,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(outfile_refuses_directories_and_missing_parents, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

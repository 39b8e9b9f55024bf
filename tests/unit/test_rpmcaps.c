/*
 * test_rpmcaps.c: FILECAPS text (libcap's cap_to_text form, as rpmbuild
 * stores %caps) into security.capability, checked against the kernel and
 * libcap themselves: the same text is given to the real setcap on a
 * temporary file and the xattr it wrote is read back with getxattr. Where
 * setcap cannot run (no CAP_SETFCAP), fixed expectations still run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pkg/rpm/rpmcaps.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int ours(const char *text, uint8_t out[COPA_RPMCAPS_XATTR_LEN])
{
	struct copa_err err = COPA_ERR_INIT;

	memset(out, 0, COPA_RPMCAPS_XATTR_LEN);
	return copa_rpmcaps_xattr(text, strlen(text), out, &err);
}

/* setcap's xattr for text, or -1 when setcap cannot run here. */
static int theirs(const char *text, uint8_t out[COPA_RPMCAPS_XATTR_LEN])
{
	char path[] = "/tmp/copa-rpmcaps-XXXXXX";
	int fd = mkstemp(path), status = -1;
	pid_t pid;
	ssize_t n;

	assert_true(fd >= 0);
	close(fd);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("setcap", "setcap", text, path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(path);
		return -1;
	}
	memset(out, 0, COPA_RPMCAPS_XATTR_LEN);
	n = getxattr(path, "security.capability", out, COPA_RPMCAPS_XATTR_LEN);
	unlink(path);
	return n == COPA_RPMCAPS_XATTR_LEN ? 1 : -1;
}

static const char *const cases[] = {
    "cap_net_raw=ep",           "cap_net_admin,cap_net_raw=ep",
    "cap_setuid,cap_setgid+ep", "cap_net_bind_service+p",
    "cap_sys_admin=eip",        "cap_chown+i cap_kill+ep",
    "= cap_net_raw+ep",         "cap_checkpoint_restore,cap_bpf,cap_perfmon=ep",
    "all=p cap_sys_admin-p",    "cap_dac_override=p cap_dac_override+e",
};

static void against_setcap(void **state)
{
	int compared = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[COPA_RPMCAPS_XATTR_LEN], b[COPA_RPMCAPS_XATTR_LEN];

		assert_int_equal(ours(cases[i], a), 1);
		if (theirs(cases[i], b) < 0)
			continue;
		if (memcmp(a, b, sizeof(a)) != 0)
			fail_msg("'%s': copa's xattr differs from setcap's", cases[i]);
		compared++;
	}
	if (!compared)
		print_message("setcap cannot set capabilities here: compared with fixed values "
		              "only\n");
}

static void fixed_values(void **state)
{
	uint8_t a[COPA_RPMCAPS_XATTR_LEN];
	static const uint8_t raw[COPA_RPMCAPS_XATTR_LEN] = {
	    0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t bpf_p[COPA_RPMCAPS_XATTR_LEN] = {
	    0x00, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0};

	assert_int_equal(ours("cap_net_raw=ep", a), 1); /* CAP_NET_RAW is 13 */
	assert_memory_equal(a, raw, sizeof(a));
	assert_int_equal(ours("cap_bpf+p", a), 1); /* 39: the second word */
	assert_memory_equal(a, bpf_p, sizeof(a));
	assert_int_equal(ours("", a), 0);
	assert_int_equal(ours("cap_net_raw=", a), 0);
	assert_int_equal(ours("cap_net_raw+ep cap_net_raw-epi", a), 0);
}

static void refused(void **state)
{
	static const char *const bad[] = {
	    "cap_nonsense=ep", "cap_net_raw", "cap_net_raw=eq", ",=ep", "99=p", "cap_net_raw=ep;x"};
	uint8_t a[COPA_RPMCAPS_XATTR_LEN];
	char big[COPA_RPMCAPS_TEXT_MAX + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ours(bad[i], a) != -1)
			fail_msg("'%s' was accepted", bad[i]);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(ours(big, a), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(against_setcap),
	    cmocka_unit_test(fixed_values),
	    cmocka_unit_test(refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

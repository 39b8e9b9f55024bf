/*
 * rpmcaps.c: FILECAPS text to security.capability (see rpmcaps.h).
 */
#include "pkg/rpm/rpmcaps.h"

#include "util/mem.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Linux capability numbers 0..40 (linux/capability.h), by libcap's names without "cap_". */
static const char *const names[] = {
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
};

#define CAPS_MAX 64 /* two 32-bit words in vfs_cap_data */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* One name of a list (s, n bytes) into *mask. */
static int add_name(const char *s, size_t n, uint64_t *mask, struct copa_err *err)
{
	if (n == 3 && memcmp(s, "all", 3) == 0) {
		*mask = (UINT64_C(1) << COPA_ARRAY_SIZE(names)) - 1;
		return 0;
	}
	if (n && s[0] >= '0' && s[0] <= '9') {
		unsigned v = 0;

		for (size_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9' || v >= CAPS_MAX)
				goto bad;
			v = v * 10 + (unsigned)(s[i] - '0');
		}
		if (v >= CAPS_MAX)
			goto bad;
		*mask |= UINT64_C(1) << v;
		return 0;
	}
	if (n > 4 && strncasecmp(s, "cap_", 4) == 0)
		for (size_t i = 0; i < COPA_ARRAY_SIZE(names); i++)
			if (strlen(names[i]) == n - 4 && strncasecmp(s + 4, names[i], n - 4) == 0) {
				*mask |= UINT64_C(1) << i;
				return 0;
			}
bad:
	return copa_err_set(err, COPA_E_INPUT, "unknown capability '%.*s'", (int)(n > 40 ? 40 : n),
	                    s);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int copa_rpmcaps_xattr(const char *text, size_t n, uint8_t out[COPA_RPMCAPS_XATTR_LEN],
                       struct copa_err *err)
{
	uint64_t set[3] = {0, 0, 0}; /* effective, inheritable, permitted */
	size_t i = 0;

	if (n > COPA_RPMCAPS_TEXT_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "file capabilities longer than %d bytes",
		                    COPA_RPMCAPS_TEXT_MAX);
	while (i < n) {
		uint64_t mask = 0;
		size_t start;
		bool any_op = false;

		while (i < n && is_blank(text[i]))
			i++;
		if (i == n)
			break;
		/* the list: names up to the first operator */
		start = i;
		while (i < n && !strchr("=+-", text[i]) && !is_blank(text[i]) && text[i])
			i++;
		if (i == n || !strchr("=+-", text[i]) || !text[i])
			return copa_err_set(err, COPA_E_INPUT,
			                    "file capabilities '%.*s': a clause has no =, + or -",
			                    (int)(n > 60 ? 60 : n), text);
		if (i == start) {
			mask = (UINT64_C(1) << COPA_ARRAY_SIZE(names)) - 1;
		} else {
			for (size_t a = start; a < i;) {
				size_t b = a;

				while (b < i && text[b] != ',')
					b++;
				if (b == a || add_name(text + a, b - a, &mask, err) < 0)
					return b == a
					           ? copa_err_set(err, COPA_E_INPUT,
					                          "file capabilities: empty name")
					           : copa_err_wrap(err, "file capabilities");
				a = b + 1;
			}
		}
		/* operations */
		while (i < n && text[i] && strchr("=+-", text[i])) {
			char op = text[i++];
			bool flag[3] = {false, false, false};

			any_op = true;
			for (; i < n && text[i] && strchr("eipEIP", text[i]); i++)
				flag[text[i] == 'e' || text[i] == 'E'   ? 0
				     : text[i] == 'i' || text[i] == 'I' ? 1
				                                        : 2] = true;
			for (int k = 0; k < 3; k++) {
				if (op == '=')
					set[k] &= ~mask;
				if (flag[k] && op != '-')
					set[k] |= mask;
				else if (flag[k])
					set[k] &= ~mask;
			}
		}
		if (!any_op || (i < n && !is_blank(text[i])))
			return copa_err_set(err, COPA_E_INPUT,
			                    "file capabilities '%.*s': unexpected character",
			                    (int)(n > 60 ? 60 : n), text);
	}
	if (!set[0] && !set[1] && !set[2])
		return 0;
	/* VFS_CAP_REVISION_2, VFS_CAP_FLAGS_EFFECTIVE when any effective bit is set */
	put32(out, 0x02000000u | (set[0] ? 1u : 0u));
	put32(out + 4, (uint32_t)set[2]);
	put32(out + 8, (uint32_t)set[1]);
	put32(out + 12, (uint32_t)(set[2] >> 32));
	put32(out + 16, (uint32_t)(set[1] >> 32));
	return 1;
}

/*
 * Fuzz target: a Packages index and a dpkg status file through the Debian
 * planner (src/pkg/deb/plan.h): both are reduced and capped, handed to
 * libsolv, solved (update everything, Multi-Arch with a foreign
 * architecture when the input starts with 'M'), and the chosen packages'
 * Filename, Size and SHA256 are read back from the index. The input is the
 * status, a line "----", then the index.
 */
#include "pkg/deb/plan.h"
#include "pkg/deb/debrepo.h"
#include "util/hash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n----\n";
	struct copa_err err = COPA_ERR_INIT;
	const char *text = (const char *)data;
	const char *cut = memmem(text, size, sep, sizeof(sep) - 1);
	size_t st_len = cut ? (size_t)(cut - text) + 1 : size;
	const char *ix_text = cut ? cut + sizeof(sep) - 1 : "";
	size_t ix_len = cut ? size - (size_t)(ix_text - text) : 0;
	char *foreign[] = {"i386", NULL}, *none[] = {NULL};
	char path[64];
	struct copa_deb_index x = {
	    .repo = "http://repo.test/debian stable/main",
	    .label = "http://repo.test/debian stable/main amd64",
	    .base_uri = "http://repo.test/debian",
	    .component = "main",
	    .arch = "amd64",
	    .path = path,
	    .rel_origin = "",
	    .rel_label = "",
	    .rel_suite = "",
	    .rel_codename = "",
	    .host = "repo.test",
	};
	struct copa_deb_indexes ix = {.v = &x, .n = 1, .cap = 1};
	struct copa_deb_status st = {
	    .text = malloc(st_len + 1),
	    .len = st_len,
	    .native_arch = "amd64",
	    .foreign_archs = size && text[0] == 'M' ? foreign : none,
	};
	struct copa_deb_plan_opts o = {0};
	struct copa_deb_plan plan = {0};
	int fd;

	if (!st.text)
		return 0;
	memcpy(st.text, text, st_len);
	fd = memfd_create("packages", 0);
	if (fd < 0) {
		free(st.text);
		return 0;
	}
	if (ix_len && write(fd, ix_text, ix_len) != (ssize_t)ix_len) {
		free(st.text);
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* The planner checks what it reads against the digest the Release named. */
	copa_sha256_digest(ix_text, ix_len, x.digest);
	(void)copa_deb_plan(&st, &ix, &o, &plan, &err);
	copa_deb_plan_release(&plan);
	free(st.text);
	close(fd);
	return 0;
}

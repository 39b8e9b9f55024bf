/*
 * Fuzz target: apk repositories files (src/pkg/apk/apkrepo.h): every
 * repository that comes out has a URL without blanks or control characters
 * and a plain tag, and its index URL can be built.
 */
#include "pkg/apk/apkrepo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_repos r = COPA_APK_REPOS_INIT;

	(void)copa_apk_repos_parse(&r, (const char *)data, size, "fuzz", &err);
	if (r.n > COPA_APK_REPOS_MAX)
		abort();
	for (size_t i = 0; i < r.n; i++) {
		for (const char *c = r.v[i].url; *c; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f)
				abort();
		if (r.v[i].tag && strpbrk(r.v[i].tag, " /\t"))
			abort();
		free(copa_apk_repo_index_url(&r.v[i], "x86_64"));
	}
	copa_apk_repos_release(&r);
	return 0;
}

/* Fuzz target: dnf/yum/tdnf repository configuration and dnf variable substitution. */
#include "pkg/rpm/repofile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_rpm_vars vars = {0};
	struct copa_rpm_repos r = {0};

	copa_rpm_vars_set(&vars, "releasever", "9", &err);
	copa_rpm_vars_set(&vars, "basearch", "x86_64", &err);
	copa_rpm_vars_set(&vars, "contentdir", "pub/$basearch/${releasever:-1}", &err);
	/* the same text as a .repo file and as dnf.conf ([main] allowed) */
	(void)copa_rpm_repos_parse(&r, &vars, (const char *)data, size, "fuzz.repo", &err);
	(void)copa_rpm_repos_parse(&r, &vars, (const char *)data, size, "dnf.conf", &err);
	for (size_t i = 0; i < r.n; i++) {
		if (!r.v[i].id || !r.v[i].where || !r.v[i].baseurls || !r.v[i].gpgkeys)
			abort();
	}
	if (size < 16384) {
		char *s = malloc(size + 1);
		char *out;

		memcpy(s, data, size);
		s[size] = 0;
		out = copa_rpm_vars_subst(&vars, s, &err);
		free(out);
		free(s);
	}
	copa_rpm_repos_release(&r);
	copa_rpm_vars_release(&vars);
	return 0;
}

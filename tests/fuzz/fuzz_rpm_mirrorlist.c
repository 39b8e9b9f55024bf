/* Fuzz target: a repository's mirrorlist (pkg/rpm/rpmrepo.h). */
#include "pkg/rpm/rpmrepo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	char *url = NULL;

	if (copa_rpm_mirrorlist_first((const char *)data, size, &url, &err) == 0) {
		if (!url || strncasecmp(url, "http", 4) != 0 || strpbrk(url, " \t\r\n"))
			abort(); /* only a clean http(s) URL is returned */
	} else if (url) {
		abort();
	}
	free(url);
	return 0;
}

/* Fuzz target: Release files (fields, dates, SHA256 lines) and clearsigned structure. */
#include "pkg/deb/release.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_release r;
	char *body = NULL;
	size_t len = 0;

	if (copa_release_parse((const char *)data, size, "fuzz", &r, &err) == 0) {
		for (size_t i = 0; i < r.n_files; i++)
			(void)copa_release_find(&r, r.files[i].path);
		copa_release_release(&r);
	}
	if (copa_clearsign_split((const char *)data, size, "fuzz", &body, &len, &err) == 0) {
		if (copa_release_parse(body, len, "fuzz", &r, &err) == 0)
			copa_release_release(&r);
		free(body);
	}
	{
		int64_t t;

		(void)copa_release_parse_date(copa_blob(data, size < 64 ? size : 64), &t);
	}
	return 0;
}

/* Fuzz target: a repository's metalink (pkg/rpm/metalink.h). */
#include "pkg/rpm/metalink.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_metalink ml;
	char why[160];

	if (copa_metalink_parse((const char *)data, size, "fuzz", &ml, &err) == 0) {
		if (ml.n_bases == 0 || ml.n_hashes == 0 || ml.bases[ml.n_bases])
			abort();
		for (size_t i = 0; i < ml.n_bases; i++) {
			const char *b = ml.bases[i];

			/* only a clean http(s) base ending in '/' is returned */
			if (strncasecmp(b, "http", 4) != 0 || strpbrk(b, " \t\r\n") ||
			    b[strlen(b) - 1] != '/')
				abort();
		}
		if (!ml.hashes[0].sha256[0] && !ml.hashes[0].sha512[0])
			abort();
		/* the document itself is never its own repomd.xml unless a hash says so */
		(void)copa_metalink_match(&ml, data, size, why, sizeof(why));
	} else if (ml.n_bases || ml.bases || ml.hashes) {
		abort();
	}
	copa_metalink_release(&ml);
	return 0;
}

/* Fuzz target: APT sources in both formats, --repo entries and mirror rules. */
#include "pkg/deb/debsources.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_sources s = {0};

	(void)copa_deb_sources_parse_list(&s, (const char *)data, size, "fuzz.list", NULL, &err);
	(void)copa_deb_sources_parse_deb822(&s, (const char *)data, size, "fuzz.sources", NULL,
	                                    &err);
	if (size < 4096) {
		char *line = malloc(size + 1);

		memcpy(line, data, size);
		line[size] = 0;
		(void)copa_deb_sources_add_user(&s, line, &err);
		(void)copa_deb_sources_rewrite(&s, line, &err);
		free(line);
	}
	for (size_t i = 0; i < s.n; i++) {
		char *u = copa_deb_source_url(&s.v[i], NULL, "InRelease");

		free(u);
		u = copa_deb_source_label(&s.v[i]);
		free(u);
	}
	copa_deb_sources_release(&s);
	return 0;
}

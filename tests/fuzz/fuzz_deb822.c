/* Fuzz target: the deb822 paragraph parser (status, Packages, Release, sources). */
#include "pkg/deb/control.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	int r;

	copa_deb822_init(&p, (const char *)data, size, "fuzz", size && data[0] == '#');
	while ((r = copa_deb822_next(&p, &para, &err)) == 1) {
		struct copa_blob v = copa_deb822_get(&para, "Conffiles"), line, w;

		while (copa_deb822_lines(&v, &line))
			while (copa_blob_word(&line, &w))
				;
		(void)copa_deb822_get_trim(&para, "Package");
	}
	copa_deb822_para_release(&para);
	return 0;
}

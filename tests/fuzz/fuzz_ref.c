/* Fuzz target: image references and transport references (src/image/ref.c). */
#include "image/ref.h"
#include "util/mem.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	char *s = copa_xstrndup((const char *)data, size);
	struct copa_ref r;
	struct copa_image_ref ir;

	if (copa_ref_parse(s, &r, &err) == 0) {
		char *full = copa_ref_string(&r);
		struct copa_ref again;

		/* The canonical form parses to itself. */
		if (copa_ref_parse(full, &again, &err) < 0)
			__builtin_trap();
		{
			char *full2 = copa_ref_string(&again);

			if (strcmp(full, full2))
				__builtin_trap();
			free(full2);
		}
		copa_ref_release(&again);
		free(full);
		copa_ref_release(&r);
	}
	if (copa_image_ref_parse(s, &ir, &err) == 0) {
		free(copa_image_ref_string(&ir));
		copa_image_ref_release(&ir);
	}
	(void)copa_ref_oci_name_valid(s);
	free(s);
	return 0;
}

/* Fuzz target: a package's FILECAPS text into security.capability (pkg/rpm/rpmcaps.h). */
#include "pkg/rpm/rpmcaps.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	uint8_t out[COPA_RPMCAPS_XATTR_LEN];
	int r = copa_rpmcaps_xattr((const char *)data, size, out, &err);

	if (r == 1 && (out[3] != 0x02 || (out[0] & ~1u) != 0))
		abort(); /* only revision 2 with the effective flag or nothing */
	return 0;
}

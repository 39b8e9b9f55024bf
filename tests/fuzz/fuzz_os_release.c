/* Fuzz target: the os-release parser. */
#include "pkg/osrelease.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_osrelease os;

	if (copa_osrelease_parse((const char *)data, size, &os, &err) == 0)
		copa_osrelease_release(&os);
	return 0;
}

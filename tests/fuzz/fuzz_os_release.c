/* Fuzz target: the os-release parser. */
#include "core/probe.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_os_release os;

	copa_os_release_parse((const char *)data, size, &os);
	copa_os_release_release(&os);
	return 0;
}

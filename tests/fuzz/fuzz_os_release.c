/* Fuzz target: the os-release parser, and the end-of-life lookup of what it gives. */
#include "core/eol.h"
#include "pkg/osrelease.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_osrelease os;
	const char *date;
	bool past;

	if (copa_osrelease_parse((const char *)data, size, &os, &err) == 0) {
		/* ID and VERSION_ID are image content: the lookup must take anything. */
		(void)copa_eol_lookup(os.id, os.version_id, 1700000000, &date, &past);
		copa_osrelease_release(&os);
	}
	return 0;
}

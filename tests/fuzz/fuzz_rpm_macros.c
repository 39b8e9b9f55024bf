/* Fuzz target: the %_dbpath lines of an image's rpm macro files. */
#include "pkg/rpm/rpmdb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *dbpath = NULL;

	copa_rpmdb_macros_scan((const char *)data, size, &dbpath);
	if (dbpath && dbpath[0] != '/')
		abort(); /* only absolute paths are taken */
	free(dbpath);
	return 0;
}

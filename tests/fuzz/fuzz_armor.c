/* Fuzz target: OpenPGP ASCII armour decoding and os-release parsing (both feed trust). */
#include "pgp/armor.h"
#include "pkg/osrelease.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_osrelease os;

	(void)copa_pgp_is_armored(data, size);
	(void)copa_pgp_dearmor((const char *)data, size, "fuzz", &out, &err);
	copa_buf_release(&out);
	if (copa_osrelease_parse((const char *)data, size, &os, &err) == 0)
		copa_osrelease_release(&os);
	return 0;
}

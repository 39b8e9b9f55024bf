/* Fuzz target: a p11-kit trust file read for update-ca-trust (pkg/rpm/rpmeffects.h). */
#include "pkg/rpm/rpmeffects.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (copa_rpm_p11kit_trusted((const char *)data, size) > COPA_RPM_TRUST_CERTS_MAX)
		abort();
	return 0;
}

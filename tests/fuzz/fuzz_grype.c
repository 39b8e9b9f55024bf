/*
 * Fuzz target: the grype report parser (src/report/). Every input must either
 * fail with a message or give finished manifests whose native JSON parses
 * back to the same JSON (report_fuzz.h).
 */
#include "report_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return report_fuzz_one("grype", data, size);
}

/*
 * Fuzz target: the dpkg, apk and rpm version validators and comparators
 * (src/pkg/version.c). The input is two versions separated by a newline.
 * For valid versions the ordering must be antisymmetric and reflexive.
 */
#include "pkg/version.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a[COPA_VERSION_MAX + 2], b[COPA_VERSION_MAX + 2];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t la = nl ? (size_t)(nl - data) : size, lb = nl ? size - la - 1 : 0;
	enum copa_pkgfam fams[] = {COPA_FAM_DEB, COPA_FAM_APK, COPA_FAM_RPM};

	if (la > COPA_VERSION_MAX + 1 || lb > COPA_VERSION_MAX + 1)
		return 0;
	memcpy(a, data, la);
	a[la] = '\0';
	if (nl)
		memcpy(b, nl + 1, lb);
	b[lb] = '\0';
	for (size_t i = 0; i < 3; i++) {
		struct copa_err err = COPA_ERR_INIT;
		int ab, ba, aa;
		bool va = copa_version_valid(fams[i], a), vb = copa_version_valid(fams[i], b);

		if (copa_version_cmp(fams[i], a, b, &ab, &err) == 0) {
			if (!va || !vb)
				abort();
			if (copa_version_cmp(fams[i], b, a, &ba, &err) < 0 || ab != -ba ||
			    copa_version_cmp(fams[i], a, a, &aa, &err) < 0 || aa != 0)
				abort();
		} else if (va && vb) {
			abort();
		}
	}
	(void)copa_rpmvercmp(a, b);
	(void)copa_dpkg_verrevcmp(a, b);
	return 0;
}

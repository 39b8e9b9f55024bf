/*
 * Fuzz target: the .apk reader (src/pkg/apk/apkfile.h, apkgz.h, apktar.h).
 * The input goes through the whole reader against an empty key set (three
 * gzip members, the signature tar; it must be refused), then, unverified,
 * through the pieces the signature protects: as a gzip member holding a
 * control tar (.PKGINFO and scripts), as a raw control tar, as a raw data
 * tar with PAX checksums, and as .PKGINFO text.
 */
#include "pkg/apk/apkfile.h"
#include "pkg/apk/apkgz.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_keys *keys = copa_apk_keys_new();
	struct copa_apkfile f;
	size_t used;

	copa_apkfile_init(&f);
	if (copa_apkfile_read(&f, data, size, keys, NULL, "fuzz", &err) == 0)
		abort(); /* nothing verifies against no keys */
	copa_apkfile_release(&f);
	copa_apk_keys_free(keys);

	/* a gzip member holding a control tar */
	copa_apkfile_init(&f);
	if (copa_apk_gunzip(data, size, 1u << 22, &f.control_tar, &used, "fuzz", &err) == 0)
		(void)copa_apkfile_control(&f, &err);
	copa_apkfile_release(&f);

	/* the same bytes as a raw control tar and as a data tar */
	copa_apkfile_init(&f);
	copa_buf_add(&f.control_tar, data, size);
	(void)copa_apkfile_control(&f, &err);
	copa_buf_add(&f.data_tar, data, size);
	if (copa_apkfile_data(&f, &err) == 0) {
		for (size_t i = 0; i < f.n; i++)
			if (f.entries[i].name[0] == '/' || !f.entries[i].name[0])
				abort(); /* unsafe names never come out */
	}
	copa_apkfile_release(&f);

	copa_apkfile_init(&f);
	(void)copa_apkfile_pkginfo(&f, (const char *)data, size, &err);
	copa_apkfile_release(&f);
	return 0;
}

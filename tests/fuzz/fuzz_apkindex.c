/*
 * Fuzz target: the APKINDEX parser (src/pkg/apk/apkindex.h, apkpkg.h). The
 * input is the text of an APKINDEX member: parsed, every package header
 * written back and parsed again (the writer must produce what the parser
 * reads, with the same fields); then the same bytes as a whole
 * APKINDEX.tar.gz against an empty key set (gzip members, the signature
 * tar walk; it must be refused).
 */
#include "pkg/apk/apkindex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_apk_index idx = COPA_APK_INDEX_INIT, again = COPA_APK_INDEX_INIT;
	struct copa_apk_keys *keys;

	if (copa_apk_index_parse_text(&idx, (const char *)data, size, "fuzz", &err) == 0) {
		struct copa_buf out = COPA_BUF_INIT;

		for (size_t i = 0; i < idx.n; i++) {
			copa_apk_pkg_write(idx.pkgs[i], false, &out);
			copa_buf_addc(&out, '\n');
		}
		if (copa_apk_index_parse_text(&again, out.p, out.len, "rewritten", &err) < 0 ||
		    again.n != idx.n)
			abort(); /* what we write must read back */
		for (size_t i = 0; i < idx.n; i++) {
			const struct copa_apk_pkg *a = idx.pkgs[i], *b = again.pkgs[i];

			if (strcmp(a->name, b->name) || strcmp(a->version, b->version) ||
			    a->depends.n != b->depends.n || a->provides.n != b->provides.n ||
			    a->install_if.n != b->install_if.n || a->size != b->size)
				abort();
		}
		copa_buf_release(&out);
	}
	copa_apk_index_release(&idx);
	copa_apk_index_release(&again);

	keys = copa_apk_keys_new();
	if (copa_apk_index_load(&idx, data, size, keys, "fuzz", &err) == 0)
		abort(); /* nothing verifies against no keys */
	copa_apk_index_release(&idx);
	copa_apk_keys_free(keys);
	return 0;
}

/*
 * Fuzz target: the distroless rpm manifests. Whatever the reader accepts, the
 * writer must write, and the written text must read back to the same text.
 */
#include "pkg/rpm/rpmmanifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_rpmmf m = {0}, again = {0};
	struct copa_rpmmf1 m1 = {0};
	struct copa_buf out = COPA_BUF_INIT, out2 = COPA_BUF_INIT, out1 = COPA_BUF_INIT;

	if (copa_rpmmf1_parse((const char *)data, size, "fuzz-1", &m1, &err) == 0) {
		for (size_t i = 0; i < m1.n; i++)
			if (!m1.v[i].name[0] || !m1.v[i].arch[0])
				abort();
	}
	if (copa_rpmmf_parse((const char *)data, size, "fuzz-2", &m, &err) == 0) {
		if (copa_rpmmf_write(&m, &out, &err) < 0 || copa_rpmmf_write1(&m, &out1, &err) < 0)
			abort(); /* accepted but not writable */
		if (copa_rpmmf_parse(out.p ? out.p : "", out.len, "again", &again, &err) < 0)
			abort(); /* written but not readable */
		if (copa_rpmmf_write(&again, &out2, &err) < 0 || out.len != out2.len ||
		    (out.len && memcmp(out.p, out2.p, out.len) != 0))
			abort(); /* not a fixed point */
		(void)copa_rpmmf_check_pair(&m, &m1, &err);
	}
	copa_rpmmf_release(&m);
	copa_rpmmf_release(&again);
	copa_rpmmf1_release(&m1);
	copa_buf_release(&out);
	copa_buf_release(&out1);
	copa_buf_release(&out2);
	return 0;
}

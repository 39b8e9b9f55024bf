/*
 * Fuzz target: .deb container and tar reading (src/pkg/deb/debfile.h):
 * open from memory, then stream data.tar reading every file's content.
 */
#include "pkg/deb/debfile.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_entry(void *ctx, const struct copa_debfile_entry *e, struct copa_debfile_reader *r,
                    struct copa_err *err)
{
	char buf[4096];
	ssize_t n;

	if (e->type != COPA_FT_REG)
		return 0;
	while ((n = copa_debfile_read(r, buf, sizeof(buf), err)) > 0)
		;
	return n < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_debfile_limits lim = {0};
	struct copa_debfile *d;

	lim.max_data = 64u << 20;
	lim.max_control = 16u << 20;
	lim.max_entries = 10000;
	if (copa_debfile_open_mem(data, size, "fuzz.deb", &lim, &d, &err) == 0) {
		(void)copa_debfile_ctl(d, "control");
		copa_debfile_data_foreach(d, on_entry, NULL, &err);
		copa_debfile_free(d);
	}
	return 0;
}

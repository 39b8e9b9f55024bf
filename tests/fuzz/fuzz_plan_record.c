/*
 * Fuzz target: the Debian plan records copa reads back from its cache
 * (copa_deb_plan_decode, src/pkg/deb/plancache.c). The record's sha256
 * trailer is appended here, so inputs (and the seed corpus) are the JSON
 * without it and the fuzzer reaches the decoder past the checksum. What
 * decodes must encode to a record that decodes to the same encoding.
 */
#include "pkg/deb/plan.h"
#include "util/hash.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_buf in = COPA_BUF_INIT, enc = COPA_BUF_INIT, enc2 = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_deb_plan plan, again;
	char hex[COPA_HASH_HEX_MAX];

	copa_buf_add(&in, data, size);
	copa_hash_hex(COPA_HASH_SHA256, data, size, hex);
	copa_buf_addf(&in, "\n%s\n", hex);
	if (copa_deb_plan_decode(in.p, in.len, &plan, &err) < 0) {
		if (!err.msg[0])
			__builtin_trap();
		copa_buf_release(&in);
		return 0;
	}
	for (size_t i = 0; i < plan.n_pkgs; i++)
		if (!plan.pkgs[i].name || !plan.pkgs[i].url || strlen(plan.pkgs[i].sha256) != 64)
			__builtin_trap();
	if (copa_deb_plan_encode(&plan, &enc, &err) < 0 ||
	    copa_deb_plan_decode(enc.p, enc.len, &again, &err) < 0)
		__builtin_trap();
	if (copa_deb_plan_encode(&again, &enc2, &err) < 0 || enc.len != enc2.len ||
	    memcmp(enc.p, enc2.p, enc.len) != 0)
		__builtin_trap();
	copa_deb_plan_release(&plan);
	copa_deb_plan_release(&again);
	copa_buf_release(&in);
	copa_buf_release(&enc);
	copa_buf_release(&enc2);
	return 0;
}

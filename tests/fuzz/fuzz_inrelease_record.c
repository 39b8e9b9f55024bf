/*
 * Fuzz target: the records of gpgv's verdicts copa reads back from its cache
 * (copa_debrepo_verified_parse, src/pkg/deb/debrepo.c). The expected lines are
 * the input up to its first "signer " (what copa would expect for that
 * InRelease), and the "check" line is appended here, so inputs (and the seed
 * corpus) are records without it and the fuzzer reaches the parser past the
 * checksum. The raw input is parsed too.
 */
#include "pkg/deb/debrepo.h"
#include "util/buf.h"
#include "util/hash.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const char *rec, const char *expect)
{
	char signer[72];
	int64_t when = -1;

	if (!copa_debrepo_verified_parse(rec, expect, signer, &when))
		return;
	if (strlen(signer) == 0 || strlen(signer) >= 72 || when < 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_buf in = COPA_BUF_INIT, exp = COPA_BUF_INIT;
	char hex[COPA_HASH_HEX_MAX];
	const char *s;

	copa_buf_add(&in, data, size);
	s = strstr(copa_buf_str(&in), "signer ");
	copa_buf_add(&exp, copa_buf_str(&in),
	             s ? (size_t)(s - copa_buf_str(&in)) : strlen(copa_buf_str(&in)));
	parse(copa_buf_str(&in), copa_buf_str(&exp));
	copa_hash_hex(COPA_HASH_SHA256, in.p ? in.p : "", in.len, hex);
	copa_buf_addf(&in, "check %s\n", hex);
	parse(copa_buf_str(&in), copa_buf_str(&exp));
	copa_buf_release(&in);
	copa_buf_release(&exp);
	return 0;
}

/*
 * Fuzz target: apk version ordering (src/pkg/apk/apkver.h). The input is
 * "A\nB[\nOP]": the comparison must be antisymmetric, a version equal to
 * itself, and a fuzzy match of a version against itself true; the operator
 * is parsed and matched both ways.
 */
#include "pkg/apk/apkver.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int flip(int r)
{
	return r == COPA_APKV_LESS      ? COPA_APKV_GREATER
	       : r == COPA_APKV_GREATER ? COPA_APKV_LESS
	                                : r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_blob rest = copa_blob(data, size), a = COPA_BLOB_NULL, b = COPA_BLOB_NULL,
	                 op = COPA_BLOB_NULL;

	copa_blob_split(&rest, '\n', &a);
	copa_blob_split(&rest, '\n', &b);
	copa_blob_split(&rest, '\n', &op);
	if (!a.p)
		a = copa_blob("", 0);
	if (!b.p)
		b = copa_blob("", 0);
	(void)copa_apkver_valid(a);
	(void)copa_apkver_valid(b);
	if (copa_apkver_cmp(a, b) != flip(copa_apkver_cmp(b, a)))
		abort();
	if (copa_apkver_cmp(a, a) != COPA_APKV_EQUAL ||
	    !copa_apkver_match(a, COPA_APKV_FUZZY | COPA_APKV_EQUAL, a))
		abort();
	if (op.p) {
		int mask = copa_apkver_op_parse(op);

		(void)copa_apkver_op_str(mask);
		(void)copa_apkver_match(a, mask, b);
		(void)copa_apkver_match(b, mask | COPA_APKV_CONFLICT, a);
	}
	return 0;
}

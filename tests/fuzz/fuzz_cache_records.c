/*
 * Fuzz target: the cache's own records as copa reads them back, the layer
 * header index (copa_lindex_decode, src/layer/lindex.c). The record's sha256
 * trailer is appended here, so inputs (and the seed corpus) are the record
 * without it and the fuzzer reaches the decoder past the checksum.
 */
#include "layer/lindex.h"
#include "util/hash.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int decode(const void *data, size_t size, struct copa_lindex *ix)
{
	struct copa_buf in = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	unsigned char sum[64];
	struct copa_hash h;

	copa_buf_add(&in, data, size);
	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, data, size);
	copa_hash_final_raw(&h, sum);
	copa_buf_add(&in, sum, 32);
	if (copa_lindex_decode(ix, &in, &err) < 0) {
		if (!err.msg[0])
			__builtin_trap();
		copa_lindex_release(ix);
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct copa_lindex ix, again;
	struct copa_buf enc = COPA_BUF_INIT, enc2 = COPA_BUF_INIT;

	if (decode(data, size, &ix) < 0)
		return 0;
	for (size_t i = 0; i < ix.n; i++) {
		const struct copa_rec *r = &ix.recs[i];

		if (!r->path)
			__builtin_trap();
		(void)strlen(r->path);
		if (r->link)
			(void)strlen(r->link);
		if (r->content && r->size) /* the bytes are there to read */
			(void)((const volatile unsigned char *)r->content)[r->size - 1];
	}
	/* What decodes re-encodes to a record that decodes to the same encoding. */
	copa_lindex_encode(&ix, &enc);
	if (enc.len < 32 || decode(enc.p, enc.len - 32, &again) < 0)
		__builtin_trap();
	copa_lindex_encode(&again, &enc2);
	if (again.n != ix.n || enc.len != enc2.len || memcmp(enc.p, enc2.p, enc.len) != 0)
		__builtin_trap();
	copa_lindex_release(&again);
	copa_lindex_release(&ix);
	copa_buf_release(&enc);
	copa_buf_release(&enc2);
	return 0;
}

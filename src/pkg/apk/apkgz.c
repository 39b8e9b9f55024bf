/* apkgz.c: one gzip member at a time (see apkgz.h). */
#include "pkg/apk/apkgz.h"

#include <limits.h>
#include <stdint.h>
#include <zlib.h>

int copa_apk_gunzip(const void *data, size_t n, size_t max_out, struct copa_buf *out,
                    size_t *consumed, const char *what, struct copa_err *err)
{
	z_stream z = {0};
	const unsigned char *in = data;
	size_t used = 0;
	int zr = Z_OK;

	*consumed = 0;
	if (n < 18)
		return copa_err_set(err, COPA_E_INPUT, "%s: truncated gzip stream", what);
	if (in[0] != 0x1f || in[1] != 0x8b)
		return copa_err_set(err, COPA_E_INPUT, "%s: not a gzip stream", what);
	/* 16 + MAX_WBITS: gzip framing only, and stop at the end of this member */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return copa_err_set(err, COPA_E_BUG, "%s: cannot start zlib", what);
	while (zr != Z_STREAM_END) {
		unsigned char chunk[16384];
		size_t avail = n - used;

		z.next_in = (unsigned char *)(uintptr_t)(in + used);
		z.avail_in = avail > UINT_MAX ? UINT_MAX : (unsigned)avail;
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		uLong before = z.total_in;
		zr = inflate(&z, Z_NO_FLUSH);
		used += (size_t)(z.total_in - before);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			inflateEnd(&z);
			if (zr == Z_BUF_ERROR)
				return copa_err_set(err, COPA_E_INPUT, "%s: truncated gzip stream",
				                    what);
			return copa_err_set(err, COPA_E_INPUT, "%s: corrupt gzip stream: %s", what,
			                    z.msg ? z.msg : "zlib error");
		}
		size_t got = sizeof(chunk) - z.avail_out;

		if (out->len + got > max_out || copa_buf_add(out, chunk, got) < 0) {
			inflateEnd(&z);
			return copa_err_set(err, COPA_E_LIMIT,
			                    "%s: decompresses to more than %zu bytes", what,
			                    max_out);
		}
		if (zr != Z_STREAM_END && got == 0 && z.total_in == before) {
			inflateEnd(&z);
			return copa_err_set(err, COPA_E_INPUT, "%s: truncated gzip stream", what);
		}
	}
	inflateEnd(&z);
	*consumed = used;
	return 0;
}

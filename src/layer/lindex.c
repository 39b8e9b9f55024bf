/*
 * lindex.c: the layer header index and its cache encoding (see lindex.h).
 *
 * Encoding: "COPALIX1", then LEB128 varints and length-prefixed byte
 * strings, then the sha256 of everything before it. Strings are stored
 * with length + 1 so that 0 means "absent".
 */
#include "layer/lindex.h"

#include "layer/view.h"
#include "util/fs.h"
#include "util/mem.h"

#include <string.h>

#define MAGIC     "COPALIX1"
#define MAGIC_LEN 8
#define TRAILER   32

struct copa_rec *copa_lindex_add(struct copa_lindex *ix)
{
	struct copa_rec *r;

	ix->recs = copa_xgrow(ix->recs, &ix->cap, ix->n + 1, sizeof(*ix->recs));
	r = &ix->recs[ix->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

void copa_lindex_release(struct copa_lindex *ix)
{
	free(ix->recs);
	copa_arena_release(&ix->arena);
	copa_buf_release(&ix->backing);
	memset(ix, 0, sizeof(*ix));
}

static void put_var(struct copa_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	copa_buf_add(b, tmp, n);
}

static void put_bytes(struct copa_buf *b, const void *p, size_t n, bool present)
{
	put_var(b, present ? (uint64_t)n + 1 : 0);
	if (present)
		copa_buf_add(b, p, n);
}

static void put_str(struct copa_buf *b, const char *s)
{
	put_bytes(b, s, s ? strlen(s) : 0, s != NULL);
}

void copa_lindex_encode(const struct copa_lindex *ix, struct copa_buf *out)
{
	unsigned char sum[64];
	struct copa_hash h;

	copa_buf_reset(out);
	copa_buf_add(out, MAGIC, MAGIC_LEN);
	put_var(out, ix->plain ? 1 : 0);
	put_str(out, ix->diff_id);
	put_var(out, ix->tar_size);
	put_var(out, ix->n);
	for (size_t i = 0; i < ix->n; i++) {
		const struct copa_rec *r = &ix->recs[i];

		copa_buf_addc(out, (char)r->kind);
		copa_buf_addc(out, (char)r->type);
		put_var(out, r->mode);
		put_var(out, r->uid);
		put_var(out, r->gid);
		put_var(out, r->major);
		put_var(out, r->minor);
		put_var(out, r->size);
		put_var(out, ((uint64_t)r->mtime << 1) ^ (uint64_t)(r->mtime >> 63));
		put_var(out, r->pos);
		put_str(out, r->path);
		put_str(out, r->link);
		put_bytes(out, r->content, (size_t)r->size, r->content != NULL);
	}
	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, out->p, out->len);
	copa_hash_final_raw(&h, sum);
	copa_buf_add(out, sum, TRAILER);
}

struct rd {
	const unsigned char *p, *end;
	bool bad;
};

static uint64_t get_var(struct rd *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned char c;

		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static uint32_t get_u32(struct rd *r)
{
	uint64_t v = get_var(r);

	if (v > UINT32_MAX)
		r->bad = true;
	return (uint32_t)v;
}

/* Returns a pointer into the buffer (n bytes) or NULL when absent. */
static const unsigned char *get_bytes(struct rd *r, size_t *n)
{
	uint64_t len = get_var(r);
	const unsigned char *p = r->p;

	*n = 0;
	if (r->bad || len == 0)
		return NULL;
	len--;
	if (len > (uint64_t)(r->end - r->p)) {
		r->bad = true;
		return NULL;
	}
	r->p += len;
	*n = (size_t)len;
	return p;
}

/* Strings must be NUL-free; they are terminated in place by copying. */
static const char *get_str(struct rd *r, struct copa_arena *a)
{
	size_t n;
	const unsigned char *p = get_bytes(r, &n);

	if (!p)
		return NULL;
	if (memchr(p, '\0', n)) {
		r->bad = true;
		return NULL;
	}
	return copa_arena_strndup(a, (const char *)p, n);
}

int copa_lindex_decode(struct copa_lindex *ix, struct copa_buf *in, struct copa_err *err)
{
	unsigned char sum[64];
	struct copa_hash h;
	struct rd r;
	uint64_t n;
	const char *diff;

	memset(ix, 0, sizeof(*ix));
	ix->backing = *in;
	memset(in, 0, sizeof(*in));
	if (ix->backing.len < MAGIC_LEN + TRAILER || memcmp(ix->backing.p, MAGIC, MAGIC_LEN) != 0)
		return copa_err_set(err, COPA_E_INPUT, "not a layer index");
	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, ix->backing.p, ix->backing.len - TRAILER);
	copa_hash_final_raw(&h, sum);
	if (memcmp(sum, ix->backing.p + ix->backing.len - TRAILER, TRAILER) != 0)
		return copa_err_set(err, COPA_E_INPUT, "layer index checksum mismatch");
	r.p = (const unsigned char *)ix->backing.p + MAGIC_LEN;
	r.end = (const unsigned char *)ix->backing.p + ix->backing.len - TRAILER;
	r.bad = false;
	ix->plain = get_var(&r) & 1;
	diff = get_str(&r, &ix->arena);
	if (!diff || !copa_digest_valid(diff))
		return copa_err_set(err, COPA_E_INPUT, "layer index has no valid diff_id");
	snprintf(ix->diff_id, sizeof(ix->diff_id), "%s", diff);
	ix->tar_size = get_var(&r);
	n = get_var(&r);
	/*
	 * Every record takes at least 13 bytes (kind, type, eight varints, three
	 * length prefixes): a corrupt count cannot allocate much. (14 was assumed
	 * once; a record with an empty path and link takes 13 and its own encoding
	 * then failed to decode: found by fuzz_cache_records.)
	 */
	if (r.bad || n > (uint64_t)(r.end - r.p) / 13)
		return copa_err_set(err, COPA_E_INPUT, "layer index is truncated");
	for (uint64_t i = 0; i < n && !r.bad; i++) {
		struct copa_rec *rec = copa_lindex_add(ix);
		size_t clen;
		uint64_t z;

		if (r.end - r.p < 2) {
			r.bad = true;
			break;
		}
		rec->kind = *r.p++;
		rec->type = *r.p++;
		rec->mode = get_u32(&r) & 07777;
		rec->uid = get_u32(&r);
		rec->gid = get_u32(&r);
		rec->major = get_u32(&r);
		rec->minor = get_u32(&r);
		rec->size = get_var(&r);
		z = get_var(&r);
		rec->mtime = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
		rec->pos = get_var(&r);
		rec->path = get_str(&r, &ix->arena);
		rec->link = get_str(&r, &ix->arena);
		rec->content = get_bytes(&r, &clen);
		if (rec->kind > COPA_REC_OPAQUE || rec->type > COPA_FT_FIFO || !rec->path ||
		    (rec->content && clen != rec->size))
			r.bad = true;
		if (rec->content)
			ix->inline_bytes += clen;
	}
	if (r.bad || r.p != r.end)
		return copa_err_set(err, COPA_E_INPUT, "layer index is malformed");
	return 0;
}

/* apktar.c: in-memory tar walker for apk streams (see apktar.h). */
#include "pkg/apk/apktar.h"

#include <string.h>

#define BLOCK 512

void copa_apk_tar_init(struct copa_apk_tar *t, const void *data, size_t n, const char *what)
{
	memset(t, 0, sizeof(*t));
	t->rest = copa_blob(data, n);
	t->what = what;
	copa_buf_init(&t->name, COPA_APK_TAR_NAME_MAX);
	copa_buf_init(&t->link, COPA_APK_TAR_NAME_MAX);
	copa_buf_init(&t->sha1, 64);
	copa_buf_init(&t->md5, 64);
	copa_buf_init(&t->xnames, COPA_APK_TAR_XATTRS_MAX * (COPA_APK_TAR_XATTR_NAME_MAX + 1));
}

void copa_apk_tar_release(struct copa_apk_tar *t)
{
	copa_buf_release(&t->name);
	copa_buf_release(&t->link);
	copa_buf_release(&t->sha1);
	copa_buf_release(&t->md5);
	copa_buf_release(&t->xnames);
}

/* Octal (NUL/space terminated, leading spaces allowed) or base-256 numeric field. */
static int num_field(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1; /* negative or too wide */
		for (i = 1; i < len; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < len && f[i] == ' ')
		i++;
	for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < len; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = v;
	return 0;
}

static bool zero_block(const unsigned char *b)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

static bool checksum_ok(const unsigned char *h)
{
	uint64_t want, sum = 0;

	if (num_field(h + 148, 8, &want) < 0)
		return false;
	for (size_t i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

static size_t field_len(const unsigned char *f, size_t max)
{
	const void *z = memchr(f, 0, max);

	return z ? (size_t)((const unsigned char *)z - f) : max;
}

static int set_str(struct copa_buf *b, const void *p, size_t n)
{
	copa_buf_reset(b);
	if (memchr(p, 0, n))
		return -1;
	return copa_buf_add(b, p, n);
}

struct pending {
	bool have_path, have_link, have_size, have_uid, have_gid, have_mtime;
	uint64_t size, uid, gid, mtime;
};

static int pax_num(struct copa_blob v, uint64_t *out)
{
	/* mtime may carry a fraction: keep the seconds */
	const char *dot = copa_blob_chr(v, '.');

	if (dot)
		v.n = (size_t)(dot - v.p);
	return copa_blob_to_u64(v, UINT64_MAX, out);
}

/* One SCHILY.xattr.<name> record (name without the prefix). */
static int add_xattr(struct copa_apk_tar *t, struct copa_blob name, struct copa_blob value,
                     struct copa_err *err)
{
	if (!name.n || name.n > COPA_APK_TAR_XATTR_NAME_MAX || memchr(name.p, 0, name.n))
		return copa_err_set(err, COPA_E_INPUT, "%s: bad extended attribute name '%.*s'",
		                    t->what, (int)(name.n > 255 ? 255 : name.n), name.p);
	if (t->nxa >= COPA_APK_TAR_XATTRS_MAX)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: more than %d extended attributes on one entry", t->what,
		                    COPA_APK_TAR_XATTRS_MAX);
	if (value.n > COPA_APK_TAR_XATTR_VALUE_MAX)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: extended attribute '%.*s' larger than %d bytes", t->what,
		                    (int)name.n, name.p, COPA_APK_TAR_XATTR_VALUE_MAX);
	for (size_t i = 0; i < t->nxa; i++) {
		const char *other = t->xnames.p + t->xname_off[i];

		if (strlen(other) == name.n && !memcmp(other, name.p, name.n))
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s: extended attribute '%.*s' given twice", t->what,
			                    (int)name.n, name.p);
	}
	t->xname_off[t->nxa] = t->xnames.len;
	if (copa_buf_add(&t->xnames, name.p, name.n) < 0 || copa_buf_addc(&t->xnames, '\0') < 0)
		return copa_err_set(err, COPA_E_LIMIT, "%s: extended attribute names too long",
		                    t->what);
	t->xa[t->nxa].value = value.n ? value.p : "";
	t->xa[t->nxa].len = value.n;
	t->nxa++;
	return 0;
}

static int parse_pax(struct copa_apk_tar *t, struct copa_blob body, struct pending *pd,
                     struct copa_err *err)
{
	while (body.n) {
		size_t i = 0, len;
		uint64_t l;

		while (i < body.n && body.p[i] >= '0' && body.p[i] <= '9')
			i++;
		if (i == 0 || i >= body.n || body.p[i] != ' ' ||
		    copa_blob_to_u64(copa_blob(body.p, i), body.n, &l) < 0 || l <= i + 1 ||
		    body.p[l - 1] != '\n')
			return copa_err_set(err, COPA_E_INPUT, "%s: malformed pax header record",
			                    t->what);
		len = (size_t)l;
		struct copa_blob rec = copa_blob(body.p + i + 1, len - i - 2), key;

		body.p += len, body.n -= len;
		if (!copa_blob_split(&rec, '=', &key) ||
		    !copa_blob_chr(copa_blob(key.p, key.n + 1), '='))
			return copa_err_set(err, COPA_E_INPUT, "%s: pax record without '='",
			                    t->what);
		int r = 0;

		if (copa_blob_eqs(key, "path")) {
			r = set_str(&t->name, rec.p, rec.n);
			pd->have_path = true;
		} else if (copa_blob_eqs(key, "linkpath")) {
			r = set_str(&t->link, rec.p, rec.n);
			pd->have_link = true;
		} else if (copa_blob_eqs(key, "size")) {
			r = pax_num(rec, &pd->size);
			pd->have_size = true;
		} else if (copa_blob_eqs(key, "uid")) {
			r = pax_num(rec, &pd->uid);
			pd->have_uid = true;
		} else if (copa_blob_eqs(key, "gid")) {
			r = pax_num(rec, &pd->gid);
			pd->have_gid = true;
		} else if (copa_blob_eqs(key, "mtime")) {
			r = pax_num(rec, &pd->mtime);
			pd->have_mtime = true;
		} else if (key.n > 13 && !memcmp(key.p, "SCHILY.xattr.", 13)) {
			if (add_xattr(t, copa_blob(key.p + 13, key.n - 13), rec, err) < 0)
				return -1;
		} else if (copa_blob_eqs(key, "APK-TOOLS.checksum.SHA1")) {
			r = rec.n == 40 ? set_str(&t->sha1, rec.p, rec.n) : -1;
		} else if (copa_blob_eqs(key, "APK-TOOLS.checksum.MD5")) {
			r = rec.n == 32 ? set_str(&t->md5, rec.p, rec.n) : -1;
		}
		if (r < 0)
			return copa_err_set(err, COPA_E_INPUT, "%s: bad pax value for '%.*s'",
			                    t->what, (int)key.n, key.p);
	}
	return 0;
}

/* Takes the header block and the data of `size` bytes (padded) off the input. */
static int take(struct copa_apk_tar *t, uint64_t size, struct copa_blob *data, struct copa_err *err)
{
	uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;

	if (size > t->rest.n - BLOCK)
		return copa_err_set(err, COPA_E_INPUT, "%s: entry data runs past the end", t->what);
	*data = copa_blob(t->rest.p + BLOCK, (size_t)size);
	/* the last entry of a cut tar may end without padding */
	if (padded > t->rest.n - BLOCK)
		padded = t->rest.n - BLOCK;
	t->rest.p += BLOCK + padded;
	t->rest.n -= BLOCK + (size_t)padded;
	return 0;
}

int copa_apk_tar_next(struct copa_apk_tar *t, struct copa_apk_tar_entry *e, struct copa_err *err)
{
	struct pending pd = {0};

	copa_buf_reset(&t->sha1);
	copa_buf_reset(&t->md5);
	copa_buf_reset(&t->xnames);
	t->nxa = 0;
	for (;;) {
		const unsigned char *h = (const unsigned char *)t->rest.p;
		uint64_t size, v;
		struct copa_blob data;
		char type;

		if (t->ended || t->rest.n == 0)
			return pd.have_path || pd.have_link
			           ? copa_err_set(err, COPA_E_INPUT,
			                          "%s: extended header without an entry", t->what)
			           : 0;
		if (t->rest.n < BLOCK)
			return copa_err_set(err, COPA_E_INPUT, "%s: truncated tar header", t->what);
		if (zero_block(h)) {
			t->ended = true;
			continue;
		}
		if (!checksum_ok(h))
			return copa_err_set(err, COPA_E_INPUT, "%s: tar header checksum mismatch",
			                    t->what);
		if (num_field(h + 124, 12, &size) < 0)
			return copa_err_set(err, COPA_E_INPUT, "%s: bad tar size field", t->what);
		if (pd.have_size)
			size = pd.size;
		type = (char)h[156];
		if (take(t, size, &data, err) < 0)
			return -1;
		if (type == 'x' || type == 'g') {
			/* xattrs of a global header are not the entry's: apk ignores them too */
			if (type == 'x' && parse_pax(t, data, &pd, err) < 0)
				return -1;
			continue;
		}
		if (type == 'L' || type == 'K') {
			struct copa_buf *dst = type == 'L' ? &t->name : &t->link;

			if (set_str(dst, data.p, field_len((const unsigned char *)data.p, data.n)) <
			    0)
				return copa_err_set(err, COPA_E_LIMIT, "%s: long name too long",
				                    t->what);
			if (type == 'L')
				pd.have_path = true;
			else
				pd.have_link = true;
			continue;
		}
		if (!pd.have_path) {
			copa_buf_reset(&t->name);
			if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
				copa_buf_add(&t->name, h + 345, field_len(h + 345, 155));
				copa_buf_addc(&t->name, '/');
			}
			copa_buf_add(&t->name, h, field_len(h, 100));
		}
		if (!pd.have_link)
			set_str(&t->link, h + 157, field_len(h + 157, 100));
		if (t->name.overflow || t->link.overflow)
			return copa_err_set(err, COPA_E_LIMIT, "%s: entry name too long", t->what);
		memset(e, 0, sizeof(*e));
		e->name = copa_buf_str(&t->name);
		e->linkname = copa_buf_str(&t->link);
		e->type = type == '\0' ? '0' : type;
		if (num_field(h + 100, 8, &v) < 0)
			return copa_err_set(err, COPA_E_INPUT, "%s: bad mode of '%s'", t->what,
			                    e->name);
		e->mode = (uint32_t)(v & 07777);
		if ((!pd.have_uid && num_field(h + 108, 8, &pd.uid) < 0) ||
		    (!pd.have_gid && num_field(h + 116, 8, &pd.gid) < 0) ||
		    (!pd.have_mtime && num_field(h + 136, 12, &pd.mtime) < 0))
			return copa_err_set(err, COPA_E_INPUT, "%s: bad numeric field of '%s'",
			                    t->what, e->name);
		e->uid = pd.uid;
		e->gid = pd.gid;
		e->mtime = pd.mtime;
		e->data = (e->type == '0' || e->type == '7') ? data : copa_blob(data.p, 0);
		e->csum_sha1 = t->sha1.len ? t->sha1.p : NULL;
		e->csum_md5 = t->md5.len ? t->md5.p : NULL;
		if (e->type == '3' || e->type == '4') {
			uint64_t ma, mi;

			if (num_field(h + 329, 8, &ma) < 0 || num_field(h + 337, 8, &mi) < 0 ||
			    ma > UINT32_MAX || mi > UINT32_MAX)
				return copa_err_set(err, COPA_E_INPUT,
				                    "%s: bad device number of '%s'", t->what,
				                    e->name);
			e->devmajor = (uint32_t)ma;
			e->devminor = (uint32_t)mi;
		}
		for (size_t i = 0; i < t->nxa; i++)
			t->xa[i].name = t->xnames.p + t->xname_off[i];
		e->xattrs = t->nxa ? t->xa : NULL;
		e->n_xattrs = t->nxa;
		return 1;
	}
}

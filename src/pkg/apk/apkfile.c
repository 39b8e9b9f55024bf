/* apkfile.c: v2 .apk reading and verification (see apkfile.h). */
#include "pkg/apk/apkfile.h"

#include "pkg/apk/apkgz.h"
#include "pkg/apk/apktar.h"
#include "util/hash.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

void copa_apkfile_init(struct copa_apkfile *f)
{
	memset(f, 0, sizeof(*f));
	copa_buf_init(&f->control_tar, 0);
	copa_buf_init(&f->data_tar, 0);
}

void copa_apkfile_release(struct copa_apkfile *f)
{
	copa_arena_release(&f->arena);
	copa_buf_release(&f->control_tar);
	copa_buf_release(&f->data_tar);
	free(f->entries);
	copa_apkfile_init(f);
}

int copa_apkfile_split(struct copa_apkfile *f, const void *data, size_t n, size_t *ctl, size_t *dat,
                       struct copa_buf *sig_tar, struct copa_err *err)
{
	const unsigned char *p = data;
	size_t used;

	if (copa_apk_gunzip(p, n, 1u << 20, sig_tar, &used, "signature segment", err) < 0) {
		if (err->code == COPA_E_LIMIT)
			return copa_err_set(
			    err, COPA_E_VERIFY,
			    "not signed (its first gzip stream is not a signature)");
		return -1;
	}
	*ctl = used;
	if (!copa_apk_is_signature_segment(copa_blob(sig_tar->p, sig_tar->len)))
		return copa_apk_verify_segment(NULL, copa_blob(sig_tar->p, sig_tar->len),
		                               COPA_BLOB_NULL, NULL, err);
	if (*ctl >= n)
		return copa_err_set(err, COPA_E_VERIFY, "not signed (one gzip stream only)");
	copa_buf_reset(&f->control_tar);
	if (copa_apk_gunzip(p + *ctl, n - *ctl, COPA_APKFILE_MAX_CONTROL, &f->control_tar, &used,
	                    "control segment", err) < 0)
		return -1;
	*dat = *ctl + used;
	if (*dat >= n)
		return copa_err_set(err, COPA_E_INPUT, "no data segment");
	return 0;
}

static bool hex_of_len(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* .PKGINFO key → index letter (apk-tools' mapping). */
static char letter_of(struct copa_blob key)
{
	static const struct {
		const char *key;
		char letter;
	} map[] = {
	    {"pkgname", 'P'},
	    {"pkgver", 'V'},
	    {"pkgdesc", 'T'},
	    {"url", 'U'},
	    {"builddate", 't'},
	    {"size", 'I'},
	    {"arch", 'A'},
	    {"origin", 'o'},
	    {"commit", 'c'},
	    {"maintainer", 'm'},
	    {"license", 'L'},
	    {"depend", 'D'},
	    {"provides", 'p'},
	    {"install_if", 'i'},
	    {"provider_priority", 'k'},
	    {"replaces", 'r'},
	    {"replaces_priority", 'q'},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(map); i++)
		if (copa_blob_eqs(key, map[i].key))
			return map[i].letter;
	return 0;
}

int copa_apkfile_pkginfo(struct copa_apkfile *f, const char *text, size_t n, struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	/* list keys may repeat: collect them and parse each list once */
	struct copa_buf lists[4] = {COPA_BUF_INIT, COPA_BUF_INIT, COPA_BUF_INIT, COPA_BUF_INIT};
	static const char list_letters[4] = {'D', 'p', 'i', 'r'};
	size_t lineno = 0;
	int r = 0;

	if (memchr(text, '\0', n))
		return copa_err_set(err, COPA_E_INPUT, ".PKGINFO: NUL byte");
	while (r == 0 && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob key, value;
		const char *eq;
		char letter;

		lineno++;
		if (line.n == 0 || line.p[0] == '#')
			continue;
		eq = copa_blob_chr(line, '=');
		if (!eq) {
			r = copa_err_set(err, COPA_E_INPUT, ".PKGINFO line %zu: no ' = '", lineno);
			break;
		}
		key = copa_blob_trim(copa_blob(line.p, (size_t)(eq - line.p)));
		value = copa_blob_trim(copa_blob(eq + 1, line.n - (size_t)(eq + 1 - line.p)));
		if (copa_blob_eqs(key, "datahash")) {
			f->datahash = copa_arena_strndup(&f->arena, value.p, value.n);
			if (!hex_of_len(f->datahash, 64))
				r = copa_err_set(err, COPA_E_INPUT, ".PKGINFO: bad datahash");
			continue;
		}
		if (copa_blob_eqs(key, "triggers")) {
			f->triggers = copa_arena_strndup(&f->arena, value.p, value.n);
			continue;
		}
		letter = letter_of(key);
		if (!letter)
			continue; /* packager, builddate extras, ...: not recorded by apk either */
		const char *li = memchr(list_letters, letter, sizeof(list_letters));

		if (li) {
			struct copa_buf *b = &lists[li - list_letters];

			if (b->len)
				copa_buf_addc(b, ' ');
			copa_buf_add(b, value.p, value.n);
			if (b->len > COPA_APK_DEPS_MAX * 256) {
				r = copa_err_set(err, COPA_E_LIMIT,
				                 ".PKGINFO: list '%.*s' too long", (int)key.n,
				                 key.p);
			}
			continue;
		}
		if (copa_apk_pkg_set(&f->arena, &f->pkg, letter, value, err) < 0)
			r = copa_err_wrap(err, ".PKGINFO line %zu", lineno);
	}
	for (size_t i = 0; i < 4; i++) {
		if (r == 0 && lists[i].len &&
		    copa_apk_pkg_set(&f->arena, &f->pkg, list_letters[i],
		                     copa_blob(lists[i].p, lists[i].len), err) < 0)
			r = copa_err_wrap(err, ".PKGINFO");
		copa_buf_release(&lists[i]);
	}
	if (r == 0 && (!f->pkg.name || !f->pkg.version))
		r = copa_err_set(err, COPA_E_INPUT, ".PKGINFO: no %s",
		                 !f->pkg.name ? "pkgname" : "pkgver");
	return r;
}

int copa_apkfile_control(struct copa_apkfile *f, struct copa_err *err)
{
	struct copa_apk_tar t;
	struct copa_apk_tar_entry e;
	bool have_info = false;
	int r;

	copa_apk_tar_init(&t, f->control_tar.p, f->control_tar.len, "control segment");
	while ((r = copa_apk_tar_next(&t, &e, err)) == 1) {
		if (e.type != '0') {
			r = copa_err_set(err, COPA_E_INPUT, "control segment: '%s' is not a file",
			                 e.name);
			break;
		}
		if (strcmp(e.name, ".PKGINFO") == 0) {
			if (have_info) {
				r = copa_err_set(err, COPA_E_INPUT,
				                 "control segment: two .PKGINFO");
				break;
			}
			have_info = true;
			if (copa_apkfile_pkginfo(f, e.data.p, e.data.n, err) < 0) {
				r = -1;
				break;
			}
		} else if (e.name[0] == '.') {
			if (f->nscripts >= COPA_APKFILE_MAX_SCRIPTS) {
				r = copa_err_set(err, COPA_E_LIMIT,
				                 "control segment: too many scripts");
				break;
			}
			f->scripts[f->nscripts++] = (struct copa_apkfile_script){
			    copa_arena_strdup(&f->arena, e.name),
			    copa_blob(copa_arena_memdup(&f->arena, e.data.p, e.data.n), e.data.n)};
		} else {
			r = copa_err_set(err, COPA_E_INPUT, "control segment: unexpected '%s'",
			                 e.name);
			break;
		}
	}
	copa_apk_tar_release(&t);
	if (r < 0)
		return -1;
	if (!have_info)
		return copa_err_set(err, COPA_E_INPUT, "control segment: no .PKGINFO");
	return 0;
}

/* A data path must stay inside the root: relative, no '..' or empty components. */
static bool safe_name(const char *s)
{
	if (!*s || *s == '/')
		return false;
	for (const char *c = s; *c;) {
		const char *end = strchr(c, '/');
		size_t l = end ? (size_t)(end - c) : strlen(c);

		if ((l == 2 && c[0] == '.' && c[1] == '.') || (l == 0 && end && end[1]))
			return false;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)c[i] < 0x20)
				return false;
		if (!end)
			break;
		c = end + 1;
	}
	return true;
}

static void csum_from_hex(const char *hex, char out[32])
{
	unsigned char raw[20];

	for (size_t i = 0; i < 20; i++) {
		unsigned hi =
		    (unsigned)(hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0'
		                                               : hex[2 * i + 1] - 'a' + 10);

		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	copa_apk_csum_format(raw, out);
}

static int cmp_xattr(const void *x, const void *y)
{
	return strcmp(((const struct copa_apk_tar_xattr *)x)->name,
	              ((const struct copa_apk_tar_xattr *)y)->name);
}

static void hash_len_data(struct copa_hash *h, const void *p, size_t n)
{
	unsigned char be[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                       (unsigned char)(n >> 8), (unsigned char)n};

	copa_hash_update(h, be, 4);
	copa_hash_update(h, p, n);
}

void copa_apk_xattr_csum(struct copa_apk_tar_xattr *xa, size_t n, char out[32])
{
	unsigned char sha1[64];
	struct copa_hash h;

	out[0] = '\0';
	if (!n)
		return;
	qsort(xa, n, sizeof(*xa), cmp_xattr);
	copa_hash_init(&h, COPA_HASH_SHA1);
	for (size_t i = 0; i < n; i++) {
		hash_len_data(&h, xa[i].name, strlen(xa[i].name));
		hash_len_data(&h, xa[i].value, xa[i].len);
	}
	copa_hash_final_raw(&h, sha1);
	copa_apk_csum_format(sha1, out);
}

int copa_apkfile_data(struct copa_apkfile *f, struct copa_err *err)
{
	struct copa_apk_tar t;
	struct copa_apk_tar_entry e;
	int r;

	copa_apk_tar_init(&t, f->data_tar.p, f->data_tar.len, "data segment");
	while ((r = copa_apk_tar_next(&t, &e, err)) == 1) {
		struct copa_apkfile_entry *o;
		char hex[COPA_HASH_HEX_MAX];

		if (!safe_name(e.name)) {
			r = copa_err_set(err, COPA_E_INPUT, "data segment: unsafe path '%.200s'",
			                 e.name);
			break;
		}
		if (f->n >= COPA_APKFILE_MAX_ENTRIES) {
			r = copa_err_set(err, COPA_E_LIMIT, "data segment: more than %d entries",
			                 COPA_APKFILE_MAX_ENTRIES);
			break;
		}
		if (e.type == '0' || e.type == '2') {
			struct copa_blob what = e.type == '0' ? e.data : copa_blob_str(e.linkname);

			if (!e.csum_sha1 || !hex_of_len(e.csum_sha1, 40)) {
				r = copa_err_set(
				    err, COPA_E_VERIFY,
				    "data segment: '%.200s' has no APK-TOOLS.checksum.SHA1",
				    e.name);
				break;
			}
			copa_hash_hex(COPA_HASH_SHA1, what.p, what.n, hex);
			if (strcmp(hex, e.csum_sha1) != 0) {
				r = copa_err_set(
				    err, COPA_E_VERIFY,
				    "data segment: '%.200s' does not match its checksum "
				    "(sha1 %s, expected %s)",
				    e.name, hex, e.csum_sha1);
				break;
			}
		}
		f->entries = copa_xgrow(f->entries, &f->cap, f->n + 1, sizeof(*f->entries));
		o = &f->entries[f->n++];
		memset(o, 0, sizeof(*o));
		o->name = copa_arena_strdup(&f->arena, e.name);
		o->linkname = copa_arena_strdup(&f->arena, e.linkname);
		o->type = e.type;
		o->mode = e.mode;
		o->uid = e.uid;
		o->gid = e.gid;
		o->mtime = e.mtime;
		o->data = e.data; /* points into data_tar, which the apkfile owns */
		o->devmajor = e.devmajor;
		o->devminor = e.devminor;
		if (e.n_xattrs) {
			o->xattrs = copa_arena_alloc(&f->arena, e.n_xattrs * sizeof(*o->xattrs));
			for (size_t i = 0; i < e.n_xattrs; i++)
				o->xattrs[i] = (struct copa_apk_tar_xattr){
				    copa_arena_strdup(&f->arena, e.xattrs[i].name),
				    e.xattrs[i].value, /* into data_tar too */
				    e.xattrs[i].len};
			o->n_xattrs = e.n_xattrs;
			copa_apk_xattr_csum(o->xattrs, o->n_xattrs, o->xattr_csum);
		}
		if (e.csum_sha1 && hex_of_len(e.csum_sha1, 40))
			csum_from_hex(e.csum_sha1, o->csum);
	}
	copa_apk_tar_release(&t);
	return r < 0 ? -1 : 0;
}

static int read_all(struct copa_apkfile *f, const unsigned char *p, size_t n,
                    const struct copa_apk_keys *keys, const char *expect_csum,
                    struct copa_buf *sig_tar, struct copa_err *err)
{
	size_t ctl, dat, used;
	const char *key;
	unsigned char sha1[64];
	struct copa_hash h;
	struct copa_blob signed_bytes;

	if (copa_apkfile_split(f, p, n, &ctl, &dat, sig_tar, err) < 0)
		return -1;
	/*
	 * 1. signature, before anything of the control is parsed. It covers the
	 * control member when .PKGINFO has a datahash and control + data for a
	 * legacy package; which one cannot be known unverified, so try both.
	 */
	signed_bytes = copa_blob(p + ctl, dat - ctl);
	if (copa_apk_verify_segment(keys, copa_blob(sig_tar->p, sig_tar->len), signed_bytes, &key,
	                            err) < 0) {
		struct copa_err first = *err;

		if (err->code != COPA_E_VERIFY)
			return -1;
		signed_bytes = copa_blob(p + ctl, n - ctl);
		if (copa_apk_verify_segment(keys, copa_blob(sig_tar->p, sig_tar->len), signed_bytes,
		                            &key, err) < 0) {
			*err = first;
			return -1;
		}
	}
	if (copa_apkfile_control(f, err) < 0)
		return -1;
	if (!f->datahash && signed_bytes.n != n - ctl)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "the signature covers only the control segment but .PKGINFO "
		                    "has no datahash");
	f->signed_by = copa_arena_strdup(&f->arena, key);
	/* 2. identity against the index */
	copa_hash_init(&h, COPA_HASH_SHA1);
	copa_hash_update(&h, signed_bytes.p, signed_bytes.n);
	copa_hash_final_raw(&h, sha1);
	copa_apk_csum_format(sha1, f->csum);
	if (expect_csum && strcmp(expect_csum, f->csum) != 0)
		return copa_err_set(err, COPA_E_VERIFY,
		                    "checksum %s does not match the index's %s (the package or "
		                    "the index is not what the repository published)",
		                    f->csum, expect_csum);
	f->pkg.csum = f->csum;
	/* 3. data against datahash */
	if (f->datahash) {
		char hex[COPA_HASH_HEX_MAX];

		copa_hash_hex(COPA_HASH_SHA256, p + dat, n - dat, hex);
		if (strcmp(hex, f->datahash) != 0)
			return copa_err_set(
			    err, COPA_E_VERIFY,
			    "data segment sha256 %s does not match .PKGINFO's datahash %s", hex,
			    f->datahash);
	}
	/* 4. files against their PAX checksums */
	if (copa_apk_gunzip(p + dat, n - dat, COPA_APKFILE_MAX_DATA, &f->data_tar, &used,
	                    "data segment", err) < 0)
		return -1;
	if (dat + used != n)
		return copa_err_set(err, COPA_E_INPUT, "data after the data segment");
	return copa_apkfile_data(f, err);
}

int copa_apkfile_read(struct copa_apkfile *f, const void *data, size_t n,
                      const struct copa_apk_keys *keys, const char *expect_csum, const char *what,
                      struct copa_err *err)
{
	struct copa_buf sig = COPA_BUF_INIT;
	int r = read_all(f, data, n, keys, expect_csum, &sig, err);

	copa_buf_release(&sig);
	if (r < 0) {
		copa_apkfile_release(f);
		return copa_err_wrap(err, "%s", what);
	}
	return 0;
}

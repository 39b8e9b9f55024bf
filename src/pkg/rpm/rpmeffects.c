/*
 * rpmeffects.c: update-ca-trust's extraction, natively, and noticing
 * library changes (see rpmeffects.h).
 */
#include "pkg/rpm/rpmeffects.h"

#include "pkg/fs.h"
#include "util/blob.h"
#include "util/buf.h"
#include "util/mem.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRC_FILE_MAX (16u << 20)
#define EXTRACTED    "etc/pki/ca-trust/extracted"

enum { P_SERVER = 1, P_EMAIL = 2, P_CODE = 4, P_ALL = 7 };

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static bool is_lib_dir(const char *dir, size_t n)
{
	static const char *const dirs[] = {"lib", "lib64", "usr/lib", "usr/lib64"};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(dirs); i++)
		if (strlen(dirs[i]) == n && strncmp(dir, dirs[i], n) == 0)
			return true;
	return false;
}

static int scan_one(void *ctx, const struct copa_layer_entry *e, enum copa_layer_mark mark)
{
	struct copa_rpm_effects *fx = ctx;
	const char *slash = strrchr(e->path, '/');

	(void)mark;
	if (under(e->path, "usr/share/pki/ca-trust-source") ||
	    under(e->path, "etc/pki/ca-trust/source"))
		fx->ca_trust++;
	if (under(e->path, "etc/ld.so.conf.d") || !strcmp(e->path, "etc/ld.so.conf") ||
	    (slash && is_lib_dir(e->path, (size_t)(slash - e->path)) && strstr(slash, ".so") &&
	     e->type != COPA_FT_DIR))
		fx->libs++;
	return 0;
}

void copa_rpm_effects_scan(const struct copa_layer_builder *b, struct copa_rpm_effects *fx)
{
	memset(fx, 0, sizeof(*fx));
	if (b)
		copa_layer_builder_foreach(b, scan_one, fx);
}

struct cert {
	X509 *x;
	unsigned char *der;
	int der_len;
	char *label;
	unsigned purposes;
};

struct trust {
	struct cert *v;
	size_t n;
	struct cert *blocked;
	size_t n_blocked;
	/* stapled extended key usage: public key DER -> purposes */
	unsigned char **ext_key;
	int *ext_key_len;
	unsigned *ext_purposes;
	size_t n_ext;
};

static void limit(struct trust *t);

static char *label_of(X509 *x)
{
	X509_NAME *nm = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	unsigned char *u = NULL;
	char *s;

	if (i < 0)
		i = X509_NAME_get_index_by_NID(nm, NID_organizationalUnitName, -1);
	if (i < 0)
		i = X509_NAME_get_index_by_NID(nm, NID_organizationName, -1);
	if (i >= 0 &&
	    ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i))) >= 0) {
		s = copa_xstrdup((char *)u);
		OPENSSL_free(u);
		return s;
	}
	return copa_xstrdup("unnamed");
}

/* Takes x (and label, may be NULL) into list; false when past the cap. */
static bool push(struct cert **v, size_t *n, X509 *x, char *label, unsigned purposes)
{
	struct cert *c;

	if (*n >= COPA_RPM_TRUST_CERTS_MAX) {
		X509_free(x);
		free(label);
		return false;
	}
	*v = copa_xrealloc(*v, (*n + 1) * sizeof(**v));
	c = &(*v)[(*n)++];
	c->x = x;
	c->der = NULL;
	c->der_len = i2d_X509(x, &c->der);
	c->label = label ? label : label_of(x);
	c->purposes = purposes;
	return true;
}

/* Every PEM certificate of a file (BEGIN CERTIFICATE or TRUSTED CERTIFICATE). */
static bool read_pems(const struct copa_buf *text, struct cert **v, size_t *n, unsigned purposes)
{
	BIO *bio = BIO_new_mem_buf(text->p ? text->p : "", (int)text->len);
	X509 *x;
	bool ok = true;

	while (ok && (x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)))
		ok = push(v, n, x, NULL, purposes);
	BIO_free(bio);
	return ok;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* p11-kit's value encoding: printable bytes as they are, others as %XX. */
static size_t pct_decode(const char *s, size_t n, unsigned char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[k++] = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[k++] = (unsigned char)s[i];
		}
	}
	return k;
}

static bool has_oid(const unsigned char *p, size_t n, unsigned char last)
{
	static const unsigned char kp[] = {0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03};

	for (size_t i = 0; i + sizeof(kp) < n; i++)
		if (!memcmp(p + i, kp, sizeof(kp)) && p[i + sizeof(kp)] == last)
			return true;
	return false;
}

struct obj {
	bool cert, eku, trusted, distrusted;
	char *label;
	struct copa_buf pem;
	unsigned char *value;
	size_t value_len;
};

static void obj_end(struct trust *t, struct obj *o)
{
	BIO *bio = o->pem.len ? BIO_new_mem_buf(o->pem.p, (int)o->pem.len) : NULL;

	if (bio && o->cert && o->trusted && !o->distrusted) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		if (x)
			push(&t->v, &t->n, x, steal_ptr(&o->label), P_ALL);
	} else if (bio && o->cert && o->distrusted) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		if (x)
			push(&t->blocked, &t->n_blocked, x, NULL, 0);
	} else if (bio && o->eku && o->value) {
		EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		unsigned char *der = NULL;
		int len = k ? i2d_PUBKEY(k, &der) : -1;

		if (len > 0) {
			t->ext_key =
			    copa_xrealloc(t->ext_key, (t->n_ext + 1) * sizeof(*t->ext_key));
			t->ext_key_len =
			    copa_xrealloc(t->ext_key_len, (t->n_ext + 1) * sizeof(*t->ext_key_len));
			t->ext_purposes = copa_xrealloc(t->ext_purposes,
			                                (t->n_ext + 1) * sizeof(*t->ext_purposes));
			t->ext_key[t->n_ext] = der;
			t->ext_key_len[t->n_ext] = len;
			t->ext_purposes[t->n_ext] =
			    (has_oid(o->value, o->value_len, 1) ? P_SERVER : 0) |
			    (has_oid(o->value, o->value_len, 4) ? P_EMAIL : 0) |
			    (has_oid(o->value, o->value_len, 3) ? P_CODE : 0);
			t->n_ext++;
		}
		EVP_PKEY_free(k);
	}
	if (bio)
		BIO_free(bio);
	free(o->label);
	free(o->value);
	copa_buf_release(&o->pem);
	memset(o, 0, sizeof(*o));
}

/* p11-kit's persistence format: [p11-kit-object-v1] sections of "key: value" and PEM. */
static void read_p11kit(struct trust *t, const struct copa_buf *text)
{
	struct copa_blob rest = copa_blob(text->p, text->len), line;
	struct obj o = {0};
	bool in_obj = false, in_pem = false;

	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		line = copa_blob_trim(line);
		if (in_pem) {
			copa_buf_add(&o.pem, line.p, line.n);
			copa_buf_addc(&o.pem, '\n');
			if (line.n >= 8 && !memcmp(line.p, "-----END", 8))
				in_pem = false;
			continue;
		}
		if (copa_blob_eqs(line, "[p11-kit-object-v1]")) {
			if (in_obj)
				obj_end(t, &o);
			in_obj = true;
			continue;
		}
		if (!in_obj || !line.n || line.p[0] == '#')
			continue;
		if (line.n >= 10 && !memcmp(line.p, "-----BEGIN", 10)) {
			in_pem = true;
			copa_buf_add(&o.pem, line.p, line.n);
			copa_buf_addc(&o.pem, '\n');
			continue;
		}
		{
			const char *colon = memchr(line.p, ':', line.n);
			struct copa_blob key, val;

			if (!colon)
				continue;
			key = copa_blob_trim(copa_blob(line.p, (size_t)(colon - line.p)));
			val = copa_blob_trim(
			    copa_blob(colon + 1, line.n - (size_t)(colon - line.p) - 1));
			if (val.n >= 2 && val.p[0] == '"' && val.p[val.n - 1] == '"')
				val.p++, val.n -= 2;
			if (copa_blob_eqs(key, "class")) {
				o.cert = copa_blob_eqs(val, "certificate");
				o.eku = copa_blob_eqs(val, "x-certificate-extension");
			} else if (copa_blob_eqs(key, "trusted")) {
				o.trusted = copa_blob_eqs(val, "true");
			} else if (copa_blob_eqs(key, "x-distrusted")) {
				o.distrusted = copa_blob_eqs(val, "true");
			} else if (copa_blob_eqs(key, "label")) {
				free(o.label);
				o.label = copa_blob_dup(val);
			} else if (copa_blob_eqs(key, "object-id")) {
				o.eku = o.eku && copa_blob_eqs(val, "2.5.29.37");
			} else if (copa_blob_eqs(key, "value")) {
				free(o.value);
				o.value = copa_xmalloc(val.n + 1);
				o.value_len = pct_decode(val.p, val.n, o.value);
			}
		}
	}
	if (in_obj)
		obj_end(t, &o);
	free(o.label);
	free(o.value);
	copa_buf_release(&o.pem);
}

static void read_dir(struct copa_view *v, struct copa_layer_builder *b, struct trust *t,
                     const char *dir, int kind)
{
	const struct copa_view_entry **kids = NULL;
	size_t n = 0;

	if (copa_view_children(v, dir, &kids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct copa_buf text = COPA_BUF_INIT;
		struct copa_err e = COPA_ERR_INIT;
		size_t nl = strlen(kids[i]->name);

		if (kids[i]->type == COPA_FT_DIR || kids[i]->name[0] == '.')
			continue;
		if (kind == 2 && (nl < 8 || strcmp(kids[i]->name + nl - 8, ".p11-kit")))
			continue;
		if (copa_pkgfs_read(v, b, kids[i]->path, SRC_FILE_MAX, &text, &e) == 0) {
			if (kind == 0)
				read_pems(&text, &t->v, &t->n, P_ALL);
			else if (kind == 1)
				read_pems(&text, &t->blocked, &t->n_blocked, 0);
			else
				read_p11kit(t, &text);
		}
		copa_buf_release(&text);
	}
	free(kids);
}

static void collect(struct copa_view *v, struct copa_layer_builder *b, struct trust *t)
{
	static const char *const srcs[] = {"etc/pki/ca-trust/source",
	                                   "usr/share/pki/ca-trust-source"};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(srcs); i++) {
		_cleanup_free_ char *a = copa_xasprintf("%s/anchors", srcs[i]);
		_cleanup_free_ char *bl = copa_xasprintf("%s/blocklist", srcs[i]);
		_cleanup_free_ char *bl2 = copa_xasprintf("%s/blacklist", srcs[i]);

		read_dir(v, b, t, srcs[i], 2);
		read_dir(v, b, t, a, 0);
		read_dir(v, b, t, bl, 1);
		read_dir(v, b, t, bl2, 1);
	}
	limit(t);
}

/* Stapled key usage limits purposes; blocklisted and duplicate certificates go. */
static void limit(struct trust *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct cert *c = &t->v[i];
		unsigned char *pk = NULL;
		int pkl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->x), &pk);

		for (size_t k = 0; pkl > 0 && k < t->n_ext; k++)
			if (t->ext_key_len[k] == pkl && !memcmp(t->ext_key[k], pk, (size_t)pkl))
				c->purposes &= t->ext_purposes[k];
		OPENSSL_free(pk);
		for (size_t k = 0; k < t->n_blocked && c->purposes; k++)
			if (t->blocked[k].der_len == c->der_len &&
			    !memcmp(t->blocked[k].der, c->der, (size_t)c->der_len))
				c->purposes = 0;
		for (size_t k = 0; k < i && c->purposes; k++)
			if (t->v[k].purposes && t->v[k].der_len == c->der_len &&
			    !memcmp(t->v[k].der, c->der, (size_t)c->der_len))
				c->purposes = 0;
	}
}

static void trust_release(struct trust *t);

size_t copa_rpm_p11kit_trusted(const char *text, size_t n)
{
	struct copa_buf b = {.p = (char *)(uintptr_t)text, .len = n};
	struct trust t = {0};
	size_t k = 0;

	read_p11kit(&t, &b);
	limit(&t);
	for (size_t i = 0; i < t.n; i++)
		k += t.v[i].purposes != 0;
	trust_release(&t);
	return k;
}

static void certs_free(struct cert *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		X509_free(v[i].x);
		OPENSSL_free(v[i].der);
		free(v[i].label);
	}
	free(v);
}

static void trust_release(struct trust *t)
{
	certs_free(t->v, t->n);
	certs_free(t->blocked, t->n_blocked);
	for (size_t i = 0; i < t->n_ext; i++)
		OPENSSL_free(t->ext_key[i]);
	free(t->ext_key);
	free(t->ext_key_len);
	free(t->ext_purposes);
}

static void bio_into(BIO *bio, struct copa_buf *out)
{
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);

	if (n > 0)
		copa_buf_add(out, p, (size_t)n);
}

static void pem_bundle(const struct trust *t, unsigned purpose, struct copa_buf *out)
{
	for (size_t i = 0; i < t->n; i++) {
		BIO *bio;

		if (!(t->v[i].purposes & purpose))
			continue;
		bio = BIO_new(BIO_s_mem());
		copa_buf_addf(out, "# %s\n", t->v[i].label);
		PEM_write_bio_X509(bio, t->v[i].x);
		bio_into(bio, out);
		BIO_free(bio);
	}
}

static void openssl_bundle(const struct trust *t, struct copa_buf *out)
{
	static const struct {
		unsigned p;
		int nid;
	} map[] = {
	    {P_SERVER, NID_server_auth}, {P_EMAIL, NID_email_protect}, {P_CODE, NID_code_sign}};

	for (size_t i = 0; i < t->n; i++) {
		X509 *x;
		BIO *bio;

		if (!t->v[i].purposes)
			continue;
		x = X509_dup(t->v[i].x);
		X509_trust_clear(x);
		X509_reject_clear(x);
		for (size_t k = 0; k < COPA_ARRAY_SIZE(map); k++)
			if (t->v[i].purposes & map[k].p)
				X509_add1_trust_object(x, OBJ_nid2obj(map[k].nid));
		X509_alias_set1(x, (const unsigned char *)t->v[i].label,
		                (int)strlen(t->v[i].label));
		bio = BIO_new(BIO_s_mem());
		copa_buf_addf(out, "# %s\n", t->v[i].label);
		PEM_write_bio_X509_AUX(bio, x);
		bio_into(bio, out);
		BIO_free(bio);
		X509_free(x);
	}
}

static void be32(struct copa_buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};

	copa_buf_add(b, p, 4);
}

static void utf(struct copa_buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char p[2];

	if (n > 0xffff)
		n = 0xffff;
	p[0] = (unsigned char)(n >> 8);
	p[1] = (unsigned char)n;
	copa_buf_add(b, p, 2);
	copa_buf_add(b, s, n);
}

/*
 * A JKS key store of the server-auth anchors as trusted certificate entries
 * (tag 2), aliases lowercased as Java's JKS store keeps them and made unique,
 * with the SHA-1 integrity digest keyed by the password "changeit".
 */
static void java_cacerts(const struct trust *t, int64_t mtime, struct copa_buf *out)
{
	static const char pw[] = "changeit";
	uint64_t ms = (uint64_t)(mtime > 0 ? mtime : 0) * 1000u;
	size_t count = 0, at;
	unsigned char md[20];
	EVP_MD_CTX *ctx;
	char **seen;

	for (size_t i = 0; i < t->n; i++)
		count += (t->v[i].purposes & P_SERVER) != 0;
	seen = copa_xcalloc(count + 1, sizeof(*seen));
	be32(out, 0xfeedfeedu);
	be32(out, 2);
	be32(out, (uint32_t)count);
	count = 0;
	for (size_t i = 0; i < t->n; i++) {
		char *alias;
		unsigned char ts[8];

		if (!(t->v[i].purposes & P_SERVER))
			continue;
		alias = copa_xstrdup(t->v[i].label);
		for (char *p = alias; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		for (unsigned dup = 2;; dup++) {
			bool clash = false;

			for (size_t k = 0; k < count && !clash; k++)
				clash = !strcmp(seen[k], alias);
			if (!clash)
				break;
			{
				char *next = copa_xasprintf("%s_%u", t->v[i].label, dup);

				for (char *p = next; *p; p++)
					if (*p >= 'A' && *p <= 'Z')
						*p = (char)(*p - 'A' + 'a');
				free(alias);
				alias = next;
			}
		}
		seen[count++] = alias;
		be32(out, 2);
		utf(out, alias);
		for (int k = 0; k < 8; k++)
			ts[k] = (unsigned char)(ms >> (56 - 8 * k));
		copa_buf_add(out, ts, 8);
		utf(out, "X.509");
		be32(out, (uint32_t)t->v[i].der_len);
		copa_buf_add(out, t->v[i].der, (size_t)t->v[i].der_len);
	}
	at = out->len;
	ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	for (size_t i = 0; pw[i]; i++) {
		unsigned char c2[2] = {0, (unsigned char)pw[i]};

		EVP_DigestUpdate(ctx, c2, 2);
	}
	EVP_DigestUpdate(ctx, "Mighty Aphrodite", 16);
	EVP_DigestUpdate(ctx, out->p, at);
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	copa_buf_add(out, md, sizeof(md));
	for (size_t i = 0; i < count; i++)
		free(seen[i]);
	free(seen);
}

/* Writes EXTRACTED/rel when the image has its directory; keeps an existing file's mode. */
static int put(struct copa_view *v, struct copa_layer_builder *b, const char *rel,
               const struct copa_buf *data, int64_t mtime, struct copa_out *out,
               struct copa_err *err)
{
	_cleanup_free_ char *path = copa_xasprintf(EXTRACTED "/%s", rel);
	_cleanup_free_ char *dir = copa_xstrndup(path, (size_t)(strrchr(path, '/') - path));
	const struct copa_view_entry *d = copa_view_get(v, dir);
	const struct copa_view_entry *f = copa_view_get(v, path);
	struct copa_layer_entry e = {
	    .path = path,
	    .type = COPA_FT_REG,
	    .mode = f ? f->mode : 0444,
	    .uid = f ? f->uid : 0,
	    .gid = f ? f->gid : 0,
	    .mtime = mtime,
	    .size = data->len,
	    .content = data->p ? data->p : "",
	};

	if (!d || d->type != COPA_FT_DIR)
		return 0;
	copa_debug(out, "update-ca-trust: %s (%zu bytes)", path, data->len);
	return copa_pkgfs_put(v, b, &e, false, err);
}

void copa_rpm_effects_after_package(const struct copa_layer_builder *b, struct copa_rpm_effects *fx,
                                    char ***skipped)
{
	struct copa_rpm_effects now;
	size_t n = 0;

	copa_rpm_effects_scan(b, &now);
	if (now.libs != fx->libs) {
		while (*skipped && (*skipped)[n])
			n++;
		*skipped = copa_xrealloc(*skipped, (n + 2) * sizeof(**skipped));
		(*skipped)[n] = copa_xstrdup("ldconfig (etc/ld.so.cache not rebuilt)");
		(*skipped)[n + 1] = NULL;
	}
	*fx = now;
}

int copa_rpm_effects_finish(struct copa_view *v, struct copa_layer_builder *b,
                            const struct copa_rpm_effects *fx, struct copa_out *out,
                            struct copa_err *err)
{
	int n;

	if (!fx->ca_trust)
		return 0;
	n = copa_rpm_update_ca_trust(v, b, (int64_t)time(NULL), out, err);
	if (n < 0)
		return -1;
	copa_info(out,
	          "rpm: update-ca-trust reproduced: %d trusted certificates extracted under "
	          "%s (pem/directory-hash and edk2 left as they were)",
	          n, EXTRACTED);
	return 0;
}

int copa_rpm_update_ca_trust(struct copa_view *v, struct copa_layer_builder *b, int64_t mtime,
                             struct copa_out *out, struct copa_err *err)
{
	static const struct {
		const char *rel;
		unsigned purpose;
	} pems[] = {{"pem/tls-ca-bundle.pem", P_SERVER},
	            {"pem/email-ca-bundle.pem", P_EMAIL},
	            {"pem/objsign-ca-bundle.pem", P_CODE}};
	struct trust t = {0};
	struct copa_buf buf = COPA_BUF_INIT;
	int rc = 0, n = 0;

	collect(v, b, &t);
	if (t.n >= COPA_RPM_TRUST_CERTS_MAX) {
		trust_release(&t);
		return copa_err_set(
		    err, COPA_E_LIMIT,
		    "update-ca-trust: more than %d certificates in the trust sources",
		    COPA_RPM_TRUST_CERTS_MAX);
	}
	for (size_t i = 0; i < t.n; i++)
		n += t.v[i].purposes != 0;
	for (size_t i = 0; rc == 0 && i < COPA_ARRAY_SIZE(pems); i++) {
		copa_buf_reset(&buf);
		pem_bundle(&t, pems[i].purpose, &buf);
		rc = put(v, b, pems[i].rel, &buf, mtime, out, err);
	}
	if (rc == 0) {
		copa_buf_reset(&buf);
		openssl_bundle(&t, &buf);
		rc = put(v, b, "openssl/ca-bundle.trust.crt", &buf, mtime, out, err);
	}
	if (rc == 0) {
		copa_buf_reset(&buf);
		java_cacerts(&t, mtime, &buf);
		rc = put(v, b, "java/cacerts", &buf, mtime, out, err);
	}
	copa_buf_release(&buf);
	trust_release(&t);
	return rc < 0 ? copa_err_wrap(err, "update-ca-trust") : n;
}

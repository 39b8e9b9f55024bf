/*
 * certs.c: the hash-link half of certificate-store regeneration, for every
 * family (see certs.h). Follows OpenSSL's `openssl rehash` (apps/rehash.c).
 */
#include "pkg/certs.h"

#include "pkg/fs.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CERT (4u << 20)

int copa_certs_pem_hash(const void *pem, size_t n, unsigned long *hash, bool *is_crl,
                        unsigned char sha1[20])
{
	BIO *b = BIO_new_mem_buf(pem, (int)(n > INT32_MAX ? INT32_MAX : n));
	STACK_OF(X509_INFO) * inf;
	X509_INFO *x;
	const X509_NAME *name = NULL;
	unsigned int len = 0;
	int ok = 0, r = -1;

	if (!b)
		return -1;
	inf = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!inf)
		return -1;
	if (sk_X509_INFO_num(inf) != 1)
		goto out;
	x = sk_X509_INFO_value(inf, 0);
	if (x->x509) {
		*is_crl = false;
		name = X509_get_subject_name(x->x509);
		if (!X509_digest(x->x509, EVP_sha1(), sha1, &len))
			goto out;
	} else if (x->crl) {
		*is_crl = true;
		name = X509_CRL_get_issuer(x->crl);
		if (!X509_CRL_digest(x->crl, EVP_sha1(), sha1, &len))
			goto out;
	} else {
		goto out;
	}
	if (name) {
		*hash = X509_NAME_hash_ex(name, NULL, NULL, &ok);
		if (ok)
			r = 0;
	}
out:
	sk_X509_INFO_pop_free(inf, X509_INFO_free);
	return r;
}

#define MAX_COLLISIONS 256

struct hentry {
	char *filename;
	unsigned short old_id;
	bool need_symlink;
	unsigned char digest[20];
};

struct bucket {
	unsigned long hash;
	int type;
	unsigned short num_needed;
	struct hentry *e;
	size_t n, cap;
};

struct rehash {
	struct bucket *b;
	size_t n, cap;
	struct copa_strmap idx; /* "<type><hash>" -> index in b */
	struct copa_arena keys;
};

static struct bucket *bucket_get(struct rehash *rh, int type, unsigned long hash)
{
	char key[32];
	int kn = snprintf(key, sizeof(key), "%d%lx", type, hash);
	uint32_t at;

	if (copa_strmap_get(&rh->idx, key, (size_t)kn, &at))
		return &rh->b[at];
	copa_strmap_put(&rh->idx, copa_arena_strndup(&rh->keys, key, (size_t)kn), (size_t)kn,
	                (uint32_t)rh->n);
	rh->b = copa_xgrow(rh->b, &rh->cap, rh->n + 1, sizeof(*rh->b));
	memset(&rh->b[rh->n], 0, sizeof(rh->b[0]));
	rh->b[rh->n].type = type;
	rh->b[rh->n].hash = hash;
	return &rh->b[rh->n++];
}

/* rehash.c add_entry() */
static void add_entry(struct rehash *rh, int type, unsigned long hash, const char *filename,
                      const unsigned char *digest, bool need_symlink, unsigned short old_id)
{
	struct bucket *bp = bucket_get(rh, type, hash);
	struct hentry *ep = NULL;

	for (size_t i = 0; i < bp->n; i++) {
		struct hentry *x = &bp->e[i];

		if (digest && !memcmp(digest, x->digest, 20))
			return; /* duplicate certificate */
		if (!strcmp(filename, x->filename)) {
			ep = x;
			if (!digest)
				break;
		}
	}
	if (!ep) {
		if (bp->num_needed >= MAX_COLLISIONS)
			return;
		bp->e = copa_xgrow(bp->e, &bp->cap, bp->n + 1, sizeof(*bp->e));
		ep = &bp->e[bp->n++];
		memset(ep, 0, sizeof(*ep));
		ep->old_id = (unsigned short)~0;
		ep->filename = copa_xstrdup(filename);
	}
	if (old_id < ep->old_id)
		ep->old_id = old_id;
	if (need_symlink && !ep->need_symlink) {
		ep->need_symlink = true;
		bp->num_needed++;
		memcpy(ep->digest, digest, 20);
	}
}

/* "%08x.[r]N": a hash link name; sets type, hash and id. */
static bool hash_link_name(const char *name, int *type, unsigned long *hash, unsigned long *id)
{
	unsigned long h = 0, v = 0;
	size_t i;

	for (i = 0; i < 8; i++) {
		char ch = name[i];
		int d = ch >= '0' && ch <= '9'   ? ch - '0'
		        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
		        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
		                                 : -1;

		if (d < 0)
			return false;
		h = (h << 4) + (unsigned long)d;
	}
	if (name[i++] != '.')
		return false;
	*type = 0;
	if (name[i] == 'r' || name[i] == 'R') {
		*type = 1;
		i++;
	}
	for (; name[i]; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(name[i] - '0');
		if (v > 0xffff)
			v = 0xffff;
	}
	*hash = h;
	*id = v;
	return true;
}

static bool rehash_ext(const char *name)
{
	static const char *const exts[] = {"pem", "crt", "cer", "crl"};
	const char *dot = strrchr(name, '.');

	if (!dot)
		return false;
	for (size_t i = 0; i < 4; i++)
		if (!strcasecmp(dot + 1, exts[i]))
			return true;
	return false;
}

int copa_certs_rehash(struct copa_view *v, struct copa_layer_builder *lb, const char *dir,
                      int64_t mtime, struct copa_err *err)
{
	const struct copa_view_entry **kids = NULL;
	struct rehash rh = {0};
	struct copa_buf data = COPA_BUF_INIT;
	size_t n = 0;
	int r = 0;

	if (copa_view_children(v, dir, &kids, &n) < 0)
		return 0;
	/* copa_view_children sorts bytewise, like rehash's sk_OPENSSL_STRING_sort. */
	for (size_t i = 0; i < n; i++) {
		const struct copa_view_entry *e = kids[i];
		int type;
		unsigned long hash, id;
		unsigned char digest[20];
		bool is_crl;

		if (e->type == COPA_FT_SYMLINK && hash_link_name(e->name, &type, &hash, &id) &&
		    e->link) {
			add_entry(&rh, type, hash, e->link, NULL, false, (unsigned short)id);
			continue;
		}
		if (!rehash_ext(e->name))
			continue;
		{
			struct copa_err e2 = COPA_ERR_INIT;

			if (copa_pkgfs_read(v, lb, e->path, MAX_CERT, &data, &e2) < 0)
				continue; /* rehash: "skipping, cannot open file" */
		}
		if (copa_certs_pem_hash(data.p, data.len, &hash, &is_crl, digest) < 0)
			continue;
		add_entry(&rh, is_crl ? 1 : 0, hash, e->name, digest, true, (unsigned short)~0);
	}
	free(kids);
	for (size_t k = 0; k < rh.n && r == 0; k++) {
		struct bucket *bp = &rh.b[k];
		unsigned char idmask[MAX_COLLISIONS / 8] = {0};
		unsigned nextid = 0;

		for (size_t i = 0; i < bp->n; i++)
			if (bp->e[i].old_id < bp->num_needed)
				idmask[bp->e[i].old_id >> 3] |=
				    (unsigned char)(1u << (bp->e[i].old_id & 7));
		for (size_t i = 0; i < bp->n && r == 0; i++) {
			struct hentry *ep = &bp->e[i];
			char *name;

			if (ep->old_id < bp->num_needed)
				continue; /* link exists and is used as is */
			if (ep->need_symlink) {
				while (nextid < MAX_COLLISIONS &&
				       (idmask[nextid >> 3] & (1u << (nextid & 7))))
					nextid++;
				name = copa_xasprintf("%s/%08lx.%s%u", dir, bp->hash,
				                      bp->type ? "r" : "", nextid);
				r = copa_pkgfs_put_symlink(v, lb, name, ep->filename, mtime, err);
				idmask[nextid >> 3] |= (unsigned char)(1u << (nextid & 7));
				free(name);
			} else {
				name = copa_xasprintf("%s/%08lx.%s%u", dir, bp->hash,
				                      bp->type ? "r" : "", ep->old_id);
				if (copa_view_get(v, name))
					r = copa_pkgfs_remove(v, lb, name, err);
				free(name);
			}
		}
	}
	for (size_t k = 0; k < rh.n; k++) {
		for (size_t i = 0; i < rh.b[k].n; i++)
			free(rh.b[k].e[i].filename);
		free(rh.b[k].e);
	}
	free(rh.b);
	copa_strmap_release(&rh.idx);
	copa_arena_release(&rh.keys);
	copa_buf_release(&data);
	return r;
}

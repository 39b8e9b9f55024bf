/* apksign.c: apk trusted keys and signature verification (see apksign.h). */
#include "pkg/apk/apksign.h"

#include "pkg/apk/apktar.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>

struct key {
	char *name;
	EVP_PKEY *pkey;
};

struct copa_apk_keys {
	struct key *v;
	size_t n, cap;
};

struct copa_apk_keys *copa_apk_keys_new(void)
{
	return copa_xcalloc(1, sizeof(struct copa_apk_keys));
}

void copa_apk_keys_free(struct copa_apk_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].name);
		EVP_PKEY_free(k->v[i].pkey);
	}
	free(k->v);
	free(k);
}

size_t copa_apk_keys_count(const struct copa_apk_keys *k)
{
	return k->n;
}

static struct key *find_key(const struct copa_apk_keys *k, struct copa_blob name)
{
	for (size_t i = 0; k && i < k->n; i++)
		if (copa_blob_eqs(name, k->v[i].name))
			return &k->v[i];
	return NULL;
}

int copa_apk_keys_add_pem(struct copa_apk_keys *k, const char *name, const void *pem, size_t n,
                          struct copa_err *err)
{
	BIO *bio;
	EVP_PKEY *pkey;
	struct key *old;

	if (n > COPA_APK_KEY_FILE_MAX || n > INT32_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "key '%s': larger than %d bytes", name,
		                    COPA_APK_KEY_FILE_MAX);
	bio = BIO_new_mem_buf(pem, (int)n);
	if (!bio)
		return copa_err_set(err, COPA_E_BUG, "key '%s': cannot allocate a BIO", name);
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		return copa_err_set(err, COPA_E_INPUT, "key '%s': not a PEM RSA public key", name);
	}
	old = find_key(k, copa_blob_str(name));
	if (old) {
		EVP_PKEY_free(old->pkey);
		old->pkey = pkey;
		return 0;
	}
	if (k->n >= COPA_APK_KEYS_MAX) {
		EVP_PKEY_free(pkey);
		return copa_err_set(err, COPA_E_LIMIT, "key '%s': more than %d trusted keys", name,
		                    COPA_APK_KEYS_MAX);
	}
	k->v = copa_xgrow(k->v, &k->cap, k->n + 1, sizeof(*k->v));
	k->v[k->n++] = (struct key){copa_xstrdup(name), pkey};
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int copa_apk_keys_add_dir(struct copa_apk_keys *k, int atfd, const char *dir, struct copa_err *err)
{
	int fd = openat(atfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open key directory '%s'", dir);
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read key directory '%s'", dir);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = copa_xgrow(names, &cap, n + 1, sizeof(*names));
		names[n++] = copa_xstrdup(de->d_name);
	}
	/* sorted: the same keys load in the same order on every file system */
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct copa_buf pem = COPA_BUF_INIT;
		struct stat st;

		if (fstatat(dirfd(d), names[i], &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		r = copa_fs_read_file(dirfd(d), names[i], COPA_APK_KEY_FILE_MAX, &pem, err);
		if (r == 0)
			r = copa_apk_keys_add_pem(k, names[i], pem.p, pem.len, err);
		if (r < 0)
			copa_err_wrap(err, "key directory '%s'", dir);
		copa_buf_release(&pem);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

static const EVP_MD *md_of(struct copa_blob *signame)
{
	static const struct {
		const char *prefix;
		const EVP_MD *(*md)(void);
	} kinds[] = {
	    {".SIGN.RSA.", EVP_sha1},
	    {".SIGN.RSA256.", EVP_sha256},
	    {".SIGN.RSA512.", EVP_sha512},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(kinds); i++) {
		size_t l = strlen(kinds[i].prefix);

		if (copa_blob_starts(*signame, kinds[i].prefix)) {
			signame->p += l;
			signame->n -= l;
			return kinds[i].md();
		}
	}
	return NULL;
}

static bool rsa_verify(EVP_PKEY *pkey, const EVP_MD *md, struct copa_blob sig,
                       struct copa_blob data)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok;

	if (!ctx)
		return false;
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	     EVP_DigestVerify(ctx, (const unsigned char *)sig.p, sig.n,
	                      (const unsigned char *)data.p, data.n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

int copa_apk_verify_segment(const struct copa_apk_keys *k, struct copa_blob sig_tar,
                            struct copa_blob signed_bytes, const char **key_name,
                            struct copa_err *err)
{
	struct copa_apk_tar t;
	struct copa_apk_tar_entry e;
	char unknown[256] = "", bad[256] = "";
	int r, sigs = 0;

	copa_apk_tar_init(&t, sig_tar.p, sig_tar.n, "signature segment");
	while ((r = copa_apk_tar_next(&t, &e, err)) == 1) {
		struct copa_blob name = copa_blob_str(e.name);
		const EVP_MD *md = md_of(&name);
		struct key *key;

		if (!md || e.type != '0') {
			r = copa_err_set(
			    err, COPA_E_VERIFY,
			    sigs ? "signature segment holds '%.200s', not a .SIGN.RSA entry"
			         : "not signed (its first gzip stream holds '%.200s', "
			           "not a .SIGN.RSA entry)",
			    e.name);
			copa_apk_tar_release(&t);
			return r;
		}
		sigs++;
		key = find_key(k, name);
		if (!key) {
			snprintf(unknown, sizeof(unknown), "%.*s", (int)name.n, name.p);
			continue;
		}
		if (rsa_verify(key->pkey, md, e.data, signed_bytes)) {
			if (key_name)
				*key_name = key->name;
			copa_apk_tar_release(&t);
			return 0;
		}
		snprintf(bad, sizeof(bad), "%s", key->name);
	}
	copa_apk_tar_release(&t);
	if (r < 0)
		return -1;
	if (bad[0])
		return copa_err_set(err, COPA_E_VERIFY, "bad signature by key '%s'", bad);
	if (unknown[0])
		return copa_err_set(err, COPA_E_VERIFY,
		                    "signed by unknown key '%s' (add it with --keyring)", unknown);
	(void)sigs;
	return copa_err_set(err, COPA_E_VERIFY, "not signed");
}

bool copa_apk_is_signature_segment(struct copa_blob tar)
{
	struct copa_apk_tar t;
	struct copa_apk_tar_entry e;
	struct copa_err err = COPA_ERR_INIT;
	bool yes;

	copa_apk_tar_init(&t, tar.p, tar.n, "signature segment");
	yes = copa_apk_tar_next(&t, &e, &err) == 1 && strncmp(e.name, ".SIGN.", 6) == 0;
	copa_apk_tar_release(&t);
	return yes;
}

#include "util/hash.h"

#include "util/mem.h"

#include <errno.h>
#include <openssl/evp.h>
#include <unistd.h>

static const EVP_MD *md_for(enum copa_hash_alg alg)
{
	switch (alg) {
	case COPA_HASH_SHA256:
		return EVP_sha256();
	case COPA_HASH_SHA512:
		return EVP_sha512();
	case COPA_HASH_SHA1:
		return EVP_sha1();
	case COPA_HASH_MD5:
		return EVP_md5();
	}
	COPA_BUG("unknown hash algorithm %d", (int)alg);
}

const char *copa_hash_name(enum copa_hash_alg alg)
{
	switch (alg) {
	case COPA_HASH_SHA256:
		return "sha256";
	case COPA_HASH_SHA512:
		return "sha512";
	case COPA_HASH_SHA1:
		return "sha1";
	case COPA_HASH_MD5:
		return "md5";
	}
	return "unknown";
}

size_t copa_hash_hex_len(enum copa_hash_alg alg)
{
	switch (alg) {
	case COPA_HASH_SHA256:
		return 64;
	case COPA_HASH_SHA512:
		return 128;
	case COPA_HASH_SHA1:
		return 40;
	case COPA_HASH_MD5:
		return 32;
	}
	return 0;
}

void copa_hash_init(struct copa_hash *h, enum copa_hash_alg alg)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || EVP_DigestInit_ex(ctx, md_for(alg), NULL) != 1)
		COPA_BUG("cannot initialise %s digest", copa_hash_name(alg));
	h->ctx = ctx;
	h->alg = alg;
}

void copa_hash_update(struct copa_hash *h, const void *data, size_t n)
{
	if (n && EVP_DigestUpdate(h->ctx, data, n) != 1)
		COPA_BUG("digest update failed");
}

size_t copa_hash_final_raw(struct copa_hash *h, unsigned char out[64])
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
		COPA_BUG("digest final failed");
	copa_hash_release(h);
	return n;
}

void copa_hash_final_hex(struct copa_hash *h, char hex[COPA_HASH_HEX_MAX])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t n = copa_hash_final_raw(h, raw);

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[2 * n] = '\0';
}

void copa_hash_release(struct copa_hash *h)
{
	if (h->ctx)
		EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void copa_hash_dup(struct copa_hash *dst, const struct copa_hash *src)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || EVP_MD_CTX_copy_ex(ctx, src->ctx) != 1)
		COPA_BUG("cannot copy digest state");
	dst->ctx = ctx;
	dst->alg = src->alg;
}

void copa_hash_hex(enum copa_hash_alg alg, const void *data, size_t n, char hex[COPA_HASH_HEX_MAX])
{
	struct copa_hash h;

	copa_hash_init(&h, alg);
	copa_hash_update(&h, data, n);
	copa_hash_final_hex(&h, hex);
}

void copa_sha256_digest(const void *data, size_t n, char digest[COPA_DIGEST_MAX])
{
	char hex[COPA_HASH_HEX_MAX];

	copa_hash_hex(COPA_HASH_SHA256, data, n, hex);
	snprintf(digest, COPA_DIGEST_MAX, "sha256:%s", hex);
}

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

bool copa_digest_parse(const char *s, enum copa_hash_alg *alg, const char **hex)
{
	enum copa_hash_alg a;
	const char *h;

	if (!s)
		return false;
	if (strncmp(s, "sha256:", 7) == 0) {
		a = COPA_HASH_SHA256;
		h = s + 7;
	} else if (strncmp(s, "sha512:", 7) == 0) {
		a = COPA_HASH_SHA512;
		h = s + 7;
	} else {
		return false;
	}
	if (!all_lower_hex(h, copa_hash_hex_len(a)))
		return false;
	if (alg)
		*alg = a;
	if (hex)
		*hex = h;
	return true;
}

int copa_hash_fd(int fd, enum copa_hash_alg alg, char hex[COPA_HASH_HEX_MAX], uint64_t *size,
                 struct copa_err *err)
{
	struct copa_hash h;
	static __thread char chunk[1 << 16];
	uint64_t total = 0;

	copa_hash_init(&h, alg);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			copa_hash_release(&h);
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read file to hash");
		}
		if (n == 0)
			break;
		copa_hash_update(&h, chunk, (size_t)n);
		total += (uint64_t)n;
	}
	copa_hash_final_hex(&h, hex);
	if (size)
		*size = total;
	return 0;
}

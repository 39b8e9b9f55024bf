/*
 * apkutil.h: helpers for the apk unit tests: read shared test data, gzip a
 * buffer as one member, write tar headers, generate an RSA key and sign
 * bytes the way abuild-sign does, so tests can build their own signed
 * indexes and packages and tampered copies of the real ones.
 */
#ifndef COPA_TEST_APKUTIL_H
#define COPA_TEST_APKUTIL_H

#include "shared_testdata.h"
#include "util/buf.h"
#include "util/fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* Reads a file of the shared test data into b (fails the test when absent). */
static inline void apk_read_shared(const char *rel, struct copa_buf *b)
{
	char *path = copa_test_shared_path(rel);
	struct copa_err e = COPA_ERR_INIT;

	if (copa_fs_read_file(AT_FDCWD, path, 512u << 20, b, &e) < 0)
		fail_msg("%s (set COPA_SHARED_TESTDATA to the shared testdata directory)", e.msg);
	free(path);
}

/* Appends data gzipped as one member. */
static inline void apk_gzip(const void *data, size_t n, struct copa_buf *out)
{
	z_stream z = {0};
	unsigned char chunk[16384];
	int r;

	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)data;
	z.avail_in = (unsigned)n;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		r = deflate(&z, Z_FINISH);
		copa_buf_add(out, chunk, sizeof(chunk) - z.avail_out);
	} while (r == Z_OK);
	assert_int_equal(r, Z_STREAM_END);
	deflateEnd(&z);
}

/* Appends a ustar header and the padded data of one entry. */
static inline void apk_tar_entry(struct copa_buf *tar, const char *name, char type,
                                 const void *data, size_t n, const char *pax_sha1)
{
	unsigned char h[512];
	unsigned sum = 0;

	if (pax_sha1) {
		char rec[128], body[160];
		int l = snprintf(rec, sizeof(rec), "APK-TOOLS.checksum.SHA1=%s\n", pax_sha1);
		int total = l + 3; /* "NN " */

		snprintf(body, sizeof(body), "%d %s", total, rec);
		apk_tar_entry(tar, "PaxHeader", 'x', body, strlen(body), NULL);
	}
	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	snprintf((char *)h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", n);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	copa_buf_add(tar, h, 512);
	copa_buf_add(tar, data, n);
	if (n % 512) {
		static const char zero[512];

		copa_buf_add(tar, zero, 512 - n % 512);
	}
}

static inline void apk_tar_end(struct copa_buf *tar)
{
	static const char zero[1024];

	copa_buf_add(tar, zero, sizeof(zero));
}

/* A fresh 2048-bit RSA key; its public half as PEM into pem. */
static inline EVP_PKEY *apk_test_key(struct copa_buf *pem)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	assert_non_null(k);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, k), 1);
	n = BIO_get_mem_data(bio, &p);
	copa_buf_add(pem, p, (size_t)n);
	BIO_free(bio);
	return k;
}

/*
 * Appends a gzipped cut tar holding one signature entry over data; with
 * pax, a PAX header precedes the entry (as Python's tarfile writes them).
 */
static inline void apk_sign_segment_x(EVP_PKEY *k, const EVP_MD *md, const char *entry,
                                      const void *data, size_t n, bool pax, struct copa_buf *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	struct copa_buf tar = COPA_BUF_INIT;

	assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, data, n), 1);
	EVP_MD_CTX_free(ctx);
	apk_tar_entry(&tar, entry, '0', sig, siglen,
	              pax ? "0000000000000000000000000000000000000000" : NULL);
	apk_gzip(tar.p, tar.len, out);
	copa_buf_release(&tar);
}

static inline void apk_sign_segment(EVP_PKEY *k, const EVP_MD *md, const char *entry,
                                    const void *data, size_t n, struct copa_buf *out)
{
	apk_sign_segment_x(k, md, entry, data, n, false, out);
}

/* Appends file NAME of a minirootfs tarball of the shared test data. */
static inline void apk_rootfs_read(const char *rel, const char *name, struct copa_buf *out)
{
	char *path = copa_test_shared_path(rel);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool found = false;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
		fail_msg("cannot open '%s': %s", path, archive_error_string(a));
	while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);

		if (n[0] == '.' && n[1] == '/')
			n += 2;
		if (strcmp(n, name) == 0) {
			char chunk[65536];
			la_ssize_t r;

			while ((r = archive_read_data(a, chunk, sizeof(chunk))) > 0)
				copa_buf_add(out, chunk, (size_t)r);
			found = true;
		}
	}
	archive_read_free(a);
	if (!found)
		fail_msg("'%s' has no %s", path, name);
	free(path);
}

#endif

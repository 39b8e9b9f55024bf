/*
 * test_layer_write.c: writing a new layer (copa_layer_builder_write).
 *
 * What is written is read back with independent implementations: zlib's
 * gzread (multi-member gzip) for the stream and libarchive for the tar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "layer/layer.h"
#include "testutil.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char *tmpdir;
static int stagefd = -1;

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	tmpdir = copa_fs_mkdtemp(copa_fs_tmpdir(), "copa-test-lwrite-", &err);
	if (!tmpdir)
		return -1;
	stagefd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	return stagefd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	close(stagefd);
	copa_fs_rm_rf(AT_FDCWD, tmpdir, &err);
	free(tmpdir);
	return 0;
}

static void stage(const char *name, const void *data, size_t n)
{
	struct copa_err err = COPA_ERR_INIT;

	assert_ok(copa_fs_write_atomic(stagefd, name, data, n, 0600, &err));
}

/* A pseudo-random but reproducible buffer, half compressible. */
static unsigned char *bulk(size_t n)
{
	unsigned char *p = copa_xmalloc(n);
	uint32_t x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (i / 4096) % 2 ? (unsigned char)(x >> 24) : (unsigned char)('a' + i % 7);
	}
	return p;
}

#define BULK (3u * 1024 * 1024 + 123)
static const unsigned char cap[] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x0a, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static struct copa_layer_builder *sample(void)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(stagefd);
	unsigned char *big = bulk(BULK);
	char longname[300];
	struct copa_layer_xattr xs[] = {{"user.note", "x=y\n", 4},
	                                {"security.capability", cap, sizeof(cap)}};
	struct copa_layer_entry es[] = {
	    {.path = "usr", .type = COPA_FT_DIR, .mode = 0755},
	    {.path = "usr/bin", .type = COPA_FT_DIR, .mode = 0755},
	    {.path = "usr/bin/ping",
	     .type = COPA_FT_REG,
	     .mode = 0755,
	     .content = "ping!",
	     .size = 5,
	     .xattrs = xs,
	     .n_xattrs = 2,
	     .mtime = 1690000000},
	    {.path = "usr/bin/su",
	     .type = COPA_FT_REG,
	     .mode = 04755,
	     .staged = "su.bin",
	     .size = 6},
	    {.path = "usr/bin/big",
	     .type = COPA_FT_REG,
	     .mode = 0644,
	     .staged = "big.bin",
	     .size = BULK},
	    /* The link sorts before its target: the writer must swap roles. */
	    {.path = "usr/bin/a-link",
	     .type = COPA_FT_HARDLINK,
	     .mode = 0755,
	     .link = "usr/bin/ping"},
	    {.path = "usr/bin/sh", .type = COPA_FT_SYMLINK, .mode = 0777, .link = "dash"},
	    {.path = "dev", .type = COPA_FT_DIR, .mode = 0755},
	    {.path = "dev/null",
	     .type = COPA_FT_CHR,
	     .mode = 0666,
	     .rdev_major = 1,
	     .rdev_minor = 3},
	    {.path = "dev/sda", .type = COPA_FT_BLK, .mode = 0660, .rdev_major = 8, .gid = 6},
	    {.path = "run/fifo",
	     .type = COPA_FT_FIFO,
	     .mode = 0600,
	     .uid = 3000000,
	     .gid = 3000001,
	     .mtime = -5},
	    {.path = "etc/empty", .type = COPA_FT_REG, .mode = 0600, .uid = 101, .gid = 102},
	};

	stage("su.bin", "su-bin", 6);
	stage("big.bin", big, BULK);
	free(big);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(es); i++)
		assert_ok(copa_layer_builder_add(b, &es[i], &err));
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "opt/", 4);
	longname[150] = '/';
	longname[299] = '\0';
	{
		struct copa_layer_entry l = {.path = longname,
		                             .type = COPA_FT_REG,
		                             .mode = 0644,
		                             .content = "long",
		                             .size = 4};
		struct copa_layer_entry s = {.path = "opt/longlink",
		                             .type = COPA_FT_SYMLINK,
		                             .mode = 0777,
		                             .link = longname};

		assert_ok(copa_layer_builder_add(b, &l, &err));
		assert_ok(copa_layer_builder_add(b, &s, &err));
	}
	assert_ok(copa_layer_builder_whiteout(b, "usr/bin/old", &err));
	assert_ok(copa_layer_builder_opaque(b, "etc/apt", &err));
	return b;
}

static int write_layer(const struct copa_layer_builder *b, enum copa_compression c,
                       unsigned threads, const char *name, struct copa_layer_result *res,
                       struct copa_err *err)
{
	int fd = openat(stagefd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct copa_layer_write_opts o = {.compression = c, .threads = threads, .out_fd = fd};
	int r;

	assert_true(fd >= 0);
	r = copa_layer_builder_write(b, &o, res, err);
	close(fd);
	return r;
}

static void read_all(const char *name, struct copa_buf *out)
{
	struct copa_err err = COPA_ERR_INIT;

	assert_ok(copa_fs_read_file(stagefd, name, 1u << 30, out, &err));
}

static void sha(const struct copa_buf *b, char d[COPA_DIGEST_MAX])
{
	copa_sha256_digest(b->p, b->len, d);
}

/* Decompresses a gzip file with zlib (which reads every member). */
static void gunzip(const char *name, struct copa_buf *out)
{
	char *path = copa_xasprintf("%s/%s", tmpdir, name);
	gzFile g = gzopen(path, "rb");
	char buf[65536];
	int n;

	assert_non_null(g);
	copa_buf_reset(out);
	while ((n = gzread(g, buf, sizeof(buf))) > 0)
		copa_buf_add(out, buf, (size_t)n);
	assert_int_equal(n, 0);
	gzclose(g);
	free(path);
}

static void deterministic_and_digests(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = sample();
	struct copa_layer_result r1, r4, rz1, rz2, rn;
	struct copa_buf a = COPA_BUF_INIT, c = COPA_BUF_INIT, tar = COPA_BUF_INIT;
	char d[COPA_DIGEST_MAX];

	assert_ok(write_layer(b, COPA_COMPRESS_GZIP, 1, "l1.tgz", &r1, &err));
	assert_ok(write_layer(b, COPA_COMPRESS_GZIP, 4, "l4.tgz", &r4, &err));
	read_all("l1.tgz", &a);
	read_all("l4.tgz", &c);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.p, c.p, a.len);
	assert_string_equal(r1.digest, r4.digest);
	/* Digest of the bytes, diff_id of the decompressed stream. */
	sha(&a, d);
	assert_string_equal(d, r1.digest);
	assert_int_equal(r1.size, a.len);
	gunzip("l1.tgz", &tar);
	sha(&tar, d);
	assert_string_equal(d, r1.diff_id);
	assert_int_equal(r1.tar_size, tar.len);
	assert_true(tar.len > BULK && tar.len % 512 == 0);
	/* Several members (3 MiB of tar in 1 MiB chunks), each with mtime 0. */
	assert_int_equal((unsigned char)a.p[0], 0x1f);
	assert_int_equal(a.p[4] | a.p[5] | a.p[6] | a.p[7], 0);
	assert_string_equal(r1.media_type_oci, "application/vnd.oci.image.layer.v1.tar+gzip");
	/* Uncompressed: the blob is the tar. */
	assert_ok(write_layer(b, COPA_COMPRESS_NONE, 0, "l.tar", &rn, &err));
	read_all("l.tar", &c);
	assert_int_equal(c.len, tar.len);
	assert_memory_equal(c.p, tar.p, c.len);
	assert_string_equal(rn.digest, rn.diff_id);
	assert_string_equal(rn.diff_id, r1.diff_id);
	/* zstd: same diff_id, stable bytes whatever the thread count. */
	assert_ok(write_layer(b, COPA_COMPRESS_ZSTD, 1, "l1.zst", &rz1, &err));
	assert_ok(write_layer(b, COPA_COMPRESS_ZSTD, 3, "l3.zst", &rz2, &err));
	assert_string_equal(rz1.digest, rz2.digest);
	assert_string_equal(rz1.diff_id, r1.diff_id);
	read_all("l1.zst", &c);
	sha(&c, d);
	assert_string_equal(d, rz1.digest);
	assert_string_equal(rz1.media_type_docker,
	                    "application/vnd.docker.image.rootfs.diff.tar.zstd");
	copa_buf_release(&a);
	copa_buf_release(&c);
	copa_buf_release(&tar);
	copa_layer_builder_free(b);
}

struct seen {
	const char *name;
	int type;
	unsigned mode, uid, gid;
	long long mtime;
	const char *link;
	const char *data;
	int major, minor;
};

static void metadata_round_trip(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = sample();
	struct copa_layer_result r;
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char *path = copa_xasprintf("%s/meta.tgz", tmpdir);
	struct copa_buf names = COPA_BUF_INIT;
	int found = 0;

	assert_ok(write_layer(b, COPA_COMPRESS_GZIP, 2, "meta.tgz", &r, &err));
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(ae);
		char data[16] = {0};

		copa_buf_addf(&names, "%s;", n);
		if (!strcmp(n, "usr/bin/a-link")) {
			/* First in tar order: it carries ping's content and metadata. */
			found++;
			assert_int_equal(archive_entry_filetype(ae), AE_IFREG);
			assert_null(archive_entry_hardlink(ae));
			assert_int_equal(archive_read_data(a, data, sizeof(data)), 5);
			assert_string_equal(data, "ping!");
			assert_int_equal(archive_entry_mtime(ae), 1690000000);
		} else if (!strcmp(n, "usr/bin/ping")) {
			size_t len;
			const char *xn;
			const void *xv;
			int caps = 0;

			found++;
			assert_string_equal(archive_entry_hardlink(ae), "usr/bin/a-link");
			archive_entry_xattr_reset(ae);
			while (archive_entry_xattr_next(ae, &xn, &xv, &len) == ARCHIVE_OK)
				if (!strcmp(xn, "security.capability")) {
					assert_int_equal(len, sizeof(cap));
					assert_memory_equal(xv, cap, sizeof(cap));
					caps++;
				}
			assert_int_equal(caps, 1);
		} else if (!strcmp(n, "usr/bin/su")) {
			found++;
			assert_int_equal(archive_entry_perm(ae), 04755);
			assert_int_equal(archive_entry_uid(ae), 0);
			assert_int_equal(archive_entry_gid(ae), 0);
			assert_int_equal(archive_read_data(a, data, sizeof(data)), 6);
			assert_string_equal(data, "su-bin");
		} else if (!strcmp(n, "dev/null")) {
			found++;
			assert_int_equal(archive_entry_filetype(ae), AE_IFCHR);
			assert_int_equal(archive_entry_rdevmajor(ae), 1);
			assert_int_equal(archive_entry_rdevminor(ae), 3);
		} else if (!strcmp(n, "dev/sda")) {
			found++;
			assert_int_equal(archive_entry_filetype(ae), AE_IFBLK);
			assert_int_equal(archive_entry_gid(ae), 6);
		} else if (!strcmp(n, "run/fifo")) {
			found++;
			assert_int_equal(archive_entry_filetype(ae), AE_IFIFO);
			assert_int_equal(archive_entry_uid(ae), 3000000);
			assert_int_equal(archive_entry_gid(ae), 3000001);
			assert_int_equal(archive_entry_mtime(ae), -5);
		} else if (strlen(n) > 200 && !strncmp(n, "opt/n", 5)) {
			found++;
			assert_int_equal(strlen(n), 299);
			assert_int_equal(archive_read_data(a, data, sizeof(data)), 4);
		} else if (!strcmp(n, "opt/longlink")) {
			found++;
			assert_int_equal(strlen(archive_entry_symlink(ae)), 299);
		} else if (!strcmp(n, "usr/bin/.wh.old") || !strcmp(n, "etc/apt/.wh..wh..opq")) {
			found++;
			assert_int_equal(archive_entry_filetype(ae), AE_IFREG);
			assert_int_equal(archive_entry_size(ae), 0);
		}
	}
	assert_int_equal(archive_read_free(a), ARCHIVE_OK);
	assert_int_equal(found, 10);
	/* Sorted, directories (with their "/") before their contents. */
	assert_non_null(strstr(copa_buf_str(&names), "dev/;dev/null;dev/sda;etc/apt/.wh..wh..opq;"
	                                             "etc/empty;opt/"));
	copa_buf_release(&names);
	free(path);
	copa_layer_builder_free(b);
}

static void read_back_through_view(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = sample();
	struct copa_layer_result r;
	char *path = copa_xasprintf("%s/view.tgz", tmpdir);
	struct copa_layer_blob l = {.path = path,
	                            .digest = r.digest,
	                            .diff_id = r.diff_id,
	                            .media_type = "application/vnd.oci.image.layer.v1.tar+gzip"};
	struct copa_image_fs *fs;
	struct copa_view *v;
	struct copa_buf got = COPA_BUF_INIT;
	unsigned char *big = bulk(BULK);

	assert_ok(write_layer(b, COPA_COMPRESS_GZIP, 0, "view.tgz", &r, &err));
	fs = copa_image_fs_open(&l, 1, NULL, &err);
	if (!fs)
		fail_msg("%s", err.msg);
	v = copa_image_fs_view(fs);
	assert_ok(copa_view_read(v, "usr/bin/ping", 100, &got, &err));
	assert_string_equal(copa_buf_str(&got), "ping!");
	assert_ok(copa_view_read(v, "usr/bin/big", BULK, &got, &err));
	assert_int_equal(got.len, BULK);
	assert_memory_equal(got.p, big, BULK);
	assert_int_equal(copa_view_get(v, "usr/bin/su")->mode, 04755);
	assert_int_equal(copa_view_get(v, "run/fifo")->uid, 3000000);
	assert_null(copa_view_get(v, "usr/bin/.wh.old"));
	copa_image_fs_free(fs);
	copa_buf_release(&got);
	free(big);
	free(path);
	copa_layer_builder_free(b);
}

static void staged_files_checked(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_result r;
	struct copa_layer_builder *b = copa_layer_builder_new(stagefd);
	struct copa_layer_entry e = {
	    .path = "f", .type = COPA_FT_REG, .mode = 0644, .staged = "short.bin", .size = 10};

	stage("short.bin", "12345", 5);
	assert_ok(copa_layer_builder_add(b, &e, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_GZIP, 1, "bad.tgz", &r, &err), -1);
	assert_non_null(strstr(err.msg, "short.bin"));
	/* A symlink in the staging tree is never followed. */
	assert_int_equal(symlinkat("/etc/passwd", stagefd, "evil"), 0);
	e.staged = "evil";
	e.size = 5;
	assert_ok(copa_layer_builder_add(b, &e, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_NONE, 1, "bad.tar", &r, &err), -1);
	e.staged = "../../etc/passwd";
	assert_ok(copa_layer_builder_add(b, &e, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_NONE, 1, "bad.tar", &r, &err), -1);
	/* Neither content nor staged file. */
	e.staged = NULL;
	assert_ok(copa_layer_builder_add(b, &e, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_NONE, 1, "bad.tar", &r, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	copa_layer_builder_free(b);
}

static void bad_descriptions(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_result r;
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_layer_entry hl = {.path = "h", .type = COPA_FT_HARDLINK, .link = "missing"};
	struct copa_layer_xattr x = {"bad=name", "v", 1};
	struct copa_layer_entry xf = {
	    .path = "x", .type = COPA_FT_REG, .xattrs = &x, .n_xattrs = 1};
	struct copa_layer_entry dev = {.path = "d", .type = COPA_FT_CHR, .rdev_major = 1u << 30};

	assert_ok(copa_layer_builder_add(b, &hl, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_GZIP, 2, "bad.tgz", &r, &err), -1);
	assert_non_null(strstr(err.msg, "hard link 'h'"));
	copa_layer_builder_remove(b, "h");
	assert_ok(copa_layer_builder_add(b, &xf, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_GZIP, 2, "bad.tgz", &r, &err), -1);
	assert_non_null(strstr(err.msg, "xattr"));
	copa_layer_builder_remove(b, "x");
	assert_ok(copa_layer_builder_add(b, &dev, &err));
	assert_int_equal(write_layer(b, COPA_COMPRESS_ZSTD, 2, "bad.zst", &r, &err), -1);
	assert_non_null(strstr(err.msg, "device number"));
	copa_layer_builder_free(b);
}

static void empty_layer(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_result r;
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_buf tar = COPA_BUF_INIT;
	char d[COPA_DIGEST_MAX];

	assert_ok(write_layer(b, COPA_COMPRESS_GZIP, 0, "empty.tgz", &r, &err));
	gunzip("empty.tgz", &tar);
	assert_int_equal(tar.len, 1024);
	sha(&tar, d);
	assert_string_equal(d, r.diff_id);
	/* The well-known digest of 1024 zero bytes. */
	assert_string_equal(
	    r.diff_id, "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef");
	copa_buf_release(&tar);
	copa_layer_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(deterministic_and_digests), cmocka_unit_test(metadata_round_trip),
	    cmocka_unit_test(read_back_through_view),    cmocka_unit_test(staged_files_checked),
	    cmocka_unit_test(bad_descriptions),          cmocka_unit_test(empty_layer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

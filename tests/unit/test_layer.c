/*
 * test_layer.c: reading layers into the merged view (layer.h read side).
 *
 * Layer tars are generated here with libarchive's writer (an independent
 * tar implementation), including names copa's own writer would never
 * produce: whiteouts in odd places, hostile paths, hard links.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/cache.h"
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
#include <sys/sysmacros.h>
#include <unistd.h>

/* One tar member: type 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device. */
struct m {
	const char *name;
	char type;
	const char *data; /* file content, or link target */
	unsigned mode;
};

enum comp { RAW, GZ, ZST };

static char *tmpdir;

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	tmpdir = copa_fs_mkdtemp(copa_fs_tmpdir(), "copa-test-layer-", &err);
	return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	copa_fs_rm_rf(AT_FDCWD, tmpdir, &err);
	free(tmpdir);
	return 0;
}

/* Writes a layer with the given members; returns its malloc'd path, digest in *digest. */
static char *mktar(const char *name, enum comp c, const struct m *ms, char digest[COPA_DIGEST_MAX],
                   char diff_id[COPA_DIGEST_MAX])
{
	char *path = copa_xasprintf("%s/%s", tmpdir, name);
	char *raw = copa_xasprintf("%s/%s.raw", tmpdir, name);
	struct copa_err err = COPA_ERR_INIT;
	char hex[COPA_HASH_HEX_MAX];

	for (int pass = 0; pass < 2; pass++) {
		struct archive *a = archive_write_new();

		archive_write_set_format_pax_restricted(a);
		if (pass == 1 && c == GZ)
			archive_write_add_filter_gzip(a);
		if (pass == 1 && c == ZST)
			archive_write_add_filter_zstd(a);
		archive_write_set_bytes_in_last_block(a, 1);
		assert_int_equal(archive_write_open_filename(a, pass ? path : raw), ARCHIVE_OK);
		for (const struct m *x = ms; x->name; x++) {
			struct archive_entry *e = archive_entry_new();
			size_t n = x->data ? strlen(x->data) : 0;

			archive_entry_set_pathname(e, x->name);
			archive_entry_set_mode(e, (x->mode ? x->mode : 0644) |
			                              (x->type == 'd'   ? AE_IFDIR
			                               : x->type == 'l' ? AE_IFLNK
			                               : x->type == 'c' ? AE_IFCHR
			                                                : AE_IFREG));
			archive_entry_set_mtime(e, 1700000000, 0);
			if (x->type == 'l')
				archive_entry_set_symlink(e, x->data);
			if (x->type == 'h')
				archive_entry_set_hardlink(e, x->data);
			if (x->type == 'c')
				archive_entry_set_rdev(e, makedev(4, 64));
			if (x->type == 'f')
				archive_entry_set_size(e, (la_int64_t)n);
			assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
			if (x->type == 'f' && n)
				assert_int_equal(archive_write_data(a, x->data, n), (la_ssize_t)n);
			archive_entry_free(e);
		}
		assert_int_equal(archive_write_close(a), ARCHIVE_OK);
		archive_write_free(a);
	}
	{
		int fd = open(path, O_RDONLY);

		assert_ok(copa_hash_fd(fd, COPA_HASH_SHA256, hex, NULL, &err));
		close(fd);
		snprintf(digest, COPA_DIGEST_MAX, "sha256:%s", hex);
		fd = open(raw, O_RDONLY);
		assert_ok(copa_hash_fd(fd, COPA_HASH_SHA256, hex, NULL, &err));
		close(fd);
		snprintf(diff_id, COPA_DIGEST_MAX, "sha256:%s", hex);
	}
	free(raw);
	return path;
}

struct img {
	struct copa_layer_blob l[4];
	char *paths[4];
	char digest[4][COPA_DIGEST_MAX], diff[4][COPA_DIGEST_MAX];
	size_t n;
};

static void add_layer(struct img *im, enum comp c, const struct m *ms)
{
	size_t i = im->n++;
	char name[32];

	snprintf(name, sizeof(name), "layer%zu-%d", i, (int)c);
	im->paths[i] = mktar(name, c, ms, im->digest[i], im->diff[i]);
	im->l[i].path = im->paths[i];
	im->l[i].digest = im->digest[i];
	im->l[i].diff_id = im->diff[i];
	im->l[i].media_type = c == GZ    ? "application/vnd.oci.image.layer.v1.tar+gzip"
	                      : c == ZST ? "application/vnd.docker.image.rootfs.diff.tar.zstd"
	                                 : "application/vnd.oci.image.layer.v1.tar";
}

static void img_free(struct img *im)
{
	for (size_t i = 0; i < im->n; i++) {
		unlink(im->paths[i]);
		free(im->paths[i]);
	}
}

static const char *cat(struct copa_view *v, const char *path, struct copa_buf *b)
{
	struct copa_err err = COPA_ERR_INIT;

	assert_ok(copa_view_read(v, path, 1 << 20, b, &err));
	return copa_buf_str(b);
}

static const struct m base[] = {
    {"./", 'd', NULL, 0755},
    {"etc/", 'd', NULL, 0755},
    {"etc/os-release", 'f', "ID=debian\n", 0},
    {"a/", 'd', NULL, 0755},
    {"a/x", 'f', "x0", 0},
    {"a/y", 'f', "y0", 0},
    {"b/", 'd', NULL, 0755},
    {"b/c", 'f', "c0", 0},
    {"b/sub/", 'd', NULL, 0700},
    {"b/sub/deep", 'f', "deep", 0},
    {"d/", 'd', NULL, 0755},
    {"d/e", 'f', "e0", 0},
    {"usr/bin/tool", 'f', "tool-binary", 04755},
    {"usr/bin/hl", 'h', "usr/bin/tool", 0},
    {"dev/null", 'c', NULL, 0666},
    {NULL, 0, NULL, 0},
};

static void whiteouts_and_opaque(void **state)
{
	static const struct m upper[] = {
	    /* The opaque marker comes after a sibling: it must not hide it. */
	    {"b/new", 'f', "n1", 0},
	    {"b/.wh..wh..opq", 'f', "", 0},
	    {"a/.wh.x", 'f', "", 0},
	    {".wh.d", 'f', "", 0},
	    /* A layer cannot white out its own files. */
	    {"a/z", 'f', "z1", 0},
	    {"a/.wh.z", 'f', "", 0},
	    /* AUFS metadata is ignored. */
	    {".wh..wh.plnk/", 'd', NULL, 0700},
	    {".wh..wh.plnk/123.4", 'f', "junk", 0},
	    {"etc/os-release", 'f', "ID=debian\nVERSION_ID=\"12\"\n", 0},
	    {NULL, 0, NULL, 0},
	};
	struct copa_err err = COPA_ERR_INIT;
	struct img im = {0};
	struct copa_image_fs *fs;
	struct copa_view *v;
	struct copa_buf b = COPA_BUF_INIT;
	const struct copa_view_entry *e;

	add_layer(&im, GZ, base);
	add_layer(&im, RAW, upper);
	fs = copa_image_fs_open(im.l, im.n, NULL, &err);
	assert_non_null(fs);
	v = copa_image_fs_view(fs);
	assert_null(copa_view_get(v, "a/x"));
	assert_string_equal(cat(v, "a/y", &b), "y0");
	assert_string_equal(cat(v, "a/z", &b), "z1");
	assert_null(copa_view_get(v, "b/c"));
	assert_null(copa_view_get(v, "b/sub"));
	assert_null(copa_view_get(v, "b/sub/deep"));
	assert_string_equal(cat(v, "b/new", &b), "n1");
	assert_non_null(copa_view_get(v, "b"));
	assert_null(copa_view_get(v, "d"));
	assert_null(copa_view_get(v, "d/e"));
	assert_null(copa_view_get(v, ".wh..wh.plnk"));
	assert_null(copa_view_get(v, "a.wh.b/.wh.c/x"));
	assert_null(copa_view_get(v, "b/.wh..wh..opq"));
	/* Inline capture under etc/, the upper layer wins. */
	e = copa_view_get(v, "etc/os-release");
	assert_non_null(e);
	assert_non_null(e->content);
	assert_int_equal(e->layer, 1);
	assert_string_equal(cat(v, "/etc/os-release", &b), "ID=debian\nVERSION_ID=\"12\"\n");
	/* Metadata and device nodes. */
	e = copa_view_get(v, "usr/bin/tool");
	assert_int_equal(e->mode, 04755);
	assert_int_equal(e->mtime, 1700000000);
	assert_null(e->content);
	e = copa_view_get(v, "dev/null");
	assert_int_equal(e->type, COPA_FT_CHR);
	assert_int_equal(e->rdev_major, 4);
	assert_int_equal(e->rdev_minor, 64);
	assert_int_equal(copa_view_get(v, "b/sub") == NULL, 1);
	copa_buf_release(&b);
	copa_image_fs_free(fs);
	img_free(&im);
}

static void content_on_demand(void **state)
{
	static const struct m upper[] = {
	    {"usr/bin/tool", 'f', "tool-v2", 0755},
	    {NULL, 0, NULL, 0},
	};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;

	for (int c = RAW; c <= ZST; c++) {
		struct img im = {0};
		struct copa_image_fs *fs;
		struct copa_view *v;
		const struct copa_view_entry *e;

		add_layer(&im, (enum comp)c, base);
		add_layer(&im, (enum comp)c, upper);
		fs = copa_image_fs_open(im.l, im.n, NULL, &err);
		assert_non_null(fs);
		v = copa_image_fs_view(fs);
		/* Forward, backward, across layers: the reader restarts as needed. */
		assert_string_equal(cat(v, "b/sub/deep", &b), "deep");
		assert_string_equal(cat(v, "a/x", &b), "x0");
		assert_string_equal(cat(v, "usr/bin/tool", &b), "tool-v2");
		assert_string_equal(cat(v, "d/e", &b), "e0");
		assert_string_equal(cat(v, "a/y", &b), "y0");
		/* The hard link keeps the content it had: its target was replaced above it. */
		e = copa_view_get(v, "usr/bin/hl");
		assert_int_equal(e->type, COPA_FT_HARDLINK);
		assert_string_equal(e->link, "usr/bin/tool");
		assert_string_equal(cat(v, "usr/bin/hl", &b), "tool-binary");
		assert_int_equal(copa_view_read(v, "dev/null", 100, &b, &err), -1);
		assert_int_equal(err.code, COPA_E_INPUT);
		copa_image_fs_free(fs);
		img_free(&im);
	}
	copa_buf_release(&b);
}

static void hostile_entries(void **state)
{
	static const struct {
		struct m m;
		const char *want; /* part of the error; NULL: accepted */
	} cases[] = {
	    {{"../etc/passwd", 'f', "pwn", 0}, "leaves the layer root"},
	    {{"a/../../etc/passwd", 'f', "pwn", 0}, "leaves the layer root"},
	    {{"a/.wh...", 'f', "", 0}, "whiteout names '..'"},
	    {{".wh..", 'f', "", 0}, "whiteout names '.'"},
	    {{"a/.wh.", 'f', "", 0}, "whiteout names ''"},
	    {{"bad\nname", 'f', "x", 0}, "control character"},
	    {{"ok/hl", 'h', "../../etc/shadow", 0}, "hard link target"},
	    {{"/abs/file", 'f', "neutralised", 0}, NULL},
	    {{"evil", 'l', "/../../../etc/passwd", 0}, NULL},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct m ms[3] = {{"etc/", 'd', NULL, 0755}, cases[i].m, {NULL, 0, NULL, 0}};
		struct copa_err err = COPA_ERR_INIT;
		struct img im = {0};
		struct copa_image_fs *fs;

		add_layer(&im, GZ, ms);
		fs = copa_image_fs_open(im.l, im.n, NULL, &err);
		if (cases[i].want) {
			assert_null(fs);
			if (!strstr(err.msg, cases[i].want) || !strstr(err.msg, im.digest[0]))
				fail_msg("case %zu: unexpected error '%s'", i, err.msg);
			assert_int_equal(err.code, COPA_E_INPUT);
		} else {
			struct copa_buf canon = COPA_BUF_INIT, b = COPA_BUF_INIT;
			const struct copa_view_entry *e;

			assert_non_null(fs);
			if (cases[i].m.type == 'f') {
				assert_string_equal(cat(copa_image_fs_view(fs), "abs/file", &b),
				                    "neutralised");
			} else {
				/* The link stays as stored; resolving it never leaves the image. */
				assert_ok(copa_view_resolve(copa_image_fs_view(fs), "evil",
				                            COPA_VIEW_FOLLOW, &canon, &e, &err));
				assert_string_equal(copa_buf_str(&canon), "etc/passwd");
				assert_null(e);
			}
			copa_buf_release(&canon);
			copa_buf_release(&b);
			copa_image_fs_free(fs);
		}
		img_free(&im);
	}
}

static void digests_verified(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct img im = {0};
	char wrong[COPA_DIGEST_MAX];

	add_layer(&im, GZ, base);
	snprintf(wrong, sizeof(wrong), "sha256:%064d", 0);
	im.l[0].diff_id = wrong;
	assert_null(copa_image_fs_open(im.l, 1, NULL, &err));
	assert_int_equal(err.code, COPA_E_VERIFY);
	assert_non_null(strstr(err.msg, "diff_id"));
	assert_non_null(strstr(err.msg, im.digest[0]));
	im.l[0].diff_id = im.diff[0];
	im.l[0].digest = wrong;
	assert_null(copa_image_fs_open(im.l, 1, NULL, &err));
	assert_int_equal(err.code, COPA_E_VERIFY);
	assert_non_null(strstr(err.msg, "does not match its digest"));
	im.l[0].digest = im.digest[0];
	im.l[0].size = 3;
	assert_null(copa_image_fs_open(im.l, 1, NULL, &err));
	assert_int_equal(err.code, COPA_E_VERIFY);
	im.l[0].size = 0;
	im.l[0].media_type = "application/vnd.oci.image.layer.v1.tar+bzip2";
	assert_null(copa_image_fs_open(im.l, 1, NULL, &err));
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	img_free(&im);
}

static void limits(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct img im = {0};
	struct copa_image_fs_opts o = {.max_entries = 5};
	struct copa_image_fs *fs;
	int fd;

	add_layer(&im, GZ, base);
	assert_null(copa_image_fs_open(im.l, 1, &o, &err));
	assert_int_equal(err.code, COPA_E_LIMIT);
	o.max_entries = 0;
	o.max_layer_bytes = 2048;
	assert_null(copa_image_fs_open(im.l, 1, &o, &err));
	assert_int_equal(err.code, COPA_E_LIMIT);
	/* inline_max: small files only. */
	o.max_layer_bytes = 0;
	o.inline_max = 4;
	fs = copa_image_fs_open(im.l, 1, &o, &err);
	assert_non_null(fs);
	assert_null(copa_view_get(copa_image_fs_view(fs), "etc/os-release")->content);
	copa_image_fs_free(fs);
	/* A truncated blob. */
	im.l[0].digest = NULL;
	im.l[0].diff_id = NULL;
	fd = open(im.paths[0], O_WRONLY);
	assert_int_equal(ftruncate(fd, 40), 0);
	close(fd);
	assert_null(copa_image_fs_open(im.l, 1, NULL, &err));
	assert_int_equal(err.code, COPA_E_INPUT);
	img_free(&im);
}

static int list(void *ctx, const struct copa_view_entry *e)
{
	copa_buf_addf(ctx, "%s %d %o %u %llu %s %d|", e->path, e->type, e->mode, e->uid,
	              (unsigned long long)e->size, e->link ? e->link : "", e->content != NULL);
	return 0;
}

static void index_cache(void **state)
{
	static const struct m upper[] = {
	    {"a/.wh.x", 'f', "", 0},
	    {"var/lib/dpkg/status", 'f', "Package: x\n", 0},
	    {NULL, 0, NULL, 0},
	};
	struct copa_err err = COPA_ERR_INIT;
	struct copa_cache cache;
	char *dir = copa_xasprintf("%s/cache", tmpdir);
	struct copa_image_fs_opts o = {.cache = &cache};
	struct img im = {0};
	struct copa_buf first = COPA_BUF_INIT, second = COPA_BUF_INIT, b = COPA_BUF_INIT;
	struct copa_image_fs *fs;
	int fd;

	assert_ok(copa_cache_open(&cache, dir, &err));
	add_layer(&im, GZ, base);
	add_layer(&im, ZST, upper);
	fs = copa_image_fs_open(im.l, im.n, &o, &err);
	assert_non_null(fs);
	copa_view_walk(copa_image_fs_view(fs), "", list, &first);
	copa_image_fs_free(fs);
	/* Destroy the blobs: the second run must not need them to build the view. */
	for (size_t i = 0; i < im.n; i++) {
		fd = open(im.paths[i], O_WRONLY | O_TRUNC);
		assert_true(write(fd, "garbage", 7) == 7);
		close(fd);
	}
	fs = copa_image_fs_open(im.l, im.n, &o, &err);
	assert_non_null(fs);
	copa_view_walk(copa_image_fs_view(fs), "", list, &second);
	assert_string_equal(copa_buf_str(&first), copa_buf_str(&second));
	assert_string_equal(cat(copa_image_fs_view(fs), "var/lib/dpkg/status", &b), "Package: x\n");
	/* Content on demand needs the blob, and reports that it changed. */
	assert_int_equal(copa_view_read(copa_image_fs_view(fs), "a/y", 100, &b, &err), -1);
	assert_non_null(strstr(err.msg, "a/y"));
	copa_image_fs_free(fs);
	/* The cache still checks the diff_id. */
	im.l[1].diff_id = im.diff[0];
	assert_null(copa_image_fs_open(im.l, im.n, &o, &err));
	assert_int_equal(err.code, COPA_E_VERIFY);
	/* Other inline settings do not reuse the index: the broken blob is read again. */
	im.l[1].diff_id = im.diff[1];
	o.inline_max = 1;
	assert_null(copa_image_fs_open(im.l, im.n, &o, &err));
	copa_buf_release(&first);
	copa_buf_release(&second);
	copa_buf_release(&b);
	copa_cache_release(&cache);
	img_free(&im);
	free(dir);
}

struct got {
	struct copa_buf text;
	int restarts;
};

static void count_log(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	struct got *g = out->ctx;

	if (strstr(msg, "decompressing from the start"))
		g->restarts++;
}

static int collect_batch(void *ctx, size_t i, const void *data, size_t len)
{
	struct got *g = ctx;

	copa_buf_addf(&g->text, "%zu=%.*s;", i, (int)len, (const char *)data);
	return 0;
}

static void batch_reads_each_layer_once(void **state)
{
	static const char *const paths[] = {
	    "d/e", "a/x", "etc/os-release", "b/sub/deep", "usr/bin/hl", "a/y", "b/c"};
	struct copa_err err = COPA_ERR_INIT;
	struct got g = {COPA_BUF_INIT, 0};
	struct copa_out out = {.log = count_log, .min_level = COPA_LOG_DEBUG, .ctx = &g};
	struct copa_image_fs_opts o = {.out = &out};
	struct img im = {0};
	struct copa_image_fs *fs;
	const char *bad[] = {"a/x", "nope"};

	add_layer(&im, GZ, base);
	fs = copa_image_fs_open(im.l, im.n, &o, &err);
	assert_non_null(fs);
	assert_ok(copa_image_fs_read_batch(fs, paths, COPA_ARRAY_SIZE(paths), 100, collect_batch,
	                                   &g, &err));
	/* Inline first, then in layer order; one pass over the gzip stream. */
	assert_string_equal(copa_buf_str(&g.text),
	                    "2=ID=debian\n;1=x0;5=y0;6=c0;3=deep;0=e0;4=tool-binary;");
	assert_int_equal(g.restarts, 1);
	/* Reading backwards one by one restarts every time. */
	g.restarts = 0;
	assert_ok(copa_image_fs_read_batch(fs, paths, 1, 100, collect_batch, &g, &err));
	assert_ok(copa_image_fs_read_batch(fs, paths + 1, 1, 100, collect_batch, &g, &err));
	assert_int_equal(g.restarts, 2);
	assert_int_equal(copa_image_fs_read_batch(fs, bad, 2, 100, collect_batch, &g, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "'nope'"));
	assert_int_equal(copa_image_fs_read_batch(fs, paths, 1, 1, collect_batch, &g, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_buf_release(&g.text);
	copa_image_fs_free(fs);
	img_free(&im);
}

static void empty_and_many_layers(void **state)
{
	static const struct m one[] = {{"f", 'f', "1", 0}, {NULL, 0, NULL, 0}};
	static const struct m two[] = {
	    {".wh.f", 'f', "", 0}, {"g", 'f', "2", 0}, {NULL, 0, NULL, 0}};
	static const struct m three[] = {{"f/", 'd', NULL, 0700}, {NULL, 0, NULL, 0}};
	struct copa_err err = COPA_ERR_INIT;
	struct img im = {0};
	struct copa_image_fs *fs = copa_image_fs_open(NULL, 0, NULL, &err);

	assert_non_null(fs);
	assert_int_equal(copa_view_count(copa_image_fs_view(fs)), 1);
	copa_image_fs_free(fs);
	add_layer(&im, RAW, one);
	add_layer(&im, ZST, two);
	add_layer(&im, GZ, three);
	fs = copa_image_fs_open(im.l, im.n, NULL, &err);
	assert_non_null(fs);
	assert_int_equal(copa_view_get(copa_image_fs_view(fs), "f")->type, COPA_FT_DIR);
	assert_int_equal(copa_view_get(copa_image_fs_view(fs), "f")->mode, 0700);
	assert_non_null(copa_view_get(copa_image_fs_view(fs), "g"));
	copa_image_fs_free(fs);
	img_free(&im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(whiteouts_and_opaque),
	    cmocka_unit_test(content_on_demand),
	    cmocka_unit_test(hostile_entries),
	    cmocka_unit_test(digests_verified),
	    cmocka_unit_test(limits),
	    cmocka_unit_test(index_cache),
	    cmocka_unit_test(batch_reads_each_layer_once),
	    cmocka_unit_test(empty_and_many_layers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "layer/layer.h"
#include "testutil.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct dirs {
	char *root;
	int stage1, stage2;
};

static int setup(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct dirs *d = copa_xcalloc(1, sizeof(*d));

	d->root = copa_fs_mkdtemp(NULL, "copa-test-seed-", &err);
	if (!d->root)
		return -1;
	int r = open(d->root, O_RDONLY | O_DIRECTORY);
	mkdirat(r, "s1", 0700);
	mkdirat(r, "s2", 0700);
	d->stage1 = openat(r, "s1", O_RDONLY | O_DIRECTORY);
	d->stage2 = openat(r, "s2", O_RDONLY | O_DIRECTORY);
	close(r);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;

	close(d->stage1);
	close(d->stage2);
	copa_fs_rm_rf(AT_FDCWD, d->root, NULL);
	free(d->root);
	free(d);
	return 0;
}

static void write_layer(struct copa_layer_builder *b, const char *path,
                        struct copa_layer_result *res)
{
	struct copa_err err = COPA_ERR_INIT;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct copa_layer_write_opts o = {.compression = COPA_COMPRESS_GZIP, .out_fd = fd};

	assert_true(fd >= 0);
	assert_ok(copa_layer_builder_write(b, &o, res, &err));
	close(fd);
}

static void seed_round_trip_is_byte_identical(void **state)
{
	struct dirs *d = *state;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b1 = copa_layer_builder_new(d->stage1);
	struct copa_layer_builder *b2 = copa_layer_builder_new(d->stage2);
	static const uint8_t cap[] = {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0,
	                              0, 0, 0, 0, 0, 0,    0, 0, 0, 0};
	struct copa_layer_xattr x = {"security.capability", cap, sizeof(cap)};
	struct copa_layer_entry es[] = {
	    {.path = "usr", .type = COPA_FT_DIR, .mode = 0755, .mtime = 1700000000},
	    {.path = "usr/bin/ping",
	     .type = COPA_FT_REG,
	     .mode = 04755,
	     .uid = 0,
	     .gid = 0,
	     .mtime = 1700000001,
	     .content = "ELF",
	     .size = 3,
	     .xattrs = &x,
	     .n_xattrs = 1},
	    {.path = "usr/bin/ping2",
	     .type = COPA_FT_HARDLINK,
	     .mode = 04755,
	     .link = "usr/bin/ping",
	     .mtime = 1700000001},
	    {.path = "usr/lib/libx.so",
	     .type = COPA_FT_SYMLINK,
	     .mode = 0777,
	     .link = "libx.so.1",
	     .mtime = 5},
	    {.path = "dev/null",
	     .type = COPA_FT_CHR,
	     .mode = 0666,
	     .rdev_major = 1,
	     .rdev_minor = 3},
	    {.path = "var/lib/dpkg/status",
	     .type = COPA_FT_REG,
	     .mode = 0644,
	     .uid = 0,
	     .gid = 0,
	     .content = "Package: x\n",
	     .size = 11,
	     .mtime = 7},
	};
	struct copa_layer_blob lb = {.digest = "sha256:test", .media_type = NULL};
	struct copa_layer_result r1, r2;
	char *p1 = copa_xasprintf("%s/one.tar.gz", d->root);
	char *p2 = copa_xasprintf("%s/two.tar.gz", d->root);

	for (size_t i = 0; i < COPA_ARRAY_SIZE(es); i++)
		assert_ok(copa_layer_builder_add(b1, &es[i], &err));
	assert_ok(copa_layer_builder_whiteout(b1, "usr/lib/old.so", &err));
	assert_ok(copa_layer_builder_opaque(b1, "etc/conf.d", &err));
	write_layer(b1, p1, &r1);

	lb.path = p1;
	assert_ok(copa_layer_builder_seed(b2, &lb, &err));
	assert_int_equal(copa_layer_builder_count(b2), copa_layer_builder_count(b1));
	assert_true(copa_layer_builder_is_whiteout(b2, "usr/lib/old.so"));
	assert_int_equal(copa_layer_builder_get(b2, "usr/bin/ping")->mode, 04755);
	assert_int_equal(copa_layer_builder_get(b2, "usr/bin/ping")->n_xattrs, 1);
	write_layer(b2, p2, &r2);
	assert_string_equal(r1.digest, r2.digest);
	assert_string_equal(r1.diff_id, r2.diff_id);

	/* A later add replaces what was seeded. */
	assert_ok(copa_layer_builder_add(b2,
	                                 &(struct copa_layer_entry){.path = "var/lib/dpkg/status",
	                                                            .type = COPA_FT_REG,
	                                                            .mode = 0644,
	                                                            .content = "Package: y\n",
	                                                            .size = 11},
	                                 &err));
	write_layer(b2, p2, &r2);
	assert_string_not_equal(r1.digest, r2.digest);

	free(p1);
	free(p2);
	copa_layer_builder_free(b1);
	copa_layer_builder_free(b2);
}

static void seed_refuses_garbage(void **state)
{
	struct dirs *d = *state;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(d->stage1);
	char *p = copa_xasprintf("%s/garbage", d->root);
	struct copa_layer_blob lb = {.digest = "sha256:garbage", .path = p};

	assert_ok(copa_fs_write_atomic(AT_FDCWD, p, "not a tar at all, clearly", 25, 0644, &err));
	assert_int_equal(copa_layer_builder_seed(b, &lb, &err), -1);
	assert_non_null(strstr(err.msg, "sha256:garbage"));
	free(p);
	copa_layer_builder_free(b);
}

/* A layer with one file carrying n user.* xattrs, written to path. */
static void layer_with_xattrs(struct dirs *d, const char *path, size_t n,
                              struct copa_layer_result *res)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(d->stage1);
	struct copa_layer_xattr *xs = copa_xcalloc(n, sizeof(*xs));
	char **names = copa_xcalloc(n, sizeof(*names));

	for (size_t i = 0; i < n; i++) {
		names[i] = copa_xasprintf("user.attr%04zu", i);
		xs[i] = (struct copa_layer_xattr){names[i], "v", 1};
	}
	assert_ok(copa_layer_builder_add(b,
	                                 &(struct copa_layer_entry){.path = "usr/bin/tool",
	                                                            .type = COPA_FT_REG,
	                                                            .mode = 0755,
	                                                            .content = "ELF",
	                                                            .size = 3,
	                                                            .xattrs = xs,
	                                                            .n_xattrs = n},
	                                 &err));
	write_layer(b, path, res);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(xs);
	copa_layer_builder_free(b);
}

/* More than 64 xattrs survive a seed (they were cut at 64, silently). */
static void seed_keeps_every_xattr(void **state)
{
	struct dirs *d = *state;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(d->stage2);
	char *p = copa_xasprintf("%s/x.tar.gz", d->root);
	char *p2 = copa_xasprintf("%s/x2.tar.gz", d->root);
	struct copa_layer_blob lb = {.digest = "sha256:xattrs", .path = p};
	struct copa_layer_result r1, r2;

	layer_with_xattrs(d, p, 200, &r1);
	assert_ok(copa_layer_builder_seed(b, &lb, &err));
	assert_int_equal(copa_layer_builder_get(b, "usr/bin/tool")->n_xattrs, 200);
	write_layer(b, p2, &r2);
	assert_string_equal(r1.digest, r2.digest);
	free(p);
	free(p2);
	copa_layer_builder_free(b);
}

/* Above the documented cap the seed fails, naming the cap and the entry. */
static void seed_refuses_too_many_xattrs(void **state)
{
	struct dirs *d = *state;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(d->stage2);
	char *p = copa_xasprintf("%s/x.tar.gz", d->root);
	struct copa_layer_blob lb = {.digest = "sha256:xattrs", .path = p};
	struct copa_layer_result r1;

	layer_with_xattrs(d, p, 1025, &r1);
	assert_int_equal(copa_layer_builder_seed(b, &lb, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_non_null(strstr(err.msg, "usr/bin/tool"));
	assert_non_null(strstr(err.msg, "more than 1024 extended attributes"));
	free(p);
	copa_layer_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(seed_round_trip_is_byte_identical, setup, teardown),
	    cmocka_unit_test_setup_teardown(seed_refuses_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(seed_keeps_every_xattr, setup, teardown),
	    cmocka_unit_test_setup_teardown(seed_refuses_too_many_xattrs, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "layer/view.h"
#include "testutil.h"
#include "util/mem.h"

static void put(struct copa_view *v, const char *path, enum copa_ftype type, const char *link)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view_entry e = {.path = path,
	                            .type = (uint8_t)type,
	                            .link = link,
	                            .mode = type == COPA_FT_DIR ? 0755 : 0644,
	                            .layer = 0};

	if (!copa_view_put(v, &e, &err))
		fail_msg("put %s: %s", path, err.msg);
}

static const char *resolve(struct copa_view *v, const char *path, unsigned flags,
                           struct copa_buf *b)
{
	struct copa_err err = COPA_ERR_INIT;

	if (copa_view_resolve(v, path, flags, b, NULL, &err) < 0)
		return NULL;
	return copa_buf_str(b);
}

static void merged_usr(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_buf b = COPA_BUF_INIT;

	put(v, "usr/lib/x86_64-linux-gnu", COPA_FT_DIR, NULL);
	put(v, "lib", COPA_FT_SYMLINK, "usr/lib");
	put(v, "bin", COPA_FT_SYMLINK, "/usr/bin");
	put(v, "usr/bin", COPA_FT_DIR, NULL);
	assert_string_equal(resolve(v, "/lib/x86_64-linux-gnu/libc.so.6", 0, &b),
	                    "usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_string_equal(resolve(v, "bin/sh", 0, &b), "usr/bin/sh");
	/* Without FOLLOW the last component stays the symlink itself. */
	assert_string_equal(resolve(v, "lib", 0, &b), "lib");
	assert_string_equal(resolve(v, "lib", COPA_VIEW_FOLLOW, &b), "usr/lib");
	/* A tar entry under a symlinked directory lands at the canonical path. */
	put(v, "lib/x86_64-linux-gnu/libnew.so", COPA_FT_REG, NULL);
	assert_non_null(copa_view_get(v, "usr/lib/x86_64-linux-gnu/libnew.so"));
	assert_null(copa_view_get(v, "lib/x86_64-linux-gnu/libnew.so"));
	assert_int_equal(copa_view_get(v, "lib")->type, COPA_FT_SYMLINK);
	copa_buf_release(&b);
	copa_view_free(v);
}

static void hostile_links_stay_inside(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;

	put(v, "a", COPA_FT_DIR, NULL);
	put(v, "a/up", COPA_FT_SYMLINK, "../../../../etc");
	put(v, "etc", COPA_FT_DIR, NULL);
	assert_string_equal(resolve(v, "a/up/passwd", 0, &b), "etc/passwd");
	assert_string_equal(resolve(v, "/../../a/../etc", 0, &b), "etc");
	put(v, "loop1", COPA_FT_SYMLINK, "loop2");
	put(v, "loop2", COPA_FT_SYMLINK, "/loop1");
	assert_int_equal(copa_view_resolve(v, "loop1/x", 0, &b, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	/* A file in the way of a directory component. */
	put(v, "f", COPA_FT_REG, NULL);
	assert_int_equal(copa_view_resolve(v, "f/x", 0, &b, NULL, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	copa_buf_release(&b);
	copa_view_free(v);
}

static void replace_and_remove(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_err err = COPA_ERR_INIT;
	const struct copa_view_entry **kids;
	size_t n;

	put(v, "d/x", COPA_FT_REG, NULL);
	put(v, "d/y", COPA_FT_REG, NULL);
	assert_true(copa_view_get(v, "d")->implicit);
	/* dir over dir keeps the children and takes the attributes */
	put(v, "d", COPA_FT_DIR, NULL);
	assert_false(copa_view_get(v, "d")->implicit);
	assert_non_null(copa_view_get(v, "d/x"));
	/* a file over a dir drops the subtree */
	put(v, "d", COPA_FT_REG, NULL);
	assert_null(copa_view_get(v, "d/x"));
	assert_int_equal(copa_view_count(v), 2);
	put(v, "e/b", COPA_FT_REG, NULL);
	put(v, "e/a", COPA_FT_REG, NULL);
	put(v, "e/c/deep", COPA_FT_REG, NULL);
	assert_int_equal(copa_view_children(v, "e", &kids, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(kids[0]->path, "e/a");
	assert_string_equal(kids[1]->path, "e/b");
	assert_string_equal(kids[2]->path, "e/c");
	free(kids);
	assert_int_equal(copa_view_clear_children(v, "e"), 0);
	assert_null(copa_view_get(v, "e/c/deep"));
	assert_non_null(copa_view_get(v, "e"));
	assert_int_equal(copa_view_remove(v, "e"), 0);
	assert_int_equal(copa_view_remove(v, "e"), -1);
	assert_null(copa_view_put(v, &(struct copa_view_entry){.path = "a/../../x"}, &err));
	assert_int_equal(err.code, COPA_E_INPUT);
	copa_view_free(v);
}

static int collect(void *ctx, const struct copa_view_entry *e)
{
	struct copa_buf *b = ctx;

	copa_buf_addf(b, "%s;", e->path);
	return 0;
}

static void walk_is_sorted_depth_first(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_buf b = COPA_BUF_INIT;

	put(v, "b/2", COPA_FT_REG, NULL);
	put(v, "a", COPA_FT_REG, NULL);
	put(v, "b/1/z", COPA_FT_REG, NULL);
	copa_view_walk(v, "", collect, &b);
	assert_string_equal(copa_buf_str(&b), ";a;b;b/1;b/1/z;b/2;");
	copa_buf_reset(&b);
	copa_view_walk(v, "b/1", collect, &b);
	assert_string_equal(copa_buf_str(&b), "b/1;b/1/z;");
	copa_buf_release(&b);
	copa_view_free(v);
}

static void read_content(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;

	put(v, "usr/lib/os-release", COPA_FT_REG, NULL);
	put(v, "etc/os-release", COPA_FT_SYMLINK, "../usr/lib/os-release");
	assert_ok(copa_view_set_content(v, "usr/lib/os-release", "ID=debian\n", 10, &err));
	assert_ok(copa_view_read(v, "/etc/os-release", 100, &b, &err));
	assert_string_equal(b.p, "ID=debian\n");
	assert_int_equal(copa_view_read(v, "/etc/os-release", 5, &b, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	assert_int_equal(copa_view_read(v, "/etc", 100, &b, &err), -1);
	assert_int_equal(copa_view_read(v, "/nope", 100, &b, &err), -1);
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	copa_buf_release(&b);
	copa_view_free(v);
}

static void hard_links(void **state)
{
	struct copa_view *v = copa_view_new();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_view_entry own = {.path = "bin/own",
	                              .type = COPA_FT_HARDLINK,
	                              .link = "bin/target",
	                              .content = "old",
	                              .size = 3};

	put(v, "bin/target", COPA_FT_REG, NULL);
	assert_ok(copa_view_set_content(v, "bin/target", "new", 3, &err));
	/* A link without content of its own reads its target. */
	put(v, "bin/plain", COPA_FT_HARDLINK, "bin/target");
	assert_ok(copa_view_read(v, "bin/plain", 100, &b, &err));
	assert_string_equal(b.p, "new");
	/* A link that carries content (the layer reader copies it) keeps it. */
	assert_non_null(copa_view_put(v, &own, &err));
	assert_ok(copa_view_read(v, "bin/own", 100, &b, &err));
	assert_string_equal(b.p, "old");
	put(v, "bin/dangling", COPA_FT_HARDLINK, "bin/missing");
	assert_int_equal(copa_view_read(v, "bin/dangling", 100, &b, &err), -1);
	assert_int_equal(err.code, COPA_E_INPUT);
	copa_buf_release(&b);
	copa_view_free(v);
}

static void many_entries(void **state)
{
	struct copa_view *v = copa_view_new();
	char path[64];

	for (int i = 0; i < 20000; i++) {
		snprintf(path, sizeof(path), "d%d/f%d", i % 100, i);
		put(v, path, COPA_FT_REG, NULL);
	}
	for (int i = 0; i < 20000; i += 2) {
		snprintf(path, sizeof(path), "d%d/f%d", i % 100, i);
		assert_int_equal(copa_view_remove(v, path), 0);
	}
	assert_int_equal(copa_view_count(v), 1 + 100 + 10000);
	assert_non_null(copa_view_get(v, "d1/f1"));
	assert_null(copa_view_get(v, "d0/f0"));
	copa_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(merged_usr),         cmocka_unit_test(hostile_links_stay_inside),
	    cmocka_unit_test(replace_and_remove), cmocka_unit_test(walk_is_sorted_depth_first),
	    cmocka_unit_test(read_content),       cmocka_unit_test(hard_links),
	    cmocka_unit_test(many_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

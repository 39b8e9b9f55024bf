#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "layer/layer.h"
#include "testutil.h"
#include "util/buf.h"

static void add(struct copa_layer_builder *b, const char *path, enum copa_ftype t)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_entry e = {.path = path,
	                             .type = (uint8_t)t,
	                             .mode = 0644,
	                             .content = "x",
	                             .size = t == COPA_FT_REG ? 1 : 0};

	assert_ok(copa_layer_builder_add(b, &e, &err));
}

static int collect(void *ctx, const struct copa_layer_entry *e, enum copa_layer_mark m)
{
	copa_buf_addf(ctx, "%s%s;",
	              m == COPA_LAYER_WHITEOUT ? "-"
	              : m == COPA_LAYER_OPAQUE ? "*"
	                                       : "",
	              e->path);
	return 0;
}

static void order_and_markers(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_buf out = COPA_BUF_INIT;

	add(b, "/usr/lib/b", COPA_FT_REG);
	add(b, "usr", COPA_FT_DIR);
	add(b, "./usr/lib", COPA_FT_DIR);
	add(b, "usr/lib/a", COPA_FT_REG);
	assert_ok(copa_layer_builder_whiteout(b, "usr/lib/old", &err));
	assert_ok(copa_layer_builder_opaque(b, "etc/x", &err));
	assert_int_equal(copa_layer_builder_count(b), 6);
	copa_layer_builder_foreach(b, collect, &out);
	assert_string_equal(copa_buf_str(&out),
	                    "*etc/x;usr;usr/lib;-usr/lib/old;usr/lib/a;usr/lib/b;");
	assert_true(copa_layer_builder_is_whiteout(b, "/usr/lib/old"));
	assert_null(copa_layer_builder_get(b, "usr/lib/old"));
	assert_non_null(copa_layer_builder_get(b, "/usr/lib/a"));
	/* Adding the path back drops its whiteout; whiting out a dir drops what is below. */
	add(b, "usr/lib/old", COPA_FT_REG);
	assert_false(copa_layer_builder_is_whiteout(b, "usr/lib/old"));
	assert_ok(copa_layer_builder_whiteout(b, "usr/lib", &err));
	assert_null(copa_layer_builder_get(b, "usr/lib/a"));
	assert_non_null(copa_layer_builder_get(b, "usr"));
	copa_buf_release(&out);
	copa_layer_builder_free(b);
}

static void reserved_and_bad_paths(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_layer_builder *b = copa_layer_builder_new(-1);
	struct copa_layer_entry e = {.path = "etc/.wh.passwd", .type = COPA_FT_REG};

	assert_int_equal(copa_layer_builder_add(b, &e, &err), -1);
	e.path = "../etc/passwd";
	assert_int_equal(copa_layer_builder_add(b, &e, &err), -1);
	e.path = "/";
	assert_int_equal(copa_layer_builder_add(b, &e, &err), -1);
	assert_int_equal(copa_layer_builder_whiteout(b, "a/../../b", &err), -1);
	assert_int_equal(copa_layer_builder_count(b), 0);
	copa_layer_builder_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(order_and_markers),
	    cmocka_unit_test(reserved_and_bad_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

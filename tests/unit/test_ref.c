/* Unit tests for image references and transports (src/image/ref.c): table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "image/ref.h"
#include "testutil.h"
#include "util/mem.h"

#include <string.h>

static const struct {
	const char *in;
	const char *full; /* copa_ref_string, NULL: must fail */
	bool defaulted;
} refs[] = {
    {"nginx", "docker.io/library/nginx:latest", true},
    {"nginx:1.25", "docker.io/library/nginx:1.25", false},
    {"library/nginx", "docker.io/library/nginx:latest", true},
    {"docker.io/nginx", "docker.io/library/nginx:latest", true},
    {"index.docker.io/library/nginx:1", "docker.io/library/nginx:1", false},
    {"user/app:v1", "docker.io/user/app:v1", false},
    {"localhost/app", "localhost/app:latest", true},
    {"localhost:5000/app:1.0", "localhost:5000/app:1.0", false},
    {"127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", false},
    {"[::1]:5000/app:x", "[::1]:5000/app:x", false},
    {"ghcr.io/org/repo_name/x-y.z:tag_1.2-3", "ghcr.io/org/repo_name/x-y.z:tag_1.2-3", false},
    {"Registry.Example/app", "Registry.Example/app:latest", true},
    {"a__b/c---d", "docker.io/a__b/c---d:latest", true},
    {"app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "docker.io/library/"
     "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     false},
    {"r.io/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "r.io/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false},
    /* malformed */
    {"", NULL, false},
    {"Nginx", NULL, false},
    {"nginx:", NULL, false},
    {"nginx:-bad", NULL, false},
    {"nginx:.bad", NULL, false},
    {"/nginx", NULL, false},
    {"nginx/", NULL, false},
    {"a//b", NULL, false},
    {"a/b_", NULL, false},
    {"a/-b", NULL, false},
    {"a/b___c", NULL, false},
    {"host:port/app", NULL, false},
    {"host:123456/app", NULL, false},
    {"-host.io/app", NULL, false},
    {"app@sha256:abc", NULL, false},
    {"app@md5:0123456789abcdef0123456789abcdef", NULL, false},
    {"app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", NULL, false},
    {"app name", NULL, false},
    {"app\n", NULL, false},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL, false},
    {"app:"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     NULL, false},
    {"app:"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "docker.io/library/"
     "app:"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     false},
};

static void test_refs(void **state)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(refs); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_ref r;
		int rc = copa_ref_parse(refs[i].in, &r, &err);

		if (!refs[i].full) {
			if (rc == 0)
				fail_msg("'%s' parsed but must fail", refs[i].in);
			assert_int_equal(err.code, COPA_E_INPUT);
			assert_non_null(strstr(err.msg, "invalid image reference"));
			continue;
		}
		if (rc < 0)
			fail_msg("'%s': %s", refs[i].in, err.msg);
		{
			_cleanup_free_ char *s = copa_ref_string(&r);

			assert_string_equal(s, refs[i].full);
		}
		assert_int_equal(r.tag_defaulted, refs[i].defaulted);
		copa_ref_release(&r);
	}
}

static void test_lookup_and_name(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_ref r;
	_cleanup_free_ char *name = NULL;

	assert_ok(copa_ref_parse("localhost:5000/a/b:t@sha256:"
	                         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	                         &r, &err));
	assert_string_equal(r.domain, "localhost:5000");
	assert_string_equal(r.path, "a/b");
	assert_string_equal(r.tag, "t");
	assert_string_equal(copa_ref_lookup(&r), r.digest);
	name = copa_ref_name(&r);
	assert_string_equal(name, "localhost:5000/a/b");
	copa_ref_release(&r);
}

static const struct {
	const char *in;
	int transport; /* -1: must fail */
	const char *path, *tag, *canon;
	int index;
} transports[] = {
    {"oci:/tmp/layout", COPA_TRANSPORT_OCI, "/tmp/layout", NULL, "oci:/tmp/layout", -1},
    {"oci:dir:v1.0", COPA_TRANSPORT_OCI, "dir", "v1.0", "oci:dir:v1.0", -1},
    {"oci:dir:docker.io/library/x:1", COPA_TRANSPORT_OCI, "dir", "docker.io/library/x:1",
     "oci:dir:docker.io/library/x:1", -1},
    {"oci-archive:a.tar:latest", COPA_TRANSPORT_OCI_ARCHIVE, "a.tar", "latest",
     "oci-archive:a.tar:latest", -1},
    {"docker-archive:d.tar", COPA_TRANSPORT_DOCKER_ARCHIVE, "d.tar", NULL, "docker-archive:d.tar",
     -1},
    {"docker-archive:d.tar:busybox", COPA_TRANSPORT_DOCKER_ARCHIVE, "d.tar", NULL,
     "docker-archive:d.tar:docker.io/library/busybox:latest", -1},
    {"docker-archive:d.tar:@2", COPA_TRANSPORT_DOCKER_ARCHIVE, "d.tar", NULL,
     "docker-archive:d.tar:@2", 2},
    {"docker://nginx", COPA_TRANSPORT_REGISTRY, NULL, NULL, "docker.io/library/nginx:latest", -1},
    {"localhost:5000/app:1", COPA_TRANSPORT_REGISTRY, NULL, NULL, "localhost:5000/app:1", -1},
    {"docker:5000/app", COPA_TRANSPORT_REGISTRY, NULL, NULL, "docker:5000/app:latest", -1},
    {"oci:", -1, NULL, NULL, NULL, -1},
    {"oci::tag", -1, NULL, NULL, NULL, -1},
    {"oci:dir:bad tag", -1, NULL, NULL, NULL, -1},
    {"oci:dir:-x", -1, NULL, NULL, NULL, -1},
    {"docker-archive:d.tar:@", -1, NULL, NULL, NULL, -1},
    {"docker-archive:d.tar:@x", -1, NULL, NULL, NULL, -1},
    {"docker-archive:d.tar:app@sha256:"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     -1, NULL, NULL, NULL, -1},
    {"docker:nginx", -1, NULL, NULL, NULL, -1},
    {"docker-daemon:nginx:latest", -1, NULL, NULL, NULL, -1},
    {"containers-storage:x", -1, NULL, NULL, NULL, -1},
    {"docker://Bad", -1, NULL, NULL, NULL, -1},
};

static void test_transports(void **state)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(transports); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_image_ref r;
		int rc = copa_image_ref_parse(transports[i].in, &r, &err);

		if (transports[i].transport < 0) {
			if (rc == 0)
				fail_msg("'%s' parsed but must fail", transports[i].in);
			assert_true(err.msg[0] != '\0');
			continue;
		}
		if (rc < 0)
			fail_msg("'%s': %s", transports[i].in, err.msg);
		assert_int_equal(r.transport, transports[i].transport);
		if (transports[i].path)
			assert_string_equal(r.path, transports[i].path);
		if (transports[i].tag)
			assert_string_equal(r.tag, transports[i].tag);
		else
			assert_null(r.tag);
		assert_int_equal(r.archive_index, transports[i].index);
		{
			_cleanup_free_ char *c = copa_image_ref_string(&r);

			assert_string_equal(c, transports[i].canon);
		}
		copa_image_ref_release(&r);
	}
}

/* A copy owns its strings: it still reads the same after the original is released. */
static void test_image_ref_copy(void **state)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(transports); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_image_ref r, copy;
		_cleanup_free_ char *c = NULL;

		if (transports[i].transport < 0)
			continue;
		assert_int_equal(copa_image_ref_parse(transports[i].in, &r, &err), 0);
		copa_image_ref_copy(&copy, &r);
		copa_image_ref_release(&r);
		c = copa_image_ref_string(&copy);
		assert_string_equal(c, transports[i].canon);
		assert_int_equal(copy.transport, transports[i].transport);
		assert_int_equal(copy.archive_index, transports[i].index);
		copa_image_ref_release(&copy);
	}
}

static void test_unsupported_transport_message(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_image_ref r;

	assert_int_equal(copa_image_ref_parse("docker-daemon:nginx:latest", &r, &err), -1);
	assert_int_equal(err.code, COPA_E_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "transport 'docker-daemon' is not supported"));
}

static void test_oci_names(void **state)
{
	assert_true(copa_ref_oci_name_valid("v1.0"));
	assert_true(copa_ref_oci_name_valid("a--b/c:d@e+f"));
	assert_false(copa_ref_oci_name_valid(""));
	assert_false(copa_ref_oci_name_valid("a/"));
	assert_false(copa_ref_oci_name_valid("a..b"));
	assert_false(copa_ref_oci_name_valid("../x"));
	assert_true(copa_ref_tag_valid("_x"));
	assert_false(copa_ref_tag_valid(".x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refs),       cmocka_unit_test(test_lookup_and_name),
	    cmocka_unit_test(test_transports), cmocka_unit_test(test_unsupported_transport_message),
	    cmocka_unit_test(test_oci_names),  cmocka_unit_test(test_image_ref_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

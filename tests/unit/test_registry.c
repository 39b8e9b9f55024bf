/* Unit tests of the registry client's pure helpers (src/registry/registry.c):
 * names, hosts, plain-HTTP policy, upload Locations, error bodies. The
 * protocol itself is tested end to end against docker-registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "registry/registry.h"
#include "testutil.h"
#include "util/mem.h"

#include <string.h>

static void repo_names(void **state)
{
	static const struct {
		const char *name;
		bool ok;
	} t[] = {
	    {"library/nginx", true},
	    {"a", true},
	    {"a/b/c/d", true},
	    {"my-app", true},
	    {"my--app", true},
	    {"my_app", true},
	    {"my__app", true},
	    {"my.app", true},
	    {"a0.b1-c2_d3__e4", true},
	    {"my___app", false},
	    {"my._app", false},
	    {"my..app", false},
	    {"-app", false},
	    {"app-", false},
	    {"App", false},
	    {"a//b", false},
	    {"/a", false},
	    {"a/", false},
	    {"", false},
	    {"a b", false},
	    {"a:b", false},
	    {"a@b", false},
	    {"../etc", false},
	};
	char longname[300];

	for (size_t i = 0; i < COPA_ARRAY_SIZE(t); i++)
		if (copa_registry_repo_valid(t[i].name) != t[i].ok)
			fail_msg("repo '%s': expected %d", t[i].name, t[i].ok);
	memset(longname, 'a', 256);
	longname[256] = '\0';
	assert_false(copa_registry_repo_valid(longname));
	longname[255] = '\0';
	assert_true(copa_registry_repo_valid(longname));
}

static void tags(void **state)
{
	char t128[130];

	assert_true(copa_registry_tag_valid("latest"));
	assert_true(copa_registry_tag_valid("1.25-bookworm"));
	assert_true(copa_registry_tag_valid("_x"));
	assert_true(copa_registry_tag_valid("V1.0_RC"));
	assert_false(copa_registry_tag_valid("-x"));
	assert_false(copa_registry_tag_valid(".x"));
	assert_false(copa_registry_tag_valid(""));
	assert_false(copa_registry_tag_valid("a/b"));
	assert_false(copa_registry_tag_valid("a:b"));
	memset(t128, 'a', 128);
	t128[128] = '\0';
	assert_true(copa_registry_tag_valid(t128));
	t128[128] = 'a';
	t128[129] = '\0';
	assert_false(copa_registry_tag_valid(t128));
}

static void hosts(void **state)
{
	static const struct {
		const char *host;
		bool valid, loopback;
	} t[] = {
	    {"localhost", true, true},
	    {"localhost:5000", true, true},
	    {"LOCALHOST:5000", true, true},
	    {"127.0.0.1:5000", true, true},
	    {"127.1.2.3", true, true},
	    {"128.0.0.1", true, false},
	    {"[::1]:5000", true, true},
	    {"[::1]", true, true},
	    {"[::2]:5000", true, false},
	    {"registry.example.com", true, false},
	    {"my-reg.example:443", true, false},
	    {"docker.io", true, false},
	    {"localhost.evil.example", true, false},
	    {"reg:0", false, false},
	    {"reg:65536", false, false},
	    {"reg:abc", false, false},
	    {"", false, false},
	    {"user@reg", false, false},
	    {"reg/path", false, false},
	    {"reg?x", false, false},
	    {"-reg", false, false},
	    {"[::1", false, false},
	    {"[nothex]:1", false, false},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(t); i++) {
		if (copa_registry_host_valid(t[i].host) != t[i].valid)
			fail_msg("host '%s': valid expected %d", t[i].host, t[i].valid);
		if (t[i].valid && copa_registry_host_is_loopback(t[i].host) != t[i].loopback)
			fail_msg("host '%s': loopback expected %d", t[i].host, t[i].loopback);
	}
	assert_string_equal(copa_registry_endpoint("docker.io"), "registry-1.docker.io");
	assert_string_equal(copa_registry_endpoint("index.docker.io"), "registry-1.docker.io");
	assert_string_equal(copa_registry_endpoint("ghcr.io"), "ghcr.io");
}

static void plain_http_policy(void **state)
{
	const char *list[] = {"reg.example:5000", "other.example", "[fd00::1]:5000", NULL};
	struct copa_registry_opts o = {.plain_http = list};
	struct copa_registry_opts none = {0};
	struct copa_registry_opts all = {.plain_http_all = true};

	assert_true(copa_registry_plain_http_allowed(&none, "localhost:5000"));
	assert_true(copa_registry_plain_http_allowed(&none, "127.0.0.1:1234"));
	assert_false(copa_registry_plain_http_allowed(&none, "reg.example:5000"));
	assert_true(copa_registry_plain_http_allowed(&o, "reg.example:5000"));
	assert_true(copa_registry_plain_http_allowed(&o, "REG.example:5000"));
	assert_false(copa_registry_plain_http_allowed(&o, "reg.example:5001"));
	assert_false(copa_registry_plain_http_allowed(&o, "reg.example"));
	assert_true(copa_registry_plain_http_allowed(&o, "other.example"));
	assert_true(copa_registry_plain_http_allowed(&o, "other.example:8443"));
	assert_true(copa_registry_plain_http_allowed(&o, "[fd00::1]:5000"));
	assert_false(copa_registry_plain_http_allowed(&o, "[fd00::1]:5001"));
	assert_false(copa_registry_plain_http_allowed(&o, "evil.example"));
	assert_true(copa_registry_plain_http_allowed(&all, "anything.example"));
}

static void host_list_env(void **state)
{
	char **v = copa_registry_parse_host_list(" a.example:5000 ,, b.example ,");

	assert_string_equal(v[0], "a.example:5000");
	assert_string_equal(v[1], "b.example");
	assert_null(v[2]);
	copa_strv_free(v);
	v = copa_registry_parse_host_list(NULL);
	assert_null(v[0]);
	copa_strv_free(v);
	v = copa_registry_parse_host_list("");
	assert_null(v[0]);
	copa_strv_free(v);
}

static void upload_locations(void **state)
{
	static const char *const t[][4] = {
	    /* base, location, digest, result */
	    {"http://r:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u1?_state=xyz", "sha256:ab",
	     "http://r:5000/v2/a/blobs/uploads/u1?_state=xyz&digest=sha256%3Aab"},
	    {"http://r:5000/v2/a/blobs/uploads/", "http://r:5000/v2/a/blobs/uploads/u1",
	     "sha256:ab", "http://r:5000/v2/a/blobs/uploads/u1?digest=sha256%3Aab"},
	    {"https://r/v2/a/blobs/uploads/", "https://upload.example/s3?sig=1&x=2", "sha256:ab",
	     "https://upload.example/s3?sig=1&x=2&digest=sha256%3Aab"},
	    {"http://r:5000/v2/a/blobs/uploads/", "u2?_state=1", NULL,
	     "http://r:5000/v2/a/blobs/uploads/u2?_state=1"},
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(t); i++) {
		char *u = copa_registry_upload_url(t[i][0], t[i][1], t[i][2]);

		assert_non_null(u);
		assert_string_equal(u, t[i][3]);
		free(u);
	}
}

static void error_bodies(void **state)
{
	char out[128];
	const char *j = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
	                "unknown\",\"detail\":{\"Tag\":\"x\"}},{\"code\":\"DENIED\"}]}";
	const char *ctl = "{\"errors\":[{\"code\":\"X\",\"message\":\"a\\u0007b\\nc\"}]}";

	copa_registry_error_text(j, strlen(j), out, sizeof(out));
	assert_string_equal(out, "MANIFEST_UNKNOWN: manifest unknown; DENIED");
	copa_registry_error_text("{\"message\":\"rate limited\"}", 26, out, sizeof(out));
	assert_string_equal(out, "rate limited");
	copa_registry_error_text("<html>\nbad gateway", 18, out, sizeof(out));
	assert_string_equal(out, "<html>");
	copa_registry_error_text(ctl, strlen(ctl), out, sizeof(out));
	assert_string_equal(out, "X: a b c");
	copa_registry_error_text("{\"errors\":", 10, out, sizeof(out));
	assert_string_equal(out, "{\"errors\":");
	copa_registry_error_text(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
	copa_registry_error_text(j, strlen(j), out, 8);
	assert_string_equal(out, "MANIFES");
}

static void new_validates(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_http_opts ho = {0};
	struct copa_http *h = copa_http_new(&ho, &err);
	struct copa_registry_opts o = {.http = h};
	struct copa_registry *r;

	assert_non_null(h);
	r = copa_registry_new(&o, "docker.io", "nginx", &err);
	assert_non_null(r);
	assert_string_equal(copa_registry_repo(r), "library/nginx");
	assert_string_equal(copa_registry_host(r), "docker.io");
	copa_registry_free(r);
	r = copa_registry_new(&o, "localhost:5000", "nginx", &err);
	assert_string_equal(copa_registry_repo(r), "nginx");
	copa_registry_free(r);
	assert_null(copa_registry_new(&o, "bad/host", "x", &err));
	assert_int_equal(err.code, COPA_E_INPUT);
	assert_null(copa_registry_new(&o, "localhost", "Bad", &err));
	assert_non_null(strstr(err.msg, "invalid repository name 'Bad'"));
	o.username = "u";
	assert_null(copa_registry_new(&o, "localhost", "x", &err));
	assert_int_equal(err.code, COPA_E_USAGE);
	copa_http_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(repo_names),    cmocka_unit_test(tags),
	    cmocka_unit_test(hosts),         cmocka_unit_test(plain_http_policy),
	    cmocka_unit_test(host_list_env), cmocka_unit_test(upload_locations),
	    cmocka_unit_test(error_bodies),  cmocka_unit_test(new_validates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

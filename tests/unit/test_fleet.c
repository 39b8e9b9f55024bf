/*
 * test_fleet.c: the bulk configuration (src/fleet/config.h) and the work
 * list (src/fleet/work.h): the example file, errors that name the
 * file, line and key, tag templates, the three strategies with exclude and
 * maxTags, target references, and shards that cover the list exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fleet/config.h"
#include "fleet/work.h"
#include "testutil.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static const char example[] = "apiVersion: copa.sh/v1alpha1\n"
                              "kind: PatchConfig\n"
                              "target:\n"
                              "  registry: registry.example.com/patched\n"
                              "  tag: \"{{ .SourceTag }}-patched\"\n"
                              "images:\n"
                              "  - name: nginx\n"
                              "    image: docker.io/library/nginx\n"
                              "    tags:\n"
                              "      strategy: pattern\n"
                              "      pattern: '^1\\.2[5-7]\\.[0-9]+$'\n"
                              "      maxTags: 3\n"
                              "      exclude: [\"1.25.0\"]\n"
                              "    platforms: [linux/amd64, linux/arm64]\n"
                              "    target: {tag: \"{{ .SourceTag }}-fixed\"}\n"
                              "  - image: example.test/base/debian\n"
                              "    tags: {strategy: list, list: [\"12.4-slim\", \"12.5\", "
                              "\"12.4-slim\"]}\n"
                              "  - image: example.test/alpine\n"
                              "    tags: {strategy: latest, exclude: [\"3.21\"]}\n";

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void parses_the_example(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_fleet_config c;

	(void)state;
	assert_ok(copa_fleet_config_parse(&c, "fleet.yaml", example, strlen(example), &err));
	assert_int_equal(c.nimages, 3);
	assert_string_equal(c.target.registry, "registry.example.com/patched");
	assert_string_equal(c.images[0].name, "nginx");
	assert_int_equal(c.images[0].line, 7);
	assert_int_equal(c.images[0].tags.strategy, COPA_FLEET_PATTERN);
	assert_int_equal(c.images[0].tags.max_tags, 3);
	assert_int_equal(c.images[0].tags.nexclude, 1);
	assert_int_equal(c.images[0].nplatforms, 2);
	assert_string_equal(c.images[0].platforms[1], "linux/arm64");
	assert_string_equal(c.images[0].target.tag, "{{ .SourceTag }}-fixed");
	assert_null(c.images[0].target.registry);
	assert_string_equal(c.images[1].name, "example.test/base/debian");
	assert_int_equal(c.images[1].tags.strategy, COPA_FLEET_LIST);
	assert_int_equal(c.images[2].tags.strategy, COPA_FLEET_LATEST);
	copa_fleet_config_release(&c);
}

static void errors_name_file_line_and_key(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x\n"
	     "    tags: {strategy: list, list: [a]}\n    colour: blue\n",
	     "f.yaml:6: colour: unknown key in images"},
	    {"apiVersion: copa.sh/v1alpha2\nkind: PatchConfig\n",
	     "f.yaml:1: apiVersion: 'copa.sh/v1alpha2' is not supported"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: Patch\n", "f.yaml:2: kind: 'Patch'"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\n", "f.yaml:1: images: missing"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x\n"
	     "    tags:\n      strategy: pattern\n      pattern: '(['\n",
	     "f.yaml:7: pattern: '([' is not a POSIX extended regular expression"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x\n"
	     "    tags: {strategy: pattern, pattern: a, maxTags: \"3\"}\n",
	     "f.yaml:5: maxTags: expected a number, found a quoted string"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x\n"
	     "    tags: {strategy: newest}\n",
	     "f.yaml:5: strategy: unknown strategy 'newest'"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x\n"
	     "    tags: {strategy: list}\n",
	     "f.yaml:5: tags: strategy 'list' needs a non-empty 'list'"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: x:1.0\n"
	     "    tags: {strategy: list, list: [a]}\n",
	     "f.yaml:4: image: 'x:1.0' must be a repository without tag"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\ntarget:\n  tag: '{{ .Tag }}'\n",
	     "f.yaml:4: tag: tag template '{{ .Tag }}': unknown variable '.Tag'"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - &a {image: x}\n"
	     "  - *a\n",
	     "f.yaml:5: YAML aliases"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages: [\n",
	     "f.yaml:4: not valid YAML"},
	    {"apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages: {}\n",
	     "f.yaml:3: images: expected a list, found a mapping"},
	    {"", "f.yaml: empty file"},
	};

	(void)state;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(cases); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_fleet_config c;

		assert_int_equal(copa_fleet_config_parse(&c, "f.yaml", cases[i].text,
		                                         strlen(cases[i].text), &err),
		                 -1);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: '%s' does not contain '%s'", i, err.msg, cases[i].want);
		assert_int_equal(c.nimages, 0);
	}
}

static void templates(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	char *t;

	(void)state;
	t = copa_fleet_expand_tag("{{ .SourceTag }}-patched", "1.25.3", &err);
	assert_string_equal(t, "1.25.3-patched");
	free(t);
	t = copa_fleet_expand_tag("fixed-{{.SourceTag}}", "v2", &err);
	assert_string_equal(t, "fixed-v2");
	free(t);
	t = copa_fleet_expand_tag("static", "v2", &err);
	assert_string_equal(t, "static");
	free(t);
	assert_null(copa_fleet_expand_tag("{{ .SourceTag ", "1", &err));
	assert_null(copa_fleet_expand_tag("{{ .SourceTag }}/x", "1", &err));
	assert_non_null(strstr(err.msg, "not a valid tag"));
	assert_null(copa_fleet_expand_tag("-{{ .SourceTag }}", "1", &err));
}

static void versions(void **state)
{
	unsigned long v[4];

	(void)state;
	assert_true(copa_fleet_tag_version("1.25.3", v));
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 25);
	assert_int_equal(v[2], 3);
	assert_true(copa_fleet_tag_version("v12", v));
	assert_int_equal(v[0], 12);
	assert_false(copa_fleet_tag_version("12.4-slim", v));
	assert_false(copa_fleet_tag_version("latest", v));
	assert_false(copa_fleet_tag_version("1..2", v));
	assert_false(copa_fleet_tag_version("1.2.3.4.5", v));
	assert_false(copa_fleet_tag_version("1234567890", v));
	assert_true(copa_fleet_tag_cmp("1.9", "1.10") < 0);
	assert_true(copa_fleet_tag_cmp("1.10", "1.10.0") < 0); /* equal versions: by text */
	assert_true(copa_fleet_tag_cmp("2", "latest") < 0);
}

static void strategies(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_fleet_config c;
	static char *const avail[] = {"1.24.9", "1.25.0", "1.25.1", "1.26.10",
	                              "1.26.2", "1.27.0", "1.28.0", "1.27.0-alpine",
	                              "latest", "3.20",   "3.21",   "3.19.4"};
	size_t n;
	char **t;

	(void)state;
	assert_ok(copa_fleet_config_parse(&c, "fleet.yaml", example, strlen(example), &err));
	/* pattern 1.2[5-7].x, minus 1.25.0, the highest three by version */
	t = copa_fleet_select_tags(&c.images[0], avail, COPA_ARRAY_SIZE(avail), &n, &err);
	assert_non_null(t);
	assert_int_equal(n, 3);
	assert_string_equal(t[0], "1.26.2");
	assert_string_equal(t[1], "1.26.10");
	assert_string_equal(t[2], "1.27.0");
	assert_null(t[3]);
	free_strv(t, n);
	/* list: as given, without duplicates, never looking at the registry */
	t = copa_fleet_select_tags(&c.images[1], NULL, 0, &n, &err);
	assert_int_equal(n, 2);
	assert_string_equal(t[0], "12.4-slim");
	assert_string_equal(t[1], "12.5");
	free_strv(t, n);
	/* latest: the highest version-like tag that is not excluded */
	t = copa_fleet_select_tags(&c.images[2], avail, COPA_ARRAY_SIZE(avail), &n, &err);
	assert_int_equal(n, 1);
	assert_string_equal(t[0], "3.20");
	free_strv(t, n);
	/* nothing matches: an error naming the image */
	assert_null(copa_fleet_select_tags(&c.images[0], avail, 2, &n, &err));
	assert_int_equal(err.code, COPA_E_NOTFOUND);
	assert_non_null(strstr(err.msg, "nginx"));
	copa_fleet_config_release(&c);
}

static void jobs_and_shards(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_fleet_config c;
	struct copa_fleet_jobs all = {0};
	static char *const tags[] = {"1.0", "1.1", "1.2", "2.0", "2.1", "3.0", "3.1"};
	unsigned seen[64] = {0};

	(void)state;
	assert_ok(copa_fleet_config_parse(&c, "fleet.yaml", example, strlen(example), &err));
	assert_ok(copa_fleet_jobs_add(&all, &c, 0, tags, 7, &err));
	assert_ok(copa_fleet_jobs_add(&all, &c, 1, tags, 3, &err));
	assert_ok(copa_fleet_jobs_add(&all, &c, 1, tags, 3, &err)); /* duplicates dropped */
	assert_ok(copa_fleet_jobs_finish(&all, &err));
	assert_int_equal(all.n, 10);
	/* sorted by source; per-image tag template and target registry + last component */
	assert_string_equal(all.v[0].source, "docker.io/library/nginx:1.0");
	assert_string_equal(all.v[0].target, "registry.example.com/patched/nginx:1.0-fixed");
	assert_string_equal(all.v[7].source, "example.test/base/debian:1.0");
	assert_string_equal(all.v[7].target, "registry.example.com/patched/debian:1.0-patched");
	/* every shard of 1..5 takes a disjoint part, together exactly the list */
	for (unsigned count = 1; count <= 5; count++) {
		memset(seen, 0, sizeof(seen));
		for (unsigned idx = 0; idx < count; idx++) {
			struct copa_fleet_jobs part = {0};

			for (size_t i = 0; i < c.nimages && i < 2; i++)
				assert_ok(copa_fleet_jobs_add(&part, &c, i, tags, i ? 3 : 7, &err));
			assert_ok(copa_fleet_jobs_finish(&part, &err));
			copa_fleet_jobs_shard(&part, idx, count);
			for (size_t k = 0; k < part.n; k++)
				for (size_t a = 0; a < all.n; a++)
					if (!strcmp(part.v[k].target, all.v[a].target))
						seen[a]++;
			copa_fleet_jobs_release(&part);
		}
		for (size_t a = 0; a < all.n; a++)
			assert_int_equal(seen[a], 1);
	}
	copa_fleet_jobs_release(&all);
	copa_fleet_config_release(&c);
}

static void same_target_refused(void **state)
{
	static const char text[] = "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\n"
	                           "target: {registry: r.test/p, tag: fixed}\n"
	                           "images:\n  - image: a.test/x/app\n"
	                           "    tags: {strategy: list, list: [\"1\", \"2\"]}\n";
	struct copa_err err = COPA_ERR_INIT;
	struct copa_fleet_config c;
	struct copa_fleet_jobs j = {0};
	static char *const tags[] = {"1", "2"};

	(void)state;
	assert_ok(copa_fleet_config_parse(&c, "f.yaml", text, strlen(text), &err));
	assert_ok(copa_fleet_jobs_add(&j, &c, 0, tags, 2, &err));
	assert_int_equal(copa_fleet_jobs_finish(&j, &err), -1);
	assert_non_null(strstr(err.msg, "'r.test/p/app:fixed'"));
	copa_fleet_jobs_release(&j);
	copa_fleet_config_release(&c);
}

static void shard_values(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	unsigned i, n;

	(void)state;
	assert_ok(copa_fleet_shard_parse("2/5", NULL, &i, &n, &err));
	assert_int_equal(i, 2);
	assert_int_equal(n, 5);
	assert_ok(copa_fleet_shard_parse("auto/4", "3", &i, &n, &err));
	assert_int_equal(i, 3);
	assert_int_equal(copa_fleet_shard_parse("auto/4", NULL, &i, &n, &err), -1);
	assert_non_null(strstr(err.msg, "JOB_COMPLETION_INDEX"));
	assert_int_equal(copa_fleet_shard_parse("4/4", NULL, &i, &n, &err), -1);
	assert_int_equal(err.code, COPA_E_USAGE);
	assert_int_equal(copa_fleet_shard_parse("1/0", NULL, &i, &n, &err), -1);
	assert_int_equal(copa_fleet_shard_parse("x/2", NULL, &i, &n, &err), -1);
	assert_int_equal(copa_fleet_shard_parse("auto/2", "-1", &i, &n, &err), -1);
	assert_int_equal(copa_fleet_shard_parse("3", NULL, &i, &n, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_the_example),  cmocka_unit_test(errors_name_file_line_and_key),
	    cmocka_unit_test(templates),           cmocka_unit_test(versions),
	    cmocka_unit_test(strategies),          cmocka_unit_test(jobs_and_shards),
	    cmocka_unit_test(same_target_refused), cmocka_unit_test(shard_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the image model (src/image/oci.c): parsing, caps, platforms, rebuilding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "image/oci.h"
#include "testutil.h"
#include "util/json.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char manifest_oci[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D1
    "\",\"size\":7},"
    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2
    "\",\"size\":10,\"annotations\":{\"z\":\"1\",\"a\":\"2\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\","
    "\"digest\":\"" D3 "\",\"size\":5,\"urls\":[\"https://example.com/x\"]}],"
    "\"annotations\":{\"k\":\"v\"}}";

static void test_manifest_parse(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_manifest m;
	char digest[COPA_DIGEST_MAX];

	assert_ok(copa_manifest_parse(manifest_oci, strlen(manifest_oci), NULL, "m", &m, &err));
	assert_string_equal(m.media_type, COPA_MT_OCI_MANIFEST);
	assert_int_equal(m.family, COPA_FAMILY_OCI);
	assert_int_equal(m.n_layers, 2);
	assert_int_equal(m.layers[0].mt.compression, COPA_MT_GZIP);
	assert_false(m.layers[0].mt.foreign);
	assert_true(m.layers[1].mt.foreign);
	assert_string_equal(m.config.digest, D1);
	copa_sha256_digest(manifest_oci, strlen(manifest_oci), digest);
	assert_string_equal(m.digest, digest);
	assert_int_equal(m.raw.len, strlen(manifest_oci));
	assert_memory_equal(m.raw.p, manifest_oci, m.raw.len);
	copa_manifest_release(&m);
}

/* Each malformed document must fail with a message naming the problem. */
static const struct {
	const char *doc;
	const char *mt;
	const char *msg;
} bad_manifests[] = {
    {"", NULL, "m"},
    {"[]", NULL, "not a JSON object"},
    {"{\"schemaVersion\":1}", NULL, "schema 1"},
    {"{\"schemaVersion\":3,\"config\":{},\"layers\":[]}", NULL, "schemaVersion 3"},
    {"{\"schemaVersion\":2,\"layers\":[]}", NULL, "missing 'config'"},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1}}",
     NULL, "'layers'"},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:../../etc\","
     "\"size\":1},\"layers\":[]}",
     NULL, "invalid digest"},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
     "\",\"size\":-1},\"layers\":[]}",
     NULL, "size"},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
     "\",\"size\":1},\"layers\":[7]}",
     NULL, "layers[0]"},
    {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
     "\"manifests\":[]}",
     NULL, "is not an image manifest"},
    {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
     "\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
     COPA_MT_DOCKER_MANIFEST, "does not match"},
    {"{\"schemaVersion\":2,\"schemaVersion\":2}", NULL, "m"},
};

static void test_manifest_bad(void **state)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad_manifests); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_manifest m;

		if (copa_manifest_parse(bad_manifests[i].doc, strlen(bad_manifests[i].doc),
		                        bad_manifests[i].mt, "m", &m, &err) == 0)
			fail_msg("case %zu parsed but must fail", i);
		if (!strstr(err.msg, bad_manifests[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad_manifests[i].msg);
	}
}

static void test_caps(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_manifest m;
	struct copa_index ix;

	/* 1001 layers */
	copa_buf_adds(&b, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	                  "\",\"size\":1},\"layers\":[");
	for (int i = 0; i <= COPA_OCI_MAX_LAYERS; i++)
		copa_buf_addf(&b, "%s{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":1}",
		              i ? "," : "");
	copa_buf_adds(&b, "]}");
	assert_int_equal(copa_manifest_parse(b.p, b.len, NULL, "m", &m, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	/* 1001 index entries */
	copa_buf_reset(&b);
	copa_buf_adds(&b, "{\"schemaVersion\":2,\"manifests\":[");
	for (int i = 0; i <= COPA_OCI_MAX_INDEX_ENTRIES; i++)
		copa_buf_addf(&b, "%s{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":1}",
		              i ? "," : "");
	copa_buf_adds(&b, "]}");
	assert_int_equal(copa_index_parse(b.p, b.len, NULL, "i", &ix, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	/* a document over 4 MiB */
	copa_buf_reset(&b);
	copa_buf_adds(&b, "{\"schemaVersion\":2,\"x\":\"");
	while (b.len <= COPA_OCI_MAX_MANIFEST)
		copa_buf_adds(&b,
		              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	copa_buf_adds(&b, "\"}");
	assert_int_equal(copa_manifest_parse(b.p, b.len, NULL, "m", &m, &err), -1);
	assert_int_equal(err.code, COPA_E_LIMIT);
	copa_buf_release(&b);
}

static const char index_doc[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D1
    "\",\"size\":100,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2
    "\",\"size\":200,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":"
    "\"v8\"},\"annotations\":{\"q\":\"r\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D3
    "\",\"size\":300,\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},"
    "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}}],"
    "\"annotations\":{\"top\":\"1\"}}";

static void test_index_parse_and_build(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_index ix;
	struct copa_desc nd;
	const struct copa_desc *repl[3] = {NULL, NULL, NULL};
	struct copa_buf out = COPA_BUF_INIT;
	json_t *j;
	struct copa_buf e0 = COPA_BUF_INIT, e1 = COPA_BUF_INIT;

	assert_ok(
	    copa_index_parse(index_doc, strlen(index_doc), COPA_MT_OCI_INDEX, "i", &ix, &err));
	assert_int_equal(ix.n_manifests, 3);
	assert_false(ix.manifests[0].attestation);
	assert_true(ix.manifests[2].attestation);
	assert_string_equal(ix.manifests[1].platform.variant, "v8");
	/* Replace the amd64 entry; the arm64 entry must come out field for field. */
	copa_desc_make(&nd, COPA_MT_OCI_MANIFEST,
	               "sha256:4444444444444444444444444444444444444444444444444444444444444444",
	               42, NULL);
	repl[0] = &nd;
	assert_ok(copa_index_build(&ix, repl, &out, &err));
	j = copa_json_parse(out.p, out.len, 1 << 20, "out", &err);
	assert_non_null(j);
	assert_ok(copa_json_dump(json_array_get(json_object_get(j, "manifests"), 1), 0, &e0, &err));
	assert_ok(copa_json_dump(ix.manifests[1].json, 0, &e1, &err));
	assert_string_equal(e0.p, e1.p);
	/* Serialised compactly, the untouched entry appears verbatim in the output. */
	assert_non_null(strstr(out.p, e1.p));
	assert_non_null(
	    strstr(out.p, "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}"));
	assert_string_equal(copa_json_str(json_object_get(j, "annotations"), "top"), "1");
	assert_string_equal(
	    copa_json_str(json_array_get(json_object_get(j, "manifests"), 0), "digest"),
	    "sha256:4444444444444444444444444444444444444444444444444444444444444444");
	/* The original bytes are untouched. */
	assert_memory_equal(ix.raw.p, index_doc, ix.raw.len);
	json_decref(j);
	copa_buf_release(&out);
	copa_buf_release(&e0);
	copa_buf_release(&e1);
	copa_desc_release(&nd);
	copa_index_release(&ix);
}

static const char config_doc[] =
    "{\"created\":\"2024-01-01T00:00:00Z\",\"architecture\":\"arm\",\"variant\":\"v7\","
    "\"os\":\"linux\",\"zzz_unknown\":{\"keep\":[1,2]},\"config\":{\"Env\":[\"A=1\"]},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
    "\"history\":[{\"created_by\":\"a\"},{\"created_by\":\"b\",\"empty_layer\":true},"
    "{\"created_by\":\"c\"}]}";

static void test_config_edit(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_config c;
	struct copa_manifest m;
	const char *unk, *rootfs, *hist;

	assert_ok(copa_config_parse(config_doc, strlen(config_doc), "c", &c, &err));
	assert_string_equal(c.platform.arch, "arm");
	assert_string_equal(c.platform.variant, "v7");
	assert_int_equal(c.n_diff_ids, 2);
	assert_ok(copa_manifest_parse(manifest_oci, strlen(manifest_oci), NULL, "m", &m, &err));
	assert_ok(copa_image_check(&m, &c, &err));
	assert_ok(
	    copa_config_append_layer(&c, D3, "2025-01-01T00:00:00Z", "copa patch", NULL, &err));
	assert_int_equal(c.n_diff_ids, 3);
	assert_string_equal(c.diff_ids[2], D3);
	assert_ok(copa_config_serialize(&c, &err));
	/* unknown members kept, key order kept */
	unk = strstr(c.raw.p, "\"zzz_unknown\":{\"keep\":[1,2]}");
	rootfs = strstr(c.raw.p, "\"rootfs\"");
	hist = strstr(c.raw.p, "\"history\"");
	assert_non_null(unk);
	assert_true(unk < rootfs && rootfs < hist);
	assert_non_null(strstr(c.raw.p, "\"created_by\":\"copa patch\""));
	/* now the manifest (2 layers) and config (3) disagree */
	assert_int_equal(copa_image_check(&m, &c, &err), -1);
	assert_non_null(strstr(err.msg, "diff_ids"));
	copa_manifest_release(&m);
	copa_config_release(&c);
}

static void test_config_bad(void **state)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"os\":\"linux\",\"architecture\":\"amd64\"}",
	    "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"x\","
	    "\"diff_ids\":[]}}",
	    "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[\"nope\"]}}",
	    "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[]},\"history\":{}}",
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(bad); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_config c;

		if (copa_config_parse(bad[i], strlen(bad[i]), "c", &c, &err) == 0)
			fail_msg("config %zu parsed but must fail", i);
		assert_int_equal(err.code, COPA_E_INPUT);
	}
}

/* The patch pipeline's edits: the previous patch layer dropped, annotations set, orig untouched. */
static void test_manifest_build_edit(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_manifest m, m2;
	struct copa_desc cfg, extra;
	struct copa_buf out = COPA_BUF_INIT;
	const char *ann[] = {"k", "w", "new", "x", NULL};
	struct copa_manifest_edit edit = {.drop_last = 1, .annotations = ann};

	assert_ok(copa_manifest_parse(manifest_oci, strlen(manifest_oci), NULL, "m", &m, &err));
	copa_desc_make(&cfg, COPA_MT_OCI_CONFIG, D3, 9, NULL);
	copa_desc_make(&extra, copa_mt_layer(m.family, COPA_MT_GZIP), D1, 11, NULL);
	assert_ok(copa_manifest_build_edit(&m, &cfg, &extra, 1, &edit, &out, &err));
	assert_ok(copa_manifest_parse(out.p, out.len, NULL, "m2", &m2, &err));
	assert_int_equal(m2.n_layers, 2);
	assert_string_equal(m2.layers[0].digest, D2);
	assert_string_equal(m2.layers[1].digest, D1);
	assert_non_null(strstr(out.p, "\"annotations\":{\"k\":\"w\",\"new\":\"x\"}"));
	/* The original manifest's JSON is as it was read. */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(m.json, "annotations"), "k")), "v");
	assert_null(json_object_get(json_object_get(m.json, "annotations"), "new"));
	edit.drop_last = 3;
	assert_int_equal(copa_manifest_build_edit(&m, &cfg, &extra, 1, &edit, &out, &err), -1);
	copa_buf_release(&out);
	copa_desc_release(&cfg);
	copa_desc_release(&extra);
	copa_manifest_release(&m2);
	copa_manifest_release(&m);
}

static void test_manifest_build_and_convert(void **state)
{
	struct copa_err err = COPA_ERR_INIT;
	struct copa_manifest m, m2, m3;
	struct copa_desc cfg, extra;
	struct copa_buf out = COPA_BUF_INIT;

	assert_ok(copa_manifest_parse(manifest_oci, strlen(manifest_oci), NULL, "m", &m, &err));
	copa_desc_make(&cfg, COPA_MT_OCI_CONFIG, D3, 9, NULL);
	copa_desc_make(&extra, copa_mt_layer(m.family, COPA_MT_ZSTD), D1, 11, NULL);
	assert_ok(copa_manifest_build(&m, &cfg, &extra, 1, &out, &err));
	assert_ok(copa_manifest_parse(out.p, out.len, NULL, "m2", &m2, &err));
	assert_int_equal(m2.n_layers, 3);
	assert_string_equal(m2.config.digest, D3);
	assert_string_equal(m2.layers[2].media_type, COPA_MT_OCI_LAYER_ZSTD);
	assert_non_null(strstr(out.p, "\"annotations\":{\"z\":\"1\",\"a\":\"2\"}"));
	assert_non_null(strstr(out.p, "\"annotations\":{\"k\":\"v\"}"));
	/* Docker -> OCI conversion maps media types and keeps digests. */
	{
		static const char docker[] =
		    "{\"schemaVersion\":2,\"mediaType\":"
		    "\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{"
		    "\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":"
		    "7,\"digest\":\"" D1 "\"},\"layers\":[{\"mediaType\":"
		    "\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":10,"
		    "\"digest\":\"" D2 "\"},{\"mediaType\":"
		    "\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"size\":5,"
		    "\"digest\":\"" D3 "\",\"urls\":[\"https://x/y\"]}]}";
		struct copa_manifest dm;

		assert_ok(copa_manifest_parse(docker, strlen(docker), COPA_MT_DOCKER_MANIFEST, "d",
		                              &dm, &err));
		assert_int_equal(dm.family, COPA_FAMILY_DOCKER);
		assert_ok(copa_manifest_to_oci(&dm, &out, &err));
		assert_ok(copa_manifest_parse(out.p, out.len, NULL, "o", &m3, &err));
		assert_string_equal(m3.media_type, COPA_MT_OCI_MANIFEST);
		assert_string_equal(m3.config.media_type, COPA_MT_OCI_CONFIG);
		assert_string_equal(m3.layers[0].media_type, COPA_MT_OCI_LAYER_GZIP);
		assert_string_equal(m3.layers[0].digest, D2);
		assert_true(m3.layers[1].mt.foreign);
		assert_non_null(strstr(out.p, "\"urls\":[\"https://x/y\"]"));
		copa_manifest_release(&m3);
		copa_manifest_release(&dm);
	}
	copa_buf_release(&out);
	copa_desc_release(&cfg);
	copa_desc_release(&extra);
	copa_manifest_release(&m2);
	copa_manifest_release(&m);
}

static const struct {
	const char *want, *have;
	bool match;
} platforms[] = {
    {"linux/arm64", "linux/arm64/v8", true}, {"linux/arm64/v8", "linux/arm64", true},
    {"linux/aarch64", "linux/arm64", true},  {"linux/amd64", "linux/x86_64", true},
    {"amd64", "linux/amd64", true},          {"linux/arm", "linux/arm/v7", true},
    {"linux/arm/v6", "linux/arm/v7", false}, {"linux/arm/v7", "linux/arm", true},
    {"linux/amd64", "linux/arm64", false},   {"windows/amd64", "linux/amd64", false},
    {"linux/arm64", "linux/arm/v8", false},
};

static void test_platforms(void **state)
{
	char buf[256];

	for (size_t i = 0; i < COPA_ARRAY_SIZE(platforms); i++) {
		struct copa_err err = COPA_ERR_INIT;
		struct copa_platform w, h;

		assert_ok(copa_platform_parse(platforms[i].want, &w, &err));
		assert_ok(copa_platform_parse(platforms[i].have, &h, &err));
		if (copa_platform_match(&w, &h) != platforms[i].match)
			fail_msg("%s vs %s", platforms[i].want, platforms[i].have);
	}
	{
		struct copa_err err = COPA_ERR_INIT;
		struct copa_platform p;

		assert_ok(copa_platform_parse("linux/arm64/v8", &p, &err));
		assert_string_equal(copa_platform_str(&p, buf, sizeof(buf)), "linux/arm64");
		assert_int_equal(copa_platform_parse("linux/", &p, &err), -1);
		assert_int_equal(copa_platform_parse("a/b/c/d", &p, &err), -1);
		assert_int_equal(copa_platform_parse("linux/a b", &p, &err), -1);
		assert_int_equal(err.code, COPA_E_USAGE);
		copa_platform_host(&p);
		assert_string_equal(p.os, "linux");
		assert_true(p.arch[0] != '\0');
	}
}

static void test_media_types(void **state)
{
	struct copa_mt_info i =
	    copa_mt_classify("application/vnd.docker.image.rootfs.diff.tar.zstd");

	assert_int_equal(i.kind, COPA_MT_LAYER);
	assert_int_equal(i.family, COPA_FAMILY_DOCKER);
	assert_int_equal(i.compression, COPA_MT_ZSTD);
	i = copa_mt_classify("application/vnd.oci.image.index.v1+json; charset=utf-8");
	assert_int_equal(i.kind, COPA_MT_INDEX);
	assert_int_equal(copa_mt_classify("application/vnd.in-toto+json").kind, COPA_MT_OTHER);
	assert_int_equal(copa_mt_classify(NULL).kind, COPA_MT_OTHER);
	assert_string_equal(copa_mt_layer(COPA_FAMILY_OCI, COPA_MT_TAR), COPA_MT_OCI_LAYER);
	assert_string_equal(copa_mt_config(COPA_FAMILY_DOCKER), COPA_MT_DOCKER_CONFIG);
	assert_string_equal(copa_mt_index(COPA_FAMILY_DOCKER), COPA_MT_DOCKER_LIST);
}

static void test_sniff(void **state)
{
	struct copa_err err = COPA_ERR_INIT;

	assert_int_equal(copa_oci_sniff(index_doc, strlen(index_doc), NULL, "x", &err),
	                 COPA_MT_INDEX);
	assert_int_equal(copa_oci_sniff(manifest_oci, strlen(manifest_oci), NULL, "x", &err),
	                 COPA_MT_MANIFEST);
	assert_int_equal(
	    copa_oci_sniff("{\"schemaVersion\":2,\"manifests\":[]}", 34, NULL, "x", &err),
	    COPA_MT_INDEX);
	assert_int_equal(copa_oci_sniff("{\"schemaVersion\":2}", 19, NULL, "x", &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest_parse),
	    cmocka_unit_test(test_manifest_bad),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_index_parse_and_build),
	    cmocka_unit_test(test_config_edit),
	    cmocka_unit_test(test_config_bad),
	    cmocka_unit_test(test_manifest_build_and_convert),
	    cmocka_unit_test(test_manifest_build_edit),
	    cmocka_unit_test(test_platforms),
	    cmocka_unit_test(test_media_types),
	    cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

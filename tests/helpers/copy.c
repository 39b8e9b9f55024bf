/*
 * copa-copy: a test and benchmark helper around the image module.
 *
 *   copa-copy SRC DST [--platform P] [--cache-dir D] [--jobs N]
 *       copies an image between transports (registry, oci:, oci-archive:,
 *       docker-archive:), as `skopeo copy` does.
 *   copa-copy --describe SRC [--platform P] [--cache-dir D]
 *       prints JSON: the root, the platforms, and the selected image's
 *       manifest, config and layer blobs as local verified files.
 *
 * Errors: one line "copa-copy: error: ..." on stderr, exit 1 (2 for usage).
 */
#include "util/cache.h"
#include "image/image.h"
#include "util/http.h"
#include "util/json.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr, "usage: copa-copy SRC DST [--platform P] [--cache-dir D] [--jobs N]\n"
	                "       copa-copy --describe SRC [--platform P] [--cache-dir D]\n");
	return 2;
}

static int fail(const struct copa_err *err)
{
	fprintf(stderr, "copa-copy: error: %s\n", err->msg);
	return copa_err_exit_code(err);
}

static json_t *desc_json(const struct copa_desc *d)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type, "digest", d->digest, "size",
	                 (json_int_t)d->size);
}

static int describe(struct copa_image_src *src, const struct copa_platform *want,
                    struct copa_err *err)
{
	const struct copa_image_root *root = copa_image_src_root(src);
	struct copa_image_platform *plats;
	size_t n;
	struct copa_image img;
	struct copa_image_layers layers;
	json_t *out, *pl, *ls;
	struct copa_buf b = COPA_BUF_INIT;
	char buf[256];

	if (copa_image_src_platforms(src, &plats, &n, err) < 0)
		return -1;
	if (copa_image_src_load(src, want, &img, err) < 0) {
		copa_image_platforms_free(plats, n);
		return -1;
	}
	if (copa_image_src_layer_blobs(src, &img, &layers, err) < 0) {
		copa_image_platforms_free(plats, n);
		copa_image_release(&img);
		return -1;
	}
	out = json_object();
	pl = json_array();
	ls = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    pl, json_string(copa_platform_str(&plats[i].platform, buf, sizeof(buf))));
	copa_image_platforms_free(plats, n);
	for (size_t i = 0; i < layers.n; i++)
		json_array_append_new(
		    ls, json_pack("{s:s, s:s, s:I, s:s, s:s?}", "digest", layers.v[i].digest,
		                  "mediaType", layers.v[i].media_type, "size",
		                  (json_int_t)layers.v[i].size, "path", layers.v[i].path, "diff_id",
		                  layers.v[i].diff_id));
	json_object_set_new(out, "root", desc_json(&root->desc));
	json_object_set_new(out, "platforms", pl);
	json_object_set_new(out, "platform",
	                    json_string(copa_platform_str(&img.platform, buf, sizeof(buf))));
	json_object_set_new(out, "manifest", desc_json(&img.desc));
	json_object_set_new(out, "config", desc_json(&img.manifest.config));
	json_object_set_new(out, "layers", ls);
	copa_json_dump(out, 2, &b, err);
	printf("%s\n", copa_buf_str(&b));
	copa_buf_release(&b);
	json_decref(out);
	copa_image_layers_release(&layers);
	copa_image_release(&img);
	return 0;
}

int main(int argc, char **argv)
{
	struct copa_err err = COPA_ERR_INIT;
	const char *pos[2] = {NULL, NULL};
	const char *platform = NULL, *cache_dir = NULL;
	bool describe_mode = false;
	unsigned jobs = 0;
	size_t npos = 0;
	struct copa_cache cache = {.dirfd = -1};
	struct copa_http_opts hopts = {0};
	struct copa_http *http;
	struct copa_image_ref sref, dref;
	struct copa_image_opts opts = {0};
	struct copa_platform plat;
	struct copa_image_src *src;
	struct copa_image_dst *dst = NULL;
	struct copa_copy_opts copts = {0};
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--platform") && i + 1 < argc)
			platform = argv[++i];
		else if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc)
			cache_dir = argv[++i];
		else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
			jobs = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--describe"))
			describe_mode = true;
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			return usage();
		else if (npos < 2)
			pos[npos++] = argv[i];
		else
			return usage();
	}
	if (npos != (describe_mode ? 1u : 2u))
		return usage();
	if (platform) {
		if (copa_platform_parse(platform, &plat, &err) < 0)
			return fail(&err);
		copts.platform = &plat;
	}
	if (copa_image_ref_parse(pos[0], &sref, &err) < 0)
		return fail(&err);
	if (!describe_mode && copa_image_ref_parse(pos[1], &dref, &err) < 0)
		return fail(&err);
	if (copa_cache_open(&cache, cache_dir, &err) < 0)
		return fail(&err);
	http = copa_http_new(&hopts, &err);
	if (!http)
		return fail(&err);
	opts.cache = &cache;
	opts.http = http;
	opts.jobs = jobs;
	src = copa_image_src_open(&sref, &opts, &err);
	if (!src) {
		rc = fail(&err);
		goto out;
	}
	if (describe_mode) {
		if (describe(src, copts.platform, &err) < 0)
			rc = fail(&err);
		goto out;
	}
	dst = copa_image_dst_open(&dref, &opts, &err);
	if (!dst || copa_image_copy(src, dst, &copts, &err) < 0)
		rc = fail(&err);
out:
	copa_image_dst_free(dst);
	copa_image_src_free(src);
	copa_image_ref_release(&sref);
	if (!describe_mode)
		copa_image_ref_release(&dref);
	copa_http_free(http);
	copa_cache_release(&cache);
	return rc;
}

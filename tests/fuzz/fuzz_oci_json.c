/*
 * Fuzz target: OCI/Docker manifest, index and config parsing plus the
 * rebuilders (src/image/oci.c). The first byte picks the media type hint.
 */
#include "image/oci.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hints[] = {NULL, COPA_MT_OCI_MANIFEST, COPA_MT_DOCKER_MANIFEST,
	                                    COPA_MT_OCI_INDEX, COPA_MT_DOCKER_LIST};
	struct copa_err err = COPA_ERR_INIT;
	const char *hint;
	struct copa_manifest m;
	struct copa_index ix;
	struct copa_config c;
	struct copa_buf out = COPA_BUF_INIT;

	if (size == 0)
		return 0;
	hint = hints[data[0] % 5];
	data++;
	size--;
	(void)copa_oci_sniff(data, size, hint, "fuzz", &err);
	if (copa_manifest_parse(data, size, hint, "fuzz", &m, &err) == 0) {
		struct copa_desc extra;

		copa_desc_make(&extra, COPA_MT_OCI_LAYER_GZIP, m.config.digest, 1, NULL);
		(void)copa_manifest_build(&m, &m.config, &extra, 1, &out, &err);
		(void)copa_manifest_to_oci(&m, &out, &err);
		copa_desc_release(&extra);
		copa_manifest_release(&m);
	}
	if (copa_index_parse(data, size, hint, "fuzz", &ix, &err) == 0) {
		const struct copa_desc *repl[COPA_OCI_MAX_INDEX_ENTRIES + 1] = {0};

		if (ix.n_manifests)
			repl[0] = &ix.manifests[ix.n_manifests - 1];
		(void)copa_index_build(&ix, repl, &out, &err);
		(void)copa_index_build_oci(&ix, NULL, &out, &err);
		for (size_t i = 0; i < ix.n_manifests; i++) {
			struct copa_platform p = ix.manifests[i].platform;

			copa_platform_normalize(&p);
		}
		copa_index_release(&ix);
	}
	if (copa_config_parse(data, size, "fuzz", &c, &err) == 0) {
		(void)copa_config_append_layer(
		    &c, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		    "t", "b", NULL, &err);
		(void)copa_config_serialize(&c, &err);
		copa_config_release(&c);
	}
	copa_buf_release(&out);
	return 0;
}

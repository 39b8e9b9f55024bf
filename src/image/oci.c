#include "image/oci.h"

#include "util/json.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

/* ---- media types ---- */

static const struct {
	const char *mt;
	struct copa_mt_info info;
} media_types[] = {
    {COPA_MT_OCI_INDEX, {COPA_MT_INDEX, COPA_FAMILY_OCI, COPA_MT_TAR, false}},
    {COPA_MT_OCI_MANIFEST, {COPA_MT_MANIFEST, COPA_FAMILY_OCI, COPA_MT_TAR, false}},
    {COPA_MT_OCI_CONFIG, {COPA_MT_CONFIG, COPA_FAMILY_OCI, COPA_MT_TAR, false}},
    {COPA_MT_OCI_LAYER, {COPA_MT_LAYER, COPA_FAMILY_OCI, COPA_MT_TAR, false}},
    {COPA_MT_OCI_LAYER_GZIP, {COPA_MT_LAYER, COPA_FAMILY_OCI, COPA_MT_GZIP, false}},
    {COPA_MT_OCI_LAYER_ZSTD, {COPA_MT_LAYER, COPA_FAMILY_OCI, COPA_MT_ZSTD, false}},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar",
     {COPA_MT_LAYER, COPA_FAMILY_OCI, COPA_MT_TAR, true}},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
     {COPA_MT_LAYER, COPA_FAMILY_OCI, COPA_MT_GZIP, true}},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
     {COPA_MT_LAYER, COPA_FAMILY_OCI, COPA_MT_ZSTD, true}},
    {COPA_MT_DOCKER_LIST, {COPA_MT_INDEX, COPA_FAMILY_DOCKER, COPA_MT_TAR, false}},
    {COPA_MT_DOCKER_MANIFEST, {COPA_MT_MANIFEST, COPA_FAMILY_DOCKER, COPA_MT_TAR, false}},
    {COPA_MT_DOCKER_CONFIG, {COPA_MT_CONFIG, COPA_FAMILY_DOCKER, COPA_MT_TAR, false}},
    {COPA_MT_DOCKER_LAYER, {COPA_MT_LAYER, COPA_FAMILY_DOCKER, COPA_MT_TAR, false}},
    {COPA_MT_DOCKER_LAYER_GZIP, {COPA_MT_LAYER, COPA_FAMILY_DOCKER, COPA_MT_GZIP, false}},
    {COPA_MT_DOCKER_LAYER_ZSTD, {COPA_MT_LAYER, COPA_FAMILY_DOCKER, COPA_MT_ZSTD, false}},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
     {COPA_MT_LAYER, COPA_FAMILY_DOCKER, COPA_MT_GZIP, true}},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar",
     {COPA_MT_LAYER, COPA_FAMILY_DOCKER, COPA_MT_TAR, true}},
};

struct copa_mt_info copa_mt_classify(const char *media_type)
{
	struct copa_mt_info other = {COPA_MT_OTHER, COPA_FAMILY_OCI, COPA_MT_TAR, false};
	size_t n;

	if (!media_type)
		return other;
	n = strcspn(media_type, "; ");
	for (size_t i = 0; i < COPA_ARRAY_SIZE(media_types); i++)
		if (strlen(media_types[i].mt) == n && !strncmp(media_types[i].mt, media_type, n))
			return media_types[i].info;
	return other;
}

const char *copa_mt_layer(enum copa_mt_family f, enum copa_mt_compression c)
{
	static const char *const oci[] = {COPA_MT_OCI_LAYER, COPA_MT_OCI_LAYER_GZIP,
	                                  COPA_MT_OCI_LAYER_ZSTD};
	static const char *const docker[] = {COPA_MT_DOCKER_LAYER, COPA_MT_DOCKER_LAYER_GZIP,
	                                     COPA_MT_DOCKER_LAYER_ZSTD};

	return f == COPA_FAMILY_OCI ? oci[c] : docker[c];
}

const char *copa_mt_config(enum copa_mt_family f)
{
	return f == COPA_FAMILY_OCI ? COPA_MT_OCI_CONFIG : COPA_MT_DOCKER_CONFIG;
}

const char *copa_mt_manifest(enum copa_mt_family f)
{
	return f == COPA_FAMILY_OCI ? COPA_MT_OCI_MANIFEST : COPA_MT_DOCKER_MANIFEST;
}

const char *copa_mt_index(enum copa_mt_family f)
{
	return f == COPA_FAMILY_OCI ? COPA_MT_OCI_INDEX : COPA_MT_DOCKER_LIST;
}

/* ---- platforms ---- */

static void set_field(char *dst, const char *src)
{
	size_t n = strnlen(src, COPA_PLATFORM_FIELD - 1);

	memmove(dst, src, n);
	dst[n] = '\0';
}

void copa_platform_normalize(struct copa_platform *p)
{
	for (char *c = p->os; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	for (char *c = p->arch; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!strcmp(p->arch, "x86_64") || !strcmp(p->arch, "x86-64")) {
		set_field(p->arch, "amd64");
	} else if (!strcmp(p->arch, "aarch64")) {
		set_field(p->arch, "arm64");
	} else if (!strcmp(p->arch, "i386") || !strcmp(p->arch, "i686")) {
		set_field(p->arch, "386");
	} else if (!strcmp(p->arch, "armhf")) {
		set_field(p->arch, "arm");
		set_field(p->variant, "v7");
	} else if (!strcmp(p->arch, "armel")) {
		set_field(p->arch, "arm");
		set_field(p->variant, "v6");
	}
	if (!strcmp(p->arch, "arm64") && (!strcmp(p->variant, "v8") || !strcmp(p->variant, "8")))
		p->variant[0] = '\0';
	if (!strcmp(p->arch, "amd64") && !strcmp(p->variant, "v1"))
		p->variant[0] = '\0';
	if (!strcmp(p->arch, "arm") && !p->variant[0])
		set_field(p->variant, "v7");
	if (!strcmp(p->arch, "arm") && p->variant[0] >= '5' && p->variant[0] <= '8' &&
	    !p->variant[1]) {
		char v[4] = {'v', p->variant[0], 0, 0};

		set_field(p->variant, v);
	}
}

int copa_platform_parse(const char *s, struct copa_platform *p, struct copa_err *err)
{
	const char *parts[3] = {NULL, NULL, NULL};
	size_t lens[3] = {0, 0, 0};
	size_t n = 0;
	const char *c = s;

	memset(p, 0, sizeof(*p));
	for (;;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);

		if (n == 3 || len == 0 || len >= COPA_PLATFORM_FIELD)
			return copa_err_set(
			    err, COPA_E_USAGE,
			    "invalid platform '%s': expected os/arch[/variant], e.g. "
			    "linux/arm64",
			    s);
		for (size_t i = 0; i < len; i++)
			if (!(isalnum((unsigned char)c[i]) || c[i] == '_' || c[i] == '-' ||
			      c[i] == '.'))
				return copa_err_set(err, COPA_E_USAGE,
				                    "invalid platform '%s': unexpected character",
				                    s);
		parts[n] = c;
		lens[n++] = len;
		if (!slash)
			break;
		c = slash + 1;
	}
	if (n == 1) {
		set_field(p->os, "linux");
		memcpy(p->arch, parts[0], lens[0]);
	} else {
		memcpy(p->os, parts[0], lens[0]);
		memcpy(p->arch, parts[1], lens[1]);
		if (n == 3)
			memcpy(p->variant, parts[2], lens[2]);
	}
	copa_platform_normalize(p);
	return 0;
}

void copa_platform_host(struct copa_platform *p)
{
	struct utsname u;

	memset(p, 0, sizeof(*p));
	set_field(p->os, "linux");
	if (uname(&u) < 0) {
		set_field(p->arch, "amd64");
		return;
	}
	if (!strncmp(u.machine, "armv7", 5)) {
		set_field(p->arch, "arm");
		set_field(p->variant, "v7");
	} else if (!strncmp(u.machine, "armv6", 5)) {
		set_field(p->arch, "arm");
		set_field(p->variant, "v6");
	} else if (!strcmp(u.machine, "ppc64le") || !strcmp(u.machine, "s390x") ||
	           !strcmp(u.machine, "riscv64")) {
		set_field(p->arch, u.machine);
	} else {
		set_field(p->arch, u.machine);
	}
	copa_platform_normalize(p);
}

const char *copa_platform_str(const struct copa_platform *p, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s%s%s", p->os[0] ? p->os : "?", p->arch[0] ? p->arch : "?",
	         p->variant[0] ? "/" : "", p->variant);
	return buf;
}

bool copa_platform_match(const struct copa_platform *want, const struct copa_platform *have)
{
	struct copa_platform w = *want, h = *have;

	copa_platform_normalize(&w);
	copa_platform_normalize(&h);
	if (strcmp(w.os, h.os) || strcmp(w.arch, h.arch))
		return false;
	return !w.variant[0] || !strcmp(w.variant, h.variant);
}

/* ---- descriptors ---- */

void copa_desc_release(struct copa_desc *d)
{
	free(d->media_type);
	json_decref(d->json);
	memset(d, 0, sizeof(*d));
}

void copa_desc_copy(struct copa_desc *dst, const struct copa_desc *src)
{
	*dst = *src;
	dst->media_type = src->media_type ? copa_xstrdup(src->media_type) : NULL;
	dst->json = json_incref(src->json);
}

static int platform_field(json_t *plat, const char *key, char *dst, bool required, const char *what,
                          struct copa_err *err)
{
	json_t *v = json_object_get(plat, key);

	if (!v) {
		if (required)
			return copa_err_set(err, COPA_E_INPUT, "%s: platform has no '%s'", what,
			                    key);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= COPA_PLATFORM_FIELD ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return copa_err_set(err, COPA_E_INPUT,
		                    "%s: platform '%s' is not a string of at most %d bytes", what,
		                    key, COPA_PLATFORM_FIELD - 1);
	set_field(dst, json_string_value(v));
	return 0;
}

int copa_desc_parse(json_t *obj, const char *what, struct copa_desc *d, struct copa_err *err)
{
	const char *mt, *digest;
	json_t *size, *plat, *ann;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(obj))
		return copa_err_set(err, COPA_E_INPUT, "%s: descriptor is not a JSON object", what);
	mt = copa_json_str(obj, "mediaType");
	digest = copa_json_str(obj, "digest");
	size = json_object_get(obj, "size");
	if (!mt || !mt[0] || strlen(mt) > 255)
		return copa_err_set(err, COPA_E_INPUT, "%s: descriptor has no valid 'mediaType'",
		                    what);
	if (!digest)
		return copa_err_set(err, COPA_E_INPUT, "%s: descriptor has no 'digest'", what);
	if (!copa_digest_valid(digest))
		return copa_err_set(err, COPA_E_INPUT,
		                    "%s: invalid digest '%.80s' (expected sha256:<64 hex>)", what,
		                    digest);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "%s: descriptor 'size' is missing or not a non-negative integer", what);
	plat = json_object_get(obj, "platform");
	if (plat) {
		if (!json_is_object(plat))
			return copa_err_set(err, COPA_E_INPUT, "%s: 'platform' is not an object",
			                    what);
		if (platform_field(plat, "os", d->platform.os, true, what, err) < 0 ||
		    platform_field(plat, "architecture", d->platform.arch, true, what, err) < 0 ||
		    platform_field(plat, "variant", d->platform.variant, false, what, err) < 0 ||
		    platform_field(plat, "os.version", d->platform.os_version, false, what, err) <
		        0)
			return -1;
		d->has_platform = true;
		d->attestation =
		    !strcmp(d->platform.os, "unknown") && !strcmp(d->platform.arch, "unknown");
	}
	ann = json_object_get(obj, "annotations");
	if (ann && !json_is_object(ann))
		return copa_err_set(err, COPA_E_INPUT, "%s: 'annotations' is not an object", what);
	if (ann) {
		const char *t = copa_json_str(ann, "vnd.docker.reference.type");

		if (t && !strcmp(t, "attestation-manifest"))
			d->attestation = true;
	}
	d->media_type = copa_xstrdup(mt);
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = json_integer_value(size);
	d->mt = copa_mt_classify(mt);
	d->json = json_incref(obj);
	return 0;
}

void copa_desc_make(struct copa_desc *d, const char *media_type, const char *digest, int64_t size,
                    json_t *annotations)
{
	memset(d, 0, sizeof(*d));
	d->media_type = copa_xstrdup(media_type);
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->size = size;
	d->mt = copa_mt_classify(media_type);
	d->json = json_object();
	json_object_set_new(d->json, "mediaType", json_string(media_type));
	json_object_set_new(d->json, "digest", json_string(digest));
	json_object_set_new(d->json, "size", json_integer(size));
	if (annotations)
		json_object_set_new(d->json, "annotations", json_deep_copy(annotations));
}

const char *copa_desc_annotation(const struct copa_desc *d, const char *key)
{
	return d->json ? copa_json_str(json_object_get(d->json, "annotations"), key) : NULL;
}

/* ---- documents ---- */

static int check_schema(json_t *root, const char *what, struct copa_err *err)
{
	json_int_t v;

	if (!json_is_object(root))
		return copa_err_set(err, COPA_E_INPUT, "%s: not a JSON object", what);
	if (!copa_json_int(root, "schemaVersion", &v))
		return copa_err_set(err, COPA_E_INPUT, "%s: missing 'schemaVersion'", what);
	if (v == 1)
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "%s: Docker schema 1 manifests are not supported (re-push the "
		                    "image with a current client)",
		                    what);
	if (v != 2)
		return copa_err_set(err, COPA_E_INPUT, "%s: unsupported schemaVersion %lld", what,
		                    (long long)v);
	return 0;
}

/* The effective media type: the container's and the body's must agree. */
static const char *effective_mt(json_t *root, const char *container, const char *dflt,
                                const char *what, struct copa_err *err)
{
	json_t *bv = json_object_get(root, "mediaType");
	const char *body = json_is_string(bv) ? json_string_value(bv) : NULL;

	if (bv && !body) {
		copa_err_set(err, COPA_E_INPUT, "%s: 'mediaType' is not a string", what);
		return NULL;
	}
	if (container && body) {
		size_t n = strcspn(container, "; ");

		if (strlen(body) != n || strncmp(body, container, n)) {
			copa_err_set(err, COPA_E_INPUT,
			             "%s: media type '%.100s' does not match the body's '%.100s'",
			             what, container, body);
			return NULL;
		}
	}
	return body ? body : container ? container : dflt;
}

static char *mt_dup(const char *mt)
{
	return copa_xstrndup(mt, strcspn(mt, "; "));
}

int copa_oci_sniff(const void *data, size_t n, const char *media_type, const char *what,
                   struct copa_err *err)
{
	json_t *root;
	const char *mt;
	int kind = -1;

	if (media_type) {
		struct copa_mt_info i = copa_mt_classify(media_type);

		if (i.kind == COPA_MT_INDEX || i.kind == COPA_MT_MANIFEST)
			return (int)i.kind;
	}
	root = copa_json_parse(data, n, COPA_OCI_MAX_MANIFEST, what, err);
	if (!root)
		return -1;
	if (check_schema(root, what, err) < 0)
		goto out;
	mt = copa_json_str(root, "mediaType");
	if (mt) {
		struct copa_mt_info i = copa_mt_classify(mt);

		if (i.kind == COPA_MT_INDEX || i.kind == COPA_MT_MANIFEST) {
			kind = (int)i.kind;
			goto out;
		}
	}
	if (json_object_get(root, "manifests"))
		kind = COPA_MT_INDEX;
	else if (json_object_get(root, "config") || json_object_get(root, "layers"))
		kind = COPA_MT_MANIFEST;
	else
		copa_err_set(err, COPA_E_INPUT,
		             "%s: neither an image manifest nor an index (media type '%s')", what,
		             mt           ? mt
		             : media_type ? media_type
		                          : "none");
out:
	json_decref(root);
	return kind;
}

void copa_manifest_release(struct copa_manifest *m)
{
	copa_buf_release(&m->raw);
	free(m->media_type);
	json_decref(m->json);
	copa_desc_release(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		copa_desc_release(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int copa_manifest_parse(const void *data, size_t n, const char *media_type, const char *what,
                        struct copa_manifest *m, struct copa_err *err)
{
	json_t *cfg, *layers;
	const char *mt;
	struct copa_mt_info info;
	char sub[256];

	memset(m, 0, sizeof(*m));
	m->json = copa_json_parse(data, n, COPA_OCI_MAX_MANIFEST, what, err);
	if (!m->json)
		return -1;
	if (check_schema(m->json, what, err) < 0)
		goto fail;
	mt = effective_mt(m->json, media_type, COPA_MT_OCI_MANIFEST, what, err);
	if (!mt)
		goto fail;
	info = copa_mt_classify(mt);
	if (info.kind != COPA_MT_MANIFEST) {
		copa_err_set(err, COPA_E_INPUT, "%s: media type '%.100s' is not an image manifest",
		             what, mt);
		goto fail;
	}
	m->media_type = mt_dup(mt);
	m->family = info.family;
	cfg = json_object_get(m->json, "config");
	if (!cfg) {
		copa_err_set(err, COPA_E_INPUT, "%s: missing 'config'", what);
		goto fail;
	}
	snprintf(sub, sizeof(sub), "%s: config", what);
	if (copa_desc_parse(cfg, sub, &m->config, err) < 0)
		goto fail;
	layers = json_object_get(m->json, "layers");
	if (!json_is_array(layers)) {
		copa_err_set(err, COPA_E_INPUT, "%s: 'layers' is missing or not an array", what);
		goto fail;
	}
	if (json_array_size(layers) > COPA_OCI_MAX_LAYERS) {
		copa_err_set(err, COPA_E_LIMIT, "%s: %zu layers, more than the limit of %d", what,
		             json_array_size(layers), COPA_OCI_MAX_LAYERS);
		goto fail;
	}
	m->layers = copa_xcalloc(json_array_size(layers) + 1, sizeof(*m->layers));
	for (size_t i = 0; i < json_array_size(layers); i++) {
		snprintf(sub, sizeof(sub), "%s: layers[%zu]", what, i);
		if (copa_desc_parse(json_array_get(layers, i), sub, &m->layers[i], err) < 0)
			goto fail;
		m->n_layers++;
	}
	copa_buf_init(&m->raw, 0);
	copa_buf_add(&m->raw, data, n);
	copa_sha256_digest(data, n, m->digest);
	return 0;
fail:
	copa_manifest_release(m);
	return -1;
}

void copa_index_release(struct copa_index *ix)
{
	copa_buf_release(&ix->raw);
	free(ix->media_type);
	json_decref(ix->json);
	for (size_t i = 0; i < ix->n_manifests; i++)
		copa_desc_release(&ix->manifests[i]);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

int copa_index_parse(const void *data, size_t n, const char *media_type, const char *what,
                     struct copa_index *ix, struct copa_err *err)
{
	json_t *list;
	const char *mt;
	struct copa_mt_info info;
	char sub[256];

	memset(ix, 0, sizeof(*ix));
	ix->json = copa_json_parse(data, n, COPA_OCI_MAX_MANIFEST, what, err);
	if (!ix->json)
		return -1;
	if (check_schema(ix->json, what, err) < 0)
		goto fail;
	mt = effective_mt(ix->json, media_type, COPA_MT_OCI_INDEX, what, err);
	if (!mt)
		goto fail;
	info = copa_mt_classify(mt);
	if (info.kind != COPA_MT_INDEX) {
		copa_err_set(err, COPA_E_INPUT, "%s: media type '%.100s' is not an image index",
		             what, mt);
		goto fail;
	}
	ix->media_type = mt_dup(mt);
	ix->family = info.family;
	list = json_object_get(ix->json, "manifests");
	if (!json_is_array(list)) {
		copa_err_set(err, COPA_E_INPUT, "%s: 'manifests' is missing or not an array", what);
		goto fail;
	}
	if (json_array_size(list) > COPA_OCI_MAX_INDEX_ENTRIES) {
		copa_err_set(err, COPA_E_LIMIT, "%s: %zu entries, more than the limit of %d", what,
		             json_array_size(list), COPA_OCI_MAX_INDEX_ENTRIES);
		goto fail;
	}
	ix->manifests = copa_xcalloc(json_array_size(list) + 1, sizeof(*ix->manifests));
	for (size_t i = 0; i < json_array_size(list); i++) {
		snprintf(sub, sizeof(sub), "%s: manifests[%zu]", what, i);
		if (copa_desc_parse(json_array_get(list, i), sub, &ix->manifests[i], err) < 0)
			goto fail;
		ix->n_manifests++;
	}
	copa_buf_init(&ix->raw, 0);
	copa_buf_add(&ix->raw, data, n);
	copa_sha256_digest(data, n, ix->digest);
	return 0;
fail:
	copa_index_release(ix);
	return -1;
}

/* ---- configs ---- */

void copa_config_release(struct copa_config *c)
{
	copa_buf_release(&c->raw);
	json_decref(c->json);
	copa_strv_free(c->diff_ids);
	memset(c, 0, sizeof(*c));
}

static int load_diff_ids(struct copa_config *c, const char *what, struct copa_err *err)
{
	json_t *rootfs = json_object_get(c->json, "rootfs");
	json_t *ids;
	const char *type;

	copa_strv_free(c->diff_ids);
	c->diff_ids = NULL;
	c->n_diff_ids = 0;
	if (!json_is_object(rootfs))
		return copa_err_set(err, COPA_E_INPUT, "%s: 'rootfs' is missing or not an object",
		                    what);
	type = copa_json_str(rootfs, "type");
	if (!type || strcmp(type, "layers"))
		return copa_err_set(err, COPA_E_INPUT, "%s: rootfs.type is not \"layers\"", what);
	ids = json_object_get(rootfs, "diff_ids");
	if (!ids)
		ids = copa_json_get_ci(rootfs, "diff_ids");
	if (!json_is_array(ids))
		return copa_err_set(err, COPA_E_INPUT,
		                    "%s: rootfs.diff_ids is missing or not an array", what);
	if (json_array_size(ids) > COPA_OCI_MAX_LAYERS)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: %zu diff_ids, more than the limit of %d", what,
		                    json_array_size(ids), COPA_OCI_MAX_LAYERS);
	c->diff_ids = copa_xcalloc(json_array_size(ids) + 1, sizeof(char *));
	for (size_t i = 0; i < json_array_size(ids); i++) {
		json_t *v = json_array_get(ids, i);

		if (!json_is_string(v) || !copa_digest_valid(json_string_value(v)))
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s: rootfs.diff_ids[%zu] is not a valid digest", what,
			                    i);
		c->diff_ids[i] = copa_xstrdup(json_string_value(v));
		c->n_diff_ids++;
	}
	return 0;
}

int copa_config_parse(const void *data, size_t n, const char *what, struct copa_config *c,
                      struct copa_err *err)
{
	const char *os, *arch, *variant, *osv;
	json_t *hist;

	memset(c, 0, sizeof(*c));
	c->json = copa_json_parse(data, n, COPA_OCI_MAX_CONFIG, what, err);
	if (!c->json)
		return -1;
	if (!json_is_object(c->json)) {
		copa_err_set(err, COPA_E_INPUT, "%s: not a JSON object", what);
		goto fail;
	}
	os = copa_json_str(c->json, "os");
	arch = copa_json_str(c->json, "architecture");
	variant = copa_json_str(c->json, "variant");
	osv = copa_json_str(c->json, "os.version");
	if (!os || !arch) {
		copa_err_set(err, COPA_E_INPUT, "%s: missing 'os' or 'architecture'", what);
		goto fail;
	}
	if (strlen(os) >= COPA_PLATFORM_FIELD || strlen(arch) >= COPA_PLATFORM_FIELD ||
	    (variant && strlen(variant) >= COPA_PLATFORM_FIELD) ||
	    (osv && strlen(osv) >= COPA_PLATFORM_FIELD)) {
		copa_err_set(err, COPA_E_INPUT, "%s: platform field longer than %d bytes", what,
		             COPA_PLATFORM_FIELD - 1);
		goto fail;
	}
	set_field(c->platform.os, os);
	set_field(c->platform.arch, arch);
	if (variant)
		set_field(c->platform.variant, variant);
	if (osv)
		set_field(c->platform.os_version, osv);
	if (load_diff_ids(c, what, err) < 0)
		goto fail;
	hist = json_object_get(c->json, "history");
	if (hist && !json_is_array(hist)) {
		copa_err_set(err, COPA_E_INPUT, "%s: 'history' is not an array", what);
		goto fail;
	}
	if (hist && json_array_size(hist) > COPA_OCI_MAX_HISTORY) {
		copa_err_set(err, COPA_E_LIMIT,
		             "%s: %zu history entries, more than the limit of %d", what,
		             json_array_size(hist), COPA_OCI_MAX_HISTORY);
		goto fail;
	}
	copa_buf_init(&c->raw, 0);
	copa_buf_add(&c->raw, data, n);
	copa_sha256_digest(data, n, c->digest);
	return 0;
fail:
	copa_config_release(c);
	return -1;
}

int copa_image_check(const struct copa_manifest *m, const struct copa_config *c,
                     struct copa_err *err)
{
	json_t *hist = json_object_get(c->json, "history");

	if (c->n_diff_ids != m->n_layers)
		return copa_err_set(err, COPA_E_INPUT,
		                    "image %s: the manifest lists %zu layers but config %s has %zu "
		                    "diff_ids",
		                    m->digest, m->n_layers, c->digest, c->n_diff_ids);
	if (json_is_array(hist) && json_array_size(hist) > 0) {
		size_t nonempty = 0;

		for (size_t i = 0; i < json_array_size(hist); i++)
			if (!json_is_true(json_object_get(json_array_get(hist, i), "empty_layer")))
				nonempty++;
		if (nonempty != c->n_diff_ids)
			return copa_err_set(err, COPA_E_INPUT,
			                    "image %s: config %s has %zu non-empty history entries "
			                    "for %zu layers",
			                    m->digest, c->digest, nonempty, c->n_diff_ids);
	}
	return 0;
}

int copa_config_append_layer(struct copa_config *c, const char *diff_id, const char *created,
                             const char *created_by, const char *comment, struct copa_err *err)
{
	json_t *rootfs = json_object_get(c->json, "rootfs");
	json_t *ids = rootfs ? json_object_get(rootfs, "diff_ids") : NULL;
	json_t *hist = json_object_get(c->json, "history");

	if (!copa_digest_valid(diff_id))
		return copa_err_set(err, COPA_E_BUG, "invalid diff_id '%s'", diff_id);
	if (!json_is_array(ids))
		return copa_err_set(err, COPA_E_INPUT, "config %s: no rootfs.diff_ids", c->digest);
	json_array_append_new(ids, json_string(diff_id));
	if (json_is_array(hist)) {
		json_t *h = json_object();

		if (created)
			json_object_set_new(h, "created", json_string(created));
		if (created_by)
			json_object_set_new(h, "created_by", json_string(created_by));
		if (comment)
			json_object_set_new(h, "comment", json_string(comment));
		json_array_append_new(hist, h);
	}
	return load_diff_ids(c, "config", err);
}

int copa_config_serialize(struct copa_config *c, struct copa_err *err)
{
	if (copa_json_dump(c->json, 0, &c->raw, err) < 0)
		return -1;
	copa_sha256_digest(c->raw.p, c->raw.len, c->digest);
	return 0;
}

int copa_manifest_build(const struct copa_manifest *orig, const struct copa_desc *config,
                        const struct copa_desc *extra, size_t n_extra, struct copa_buf *out,
                        struct copa_err *err)
{
	return copa_manifest_build_edit(orig, config, extra, n_extra, NULL, out, err);
}

int copa_manifest_build_edit(const struct copa_manifest *orig, const struct copa_desc *config,
                             const struct copa_desc *extra, size_t n_extra,
                             const struct copa_manifest_edit *edit, struct copa_buf *out,
                             struct copa_err *err)
{
	size_t drop = edit ? edit->drop_last : 0;
	json_t *root, *layers;
	int r;

	if (drop > orig->n_layers)
		return copa_err_set(err, COPA_E_BUG, "cannot drop %zu of %zu layers", drop,
		                    orig->n_layers);
	root = json_copy(orig->json);
	layers = json_array();
	for (size_t i = 0; i < orig->n_layers - drop; i++)
		json_array_append(layers, orig->layers[i].json);
	for (size_t i = 0; i < n_extra; i++)
		json_array_append(layers, extra[i].json);
	json_object_set(root, "config", config->json);
	json_object_set_new(root, "layers", layers);
	if (edit && edit->annotations && edit->annotations[0]) {
		/* A copy: the original manifest's object stays as it was read. */
		json_t *old = json_object_get(root, "annotations");
		json_t *ann = json_is_object(old) ? json_copy(old) : json_object();

		for (const char *const *kv = edit->annotations; kv[0] && kv[1]; kv += 2)
			json_object_set_new(ann, kv[0], json_string(kv[1]));
		json_object_set_new(root, "annotations", ann);
	}
	r = copa_json_dump(root, 0, out, err);
	json_decref(root);
	return r;
}

static json_t *desc_with_mt(const struct copa_desc *d, const char *mt)
{
	json_t *c = json_copy(d->json);

	json_object_set_new(c, "mediaType", json_string(mt));
	return c;
}

int copa_manifest_to_oci(const struct copa_manifest *m, struct copa_buf *out, struct copa_err *err)
{
	json_t *root = json_copy(m->json);
	json_t *layers = json_array();
	int r;

	json_object_set_new(root, "mediaType", json_string(COPA_MT_OCI_MANIFEST));
	json_object_set_new(root, "config", desc_with_mt(&m->config, COPA_MT_OCI_CONFIG));
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct copa_desc *d = &m->layers[i];
		const char *mt = d->media_type;

		if (d->mt.kind == COPA_MT_LAYER && d->mt.foreign)
			mt = d->mt.compression == COPA_MT_GZIP
			         ? "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
			     : d->mt.compression == COPA_MT_ZSTD
			         ? "application/vnd.oci.image.layer.nondistributable."
			           "v1.tar+zstd"
			         : "application/vnd.oci.image.layer.nondistributable."
			           "v1.tar";
		else if (d->mt.kind == COPA_MT_LAYER)
			mt = copa_mt_layer(COPA_FAMILY_OCI, d->mt.compression);
		json_array_append_new(layers, desc_with_mt(d, mt));
	}
	json_object_set_new(root, "layers", layers);
	r = copa_json_dump(root, 0, out, err);
	json_decref(root);
	return r;
}

int copa_index_build_oci(const struct copa_index *orig, const struct copa_desc *const *repl,
                         struct copa_buf *out, struct copa_err *err)
{
	struct copa_index tmp = *orig;
	json_t *root = json_copy(orig->json);
	int r;

	json_object_set_new(root, "mediaType", json_string(COPA_MT_OCI_INDEX));
	tmp.json = root;
	r = copa_index_build(&tmp, repl, out, err);
	json_decref(root);
	return r;
}

int copa_index_build(const struct copa_index *orig, const struct copa_desc *const *repl,
                     struct copa_buf *out, struct copa_err *err)
{
	json_t *root = json_copy(orig->json);
	json_t *list = json_array();
	int r;

	for (size_t i = 0; i < orig->n_manifests; i++) {
		if (repl && repl[i]) {
			/*
			 * Every member of the original descriptor (platform,
			 * annotations, artifactType, urls, extensions) but
			 * those that describe the old content; the new
			 * descriptor's members override.
			 */
			json_t *d = json_deep_copy(orig->manifests[i].json);
			const char *k;
			json_t *v;

			json_object_del(d, "digest");
			json_object_del(d, "size");
			json_object_del(d, "data"); /* the old manifest's bytes, embedded */
			json_object_foreach(repl[i]->json, k, v) json_object_set(d, k, v);
			json_array_append_new(list, d);
		} else {
			json_array_append(list, orig->manifests[i].json);
		}
	}
	json_object_set_new(root, "manifests", list);
	r = copa_json_dump(root, 0, out, err);
	json_decref(root);
	return r;
}

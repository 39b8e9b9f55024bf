/*
 * archive.c: oci-archive and docker-archive sources (tar files whose members
 * are extracted into the content-addressed cache, never onto paths named by
 * the archive), the docker-archive destination, and tar writing.
 */
#include "image/internal.h"

#include "util/runctl.h"
#include "util/json.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARCHIVE_MAX_MEMBERS 100000
#define ARCHIVE_META_MAX    (4u << 20)
#define ARCHIVE_MAX_IMAGES  1000
#define ARCHIVE_LINK_HOPS   8

/* ---- reading: every regular member goes to the cache ---- */

struct member {
	char *name; /* normalised */
	char *link; /* normalised target of a symlink or hard link, or NULL */
	char digest[COPA_DIGEST_MAX];
	uint64_t size;
};

struct tar_index {
	struct member *v;
	size_t n, cap;
	struct copa_buf manifest_json, index_json, oci_layout;
	bool has_manifest_json, has_index_json, has_oci_layout;
};

static void tar_index_release(struct tar_index *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].link);
	}
	free(t->v);
	copa_buf_release(&t->manifest_json);
	copa_buf_release(&t->index_json);
	copa_buf_release(&t->oci_layout);
	memset(t, 0, sizeof(*t));
}

static const struct member *tar_find(const struct tar_index *t, const char *name)
{
	for (int hop = 0; hop <= ARCHIVE_LINK_HOPS; hop++) {
		const struct member *m = NULL;

		for (size_t i = t->n; i-- > 0;)
			if (!strcmp(t->v[i].name, name)) {
				m = &t->v[i];
				break;
			}
		if (!m || !m->link)
			return m;
		name = m->link;
	}
	return NULL;
}

static bool tar_has_digest(const struct tar_index *t, const char *digest)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].link && !strcmp(t->v[i].digest, digest))
			return true;
	return false;
}

/* Resolves a symlink target relative to the member's directory, inside the archive. */
static int link_target(const char *member, const char *target, struct copa_buf *out)
{
	_cleanup_free_ char *joined = NULL;
	const char *slash = strrchr(member, '/');

	if (target[0] == '/')
		return copa_path_normalize(target, out);
	joined = slash ? copa_xasprintf("%.*s/%s", (int)(slash - member), member, target)
	               : copa_xstrdup(target);
	/* Collapse "dir/../x" lexically; a result leaving the root is refused. */
	{
		struct copa_buf acc = COPA_BUF_INIT;
		char *save = NULL;
		char *tok;

		for (tok = strtok_r(joined, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
			if (!strcmp(tok, ".") || !tok[0])
				continue;
			if (!strcmp(tok, "..")) {
				char *last = acc.len ? strrchr(acc.p, '/') : NULL;

				if (!acc.len) {
					copa_buf_release(&acc);
					return -1;
				}
				copa_buf_truncate(&acc, last ? (size_t)(last - acc.p) : 0);
				continue;
			}
			copa_buf_addf(&acc, "%s%s", acc.len ? "/" : "", tok);
		}
		copa_buf_reset(out);
		copa_buf_adds(out, copa_buf_str(&acc));
		copa_buf_release(&acc);
	}
	return 0;
}

/*
 * Streams the data of the entry `a` stands on into fd, hashing it with sha256
 * into hex and counting it into *size; keep, when given, gets a copy too. `what`
 * names the entry in errors ("<what>: <libarchive's error>").
 */
static int archive_data_to_fd(struct archive *a, int fd, struct copa_buf *keep, const char *what,
                              char hex[COPA_HASH_HEX_MAX], uint64_t *size, struct copa_err *err)
{
	struct copa_hash h;
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = copa_xmalloc(chunk);

	copa_hash_init(&h, COPA_HASH_SHA256);
	*size = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, chunk);

		if (n < 0) {
			copa_hash_release(&h);
			return copa_err_set(err, COPA_E_INPUT, "%s: %s", what,
			                    archive_error_string(a));
		}
		if (n == 0)
			break;
		copa_hash_update(&h, buf, (size_t)n);
		*size += (uint64_t)n;
		if (keep && copa_buf_add(keep, buf, (size_t)n) < 0) {
			copa_hash_release(&h);
			return copa_err_set(err, COPA_E_LIMIT, "%s: larger than %u bytes", what,
			                    ARCHIVE_META_MAX);
		}
		if (copa_fs_write_all(fd, buf, (size_t)n, err) < 0) {
			copa_hash_release(&h);
			return -1;
		}
	}
	copa_hash_final_hex(&h, hex);
	return 0;
}

static int read_member_to_cache(struct archive *a, const struct copa_cache *cache, const char *name,
                                struct member *m, struct copa_buf *keep, struct copa_err *err)
{
	struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
	char hex[COPA_HASH_HEX_MAX];
	_cleanup_free_ char *what = copa_xasprintf("member '%s'", name);
	int r = -1;

	if (copa_cache_begin(cache, &t, err) < 0)
		return -1;
	if (archive_data_to_fd(a, t.fd, keep, what, hex, &m->size, err) == 0) {
		snprintf(m->digest, sizeof(m->digest), "sha256:%s", hex);
		r = copa_cache_commit_blob(cache, &t, m->digest, true, NULL, err);
	}
	copa_tmpfile_release(&t);
	return r;
}

static int extract_archive(const char *file, const struct copa_cache *cache, struct tar_index *t,
                           struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct copa_buf name = COPA_BUF_INIT, target = COPA_BUF_INIT;
	int r = -1;

	memset(t, 0, sizeof(*t));
	copa_buf_init(&t->manifest_json, ARCHIVE_META_MAX);
	copa_buf_init(&t->index_json, ARCHIVE_META_MAX);
	copa_buf_init(&t->oci_layout, ARCHIVE_META_MAX);
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, file, 1 << 16) != ARCHIVE_OK) {
		int e2 = archive_errno(a);

		copa_err_set(err, e2 == ENOENT ? COPA_E_NOTFOUND : COPA_E_INPUT,
		             "cannot read archive '%s': %s", file, archive_error_string(a));
		goto out;
	}
	for (;;) {
		int h = archive_read_next_header(a, &e);
		const char *raw_name;
		struct member m = {0};
		struct copa_buf *keep = NULL;

		if (h == ARCHIVE_EOF)
			break;
		if (h < ARCHIVE_WARN) {
			copa_err_set(err, COPA_E_INPUT, "archive '%s' is not a valid tar: %s", file,
			             archive_error_string(a));
			goto out;
		}
		if (t->n >= ARCHIVE_MAX_MEMBERS) {
			copa_err_set(err, COPA_E_LIMIT, "archive '%s': more than %d members", file,
			             ARCHIVE_MAX_MEMBERS);
			goto out;
		}
		raw_name = archive_entry_pathname(e);
		if (!raw_name || copa_path_normalize(raw_name, &name) < 0 || !name.len ||
		    raw_name[0] == '/') {
			copa_err_set(
			    err, COPA_E_INPUT,
			    "archive '%s': member '%.200s' has an unsafe path (absolute or "
			    "with '..'); refusing the archive",
			    file, raw_name ? raw_name : "");
			goto out;
		}
		if (archive_entry_hardlink(e) || archive_entry_filetype(e) == AE_IFLNK) {
			const char *tg = archive_entry_hardlink(e);
			int lr;

			lr = tg ? copa_path_normalize(tg, &target)
			        : link_target(name.p,
			                      archive_entry_symlink(e) ? archive_entry_symlink(e)
			                                               : "",
			                      &target);
			if (lr < 0 || !target.len) {
				copa_err_set(err, COPA_E_INPUT,
				             "archive '%s': link '%s' points outside the archive",
				             file, name.p);
				goto out;
			}
			m.name = copa_xstrdup(name.p);
			m.link = copa_xstrdup(target.p);
		} else if (archive_entry_filetype(e) == AE_IFREG) {
			if (!strcmp(name.p, "manifest.json")) {
				keep = &t->manifest_json;
				t->has_manifest_json = true;
			} else if (!strcmp(name.p, "index.json")) {
				keep = &t->index_json;
				t->has_index_json = true;
			} else if (!strcmp(name.p, "oci-layout")) {
				keep = &t->oci_layout;
				t->has_oci_layout = true;
			}
			if (keep)
				copa_buf_reset(keep);
			if (read_member_to_cache(a, cache, name.p, &m, keep, err) < 0) {
				copa_err_wrap(err, "archive '%s'", file);
				goto out;
			}
			m.name = copa_xstrdup(name.p);
		} else {
			continue; /* directories and anything else carry nothing we read */
		}
		t->v = copa_xgrow(t->v, &t->cap, t->n + 1, sizeof(*t->v));
		t->v[t->n++] = m;
	}
	r = 0;
out:
	copa_buf_release(&name);
	copa_buf_release(&target);
	archive_read_free(a);
	if (r < 0)
		tar_index_release(t);
	return r;
}

/* ---- archive sources ---- */

struct archive_src {
	struct tar_index tar;
};

static char *archive_blob_path(struct copa_image_src *s, const struct copa_desc *d,
                               struct copa_err *err)
{
	struct archive_src *as = s->impl;
	char *path;

	if (!tar_has_digest(&as->tar, d->digest)) {
		copa_err_set(err, COPA_E_NOTFOUND, "blob %s is missing from the archive",
		             d->digest);
		return NULL;
	}
	path = copa_cache_blob_path(s->opts.cache, d->digest);
	if (!copa_src_is_verified(s, d->digest)) {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			copa_err_sys(err, COPA_E_IO, errno, "cannot open cached blob '%s'", path);
			free(path);
			return NULL;
		}
		if (copa_copy_verified(fd, -1, d, "blob", err) < 0) {
			free(path);
			return NULL;
		}
		copa_src_mark_verified(s, d->digest);
	} else {
		struct stat st;

		if (stat(path, &st) < 0 || (d->size >= 0 && st.st_size != d->size)) {
			copa_err_set(err, COPA_E_VERIFY,
			             "blob %s: size does not match its descriptor", d->digest);
			free(path);
			return NULL;
		}
	}
	return path;
}

static int archive_get_doc(struct copa_image_src *s, const struct copa_desc *d,
                           struct copa_buf *out, struct copa_err *err)
{
	_cleanup_free_ char *path = archive_blob_path(s, d, err);

	if (!path)
		return -1;
	return copa_fs_read_file(AT_FDCWD, path, COPA_OCI_MAX_MANIFEST, out, err);
}

static int archive_write_blob(struct copa_image_src *s, const struct copa_desc *d, int out_fd,
                              struct copa_err *err)
{
	_cleanup_free_ char *path = archive_blob_path(s, d, err);
	_cleanup_close_ int fd = -1;

	if (!path)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open cached blob '%s'", path);
	return copa_copy_verified(fd, out_fd, d, "blob", err);
}

static void archive_src_free(struct copa_image_src *s)
{
	struct archive_src *as = s->impl;

	if (!as)
		return;
	tar_index_release(&as->tar);
	free(as);
}

static const struct src_ops archive_src_ops = {
    .get_doc = archive_get_doc,
    .write_blob = archive_write_blob,
    .blob_path = archive_blob_path,
    .free = archive_src_free,
};

/* Mark every extracted member digest as verified: it was hashed while written. */
static void mark_members(struct copa_image_src *s, const struct tar_index *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].link)
			copa_src_mark_verified(s, t->v[i].digest);
}

/* Checks that blobs/<alg>/<hex> members hold what their names say. */
static int check_blob_names(const struct tar_index *t, const char *file, struct copa_err *err)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct member *m = &t->v[i];
		char want[COPA_DIGEST_MAX];
		const char *rest;
		const char *slash;

		if (m->link || strncmp(m->name, "blobs/", 6))
			continue;
		rest = m->name + 6;
		slash = strchr(rest, '/');
		if (!slash || strchr(slash + 1, '/'))
			continue;
		snprintf(want, sizeof(want), "%.*s:%s", (int)(slash - rest), rest, slash + 1);
		if (!copa_digest_valid(want))
			continue;
		if (strncmp(want, "sha256:", 7))
			continue; /* only sha256 is hashed while extracting */
		if (strcmp(want, m->digest))
			return copa_err_set(err, COPA_E_VERIFY,
			                    "archive '%s': member '%s' does not match its digest "
			                    "(content is %s)",
			                    file, m->name, m->digest);
	}
	return 0;
}

static int root_from_index_json(struct copa_image_src *s, const struct tar_index *t,
                                const char *tag, struct copa_err *err)
{
	struct copa_index ix;
	_cleanup_free_ char *what = copa_xasprintf("%s: index.json", s->what);
	int r;

	if (copa_index_parse(t->index_json.p, t->index_json.len, NULL, what, &ix, err) < 0)
		return -1;
	r = copa_layout_set_root(s, &ix, tag, err);
	copa_index_release(&ix);
	return r;
}

/*
 * Opens an archive source: extracts every member into the cache, checks the
 * blobs/ members against their names, and returns the member index (owned by s).
 */
static const struct tar_index *archive_src_open(struct copa_image_src *s, struct copa_err *err)
{
	struct archive_src *as = copa_xcalloc(1, sizeof(*as));

	s->impl = as;
	s->ops = &archive_src_ops;
	if (extract_archive(s->ref.path, s->opts.cache, &as->tar, err) < 0)
		return NULL;
	if (check_blob_names(&as->tar, s->ref.path, err) < 0)
		return NULL;
	mark_members(s, &as->tar);
	return &as->tar;
}

int copa_src_oci_archive_open(struct copa_image_src *s, struct copa_err *err)
{
	const struct tar_index *t = archive_src_open(s, err);

	if (!t)
		return -1;
	if (!t->has_oci_layout || !t->has_index_json)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "'%s' is not an OCI archive: it has no oci-layout or index.json "
		    "(a docker save archive is read as docker-archive:%s)",
		    s->ref.path, s->ref.path);
	return root_from_index_json(s, t, s->ref.tag, err);
}

/* ---- docker-archive source ---- */

/* Compares a RepoTags entry with the wanted reference after normalisation. */
static bool repo_tag_matches(const char *repo_tag, const struct copa_ref *want)
{
	struct copa_ref r;
	struct copa_err e = COPA_ERR_INIT;
	bool ok;

	if (copa_ref_parse(repo_tag, &r, &e) < 0)
		return false;
	ok = !strcmp(r.domain, want->domain) && !strcmp(r.path, want->path) && r.tag && want->tag &&
	     !strcmp(r.tag, want->tag);
	copa_ref_release(&r);
	return ok;
}

static enum copa_mt_compression sniff_compression(const char *path)
{
	unsigned char m[4] = {0};
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, m, sizeof(m)) < 2)
		return COPA_MT_TAR;
	if (m[0] == 0x1f && m[1] == 0x8b)
		return COPA_MT_GZIP;
	if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return COPA_MT_ZSTD;
	return COPA_MT_TAR;
}

static json_t *member_desc(const struct copa_cache *cache, const struct member *m,
                           const char *media_type)
{
	json_t *d = json_object();

	(void)cache;
	json_object_set_new(d, "mediaType", json_string(media_type));
	json_object_set_new(d, "size", json_integer((json_int_t)m->size));
	json_object_set_new(d, "digest", json_string(m->digest));
	return d;
}

/* Looks for the OCI manifest of a Docker >= 25 archive whose config is cfg_digest. */
static int find_oci_manifest(struct copa_image_src *s, const struct tar_index *t,
                             const char *cfg_digest, struct copa_err *err)
{
	struct copa_index ix;
	struct copa_err ignore = COPA_ERR_INIT;
	int found = 0;

	if (!t->has_index_json || !t->has_oci_layout)
		return 0;
	if (copa_index_parse(t->index_json.p, t->index_json.len, NULL, "index.json", &ix, &ignore) <
	    0)
		return 0;
	for (size_t i = 0; i < ix.n_manifests && !found; i++) {
		const struct copa_desc *d = &ix.manifests[i];
		struct copa_buf raw = COPA_BUF_INIT;
		struct copa_manifest m;

		if (d->mt.kind != COPA_MT_MANIFEST || !tar_has_digest(t, d->digest))
			continue;
		if (copa_image_src_get_doc(s, d, &raw, &ignore) == 0 &&
		    copa_manifest_parse(raw.p, raw.len, d->media_type, "manifest", &m, &ignore) ==
		        0) {
			if (!strcmp(m.config.digest, cfg_digest)) {
				found =
				    copa_src_set_root(s, d, NULL, raw.p, raw.len, err) < 0 ? -1 : 1;
			}
			copa_manifest_release(&m);
		}
		copa_buf_release(&raw);
	}
	copa_index_release(&ix);
	return found;
}

static int docker_archive_root(struct copa_image_src *s, const struct tar_index *t,
                               struct copa_err *err)
{
	_cleanup_free_ char *what = copa_xasprintf("%s: manifest.json", s->what);
	json_t *list =
	    copa_json_parse(t->manifest_json.p, t->manifest_json.len, ARCHIVE_META_MAX, what, err);
	json_t *entry = NULL, *layers, *sources, *manifest = NULL, *ldescs;
	const char *cfg_name;
	const struct member *cfg;
	struct copa_buf tags = COPA_BUF_INIT, raw = COPA_BUF_INIT;
	int r = -1;

	if (!list)
		return -1;
	if (!json_is_array(list) || json_array_size(list) == 0) {
		copa_err_set(err, COPA_E_INPUT, "%s: not a non-empty JSON array", what);
		goto out;
	}
	if (json_array_size(list) > ARCHIVE_MAX_IMAGES) {
		copa_err_set(err, COPA_E_LIMIT, "%s: more than %d images", what,
		             ARCHIVE_MAX_IMAGES);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		json_t *rt = json_object_get(e, "RepoTags");

		for (size_t k = 0; json_is_array(rt) && k < json_array_size(rt); k++) {
			const char *tag = json_string_value(json_array_get(rt, k));

			if (!tag)
				continue;
			copa_buf_addf(&tags, "%s'%s'", tags.len ? ", " : "", tag);
			if (s->ref.has_ref && !entry && repo_tag_matches(tag, &s->ref.ref))
				entry = e;
		}
	}
	if (s->ref.archive_index >= 0) {
		entry = json_array_get(list, (size_t)s->ref.archive_index);
		if (!entry) {
			copa_err_set(err, COPA_E_NOTFOUND,
			             "%s: no image @%d (the archive holds %zu)", s->what,
			             s->ref.archive_index, json_array_size(list));
			goto out;
		}
	} else if (!s->ref.has_ref) {
		if (json_array_size(list) != 1) {
			copa_err_set(err, COPA_E_USAGE,
			             "%s: the archive holds %zu images; name one as "
			             "docker-archive:FILE:REF or FILE:@N (tags: %s)",
			             s->what, json_array_size(list),
			             tags.len ? copa_buf_str(&tags) : "none");
			goto out;
		}
		entry = json_array_get(list, 0);
	} else if (!entry) {
		_cleanup_free_ char *want = copa_ref_string(&s->ref.ref);

		copa_err_set(err, COPA_E_NOTFOUND, "%s: no image tagged '%s' (tags: %s)", s->what,
		             want, tags.len ? copa_buf_str(&tags) : "none");
		goto out;
	}
	{
		const char *first =
		    json_string_value(json_array_get(json_object_get(entry, "RepoTags"), 0));

		if (first && strlen(first) < 512)
			s->repo_tag = copa_xstrdup(first);
	}
	cfg_name = copa_json_str(entry, "Config");
	layers = json_object_get(entry, "Layers");
	sources = json_object_get(entry, "LayerSources");
	if (!cfg_name || !json_is_array(layers)) {
		copa_err_set(err, COPA_E_INPUT, "%s: an entry lacks 'Config' or 'Layers'", what);
		goto out;
	}
	if (json_array_size(layers) > COPA_OCI_MAX_LAYERS) {
		copa_err_set(err, COPA_E_LIMIT, "%s: more than %d layers", what,
		             COPA_OCI_MAX_LAYERS);
		goto out;
	}
	{
		struct copa_buf norm = COPA_BUF_INIT;

		cfg = copa_path_normalize(cfg_name, &norm) == 0 ? tar_find(t, norm.p) : NULL;
		copa_buf_release(&norm);
	}
	if (!cfg) {
		copa_err_set(err, COPA_E_NOTFOUND,
		             "%s: config '%.200s' is missing from the archive", s->what, cfg_name);
		goto out;
	}
	/* Docker >= 25: the original OCI manifest is in the archive; use its bytes. */
	r = find_oci_manifest(s, t, cfg->digest, err);
	if (r != 0)
		goto out;
	r = -1;
	manifest = json_object();
	json_object_set_new(manifest, "schemaVersion", json_integer(2));
	json_object_set_new(manifest, "mediaType", json_string(COPA_MT_DOCKER_MANIFEST));
	json_object_set_new(manifest, "config",
	                    member_desc(s->opts.cache, cfg, COPA_MT_DOCKER_CONFIG));
	ldescs = json_array();
	json_object_set_new(manifest, "layers", ldescs);
	{
		struct copa_config c;
		struct copa_buf cb = COPA_BUF_INIT;
		_cleanup_free_ char *cpath = copa_cache_blob_path(s->opts.cache, cfg->digest);

		if (copa_fs_read_file(AT_FDCWD, cpath, COPA_OCI_MAX_CONFIG, &cb, err) < 0 ||
		    copa_config_parse(cb.p, cb.len, what, &c, err) < 0) {
			copa_buf_release(&cb);
			goto out;
		}
		copa_buf_release(&cb);
		for (size_t i = 0; i < json_array_size(layers); i++) {
			const char *ln = json_string_value(json_array_get(layers, i));
			struct copa_buf norm = COPA_BUF_INIT;
			const struct member *lm = NULL;
			_cleanup_free_ char *lpath = NULL;
			enum copa_mt_compression comp;
			json_t *src = NULL, *d;
			bool foreign;

			if (ln && copa_path_normalize(ln, &norm) == 0)
				lm = tar_find(t, norm.p);
			copa_buf_release(&norm);
			if (!lm) {
				copa_err_set(err, COPA_E_NOTFOUND,
				             "%s: layer '%.200s' is missing from the archive",
				             s->what, ln ? ln : "(not a string)");
				copa_config_release(&c);
				goto out;
			}
			lpath = copa_cache_blob_path(s->opts.cache, lm->digest);
			comp = sniff_compression(lpath);
			if (json_is_object(sources) && i < c.n_diff_ids)
				src = json_object_get(sources, c.diff_ids[i]);
			foreign = json_is_object(src);
			d = member_desc(s->opts.cache, lm,
			                foreign ? (comp == COPA_MT_TAR
			                               ? "application/vnd.docker.image.rootfs."
			                                 "foreign.diff.tar"
			                               : "application/vnd.docker.image.rootfs."
			                                 "foreign.diff.tar.gzip")
			                        : copa_mt_layer(COPA_FAMILY_DOCKER, comp));
			if (foreign && json_is_array(json_object_get(src, "urls")))
				json_object_set(d, "urls", json_object_get(src, "urls"));
			json_array_append_new(ldescs, d);
		}
		copa_config_release(&c);
	}
	if (copa_json_dump(manifest, 3, &raw, err) < 0)
		goto out;
	r = copa_src_set_root(s, NULL, COPA_MT_DOCKER_MANIFEST, raw.p, raw.len, err);
out:
	copa_buf_release(&tags);
	copa_buf_release(&raw);
	json_decref(manifest);
	json_decref(list);
	return r;
}

int copa_src_docker_archive_open(struct copa_image_src *s, struct copa_err *err)
{
	const struct tar_index *t = archive_src_open(s, err);

	if (!t)
		return -1;
	if (t->has_manifest_json)
		return docker_archive_root(s, t, err);
	if (t->has_index_json && t->has_oci_layout) {
		const char *tag = NULL;

		if (s->ref.has_ref)
			tag = s->ref.ref.tag;
		return root_from_index_json(s, t, tag, err);
	}
	return copa_err_set(err, COPA_E_INPUT,
	                    "'%s' is not a docker-archive: it has no manifest.json", s->ref.path);
}

/* ---- tar writing ---- */

static int tar_member_error(struct archive *a, const char *name, struct copa_err *err)
{
	return copa_err_set(err, COPA_E_IO, "cannot write tar member '%s': %s", name,
	                    archive_error_string(a));
}

/* Writes the header of a member with mtime 0 (size only for a regular file). */
static int tar_add_header(struct archive *a, const char *name, unsigned int type, int perm,
                          uint64_t size, struct copa_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int r = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	if (type == AE_IFREG)
		archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		r = tar_member_error(a, name, err);
	archive_entry_free(e);
	return r;
}

static int tar_add_fd(struct archive *a, const char *name, int fd, uint64_t size,
                      struct copa_err *err)
{
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = copa_xmalloc(chunk);
	uint64_t off = 0;

	if (tar_add_header(a, name, AE_IFREG, 0644, size, err) < 0)
		return -1;
	while (off < size) {
		ssize_t n;

		if (copa_runctl_check(err) < 0)
			return -1;
		n = pread(fd, buf, chunk, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return copa_err_sys(err, COPA_E_IO, n < 0 ? errno : EIO, "cannot read '%s'",
			                    name);
		if (archive_write_data(a, buf, (size_t)n) != n)
			return tar_member_error(a, name, err);
		off += (uint64_t)n;
	}
	return 0;
}

static int tar_add_bytes(struct archive *a, const char *name, const void *data, size_t n,
                         struct copa_err *err)
{
	if (tar_add_header(a, name, AE_IFREG, 0644, n, err) < 0)
		return -1;
	if (n && archive_write_data(a, data, n) != (la_ssize_t)n)
		return tar_member_error(a, name, err);
	return 0;
}

static int tar_add_dir(struct archive *a, const char *name, struct copa_err *err)
{
	return tar_add_header(a, name, AE_IFDIR, 0755, 0, err);
}

static struct archive *tar_writer(int fd, struct copa_err *err)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_IO, "cannot start tar: %s", archive_error_string(a));
		archive_write_free(a);
		return NULL;
	}
	return a;
}

static int tar_finish(struct archive *a, struct copa_err *err)
{
	int r =
	    archive_write_close(a) == ARCHIVE_OK
	        ? 0
	        : copa_err_set(err, COPA_E_IO, "cannot finish tar: %s", archive_error_string(a));

	archive_write_free(a);
	return r;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file_at(struct archive *a, int dirfd, const char *rel, struct copa_err *err)
{
	_cleanup_close_ int fd = copa_fs_open_beneath(dirfd, rel, O_RDONLY | O_CLOEXEC, 0, err);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot stat '%s'", rel);
	return tar_add_fd(a, rel, fd, (uint64_t)st.st_size, err);
}

int copa_tar_dir(int dirfd, int out_fd, struct copa_err *err)
{
	struct archive *a = tar_writer(out_fd, err);
	int r = -1;
	_cleanup_close_ int bfd = -1;
	DIR *algs = NULL;

	if (!a)
		return -1;
	if (add_file_at(a, dirfd, "oci-layout", err) < 0 ||
	    add_file_at(a, dirfd, "index.json", err) < 0 || tar_add_dir(a, "blobs", err) < 0)
		goto out;
	bfd = openat(dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	algs = bfd >= 0 ? fdopendir(dup(bfd)) : NULL;
	if (!algs) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot list 'blobs'");
		goto out;
	}
	for (struct dirent *de; (de = readdir(algs));) {
		_cleanup_free_ char *rel = NULL;
		char **names = NULL;
		size_t n = 0, cap = 0;
		DIR *sub;
		int sfd;

		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		rel = copa_xasprintf("blobs/%s", de->d_name);
		if (tar_add_dir(a, rel, err) < 0)
			goto out;
		sfd = openat(bfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		sub = sfd >= 0 ? fdopendir(sfd) : NULL;
		if (!sub) {
			copa_err_sys(err, COPA_E_IO, errno, "cannot list '%s'", rel);
			goto out;
		}
		for (struct dirent *f; (f = readdir(sub));) {
			if (f->d_name[0] == '.')
				continue; /* temporary files and . .. */
			names = copa_xgrow(names, &cap, n + 1, sizeof(*names));
			names[n++] = copa_xasprintf("%s/%s", rel, f->d_name);
		}
		closedir(sub);
		qsort(names, n, sizeof(*names), cmpstr);
		r = 0;
		for (size_t i = 0; i < n; i++) {
			if (r == 0)
				r = add_file_at(a, dirfd, names[i], err);
			free(names[i]);
		}
		free(names);
		if (r < 0)
			goto out;
		r = -1;
	}
	r = 0;
out:
	if (algs)
		closedir(algs);
	if (r == 0)
		return tar_finish(a, err);
	archive_write_free(a);
	return -1;
}

/* ---- docker-archive destination ---- */

struct docker_dst {
	char *staging; /* private directory beside the output file */
	int sfd;
};

static char *staged_name(const char *digest)
{
	const char *colon = strchr(digest, ':');

	return copa_xasprintf("blob-%.*s-%s", (int)(colon - digest), digest, colon + 1);
}

static int docker_has_blob(struct copa_image_dst *d, const struct copa_desc *desc, bool *has,
                           struct copa_err *err)
{
	struct docker_dst *dd = d->impl;
	_cleanup_free_ char *name = staged_name(desc->digest);

	*has = copa_fs_exists(dd->sfd, name);
	return 0;
}

static int docker_begin_blob(struct copa_image_dst *d, const struct copa_desc *desc,
                             struct copa_tmpfile *t, struct copa_err *err)
{
	struct docker_dst *dd = d->impl;
	_cleanup_free_ char *name = staged_name(desc->digest);

	return copa_tmpfile_open(t, dd->sfd, name, 0600, err);
}

static int docker_put_manifest(struct copa_image_dst *d, const struct copa_desc *desc,
                               const void *raw, size_t n, struct copa_err *err)
{
	return copa_err_set(err, COPA_E_USAGE,
	                    "a docker-archive holds a single image, not an index: choose one "
	                    "platform with --platform");
}

/*
 * Decompresses the staged blob into <staging>/<diffid hex>.tar and returns
 * the diff_id (sha256 of the uncompressed tar) in diff_id.
 */
static int stage_uncompressed(struct docker_dst *dd, const struct copa_desc *desc,
                              char diff_id[COPA_DIGEST_MAX], uint64_t *size, struct copa_err *err)
{
	_cleanup_free_ char *name = staged_name(desc->digest);
	_cleanup_close_ int in = copa_fs_open_beneath(dd->sfd, name, O_RDONLY | O_CLOEXEC, 0, err);
	_cleanup_free_ char *what = copa_xasprintf("layer %s: cannot decompress", desc->digest);
	struct archive *a;
	struct archive_entry *e;
	struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
	char hex[COPA_HASH_HEX_MAX];
	int r = -1;

	if (in < 0)
		return -1;
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_fd(a, in, 1 << 16) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_INPUT, "%s: %s", what, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	if (copa_tmpfile_open(&t, dd->sfd, "layer.tmp", 0644, err) < 0) {
		archive_read_free(a);
		return -1;
	}
	if (archive_data_to_fd(a, t.fd, NULL, what, hex, size, err) == 0) {
		snprintf(diff_id, COPA_DIGEST_MAX, "sha256:%s", hex);
		free(t.final);
		t.final = copa_xasprintf("%s.tar", hex);
		r = copa_tmpfile_commit(&t, false, err);
	}
	copa_tmpfile_release(&t);
	archive_read_free(a);
	return r;
}

static char *familiar_name(const struct copa_ref *ref)
{
	const char *path = ref->path;

	if (strcmp(ref->domain, "docker.io"))
		return copa_xasprintf("%s/%s:%s", ref->domain, ref->path, ref->tag);
	if (!strncmp(path, "library/", 8))
		path += 8;
	return copa_xasprintf("%s:%s", path, ref->tag);
}

/* Names the new archive writes itself; the old archive's members by these names are skipped. */
static bool written_or_dropped(const char *name, char *const *written, size_t n)
{
	/* The old OCI index (Docker >= 25) would not list the new image: manifest.json rules. */
	if (!strcmp(name, "manifest.json") || !strcmp(name, "repositories") ||
	    !strcmp(name, "index.json") || !strcmp(name, "oci-layout"))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(written[i], name))
			return true;
	return false;
}

/*
 * Reads the existing docker-archive at path: returns its manifest.json
 * entries in *old (NULL when the file holds no members) and, when w is
 * given, copies its members into the tar being written (all but those the
 * new image writes and the top-level indexes). A file that is not a
 * docker-archive is refused.
 */
static int old_members(struct archive *w, const char *path, char *const *written, size_t n_written,
                       json_t **old, struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct copa_buf name = COPA_BUF_INIT, mj = COPA_BUF_INIT;
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *buf = copa_xmalloc(chunk);
	bool any = false, have_manifest = false;
	size_t members = 0;
	int r = -1, h;

	*old = NULL;
	copa_buf_init(&mj, ARCHIVE_META_MAX);
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_INPUT, "cannot read '%s': %s", path,
		             archive_error_string(a));
		goto out;
	}
	while ((h = archive_read_next_header(a, &e)) >= ARCHIVE_WARN && h != ARCHIVE_EOF) {
		const char *raw = archive_entry_pathname(e);
		bool keep_manifest;

		any = true;
		if (++members > ARCHIVE_MAX_MEMBERS) {
			copa_err_set(err, COPA_E_LIMIT, "'%s': more than %d members", path,
			             ARCHIVE_MAX_MEMBERS);
			goto out;
		}
		if (!raw || raw[0] == '/' || copa_path_normalize(raw, &name) < 0 || !name.len)
			continue; /* an unsafe name: no image of the archive can use it */
		keep_manifest =
		    !strcmp(name.p, "manifest.json") && archive_entry_filetype(e) == AE_IFREG;
		if (keep_manifest) {
			have_manifest = true;
			copa_buf_reset(&mj);
		} else if (!w || written_or_dropped(name.p, written, n_written)) {
			continue;
		} else {
			archive_entry_set_pathname(e, name.p);
			if (archive_write_header(w, e) != ARCHIVE_OK) {
				tar_member_error(w, name.p, err);
				goto out;
			}
		}
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
			continue;
		for (;;) {
			la_ssize_t n = archive_read_data(a, buf, chunk);

			if (n < 0) {
				copa_err_set(err, COPA_E_INPUT, "cannot read '%s': member '%s': %s",
				             path, name.p, archive_error_string(a));
				goto out;
			}
			if (n == 0)
				break;
			if (keep_manifest && copa_buf_add(&mj, buf, (size_t)n) < 0) {
				copa_err_set(err, COPA_E_LIMIT,
				             "'%s': manifest.json is larger than %u bytes", path,
				             ARCHIVE_META_MAX);
				goto out;
			}
			if (!keep_manifest && archive_write_data(w, buf, (size_t)n) != n) {
				tar_member_error(w, name.p, err);
				goto out;
			}
		}
	}
	if (h < ARCHIVE_WARN) {
		copa_err_set(err, COPA_E_INPUT, "'%s' is not a valid tar: %s", path,
		             archive_error_string(a));
		goto out;
	}
	if (any) {
		_cleanup_free_ char *what = copa_xasprintf("'%s': manifest.json", path);

		if (have_manifest)
			*old = copa_json_parse(mj.p, mj.len, ARCHIVE_META_MAX, what, err);
		if (!*old || !json_is_array(*old)) {
			if (*old || !have_manifest)
				copa_err_set(
				    err, COPA_E_INPUT,
				    "'%s' exists and is not a docker-archive (no manifest.json "
				    "list): copa would drop its content; remove it or choose "
				    "another file",
				    path);
			json_decref(*old);
			*old = NULL;
			goto out;
		}
	}
	r = 0;
out:
	copa_buf_release(&name);
	copa_buf_release(&mj);
	archive_read_free(a);
	return r;
}

/*
 * Appends to list the old archive's manifest.json entries that stay: `tag`
 * moves to the new image, and an entry that only had that tag goes with it
 * (as an OCI layout's index.json entry does). Returns how many stay.
 */
static size_t keep_old_entries(json_t *list, json_t *old, const char *tag)
{
	size_t i, kept = 0;
	json_t *ent;

	json_array_foreach(old, i, ent)
	{
		json_t *copy = json_deep_copy(ent);
		json_t *tags = json_object_get(copy, "RepoTags");
		bool had = false;

		if (!json_is_object(copy)) {
			json_decref(copy);
			continue;
		}
		for (size_t k = 0; tag && json_is_array(tags) && k < json_array_size(tags);) {
			const char *t = json_string_value(json_array_get(tags, k));

			if (t && !strcmp(t, tag)) {
				json_array_remove(tags, k);
				had = true;
			} else {
				k++;
			}
		}
		if (had && json_array_size(tags) == 0) {
			json_decref(copy);
			continue;
		}
		json_array_append_new(list, copy);
		kept++;
	}
	return kept;
}

static int docker_commit(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                         size_t n, struct copa_err *err)
{
	struct docker_dst *dd = d->impl;
	struct copa_manifest m;
	struct copa_config c;
	struct copa_buf cb = COPA_BUF_INIT, mj = COPA_BUF_INIT;
	_cleanup_free_ char *cfg_name = NULL;
	struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
	json_t *list = NULL, *entry = NULL, *layers, *sources = NULL, *old = NULL, *old2 = NULL;
	struct archive *a = NULL;
	char **written = NULL, *tag = NULL;
	size_t n_written = 0;
	struct stat st;
	int r = -1, lk = -1;
	char cfg_member[COPA_HASH_HEX_MAX + 8];

	if (copa_oci_sniff(raw, n, desc->media_type, "manifest", err) != COPA_MT_MANIFEST)
		return copa_err_is_set(err) ? -1 : docker_put_manifest(d, desc, raw, n, err);
	if (copa_manifest_parse(raw, n, desc->media_type, "manifest", &m, err) < 0)
		return -1;
	cfg_name = staged_name(m.config.digest);
	memset(&c, 0, sizeof(c));
	{
		_cleanup_close_ int cfd =
		    copa_fs_open_beneath(dd->sfd, cfg_name, O_RDONLY | O_CLOEXEC, 0, err);

		if (cfd < 0 || copa_fs_read_fd(cfd, COPA_OCI_MAX_CONFIG, &cb, err) < 0 ||
		    copa_config_parse(cb.p, cb.len, "config", &c, err) < 0)
			goto out;
	}
	if (c.n_diff_ids != m.n_layers) {
		copa_err_set(err, COPA_E_INPUT,
		             "manifest has %zu layers but its config %zu diff_ids", m.n_layers,
		             c.n_diff_ids);
		goto out;
	}
	list = json_array();
	entry = json_object();
	snprintf(cfg_member, sizeof(cfg_member), "%s.json", strchr(m.config.digest, ':') + 1);
	json_object_set_new(entry, "Config", json_string(cfg_member));
	json_object_set_new(entry, "RepoTags", json_array());
	if (d->ref.has_ref && d->ref.ref.tag) {
		tag = familiar_name(&d->ref.ref);
		json_array_append_new(json_object_get(entry, "RepoTags"), json_string(tag));
	}
	layers = json_array();
	json_object_set_new(entry, "Layers", layers);
	for (size_t i = 0; i < m.n_layers; i++) {
		char diff_id[COPA_DIGEST_MAX];
		uint64_t size;

		if (stage_uncompressed(dd, &m.layers[i], diff_id, &size, err) < 0)
			goto out;
		if (strcmp(diff_id, c.diff_ids[i])) {
			copa_err_set(err, COPA_E_VERIFY,
			             "layer %s: uncompressed content is %s but the config says %s",
			             m.layers[i].digest, diff_id, c.diff_ids[i]);
			goto out;
		}
		json_array_append_new(layers, json_sprintf("%s.tar", diff_id + 7));
		if (m.layers[i].mt.foreign) {
			if (!sources)
				sources = json_object();
			json_object_set(sources, diff_id, m.layers[i].json);
		}
	}
	if (sources)
		json_object_set(entry, "LayerSources", sources);
	/*
	 * Under a lock on the directory, the images the file holds already
	 * are copied after the new one's members (concurrent writers and a
	 * destination that is also the source keep every image).
	 */
	lk = copa_dst_lock_dir(d, d->ref.path, err);
	if (lk < 0)
		goto out;
	if (copa_tmpfile_open(&t, AT_FDCWD, d->ref.path, 0644, err) < 0)
		goto out;
	a = tar_writer(t.fd, err);
	if (!a)
		goto out;
	written = copa_xcalloc(m.n_layers + 2, sizeof(*written));
	written[n_written++] = copa_xstrdup(cfg_member);
	if (tar_add_bytes(a, cfg_member, cb.p, cb.len, err) < 0)
		goto out;
	for (size_t i = 0; i < m.n_layers; i++) {
		_cleanup_free_ char *name = copa_xasprintf("%s.tar", c.diff_ids[i] + 7);
		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup |= !strcmp(c.diff_ids[k], c.diff_ids[i]);
		if (!dup && add_file_at(a, dd->sfd, name, err) < 0)
			goto out;
		if (!dup)
			written[n_written++] = steal_ptr(&name);
	}
	/* Read first: when no other image stays, nothing is copied (a rewrite of one tag). */
	if (stat(d->ref.path, &st) == 0 && S_ISREG(st.st_mode)) {
		if (old_members(NULL, d->ref.path, NULL, 0, &old, err) < 0 ||
		    (old && keep_old_entries(list, old, tag) > 0 &&
		     old_members(a, d->ref.path, written, n_written, &old2, err) < 0)) {
			copa_err_wrap(err, "cannot add an image to docker-archive '%s'",
			              d->ref.path);
			goto out;
		}
	}
	json_array_append(list, entry);
	if (copa_json_dump(list, 0, &mj, err) < 0)
		goto out;
	if (tar_add_bytes(a, "manifest.json", mj.p, mj.len, err) < 0)
		goto out;
	r = tar_finish(a, err);
	a = NULL;
	if (r == 0)
		r = copa_tmpfile_commit(&t, false, err);
out:
	if (a)
		archive_write_free(a);
	copa_tmpfile_release(&t);
	if (lk >= 0)
		close(lk);
	for (size_t i = 0; i < n_written; i++)
		free(written[i]);
	free(written);
	free(tag);
	json_decref(old);
	json_decref(old2);
	json_decref(entry);
	json_decref(sources);
	json_decref(list);
	copa_buf_release(&cb);
	copa_buf_release(&mj);
	copa_config_release(&c);
	copa_manifest_release(&m);
	return r;
}

static void docker_dst_free(struct copa_image_dst *d)
{
	struct docker_dst *dd = d->impl;
	struct copa_err e = COPA_ERR_INIT;

	if (!dd)
		return;
	if (dd->sfd >= 0)
		close(dd->sfd);
	if (dd->staging)
		copa_fs_rm_rf(AT_FDCWD, dd->staging, &e);
	free(dd->staging);
	free(dd);
}

static const struct dst_ops docker_dst_ops = {
    .has_blob = docker_has_blob,
    .put_blob = copa_dst_put_blob_staged,
    .begin_blob = docker_begin_blob,
    .end_blob = copa_dst_end_blob_commit,
    .put_manifest = docker_put_manifest,
    .commit = docker_commit,
    .free = docker_dst_free,
    .single = true,
    .family = -1,
};

int copa_dst_docker_archive_open(struct copa_image_dst *d, struct copa_err *err)
{
	struct docker_dst *dd = copa_xcalloc(1, sizeof(*dd));
	_cleanup_free_ char *parent = copa_path_dir(d->ref.path);

	dd->sfd = -1;
	d->impl = dd;
	d->ops = &docker_dst_ops;
	copa_dst_sweep_beside(d->ref.path);
	dd->staging = copa_fs_mkdtemp(parent, ".copa-docker-archive-", err);
	if (!dd->staging)
		return copa_err_wrap(err, "cannot write docker-archive '%s'", d->ref.path);
	dd->sfd = open(dd->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dd->sfd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", dd->staging);
	/* Held while the destination lives: a sweep by another copa leaves it alone. */
	flock(dd->sfd, LOCK_EX | LOCK_NB);
	return 0;
}

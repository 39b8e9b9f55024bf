/*
 * layout.c: OCI image layout directories (oci:DIR[:TAG]) as source and
 * destination; the destination also stages oci-archive output.
 */
#include "image/internal.h"

#include "util/json.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAYOUT_FILE_MAX 4096

static char *blob_rel(const char *digest)
{
	const char *colon = strchr(digest, ':');

	return copa_xasprintf("blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
}

/* Picks the index.json entry for `tag` (NULL: the only one); returns its index or -1. */
static int layout_pick(const struct copa_index *ix, const char *tag, const char *what,
                       struct copa_err *err)
{
	struct copa_buf tags = COPA_BUF_INIT;
	int found = -1;

	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *name =
		    copa_desc_annotation(&ix->manifests[i], COPA_MT_OCI_LAYOUT_REFNAME);

		if (tag && name && !strcmp(name, tag))
			found = (int)i;
		if (name)
			copa_buf_addf(&tags, "%s'%s'", tags.len ? ", " : "", name);
	}
	if (!tag && ix->n_manifests == 1)
		found = 0;
	if (found >= 0) {
		copa_buf_release(&tags);
		return found;
	}
	if (ix->n_manifests == 0)
		copa_err_set(err, COPA_E_NOTFOUND, "%s: the layout's index.json lists no images",
		             what);
	else if (tag)
		copa_err_set(err, COPA_E_NOTFOUND, "%s: no image tagged '%s' (tags: %s)", what, tag,
		             tags.len ? copa_buf_str(&tags) : "none");
	else
		copa_err_set(err, COPA_E_USAGE,
		             "%s: the layout holds %zu images; name one as oci:DIR:TAG (tags: %s)",
		             what, ix->n_manifests, tags.len ? copa_buf_str(&tags) : "none");
	copa_buf_release(&tags);
	return -1;
}

int copa_layout_set_root(struct copa_image_src *s, const struct copa_index *ix, const char *tag,
                         struct copa_err *err)
{
	struct copa_buf raw = COPA_BUF_INIT;
	int pick = layout_pick(ix, tag, s->what, err);
	int r = pick < 0 ? -1 : copa_image_src_get_doc(s, &ix->manifests[pick], &raw, err);

	if (r == 0)
		r = copa_src_set_root(s, &ix->manifests[pick], NULL, raw.p, raw.len, err);
	copa_buf_release(&raw);
	return r;
}

/* ---- source ---- */

struct layout_src {
	int dirfd;
	char *dir;
};

static int layout_open_blob(struct layout_src *l, const struct copa_desc *d, struct copa_err *err)
{
	_cleanup_free_ char *rel = blob_rel(d->digest);
	struct copa_err e2 = COPA_ERR_INIT;
	int fd = copa_fs_open_beneath(l->dirfd, rel, O_RDONLY | O_CLOEXEC, 0, &e2);

	if (fd < 0) {
		if (e2.sys_errno == ENOENT)
			return copa_err_set(err, COPA_E_NOTFOUND,
			                    "blob %s is missing from the layout '%s'", d->digest,
			                    l->dir);
		*err = e2;
		return copa_err_wrap(err, "blob %s", d->digest);
	}
	return fd;
}

static int layout_get_doc(struct copa_image_src *s, const struct copa_desc *d, struct copa_buf *out,
                          struct copa_err *err)
{
	_cleanup_close_ int fd = layout_open_blob(s->impl, d, err);

	if (fd < 0)
		return -1;
	return copa_fs_read_fd(fd, COPA_OCI_MAX_MANIFEST, out, err) < 0
	           ? copa_err_wrap(err, "manifest %s", d->digest)
	           : 0;
}

static int layout_write_blob(struct copa_image_src *s, const struct copa_desc *d, int out_fd,
                             struct copa_err *err)
{
	_cleanup_close_ int fd = layout_open_blob(s->impl, d, err);

	if (fd < 0)
		return -1;
	if (copa_copy_verified(fd, out_fd, d, "blob", err) < 0)
		return -1;
	copa_src_mark_verified(s, d->digest);
	return 0;
}

static char *layout_blob_path(struct copa_image_src *s, const struct copa_desc *d,
                              struct copa_err *err)
{
	struct layout_src *l = s->impl;
	_cleanup_free_ char *rel = blob_rel(d->digest);

	if (!copa_src_is_verified(s, d->digest)) {
		_cleanup_close_ int fd = layout_open_blob(l, d, err);

		if (fd < 0 || copa_copy_verified(fd, -1, d, "blob", err) < 0)
			return NULL;
		copa_src_mark_verified(s, d->digest);
	}
	return copa_xasprintf("%s/%s", l->dir, rel);
}

static void layout_src_free(struct copa_image_src *s)
{
	struct layout_src *l = s->impl;

	if (!l)
		return;
	if (l->dirfd >= 0)
		close(l->dirfd);
	free(l->dir);
	free(l);
}

static const struct src_ops layout_src_ops = {
    .get_doc = layout_get_doc,
    .write_blob = layout_write_blob,
    .blob_path = layout_blob_path,
    .free = layout_src_free,
};

/* Reads and checks oci-layout and index.json of an open layout directory. */
static int read_layout_index(int dirfd, const char *dir, struct copa_index *ix,
                             struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	json_t *v;
	const char *ver;
	_cleanup_free_ char *what = NULL;
	int r;

	if (copa_fs_read_file(dirfd, "oci-layout", LAYOUT_FILE_MAX, &b, err) < 0) {
		copa_buf_release(&b);
		if (err->sys_errno == ENOENT)
			return copa_err_set(
			    err, COPA_E_NOTFOUND,
			    "'%s' is not an OCI layout: it has no 'oci-layout' file", dir);
		return copa_err_wrap(err, "OCI layout '%s'", dir);
	}
	what = copa_xasprintf("'%s/oci-layout'", dir);
	v = copa_json_parse(b.p, b.len, LAYOUT_FILE_MAX, what, err);
	copa_buf_release(&b);
	if (!v)
		return -1;
	ver = copa_json_str(v, "imageLayoutVersion");
	if (!ver || strncmp(ver, "1.", 2)) {
		json_decref(v);
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "%s: unsupported imageLayoutVersion (expected 1.x)", what);
	}
	json_decref(v);
	free(what);
	what = copa_xasprintf("'%s/index.json'", dir);
	if (copa_fs_read_file(dirfd, "index.json", COPA_OCI_MAX_MANIFEST, &b, err) < 0) {
		copa_buf_release(&b);
		if (err->code == COPA_E_LIMIT)
			return copa_err_set(err, COPA_E_LIMIT,
			                    "%s: larger than the limit of %u bytes", what,
			                    COPA_OCI_MAX_MANIFEST);
		return copa_err_wrap(err, "OCI layout '%s'", dir);
	}
	r = copa_index_parse(b.p, b.len, NULL, what, ix, err);
	copa_buf_release(&b);
	return r;
}

int copa_src_layout_open(struct copa_image_src *s, struct copa_err *err)
{
	struct layout_src *l = copa_xcalloc(1, sizeof(*l));
	struct copa_index ix;
	int r;

	l->dirfd = -1;
	l->dir = realpath(s->ref.path, NULL);
	if (!l->dir)
		l->dir = copa_xstrdup(s->ref.path);
	s->impl = l;
	s->ops = &layout_src_ops;
	l->dirfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return copa_err_sys(err, errno == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO, errno,
		                    "cannot open OCI layout '%s'", l->dir);
	if (read_layout_index(l->dirfd, l->dir, &ix, err) < 0)
		return copa_err_wrap(err, "%s", s->what);
	r = copa_layout_set_root(s, &ix, s->ref.tag, err);
	copa_index_release(&ix);
	return r;
}

/* ---- destination ---- */

struct layout_dst {
	int dirfd;
	char *dir;
	bool created;  /* we created dir: remove it when not committed */
	json_t *index; /* existing index.json, or NULL */
	char *archive; /* oci-archive: the final tar file; dir is staging */
};

static int layout_has_blob(struct copa_image_dst *d, const struct copa_desc *desc, bool *has,
                           struct copa_err *err)
{
	struct layout_dst *l = d->impl;
	_cleanup_free_ char *rel = blob_rel(desc->digest);
	struct stat st;

	*has = fstatat(l->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       st.st_size == desc->size;
	return 0;
}

static int ensure_blob_dir(struct layout_dst *l, const char *digest, struct copa_err *err)
{
	const char *colon = strchr(digest, ':');
	_cleanup_free_ char *dir = copa_xasprintf("blobs/%.*s", (int)(colon - digest), digest);

	return copa_fs_mkdir_p(l->dirfd, dir, 0755, err);
}

static int layout_begin_blob(struct copa_image_dst *d, const struct copa_desc *desc,
                             struct copa_tmpfile *t, struct copa_err *err)
{
	struct layout_dst *l = d->impl;
	_cleanup_free_ char *rel = blob_rel(desc->digest);

	if (ensure_blob_dir(l, desc->digest, err) < 0)
		return -1;
	return copa_tmpfile_open(t, l->dirfd, rel, 0644, err);
}

static int layout_put_manifest(struct copa_image_dst *d, const struct copa_desc *desc,
                               const void *raw, size_t n, struct copa_err *err)
{
	struct layout_dst *l = d->impl;
	_cleanup_free_ char *rel = blob_rel(desc->digest);

	if (ensure_blob_dir(l, desc->digest, err) < 0)
		return -1;
	return copa_fs_write_atomic(l->dirfd, rel, raw, n, 0644, err);
}

static int layout_commit(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                         size_t n, struct copa_err *err)
{
	struct layout_dst *l = d->impl;
	json_t *index = l->index ? json_copy(l->index) : NULL;
	json_t *list, *keep, *entry;
	struct copa_buf out = COPA_BUF_INIT;
	static const char layout_file[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	const char *tag = d->ref.tag;
	int r;

	if (layout_put_manifest(d, desc, raw, n, err) < 0)
		return -1;
	if (!index) {
		index = json_object();
		json_object_set_new(index, "schemaVersion", json_integer(2));
		json_object_set_new(index, "mediaType", json_string(COPA_MT_OCI_INDEX));
	}
	list = json_object_get(index, "manifests");
	keep = json_array();
	for (size_t i = 0; json_is_array(list) && i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *name =
		    copa_json_str(json_object_get(e, "annotations"), COPA_MT_OCI_LAYOUT_REFNAME);
		const char *dg = copa_json_str(e, "digest");

		if (tag && name && !strcmp(name, tag))
			continue; /* the tag moves to the new image */
		if (!tag && !name && dg && !strcmp(dg, desc->digest))
			continue; /* the same untagged image again */
		json_array_append(keep, e);
	}
	entry = json_object();
	json_object_set_new(entry, "mediaType", json_string(desc->media_type));
	json_object_set_new(entry, "digest", json_string(desc->digest));
	json_object_set_new(entry, "size", json_integer(desc->size));
	if (tag) {
		json_t *ann = json_object();

		json_object_set_new(ann, COPA_MT_OCI_LAYOUT_REFNAME, json_string(tag));
		json_object_set_new(entry, "annotations", ann);
	}
	json_array_append_new(keep, entry);
	json_object_set_new(index, "manifests", keep);
	r = copa_json_dump(index, 0, &out, err);
	json_decref(index);
	if (r == 0 && !copa_fs_exists(l->dirfd, "oci-layout"))
		r = copa_fs_write_atomic(l->dirfd, "oci-layout", layout_file,
		                         sizeof(layout_file) - 1, 0644, err);
	if (r == 0)
		r = copa_fs_write_atomic(l->dirfd, "index.json", out.p, out.len, 0644, err);
	copa_buf_release(&out);
	if (r < 0 || !l->archive)
		return r;
	/* oci-archive: tar the staged layout into a temporary file, then rename. */
	{
		struct copa_tmpfile t = {.fd = -1, .dirfd = -1};

		r = copa_tmpfile_open(&t, AT_FDCWD, l->archive, 0644, err);
		if (r == 0)
			r = copa_tar_dir(l->dirfd, t.fd, err);
		if (r == 0)
			r = copa_tmpfile_commit(&t, false, err);
		copa_tmpfile_release(&t);
		if (r < 0)
			copa_err_wrap(err, "cannot write '%s'", l->archive);
	}
	return r;
}

static void layout_dst_free(struct copa_image_dst *d)
{
	struct layout_dst *l = d->impl;

	if (!l)
		return;
	if (l->dirfd >= 0)
		close(l->dirfd);
	if ((l->created && !d->committed) || l->archive) {
		struct copa_err e = COPA_ERR_INIT;

		copa_fs_rm_rf(AT_FDCWD, l->dir, &e);
	}
	json_decref(l->index);
	free(l->dir);
	free(l->archive);
	free(l);
}

static const struct dst_ops layout_dst_ops = {
    .has_blob = layout_has_blob,
    .put_blob = copa_dst_put_blob_staged,
    .begin_blob = layout_begin_blob,
    .end_blob = copa_dst_end_blob_commit,
    .put_manifest = layout_put_manifest,
    .commit = layout_commit,
    .free = layout_dst_free,
    .single = false,
    .family = COPA_FAMILY_OCI,
};

static int layout_dst_init(struct copa_image_dst *d, struct layout_dst *l, struct copa_err *err)
{
	d->impl = l;
	d->ops = &layout_dst_ops;
	l->dirfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0 && errno != ENOENT)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open OCI layout '%s'", l->dir);
	if (l->dirfd < 0) {
		if (copa_fs_mkdir_p(AT_FDCWD, l->dir, 0755, err) < 0)
			return copa_err_wrap(err, "cannot create OCI layout");
		l->created = true;
		l->dirfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (l->dirfd < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot open OCI layout '%s'",
			                    l->dir);
	} else if (copa_fs_exists(l->dirfd, "index.json")) {
		struct copa_index ix;

		if (read_layout_index(l->dirfd, l->dir, &ix, err) < 0)
			return copa_err_wrap(err, "cannot add an image to the existing layout");
		l->index = json_incref(ix.json);
		copa_index_release(&ix);
	}
	return copa_fs_mkdir_p(l->dirfd, "blobs/sha256", 0755, err);
}

int copa_dst_layout_open(struct copa_image_dst *d, struct copa_err *err)
{
	struct layout_dst *l = copa_xcalloc(1, sizeof(*l));

	l->dirfd = -1;
	l->dir = copa_xstrdup(d->ref.path);
	return layout_dst_init(d, l, err);
}

int copa_dst_oci_archive_open(struct copa_image_dst *d, struct copa_err *err)
{
	struct layout_dst *l = copa_xcalloc(1, sizeof(*l));
	_cleanup_free_ char *parent = copa_path_dir(d->ref.path);
	struct stat st;

	l->dirfd = -1;
	d->impl = l;
	d->ops = &layout_dst_ops;
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		return copa_err_sys(err, COPA_E_IO, errno ? errno : ENOTDIR,
		                    "cannot write oci-archive '%s': directory '%s'", d->ref.path,
		                    parent);
	l->archive = copa_xstrdup(d->ref.path);
	l->dir = copa_fs_mkdtemp(parent, ".copa-oci-archive-", err);
	if (!l->dir)
		return -1;
	return layout_dst_init(d, l, err);
}

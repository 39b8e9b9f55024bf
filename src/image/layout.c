/*
 * layout.c: OCI image layout directories (oci:DIR[:TAG]) as source and
 * destination; the destination also stages oci-archive output.
 */
#include "image/internal.h"

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

#define LAYOUT_FILE_MAX 4096

static const char layout_file[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

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

/*
 * Reads a metadata file of a layout (oci-layout, index.json) without
 * following a symbolic link: a layout whose index.json links to a host file
 * is refused, and nothing of that file reaches an error message.
 */
static int read_meta(int dirfd, const char *dir, const char *name, size_t max, struct copa_buf *out,
                     struct copa_err *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	copa_buf_reset(out);
	if (fd < 0 && errno == ELOOP)
		return copa_err_set(err, COPA_E_INPUT,
		                    "'%s/%s' is a symbolic link: copa reads layout metadata only "
		                    "from regular files (replace the link with the file)",
		                    dir, name);
	if (fd < 0)
		return copa_err_sys(err, errno == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO, errno,
		                    "cannot open '%s/%s'", dir, name);
	if (fstat(fd, &st) < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot stat '%s/%s'", dir, name);
	if (!S_ISREG(st.st_mode))
		return copa_err_set(err, COPA_E_INPUT, "'%s/%s' is not a regular file", dir, name);
	if ((uint64_t)st.st_size > max)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "'%s/%s': larger than the limit of %zu bytes", dir, name, max);
	if (copa_fs_read_fd(fd, max, out, err) < 0)
		return copa_err_wrap(err, "'%s/%s'", dir, name);
	return 0;
}

/* Reads and checks oci-layout and index.json of an open layout directory. */
static int read_layout_index(int dirfd, const char *dir, struct copa_index *ix,
                             struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	json_t *v;
	const char *ver;
	_cleanup_free_ char *what = NULL;
	int r;

	if (read_meta(dirfd, dir, "oci-layout", LAYOUT_FILE_MAX, &b, err) < 0) {
		copa_buf_release(&b);
		if (err->code == COPA_E_NOTFOUND && err->sys_errno == ENOENT)
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
	if (read_meta(dirfd, dir, "index.json", COPA_OCI_MAX_MANIFEST, &b, err) < 0) {
		copa_buf_release(&b);
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

/*
 * Concurrent writers: blobs are content-addressed and renamed into place, so
 * only the root (index.json, the archive file) is read-modified-written.
 * That happens under flock(LOCK_EX): on LAYOUT_LOCK in a layout directory,
 * on the directory holding an oci-archive. Under the lock, index.json (or the
 * archive) is read again, the new entry merged, the result written to a
 * temporary name and renamed.
 */
#define LAYOUT_LOCK ".index.json.lock"

struct layout_dst {
	int dirfd;
	char *dir;
	bool created;  /* we created dir: remove it when not committed */
	char *archive; /* oci-archive: the final tar file; dir is staging */
};

/* Takes an exclusive flock on dirfd/name (NULL: on dirfd itself); returns the fd to close. */
static int lock_at(struct copa_image_dst *d, int dirfd, const char *name, const char *what,
                   struct copa_err *err)
{
	/* O_RDWR: NFS emulates flock with fcntl locks, which want a writable fd for LOCK_EX. */
	int fd = name ? openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)
	              : openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot lock %s", what);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno == EWOULDBLOCK)
		copa_info(d->opts.out, "waiting for another writer of %s", what);
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		if (e == EBADF || e == ENOLCK || e == EOPNOTSUPP || e == EINVAL) {
			/* A file system without locks: write as before, without one. */
			copa_warn(d->opts.out, "cannot lock %s (%s); writing it without a lock",
			          what, strerror(e));
			return fd;
		}
		close(fd);
		return copa_err_sys(err, COPA_E_IO, e, "cannot lock %s", what);
	}
	return fd;
}

/* base's manifests with `desc` added under `tag` (which moves to it), as index.json text. */
static int index_with(json_t *base, const struct copa_desc *desc, const char *tag,
                      struct copa_buf *out, struct copa_err *err)
{
	json_t *index = base ? json_copy(base) : NULL;
	json_t *list, *keep, *entry;
	int r;

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
	r = copa_json_dump(index, 0, out, err);
	json_decref(index);
	return r;
}

/* True when index.json text idx lists an image that stays once `tag` moves to desc. */
static bool index_keeps_others(const struct copa_buf *idx, const struct copa_desc *desc,
                               const char *tag)
{
	json_t *j = json_loadb(idx->p, idx->len, 0, NULL);
	json_t *list = json_object_get(j, "manifests");
	bool others = false;

	for (size_t i = 0; json_is_array(list) && i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *name =
		    copa_json_str(json_object_get(e, "annotations"), COPA_MT_OCI_LAYOUT_REFNAME);
		const char *dg = copa_json_str(e, "digest");

		if (!(tag && name && !strcmp(name, tag)) &&
		    !(!tag && !name && dg && !strcmp(dg, desc->digest)))
			others = true;
	}
	json_decref(j);
	return others;
}

/* Under the caller's lock: re-reads index.json, adds the entry, writes it back atomically. */
static int update_index(int dirfd, const char *dir, const struct copa_desc *desc, const char *tag,
                        struct copa_err *err)
{
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_index ix;
	bool have = copa_fs_exists(dirfd, "index.json");
	int r;

	if (have && read_layout_index(dirfd, dir, &ix, err) < 0)
		return copa_err_wrap(err, "cannot add an image to the existing layout");
	r = index_with(have ? ix.json : NULL, desc, tag, &out, err);
	if (have)
		copa_index_release(&ix);
	if (r == 0 && !copa_fs_exists(dirfd, "oci-layout"))
		r = copa_fs_write_atomic(dirfd, "oci-layout", layout_file, sizeof(layout_file) - 1,
		                         0644, err);
	if (r == 0)
		r = copa_fs_write_atomic(dirfd, "index.json", out.p, out.len, 0644, err);
	copa_buf_release(&out);
	return r;
}

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

/* A member name an OCI archive may carry that copa keeps: "blobs/ALG/HEX". */
static bool blob_member(const char *name)
{
	const char *alg, *hex;

	if (strncmp(name, "blobs/", 6))
		return false;
	alg = name + 6;
	hex = strchr(alg, '/');
	if (!hex || hex == alg || strchr(hex + 1, '/') || !hex[1])
		return false;
	for (const char *p = alg; p < hex; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
	for (const char *p = hex + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'f') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

/*
 * Reads an existing oci-archive: returns its index.json in idx and, with
 * `blobs`, copies its blobs into the staging layout (those not there
 * already). Sets *empty when the file holds no members at all.
 */
static int import_archive(struct layout_dst *l, bool blobs, struct copa_buf *idx, bool *empty,
                          struct copa_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct copa_buf name = COPA_BUF_INIT;
	char buf[1 << 16];
	int r = -1, h;
	bool have_index = false;

	*empty = true;
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, l->archive, 1 << 16) != ARCHIVE_OK) {
		copa_err_set(err, COPA_E_INPUT, "cannot read '%s': %s", l->archive,
		             archive_error_string(a));
		goto out;
	}
	while ((h = archive_read_next_header(a, &e)) >= ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(e);
		_cleanup_close_ int fd = -1;
		struct copa_buf *keep = NULL;

		if (h == ARCHIVE_EOF)
			break;
		*empty = false;
		if (!raw || copa_path_normalize(raw, &name) < 0 ||
		    archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
			continue; /* directories, links, unsafe names: nothing an image needs */
		if (!strcmp(name.p, "index.json")) {
			keep = idx;
			copa_buf_reset(idx);
			have_index = true;
		} else if (!blobs || !blob_member(name.p) || copa_fs_exists(l->dirfd, name.p)) {
			continue;
		} else {
			_cleanup_free_ char *dir = copa_path_dir(name.p);

			if (copa_fs_mkdir_p(l->dirfd, dir, 0755, err) < 0)
				goto out;
			fd = copa_fs_open_beneath(l->dirfd, name.p, O_WRONLY | O_CREAT | O_EXCL,
			                          0644, err);
			if (fd < 0)
				goto out;
		}
		for (;;) {
			la_ssize_t n = archive_read_data(a, buf, sizeof(buf));

			if (n < 0) {
				copa_err_set(err, COPA_E_INPUT, "cannot read '%s': member '%s': %s",
				             l->archive, name.p, archive_error_string(a));
				goto out;
			}
			if (n == 0)
				break;
			if (keep && (keep->len + (size_t)n > COPA_OCI_MAX_MANIFEST ||
			             copa_buf_add(keep, buf, (size_t)n) < 0)) {
				copa_err_set(
				    err, COPA_E_LIMIT,
				    "'%s': index.json is larger than the limit of %u bytes",
				    l->archive, COPA_OCI_MAX_MANIFEST);
				goto out;
			}
			if (fd >= 0 && copa_fs_write_all(fd, buf, (size_t)n, err) < 0)
				goto out;
		}
	}
	if (h < ARCHIVE_WARN) {
		copa_err_set(err, COPA_E_INPUT, "'%s' is not a valid tar: %s", l->archive,
		             archive_error_string(a));
		goto out;
	}
	if (!have_index && !*empty) {
		copa_err_set(err, COPA_E_INPUT,
		             "'%s' exists and is not an OCI archive (it has no index.json): copa "
		             "would drop its content; remove it or choose another file",
		             l->archive);
		goto out;
	}
	r = 0;
out:
	copa_buf_release(&name);
	archive_read_free(a);
	return r;
}

int copa_dst_lock_dir(struct copa_image_dst *d, const char *path, struct copa_err *err)
{
	_cleanup_free_ char *parent = copa_path_dir(path);
	_cleanup_free_ char *what = copa_xasprintf("'%s'", path);
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (pfd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot write '%s': directory '%s'",
		                    path, parent);
	return lock_at(d, pfd, NULL, what, err);
}

/*
 * oci-archive: under a lock on the archive's directory, brings the images the
 * archive holds into the staging layout, adds the new one, tars the result
 * into a temporary file and renames it over the archive.
 */
static int archive_commit(struct copa_image_dst *d, const struct copa_desc *desc,
                          struct copa_err *err)
{
	struct layout_dst *l = d->impl;
	_cleanup_close_ int lk = copa_dst_lock_dir(d, l->archive, err);
	struct copa_tmpfile t = {.fd = -1, .dirfd = -1};
	struct copa_buf idx = COPA_BUF_INIT;
	struct stat st;
	int r = 0;

	if (lk < 0)
		return -1;
	if (stat(l->archive, &st) == 0 && S_ISREG(st.st_mode)) {
		bool empty;

		/* Read first: when no other image stays, no blob is copied (a rewrite of one tag).
		 */
		r = import_archive(l, false, &idx, &empty, err);
		if (r == 0 && !empty && index_keeps_others(&idx, desc, d->ref.tag))
			r = import_archive(l, true, &idx, &empty, err);
		if (r == 0 && !empty) {
			/* The archive's index.json becomes the staging layout's, then the merge. */
			r = copa_fs_write_atomic(l->dirfd, "index.json", idx.p, idx.len, 0644, err);
			if (r == 0 && !copa_fs_exists(l->dirfd, "oci-layout"))
				r = copa_fs_write_atomic(l->dirfd, "oci-layout", layout_file,
				                         sizeof(layout_file) - 1, 0644, err);
		}
	}
	copa_buf_release(&idx);
	if (r == 0)
		r = update_index(l->dirfd, l->archive, desc, d->ref.tag, err);
	if (r == 0)
		r = copa_tmpfile_open(&t, AT_FDCWD, l->archive, 0644, err);
	if (r == 0)
		r = copa_tar_dir(l->dirfd, t.fd, err);
	if (r == 0)
		r = copa_tmpfile_commit(&t, false, err);
	copa_tmpfile_release(&t);
	if (r < 0)
		copa_err_wrap(err, "cannot write '%s'", l->archive);
	return r;
}

static int layout_commit(struct copa_image_dst *d, const struct copa_desc *desc, const void *raw,
                         size_t n, struct copa_err *err)
{
	struct layout_dst *l = d->impl;
	_cleanup_free_ char *what = NULL;
	_cleanup_close_ int lk = -1;

	if (layout_put_manifest(d, desc, raw, n, err) < 0)
		return -1;
	if (l->archive)
		return archive_commit(d, desc, err);
	what = copa_xasprintf("OCI layout '%s'", l->dir);
	lk = lock_at(d, l->dirfd, LAYOUT_LOCK, what, err);
	if (lk < 0)
		return -1;
	return update_index(l->dirfd, l->dir, desc, d->ref.tag, err);
}

static void layout_dst_free(struct copa_image_dst *d)
{
	struct layout_dst *l = d->impl;

	if (!l)
		return;
	if (l->created && !d->committed && !l->archive && l->dirfd >= 0) {
		/* Another run may have created the same layout and committed into it meanwhile. */
		struct copa_err e = COPA_ERR_INIT;
		int lk = lock_at(d, l->dirfd, LAYOUT_LOCK, "the layout", &e);

		if (copa_fs_exists(l->dirfd, "index.json"))
			l->created = false;
		if (l->created)
			copa_fs_rm_rf(AT_FDCWD, l->dir, &e);
		if (lk >= 0)
			close(lk);
		l->created = false;
	}
	if (l->dirfd >= 0)
		close(l->dirfd);
	if ((l->created && !d->committed) || l->archive) {
		struct copa_err e = COPA_ERR_INIT;

		copa_fs_rm_rf(AT_FDCWD, l->dir, &e);
	}
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

/* Removes temporary files a killed copa left in a layout (see copa_fs_sweep_stale). */
static void sweep_layout(int dirfd)
{
	_cleanup_close_ int bfd =
	    openat(dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *dir;
	struct dirent *de;

	copa_fs_sweep_stale(dirfd, NULL, NULL);
	if (bfd < 0 || !(dir = fdopendir(dup(bfd))))
		return;
	while ((de = readdir(dir)) != NULL) {
		_cleanup_close_ int afd = -1;

		if (de->d_name[0] == '.')
			continue;
		afd = openat(bfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (afd >= 0)
			copa_fs_sweep_stale(afd, NULL, NULL);
	}
	closedir(dir);
}

void copa_dst_sweep_beside(const char *path)
{
	static const char *const prefixes[] = {".copa-oci-archive-", ".copa-docker-archive-", NULL};
	_cleanup_free_ char *parent = copa_path_dir(path);
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *base = strrchr(path, '/');

	if (pfd >= 0)
		copa_fs_sweep_stale(pfd, prefixes, base ? base + 1 : path);
}

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

		/* Checked now to fail early; read again under the lock at commit. */
		if (read_layout_index(l->dirfd, l->dir, &ix, err) < 0)
			return copa_err_wrap(err, "cannot add an image to the existing layout");
		copa_index_release(&ix);
		sweep_layout(l->dirfd);
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
	copa_dst_sweep_beside(l->archive);
	l->dir = copa_fs_mkdtemp(parent, ".copa-oci-archive-", err);
	if (!l->dir)
		return -1;
	if (layout_dst_init(d, l, err) < 0)
		return -1;
	/* Held while the destination lives: a sweep by another copa leaves it alone. */
	flock(l->dirfd, LOCK_EX | LOCK_NB);
	return 0;
}

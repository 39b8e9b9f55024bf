/*
 * copa generate: a Docker build context of the patch, for people who build
 * with BuildKit or `docker build` (the original copa's `generate`).
 *
 * The patch pipeline runs as for `copa patch`, into a private OCI layout;
 * the new layer is then rewritten as a tar holding a Dockerfile (FROM the
 * image, COPY patch/ /) and the layer's files under patch/. A COPY cannot
 * delete, so the layer's whiteouts (files the patch removes) become a list
 * on stderr and in the --summary document instead.
 */
#include "cli/generate.h"

#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_REMOVED 100000

struct removed {
	char **v;
	size_t n;
};

static void removed_add(struct removed *r, char *path)
{
	if (r->n == MAX_REMOVED) {
		free(path);
		return;
	}
	r->v = copa_xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = path;
}

static void removed_release(struct removed *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
}

/* "./a/b" or "/a/b" → "a/b" (borrowed). */
static const char *clean_name(const char *n)
{
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	while (*n == '/')
		n++;
	return n;
}

static const char *str_or_empty(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/*
 * The blob of the patched image's last layer in the private layout: the
 * root is a manifest, or an index (a multi-platform source) from which the
 * patched platform's manifest is taken (the one whose config changed is
 * not known here; the platform asked for, or the only one).
 */
static char *last_layer_path(const char *layout, const char *platform, struct copa_err *err)
{
	_cleanup_free_ char *ix_path = copa_xasprintf("%s/index.json", layout);
	json_t *ix = copa_json_load_file(ix_path, 1 << 20, "index.json", err), *doc = NULL;
	const char *digest;
	char *path = NULL;

	if (!ix)
		return NULL;
	digest = json_string_value(
	    json_object_get(json_array_get(json_object_get(ix, "manifests"), 0), "digest"));
	for (int depth = 0; digest && depth < 2; depth++) {
		_cleanup_free_ char *p =
		    copa_xasprintf("%s/blobs/sha256/%s", layout, strchr(digest, ':') + 1);
		json_t *ms;

		json_decref(doc);
		doc = copa_json_load_file(p, 4 << 20, digest, err);
		if (!doc)
			break;
		ms = json_object_get(doc, "manifests");
		if (!json_is_array(ms)) {
			json_t *layers = json_object_get(doc, "layers");
			const char *ld = json_string_value(json_object_get(
			    json_array_get(layers, json_array_size(layers) - 1), "digest"));

			if (ld && strchr(ld, ':'))
				path = copa_xasprintf("%s/blobs/sha256/%s", layout,
				                      strchr(ld, ':') + 1);
			break;
		}
		digest = NULL;
		for (size_t i = 0; i < json_array_size(ms); i++) {
			json_t *m = json_array_get(ms, i), *pl = json_object_get(m, "platform");
			char buf[128];

			snprintf(buf, sizeof(buf), "%s/%s%s%s", str_or_empty(pl, "os"),
			         str_or_empty(pl, "architecture"),
			         *str_or_empty(pl, "variant") ? "/" : "",
			         str_or_empty(pl, "variant"));
			if (platform ? !strcmp(buf, platform) ||
			                   (!strncmp(buf, platform, strlen(platform)) &&
			                    buf[strlen(platform)] == '/')
			             : json_array_size(ms) == 1)
				digest = json_string_value(json_object_get(m, "digest"));
		}
		if (!digest)
			copa_err_set(err, COPA_E_USAGE,
			             "the image has several platforms: choose the one to build "
			             "with --platform");
	}
	if (!path && !copa_err_is_set(err))
		copa_err_set(err, COPA_E_BUG, "no patch layer in the patched image");
	json_decref(doc);
	json_decref(ix);
	return path;
}

static int ar_fail(struct archive *a, const char *what, struct copa_err *err)
{
	return copa_err_set(err, COPA_E_IO, "%s: %s", what,
	                    archive_error_string(a) ? archive_error_string(a) : "libarchive error");
}

static int add_text(struct archive *w, const char *name, const char *text, time_t mtime,
                    struct copa_err *err)
{
	struct archive_entry *e = archive_entry_new();
	size_t n = strlen(text);
	int rc = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_mtime(e, mtime, 0);
	if (archive_write_header(w, e) != ARCHIVE_OK ||
	    archive_write_data(w, text, n) != (la_ssize_t)n)
		rc = ar_fail(w, name, err);
	archive_entry_free(e);
	return rc;
}

static int add_dir(struct archive *w, const char *name, time_t mtime, struct copa_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	archive_entry_set_mtime(e, mtime, 0);
	if (archive_write_header(w, e) != ARCHIVE_OK)
		rc = ar_fail(w, name, err);
	archive_entry_free(e);
	return rc;
}

/* Copies one layer member under patch/, or records it as removed when it is a whiteout. */
static int copy_member(struct archive *r, struct archive *w, struct archive_entry *e,
                       struct removed *rm, struct copa_err *err)
{
	const char *name = clean_name(archive_entry_pathname(e));
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	const char *link = archive_entry_hardlink(e);
	_cleanup_free_ char *dst = NULL, *dlink = NULL;
	char buf[65536];
	la_ssize_t n;

	if (!*name)
		return 0;
	if (!strncmp(base, ".wh.", 4)) {
		int dir_len = (int)(base - name);

		if (!strcmp(base, ".wh..wh..opq"))
			removed_add(rm, copa_xasprintf("/%.*s* (everything the image had there)",
			                               dir_len, name));
		else
			removed_add(rm, copa_xasprintf("/%.*s%s", dir_len, name, base + 4));
		return 0;
	}
	dst = copa_xasprintf("patch/%s", name);
	archive_entry_set_pathname(e, dst);
	if (link) {
		dlink = copa_xasprintf("patch/%s", clean_name(link));
		archive_entry_set_hardlink(e, dlink);
	}
	if (archive_write_header(w, e) != ARCHIVE_OK)
		return ar_fail(w, dst, err);
	if (archive_entry_filetype(e) != AE_IFREG || link)
		return 0;
	while ((n = archive_read_data(r, buf, sizeof(buf))) > 0)
		if (archive_write_data(w, buf, (size_t)n) != n)
			return ar_fail(w, dst, err);
	return n < 0 ? ar_fail(r, name, err) : 0;
}

/* Writes the build context for `image` from the layer blob at layer_path to fd. */
static int write_context(const char *layer_path, const char *image, int fd, struct removed *rm,
                         struct copa_err *err)
{
	struct archive *r = archive_read_new(), *w = archive_write_new();
	struct archive_entry *e;
	time_t now = time(NULL);
	char stamp[32];
	_cleanup_free_ char *dockerfile = NULL;
	int rc = 0, ar;

	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	dockerfile = copa_xasprintf("FROM %s\nCOPY patch/ /\nLABEL sh.copa.image.patched=\"%s\"\n",
	                            image, stamp);
	archive_read_support_filter_all(r);
	archive_read_support_format_tar(r);
	archive_write_set_format_pax_restricted(w);
	if (archive_read_open_filename(r, layer_path, 1 << 16) != ARCHIVE_OK)
		rc = ar_fail(r, layer_path, err);
	else if (archive_write_open_fd(w, fd) != ARCHIVE_OK)
		rc = ar_fail(w, "build context", err);
	if (rc == 0)
		rc = add_text(w, "Dockerfile", dockerfile, now, err);
	if (rc == 0)
		rc = add_dir(w, "patch/", now, err);
	while (rc == 0 && (ar = archive_read_next_header(r, &e)) != ARCHIVE_EOF) {
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			rc = ar_fail(r, "patch layer", err);
			break;
		}
		rc = copy_member(r, w, e, rm, err);
	}
	if (rc == 0 && archive_write_close(w) != ARCHIVE_OK)
		rc = ar_fail(w, "build context", err);
	archive_write_free(w);
	archive_read_free(r);
	return rc;
}

/* Adds {"generate": {"context", "removed"}} to the --summary file copa_patch wrote. */
static int amend_summary(const char *path, const char *context, const struct removed *rm,
                         struct copa_err *err)
{
	json_t *doc = copa_json_load_file(path, 64 << 20, "summary", err), *list, *g;
	char *text;
	int rc;

	if (!doc)
		return -1;
	list = json_array();
	for (size_t i = 0; i < rm->n; i++)
		json_array_append_new(list, json_string(rm->v[i]));
	g = json_pack("{s:s, s:o}", "context", context, "removed", list);
	json_object_set_new(doc, "generate", g);
	/* The image was written to a private layout that is gone: no reference to give. */
	if (json_is_object(json_object_get(doc, "output")))
		json_object_set_new(json_object_get(doc, "output"), "ref", json_null());
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text)
		return copa_err_set(err, COPA_E_BUG, "cannot serialise the summary");
	rc = copa_fs_write_atomic(AT_FDCWD, path, text, strlen(text), 0644, err);
	free(text);
	return rc;
}

int copa_cli_generate(struct copa_patch_opts *o, const char *context_out, const char *platform)
{
	struct copa_err err = COPA_ERR_INIT;
	enum copa_patch_result result;
	struct removed rm = {0};
	const char *tmproot = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	_cleanup_free_ char *tmp = copa_fs_mkdtemp(tmproot, "copa-generate-", &err);
	_cleanup_free_ char *layout = NULL, *dest = NULL, *layer = NULL, *part = NULL;
	bool to_stdout = !strcmp(context_out, "-");
	int fd = -1, rc = 1;

	if (!tmp)
		return copa_cli_fail(o->out, &err);
	layout = copa_xasprintf("%s/layout", tmp);
	dest = copa_xasprintf("oci:%s:patched", layout);
	o->tag = dest;
	if (copa_patch(o, &result, &err) < 0) {
		rc = copa_cli_fail(o->out, &err);
		goto out;
	}
	if (result == COPA_PATCH_NOTHING_TO_DO) {
		copa_info(o->out, "nothing to patch: no build context written");
		rc = 0;
		goto out;
	}
	layer = last_layer_path(layout, platform, &err);
	if (!layer) {
		rc = copa_cli_fail(o->out, &err);
		goto out;
	}
	if (to_stdout) {
		fd = STDOUT_FILENO;
	} else {
		part = copa_xasprintf("%s.part", context_out);
		fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			copa_err_sys(&err, COPA_E_IO, errno, "cannot create '%s'", part);
			rc = copa_cli_fail(o->out, &err);
			goto out;
		}
	}
	if (write_context(layer, o->image, fd, &rm, &err) < 0 ||
	    (!to_stdout && (fsync(fd) < 0 || rename(part, context_out) < 0) &&
	     copa_err_sys(&err, COPA_E_IO, errno, "cannot write '%s'", context_out) < 0)) {
		copa_err_wrap(&err, "build context");
		rc = copa_cli_fail(o->out, &err);
		if (part)
			unlink(part);
		goto out;
	}
	if (o->summary_out && strcmp(o->summary_out, "-") &&
	    amend_summary(o->summary_out, to_stdout ? "-" : context_out, &rm, &err) < 0) {
		rc = copa_cli_fail(o->out, &err);
		goto out;
	}
	copa_info(o->out, "build context for '%s' written to %s", o->image,
	          to_stdout ? "standard output" : context_out);
	if (rm.n) {
		copa_warn(o->out,
		          "the patch removes %zu path%s, which a COPY cannot delete (add a RUN rm "
		          "to the Dockerfile, or use copa patch):",
		          rm.n, rm.n == 1 ? "" : "s");
		for (size_t i = 0; i < rm.n; i++)
			copa_warn(o->out, "  removed: %s", rm.v[i]);
	}
	rc = 0;
out:
	if (fd >= 0 && !to_stdout)
		close(fd);
	removed_release(&rm);
	copa_fs_rm_rf(AT_FDCWD, tmp, NULL);
	return rc;
}

/* pathmap.c: package paths onto the image's canonical paths (see pathmap.h). */
#include "pkg/pathmap.h"

#include "util/buf.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static char *join(const char *dir, const char *name)
{
	return *dir ? copa_xasprintf("%s/%s", dir, name) : copa_xstrdup(name);
}

/*
 * Resolves a directory path (relative, normalised) of the package onto the
 * image: through the package's own planned directories and the view's
 * directories and symlinks. Returns a malloc'd canonical path or NULL.
 */
char *copa_pathmap_dir(struct copa_view *v, const char *dir, copa_pathmap_own own, void *ctx,
                       const char *label, struct copa_err *err)
{
	char *cur = copa_xstrdup("");
	const char *p = dir;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char *comp = copa_xstrndup(p, n);
		char *cand = join(cur, comp);
		int ov = own(ctx, cand);
		const struct copa_view_entry *ve;

		free(comp);
		p += n + (slash ? 1 : 0);
		if (ov >= 0) {
			if (ov == COPA_FT_SYMLINK) {
				copa_err_set(err, COPA_E_INPUT,
				             "'%s': refusing '%s': it passes through the symlink "
				             "'/%s' the package ships",
				             label, dir, cand);
				goto fail;
			}
			if (ov != COPA_FT_DIR) {
				copa_err_set(err, COPA_E_PACKAGE,
				             "'%s': '/%s' is not a directory (the package ships a "
				             "file there)",
				             label, cand);
				goto fail;
			}
			free(cur);
			cur = cand;
			continue;
		}
		ve = copa_view_get(v, cand);
		if (!ve || ve->type == COPA_FT_DIR) {
			free(cur);
			cur = cand;
			continue;
		}
		if (ve->type == COPA_FT_SYMLINK) {
			struct copa_buf c = COPA_BUF_INIT;
			const struct copa_view_entry *t = NULL;

			if (copa_view_resolve(v, cand, COPA_VIEW_FOLLOW, &c, &t, err) < 0 || !t ||
			    t->type != COPA_FT_DIR) {
				if (!copa_err_is_set(err) || err->code == COPA_E_NOTFOUND)
					copa_err_set(
					    err, COPA_E_PACKAGE,
					    "'%s': the image's symlink '/%s' (to '%s') does not "
					    "lead to a directory the package can install into",
					    label, cand, ve->link ? ve->link : "");
				copa_buf_release(&c);
				free(cand);
				goto fail;
			}
			free(cand);
			free(cur);
			cur = copa_buf_detach(&c, NULL);
			continue;
		}
		copa_err_set(err, COPA_E_PACKAGE, "'%s': '/%s' is not a directory in the image",
		             label, cand);
		free(cand);
		goto fail;
	}
	return cur;
fail:
	free(cur);
	return NULL;
}

char *copa_pathmap_path(struct copa_view *v, const char *rel, copa_pathmap_own own, void *ctx,
                        const char *label, struct copa_err *err)
{
	const char *slash = strrchr(rel, '/');
	char *dir = slash ? copa_xstrndup(rel, (size_t)(slash - rel)) : copa_xstrdup("");
	char *cdir = copa_pathmap_dir(v, dir, own, ctx, label, err);
	char *r;

	free(dir);
	if (!cdir)
		return NULL;
	r = join(cdir, slash ? slash + 1 : rel);
	free(cdir);
	return r;
}

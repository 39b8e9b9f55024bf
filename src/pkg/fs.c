/* fs.c: layer + view writes for the package appliers (see fs.h). */
#include "pkg/fs.h"

#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int copa_pkgfs_put(struct copa_view *v, struct copa_layer_builder *b,
                   const struct copa_layer_entry *e, bool view_content, struct copa_err *err)
{
	struct copa_view_entry ve = {0};

	/* Parents the image lacks become directories of the layer. */
	for (const char *p = strchr(e->path, '/'); p; p = strchr(p + 1, '/')) {
		char *pre = copa_xstrndup(e->path, (size_t)(p - e->path));

		if (!copa_view_get(v, pre)) {
			struct copa_layer_entry d = {0};
			int r;

			d.path = pre;
			d.type = COPA_FT_DIR;
			d.mode = 0755;
			d.mtime = e->mtime;
			r = copa_pkgfs_put(v, b, &d, false, err);
			if (r < 0) {
				free(pre);
				return -1;
			}
		}
		free(pre);
	}
	/*
	 * A directory whited out earlier in this layer comes back: the lower
	 * layers' children were deleted with it, so they must stay hidden.
	 */
	if (e->type == COPA_FT_DIR && copa_layer_builder_is_whiteout(b, e->path)) {
		if (copa_layer_builder_add(b, e, err) < 0 ||
		    copa_layer_builder_opaque(b, e->path, err) < 0)
			return -1;
	} else if (copa_layer_builder_add(b, e, err) < 0) {
		return -1;
	}
	ve.path = e->path;
	ve.type = e->type;
	ve.mode = e->mode;
	ve.uid = e->uid;
	ve.gid = e->gid;
	ve.mtime = e->mtime;
	ve.link = e->link;
	ve.size = e->type == COPA_FT_REG ? e->size : 0;
	ve.content = view_content && e->type == COPA_FT_REG ? e->content : NULL;
	ve.rdev_major = e->rdev_major;
	ve.rdev_minor = e->rdev_minor;
	ve.layer = COPA_VIEW_NO_LAYER;
	ve.data_offset = COPA_VIEW_NO_OFFSET;
	if (!copa_view_put(v, &ve, err))
		return copa_err_wrap(err, "new layer entry '%s'", e->path);
	return 0;
}

int copa_pkgfs_put_file(struct copa_view *v, struct copa_layer_builder *b, const char *path,
                        const void *data, size_t n, uint32_t mode, int64_t mtime,
                        struct copa_err *err)
{
	struct copa_layer_entry e = {0};

	e.path = path;
	e.type = COPA_FT_REG;
	e.mode = mode;
	e.mtime = mtime;
	e.size = n;
	e.content = data ? data : "";
	return copa_pkgfs_put(v, b, &e, true, err);
}

int copa_pkgfs_put_symlink(struct copa_view *v, struct copa_layer_builder *b, const char *path,
                           const char *target, int64_t mtime, struct copa_err *err)
{
	struct copa_layer_entry e = {0};

	e.path = path;
	e.type = COPA_FT_SYMLINK;
	e.mode = 0777;
	e.mtime = mtime;
	e.link = target;
	return copa_pkgfs_put(v, b, &e, false, err);
}

int copa_pkgfs_remove(struct copa_view *v, struct copa_layer_builder *b, const char *path,
                      struct copa_err *err)
{
	if (copa_layer_builder_whiteout(b, path, err) < 0)
		return -1;
	copa_view_remove(v, path);
	return 0;
}

static int read_staged(const struct copa_layer_builder *b, const struct copa_layer_entry *e,
                       size_t max, struct copa_buf *out, struct copa_err *err)
{
	int fd;
	int r;

	if (e->size > max)
		return copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %zu bytes", e->path,
		                    max);
	fd = copa_fs_open_beneath(copa_layer_builder_staging_fd(b), e->staged, O_RDONLY, 0, err);
	if (fd < 0)
		return -1;
	r = copa_fs_read_fd(fd, max, out, err);
	close(fd);
	return r;
}

int copa_pkgfs_read(struct copa_view *v, const struct copa_layer_builder *b, const char *path,
                    size_t max, struct copa_buf *out, struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_layer_entry *e;
	int r, hops = 0;

	copa_buf_reset(out);
	if (copa_view_resolve(v, path, COPA_VIEW_FOLLOW, &canon, NULL, err) < 0) {
		copa_buf_release(&canon);
		return -1;
	}
	e = copa_layer_builder_get(b, copa_buf_str(&canon));
	while (e && e->type == COPA_FT_HARDLINK && e->link && hops++ < 8)
		e = copa_layer_builder_get(b, e->link);
	if (e && e->type == COPA_FT_REG && (e->content || e->staged || e->size == 0)) {
		if (e->size > max)
			r = copa_err_set(err, COPA_E_LIMIT, "'%s' is larger than %zu bytes", path,
			                 max);
		else if (e->content || e->size == 0)
			r = copa_buf_add(out, e->content ? e->content : "", (size_t)e->size);
		else
			r = read_staged(b, e, max, out, err);
		if (r == 0 && !out->p)
			copa_buf_add(out, "", 0);
	} else {
		r = copa_view_read(v, copa_buf_str(&canon), max, out, err);
	}
	copa_buf_release(&canon);
	return r;
}

/*
 * fs.h: writing into the new layer and the merged view together, for every
 * package family's applier.
 *
 * An applier keeps one invariant: the view shows the image as the new layer
 * will leave it. These helpers add an entry to the layer builder and put the
 * same metadata into the view (with inline content when asked), or white a
 * path out of both. Used by the appliers (pkg/deb/apply.c, cacerts.c).
 */
#ifndef COPA_PKG_FS_H
#define COPA_PKG_FS_H

#include "layer/layer.h"
#include "layer/view.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Adds e to the builder and its metadata to the view. The view keeps e's
 * inline content only when view_content is true (database files and the
 * like that are read back); other entries are marked as coming from no
 * lower layer.
 */
int copa_pkgfs_put(struct copa_view *v, struct copa_layer_builder *b,
                   const struct copa_layer_entry *e, bool view_content, struct copa_err *err);

/* A regular file with inline content, owned by root. */
int copa_pkgfs_put_file(struct copa_view *v, struct copa_layer_builder *b, const char *path,
                        const void *data, size_t n, uint32_t mode, int64_t mtime,
                        struct copa_err *err);

/* A symlink owned by root (mode 0777). */
int copa_pkgfs_put_symlink(struct copa_view *v, struct copa_layer_builder *b, const char *path,
                           const char *target, int64_t mtime, struct copa_err *err);

/* Deletes path (and what is below it) from the image: a whiteout, and gone from the view. */
int copa_pkgfs_remove(struct copa_view *v, struct copa_layer_builder *b, const char *path,
                      struct copa_err *err);

/*
 * Reads path as the new layer leaves it: the builder's entry (inline or
 * staged beneath the builder's staging directory) when there is one, else
 * the view (symlinks resolved). Replaces out's contents.
 */
int copa_pkgfs_read(struct copa_view *v, const struct copa_layer_builder *b, const char *path,
                    size_t max, struct copa_buf *out, struct copa_err *err);

#endif

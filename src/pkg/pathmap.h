/*
 * pathmap.h: landing a package's paths on the image's canonical paths.
 *
 * A package path's directory components are resolved through what the
 * package itself is installing (its own directories; a symlink it ships is
 * refused as a way through) and then through the image's merged view (its
 * directories, and its symlinks followed inside the view), so that a merged
 * /usr image's `lib -> usr/lib` is never shadowed by a directory in the new
 * layer. The last component is not followed. For every family's applier;
 * reads the view only. Not thread-safe (the view is not).
 */
#ifndef COPA_PKG_PATHMAP_H
#define COPA_PKG_PATHMAP_H

#include "layer/view.h"
#include "util/err.h"

/*
 * What the package being applied puts at a (canonical, relative) path:
 * COPA_FT_DIR, COPA_FT_SYMLINK, another enum copa_ftype, or -1 for nothing.
 */
typedef int (*copa_pathmap_own)(void *ctx, const char *path);

/*
 * The canonical form of a relative, normalised directory path of a package
 * ("" for the root). Returns a malloc'd path, or NULL: COPA_E_INPUT when it
 * passes through a symlink the package ships, COPA_E_PACKAGE when a
 * component is not a directory (in the package or the image) or an image
 * symlink does not lead to one. label names the package in messages.
 */
char *copa_pathmap_dir(struct copa_view *v, const char *dir, copa_pathmap_own own, void *ctx,
                       const char *label, struct copa_err *err);

/* The canonical form of a relative package path: its directory mapped, the name kept. */
char *copa_pathmap_path(struct copa_view *v, const char *rel, copa_pathmap_own own, void *ctx,
                        const char *label, struct copa_err *err);

#endif

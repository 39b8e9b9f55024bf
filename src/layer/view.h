/*
 * view.h: the merged view of an image's file system.
 *
 * path -> (type, mode, owner, size, link target, owning layer) for the tree an
 * image presents once its layers are stacked and whiteouts applied. Built from
 * tar headers by the layer reader (layer.h); content is kept inline for the
 * small files copa always needs (package databases, os-release, sources) and
 * read on demand from the owning layer otherwise.
 *
 * Paths are normalised (copa_path_normalize): relative, no "." or ".."
 * components, no trailing slash; the root is "". Every entry's parent exists
 * and is a directory: putting "a/b/c" creates "a" and "a/b" as implicit
 * directories when absent. Entries are owned by the view; pointers to them
 * stay valid until the entry is replaced or removed, or the view is freed.
 *
 * copa_view_resolve() interprets symlinks the way the image's own processes
 * would see them (absolute targets start at the image root, ".." stops at the
 * root), without ever touching the host file system: this is how a package
 * path such as "lib/x86_64-linux-gnu/libc.so.6" is mapped onto the canonical
 * "usr/lib/x86_64-linux-gnu/libc.so.6" of a merged-/usr image.
 *
 * Not thread-safe; one thread builds and queries a view.
 */
#ifndef COPA_LAYER_VIEW_H
#define COPA_LAYER_VIEW_H

#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum copa_ftype {
	COPA_FT_REG,
	COPA_FT_DIR,
	COPA_FT_SYMLINK,
	COPA_FT_HARDLINK, /* link names the target path (same layer) */
	COPA_FT_CHR,
	COPA_FT_BLK,
	COPA_FT_FIFO,
};

#define COPA_VIEW_NO_LAYER  UINT32_MAX
#define COPA_VIEW_NO_OFFSET UINT64_MAX

struct copa_view_entry {
	const char *path;    /* normalised; "" is the root */
	const char *name;    /* last component (points into path) */
	const char *link;    /* symlink target as stored, or hardlink target path; else NULL */
	const void *content; /* inline content of `size` bytes, or NULL */
	uint64_t size;       /* regular files: content size */
	int64_t mtime;
	uint64_t data_offset; /* for the layer reader: where the content starts (opaque) */
	uint32_t mode;        /* permission bits incl. setuid/setgid/sticky; no type bits */
	uint32_t uid, gid;
	uint32_t rdev_major, rdev_minor;
	uint32_t layer; /* index of the layer this entry comes from, or COPA_VIEW_NO_LAYER */
	uint8_t type;   /* enum copa_ftype */
	bool implicit;  /* a parent directory no layer listed */
	/* Tree links, managed by the view. */
	uint32_t parent_, first_child_, next_sibling_;
};

/*
 * True when a hard link entry carries its own content (inline, or a place
 * in a layer): the layer reader copies the target's when it applies a link,
 * so the link keeps it when a later layer replaces the target path. Other
 * hard links are read through their target path.
 */
static inline bool copa_view_link_has_data(const struct copa_view_entry *e)
{
	return e->content || (e->size > 0 && e->data_offset != COPA_VIEW_NO_OFFSET);
}

struct copa_view;

struct copa_view *copa_view_new(void);
void copa_view_free(struct copa_view *v);

/* Number of live entries, the root included. */
size_t copa_view_count(const struct copa_view *v);

/*
 * Adds or replaces the entry at e->path (normalised; fields other than the
 * tree links are copied, strings and content into the view's own memory).
 * Tar semantics: a directory over a directory updates the attributes and
 * keeps the children; anything else replaces the old entry and its subtree.
 * Missing parents are created as implicit directories (mode 0755); a
 * non-directory in the way of a parent is replaced by one. Returns the
 * stored entry, or NULL with err set (COPA_E_INPUT for a path that does not
 * normalise).
 */
struct copa_view_entry *copa_view_put(struct copa_view *v, const struct copa_view_entry *e,
                                      struct copa_err *err);

/* Removes path and everything below it. Returns 0, or -1 when absent. */
int copa_view_remove(struct copa_view *v, const char *path);

/* Removes every child of directory path (opaque whiteout). Returns -1 when absent. */
int copa_view_clear_children(struct copa_view *v, const char *path);

/* Exact lookup (no symlink resolution); NULL when absent. path may have a leading "/". */
const struct copa_view_entry *copa_view_get(const struct copa_view *v, const char *path);

/*
 * The children of directory `dir`, sorted by name (bytewise), as a malloc'd
 * array the caller frees (entries themselves belong to the view). Returns
 * -1 when dir is absent or not a directory.
 */
int copa_view_children(const struct copa_view *v, const char *dir,
                       const struct copa_view_entry ***out, size_t *n);

/*
 * Calls fn for `prefix` and every entry below it in sorted depth-first order
 * (parents before children). Stops and returns fn's value when it is not 0.
 * A missing prefix visits nothing.
 */
int copa_view_walk(const struct copa_view *v, const char *prefix,
                   int (*fn)(void *ctx, const struct copa_view_entry *e), void *ctx);

#define COPA_VIEW_FOLLOW 1u /* also follow a symlink in the last component */

/*
 * Resolves path (absolute or relative to the image root) inside the image:
 * symlinks in directory components are always followed, the last component
 * only with COPA_VIEW_FOLLOW. canonical receives the resolved normalised
 * path; *entry (if not NULL) the entry there or NULL when the last component
 * does not exist (its parent does: a path that can be created). Errors:
 * COPA_E_NOTFOUND when a directory component is missing or not a directory,
 * COPA_E_INPUT for a symlink loop (more than 40 links).
 */
int copa_view_resolve(const struct copa_view *v, const char *path, unsigned flags,
                      struct copa_buf *canonical, const struct copa_view_entry **entry,
                      struct copa_err *err);

/* Stores a copy of data as the inline content of the entry at path (must exist). */
int copa_view_set_content(struct copa_view *v, const char *path, const void *data, size_t n,
                          struct copa_err *err);

/*
 * Reads the content of a regular file entry that has no inline content,
 * appending at most max bytes to out. Installed by whoever built the view
 * (the layer reader) to read from the owning layer.
 */
typedef int (*copa_view_reader)(void *ctx, const struct copa_view_entry *e, size_t max,
                                struct copa_buf *out, struct copa_err *err);
void copa_view_set_reader(struct copa_view *v, copa_view_reader fn, void *ctx);

/*
 * Reads the file at path (resolving symlinks, the last one included, and
 * hard links) into out, replacing its contents. Refuses files over max
 * bytes (COPA_E_LIMIT) and non-regular files (COPA_E_INPUT).
 */
int copa_view_read(struct copa_view *v, const char *path, size_t max, struct copa_buf *out,
                   struct copa_err *err);

#endif

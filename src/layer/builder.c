/*
 * builder.c: the in-memory description of a new layer (see layer.h). The
 * tar writer and compressor that turn it into a blob live in write.c.
 */
#include "layer/layer.h"

#include "util/arena.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

struct item {
	struct copa_layer_entry e; /* e.path is the logical path */
	const char *tarname;       /* name in the tar: path, "d/.wh.n" or "d/.wh..wh..opq" */
	enum copa_layer_mark mark;
	bool live;
};

struct copa_layer_builder {
	struct item *items;
	size_t n, cap, live;
	struct copa_strmap index; /* tarname -> item */
	struct copa_arena arena;
	int staging_fd;
};

struct copa_layer_builder *copa_layer_builder_new(int staging_dirfd)
{
	struct copa_layer_builder *b = copa_xcalloc(1, sizeof(*b));

	b->staging_fd = staging_dirfd;
	return b;
}

void copa_layer_builder_free(struct copa_layer_builder *b)
{
	if (!b)
		return;
	free(b->items);
	copa_strmap_release(&b->index);
	copa_arena_release(&b->arena);
	free(b);
}

int copa_layer_builder_staging_fd(const struct copa_layer_builder *b)
{
	return b->staging_fd;
}

size_t copa_layer_builder_count(const struct copa_layer_builder *b)
{
	return b->live;
}

static struct item *lookup(const struct copa_layer_builder *b, const char *tarname)
{
	uint32_t i;

	if (!copa_strmap_get(&b->index, tarname, strlen(tarname), &i))
		return NULL;
	return &b->items[i];
}

static void drop(struct copa_layer_builder *b, struct item *it)
{
	copa_strmap_del(&b->index, it->tarname, strlen(it->tarname));
	it->live = false;
	b->live--;
}

/* The tar name of a whiteout ("a/b" -> "a/.wh.b") or opaque marker; malloc'd. */
static char *marker_xname(const char *path, enum copa_layer_mark mark)
{
	const char *slash = strrchr(path, '/');

	if (mark == COPA_LAYER_OPAQUE)
		return copa_xasprintf("%s%s.wh..wh..opq", path, *path ? "/" : "");
	if (slash)
		return copa_xasprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
	return copa_xasprintf(".wh.%s", path);
}

static const char *marker_name(struct copa_layer_builder *b, const char *path,
                               enum copa_layer_mark mark)
{
	char *name = marker_xname(path, mark);
	const char *copy = copa_arena_strdup(&b->arena, name);

	free(name);
	return copy;
}

static struct item *new_item(struct copa_layer_builder *b, const char *tarname)
{
	struct item *it;

	b->items = copa_xgrow(b->items, &b->cap, b->n + 1, sizeof(*b->items));
	it = &b->items[b->n];
	memset(it, 0, sizeof(*it));
	it->tarname = tarname;
	it->live = true;
	copa_strmap_put(&b->index, tarname, strlen(tarname), (uint32_t)b->n);
	b->n++;
	b->live++;
	return it;
}

static int normalize(struct copa_layer_builder *b, const char *in, const char **out,
                     struct copa_err *err)
{
	struct copa_buf nb = COPA_BUF_INIT;
	const char *base;

	if (copa_path_normalize(in, &nb) < 0 || nb.len == 0) {
		copa_buf_release(&nb);
		return copa_err_set(err, COPA_E_INPUT, "invalid path '%s' for the new layer", in);
	}
	base = strrchr(nb.p, '/');
	base = base ? base + 1 : nb.p;
	if (strncmp(base, ".wh.", 4) == 0) {
		copa_buf_release(&nb);
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "refusing '%s': names starting with '.wh.' are reserved for whiteouts", in);
	}
	*out = copa_arena_strndup(&b->arena, nb.p, nb.len);
	copa_buf_release(&nb);
	return 0;
}

int copa_layer_builder_add(struct copa_layer_builder *b, const struct copa_layer_entry *e,
                           struct copa_err *err)
{
	const char *path;
	struct item *it;

	if (normalize(b, e->path, &path, err) < 0)
		return -1;
	it = lookup(b, marker_name(b, path, COPA_LAYER_WHITEOUT));
	if (it)
		drop(b, it);
	it = lookup(b, path);
	if (it)
		drop(b, it);
	it = new_item(b, path);
	it->mark = COPA_LAYER_ENTRY;
	it->e = *e;
	it->e.path = path;
	it->e.mode &= 07777;
	it->e.link = e->link ? copa_arena_strdup(&b->arena, e->link) : NULL;
	it->e.staged = e->staged ? copa_arena_strdup(&b->arena, e->staged) : NULL;
	it->e.content =
	    e->content ? copa_arena_memdup(&b->arena, e->content, (size_t)e->size) : NULL;
	if (e->n_xattrs) {
		struct copa_layer_xattr *x = copa_arena_alloc(&b->arena, e->n_xattrs * sizeof(*x));

		for (size_t i = 0; i < e->n_xattrs; i++) {
			x[i].name = copa_arena_strdup(&b->arena, e->xattrs[i].name);
			x[i].value =
			    copa_arena_memdup(&b->arena, e->xattrs[i].value, e->xattrs[i].len);
			x[i].len = e->xattrs[i].len;
		}
		it->e.xattrs = x;
	} else {
		it->e.xattrs = NULL;
	}
	return 0;
}

static bool at_or_below(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static int add_marker(struct copa_layer_builder *b, const char *in, enum copa_layer_mark mark,
                      struct copa_err *err)
{
	const char *path;
	const char *name;
	struct item *it;

	if (normalize(b, in, &path, err) < 0)
		return -1;
	if (mark == COPA_LAYER_WHITEOUT) {
		/* Files created in a layer cannot be whited out by the same layer. */
		for (size_t i = 0; i < b->n; i++)
			if (b->items[i].live && b->items[i].mark == COPA_LAYER_ENTRY &&
			    at_or_below(b->items[i].e.path, path))
				drop(b, &b->items[i]);
	}
	name = marker_name(b, path, mark);
	if (lookup(b, name))
		return 0;
	it = new_item(b, name);
	it->mark = mark;
	it->e.path = path;
	it->e.type = COPA_FT_REG;
	return 0;
}

int copa_layer_builder_whiteout(struct copa_layer_builder *b, const char *path,
                                struct copa_err *err)
{
	return add_marker(b, path, COPA_LAYER_WHITEOUT, err);
}

int copa_layer_builder_opaque(struct copa_layer_builder *b, const char *dir, struct copa_err *err)
{
	return add_marker(b, dir, COPA_LAYER_OPAQUE, err);
}

int copa_layer_builder_remove(struct copa_layer_builder *b, const char *path)
{
	struct copa_buf nb = COPA_BUF_INIT;
	struct item *it = NULL;

	if (copa_path_normalize(path, &nb) == 0 && nb.len) {
		it = lookup(b, nb.p);
		if (!it)
			it = lookup(b, marker_name(b, nb.p, COPA_LAYER_WHITEOUT));
	}
	copa_buf_release(&nb);
	if (!it)
		return -1;
	drop(b, it);
	return 0;
}

const struct copa_layer_entry *copa_layer_builder_get(const struct copa_layer_builder *b,
                                                      const char *path)
{
	struct item *it;

	while (*path == '/')
		path++;
	it = lookup(b, path);
	return it && it->mark == COPA_LAYER_ENTRY ? &it->e : NULL;
}

bool copa_layer_builder_is_whiteout(const struct copa_layer_builder *b, const char *path)
{
	char *name;
	bool r;

	while (*path == '/')
		path++;
	name = marker_xname(path, COPA_LAYER_WHITEOUT);
	r = lookup(b, name) != NULL;
	free(name);
	return r;
}

static int cmp_items(const void *x, const void *y)
{
	const struct item *a = *(const struct item *const *)x;
	const struct item *b = *(const struct item *const *)y;

	return strcmp(a->tarname, b->tarname);
}

int copa_layer_builder_foreach(const struct copa_layer_builder *b,
                               int (*fn)(void *ctx, const struct copa_layer_entry *e,
                                         enum copa_layer_mark mark),
                               void *ctx)
{
	const struct item **v = copa_xmalloc((b->live ? b->live : 1) * sizeof(*v));
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].live)
			v[n++] = &b->items[i];
	qsort(v, n, sizeof(*v), cmp_items);
	for (size_t i = 0; i < n && !r; i++)
		r = fn(ctx, &v[i]->e, v[i]->mark);
	free(v);
	return r;
}

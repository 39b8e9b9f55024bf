#include "layer/view.h"

#include "util/arena.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#define NONE      UINT32_MAX
#define MAX_LINKS 40

struct copa_view {
	struct copa_view_entry *e; /* slot 0 is the root; removed slots have path NULL */
	size_t n, cap;
	struct copa_strmap index; /* path -> slot */
	size_t live;
	struct copa_arena arena;
	copa_view_reader reader;
	void *reader_ctx;
};

static uint32_t ht_find(const struct copa_view *v, const char *p, size_t n)
{
	uint32_t s;

	return copa_strmap_get(&v->index, p, n, &s) ? s : NONE;
}

static void ht_insert(struct copa_view *v, uint32_t slot)
{
	copa_strmap_put(&v->index, v->e[slot].path, strlen(v->e[slot].path), slot);
}

static void ht_delete(struct copa_view *v, uint32_t slot)
{
	copa_strmap_del(&v->index, v->e[slot].path, strlen(v->e[slot].path));
}

struct copa_view *copa_view_new(void)
{
	struct copa_view *v = copa_xcalloc(1, sizeof(*v));
	struct copa_view_entry *root;

	v->e = copa_xgrow(NULL, &v->cap, 1, sizeof(*v->e));
	root = &v->e[0];
	memset(root, 0, sizeof(*root));
	root->path = "";
	root->name = "";
	root->type = COPA_FT_DIR;
	root->mode = 0755;
	root->layer = COPA_VIEW_NO_LAYER;
	root->data_offset = COPA_VIEW_NO_OFFSET;
	root->implicit = true;
	root->parent_ = NONE;
	root->first_child_ = NONE;
	root->next_sibling_ = NONE;
	v->n = 1;
	v->live = 1;
	ht_insert(v, 0);
	return v;
}

void copa_view_free(struct copa_view *v)
{
	if (!v)
		return;
	copa_arena_release(&v->arena);
	free(v->e);
	copa_strmap_release(&v->index);
	free(v);
}

size_t copa_view_count(const struct copa_view *v)
{
	return v->live;
}

static const char *skip_slash(const char *p)
{
	while (*p == '/')
		p++;
	return p;
}

const struct copa_view_entry *copa_view_get(const struct copa_view *v, const char *path)
{
	uint32_t s;

	path = skip_slash(path);
	s = ht_find(v, path, strlen(path));
	return s == NONE ? NULL : &v->e[s];
}

static void unlink_child(struct copa_view *v, uint32_t slot)
{
	uint32_t parent = v->e[slot].parent_;
	uint32_t *pp;

	if (parent == NONE)
		return;
	for (pp = &v->e[parent].first_child_; *pp != NONE; pp = &v->e[*pp].next_sibling_)
		if (*pp == slot) {
			*pp = v->e[slot].next_sibling_;
			break;
		}
}

/* Drops slot's children recursively (the slot itself stays). */
static void drop_children(struct copa_view *v, uint32_t slot)
{
	uint32_t c = v->e[slot].first_child_;

	while (c != NONE) {
		uint32_t next = v->e[c].next_sibling_;

		drop_children(v, c);
		ht_delete(v, c);
		v->e[c].path = NULL;
		v->live--;
		c = next;
	}
	v->e[slot].first_child_ = NONE;
}

static void drop_slot(struct copa_view *v, uint32_t slot)
{
	drop_children(v, slot);
	unlink_child(v, slot);
	ht_delete(v, slot);
	v->e[slot].path = NULL;
	v->live--;
}

/* Appends a new slot for path under parent; the caller fills attributes. */
static uint32_t new_slot(struct copa_view *v, uint32_t parent, const char *path, size_t n)
{
	uint32_t slot;
	struct copa_view_entry *e;
	const char *slash;
	char *p;

	if (v->n >= NONE - 2)
		COPA_BUG("merged view is full");
	v->e = copa_xgrow(v->e, &v->cap, v->n + 1, sizeof(*v->e));
	slot = (uint32_t)v->n++;
	e = &v->e[slot];
	memset(e, 0, sizeof(*e));
	p = copa_arena_strndup(&v->arena, path, n);
	slash = strrchr(p, '/');
	e->path = p;
	e->name = slash ? slash + 1 : p;
	e->parent_ = parent;
	e->first_child_ = NONE;
	e->next_sibling_ = v->e[parent].first_child_;
	v->e[parent].first_child_ = slot;
	e->layer = COPA_VIEW_NO_LAYER;
	e->data_offset = COPA_VIEW_NO_OFFSET;
	v->live++;
	ht_insert(v, slot);
	return slot;
}

static void make_implicit_dir(struct copa_view_entry *e)
{
	e->type = COPA_FT_DIR;
	e->mode = 0755;
	e->implicit = true;
	e->link = NULL;
	e->content = NULL;
	e->size = 0;
}

/*
 * The core of resolution. Walks `path` from the root. Directory components
 * are always followed through symlinks; the last one when follow_last. With
 * create, missing or non-directory intermediate components become implicit
 * directories. On success canon holds the resolved path, *slot the entry or
 * NONE when the last component is missing, and *parent_slot its directory.
 */
static int walk(struct copa_view *v, const char *path, bool follow_last, bool create,
                struct copa_buf *canon, uint32_t *slot, uint32_t *parent_slot, struct copa_err *err)
{
	struct copa_buf rest = COPA_BUF_INIT;
	uint32_t cur = 0;
	int links = 0;
	int r = 0;
	size_t pos = 0;

	copa_buf_reset(canon);
	copa_buf_add(canon, "", 0);
	copa_buf_adds(&rest, path);
	*slot = 0;
	*parent_slot = NONE;
	while (pos < rest.len) {
		const char *c = rest.p + pos;
		const char *end = memchr(c, '/', rest.len - pos);
		size_t n = end ? (size_t)(end - c) : rest.len - pos;
		bool last;
		size_t mark;
		uint32_t s;

		pos += n + (end ? 1 : 0);
		/* Last when only slashes remain. */
		last = true;
		for (size_t i = pos; i < rest.len; i++)
			if (rest.p[i] != '/') {
				last = false;
				break;
			}
		if (n == 0 || (n == 1 && c[0] == '.')) {
			if (last) {
				*slot = cur;
				*parent_slot = v->e[cur].parent_;
			}
			continue;
		}
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (cur != 0) {
				cur = v->e[cur].parent_;
				copa_buf_reset(canon);
				copa_buf_adds(canon, v->e[cur].path);
			}
			if (last) {
				*slot = cur;
				*parent_slot = v->e[cur].parent_;
			}
			continue;
		}
		mark = canon->len;
		if (canon->len)
			copa_buf_addc(canon, '/');
		copa_buf_add(canon, c, n);
		s = ht_find(v, canon->p, canon->len);
		if (s != NONE && v->e[s].type == COPA_FT_SYMLINK && (!last || follow_last)) {
			struct copa_buf nr = COPA_BUF_INIT;
			const char *target = v->e[s].link ? v->e[s].link : "";

			if (++links > MAX_LINKS) {
				r = copa_err_set(err, COPA_E_INPUT,
				                 "'%s': too many levels of symbolic links", path);
				break;
			}
			copa_buf_truncate(canon, mark);
			if (target[0] == '/') {
				cur = 0;
				copa_buf_reset(canon);
				copa_buf_add(canon, "", 0);
			}
			copa_buf_adds(&nr, target);
			if (pos < rest.len) {
				copa_buf_addc(&nr, '/');
				copa_buf_add(&nr, rest.p + pos, rest.len - pos);
			}
			copa_buf_release(&rest);
			rest = nr;
			pos = 0;
			if (rest.len == 0) {
				*slot = cur;
				*parent_slot = v->e[cur].parent_;
			}
			continue;
		}
		if (last) {
			*slot = s;
			*parent_slot = cur;
			break;
		}
		if (s == NONE || v->e[s].type != COPA_FT_DIR) {
			if (!create) {
				r = copa_err_set(err, COPA_E_NOTFOUND, "'%s': '%s' is %s", path,
				                 canon->p,
				                 s == NONE ? "missing" : "not a directory");
				break;
			}
			if (s != NONE)
				drop_slot(v, s);
			s = new_slot(v, cur, canon->p, canon->len);
			make_implicit_dir(&v->e[s]);
		}
		cur = s;
	}
	copa_buf_release(&rest);
	return r;
}

struct copa_view_entry *copa_view_put(struct copa_view *v, const struct copa_view_entry *in,
                                      struct copa_err *err)
{
	struct copa_buf norm = COPA_BUF_INIT, canon = COPA_BUF_INIT;
	struct copa_view_entry *e = NULL;
	uint32_t slot, parent;

	if (copa_path_normalize(in->path, &norm) < 0) {
		copa_err_set(err, COPA_E_INPUT, "invalid path '%s'", in->path);
		goto out;
	}
	if (norm.len == 0) {
		if (in->type != COPA_FT_DIR) {
			copa_err_set(err, COPA_E_INPUT, "the root can only be a directory");
			goto out;
		}
		slot = 0;
	} else {
		/* The parent is resolved through symlinks, the new name itself is not. */
		if (walk(v, norm.p, false, true, &canon, &slot, &parent, err) < 0)
			goto out;
		if (slot != NONE && !(v->e[slot].type == COPA_FT_DIR && in->type == COPA_FT_DIR)) {
			drop_slot(v, slot);
			slot = NONE;
		}
		if (slot == NONE)
			slot = new_slot(v, parent, canon.p, canon.len);
	}
	e = &v->e[slot];
	e->type = in->type;
	e->mode = in->mode & 07777;
	e->uid = in->uid;
	e->gid = in->gid;
	e->size = in->type == COPA_FT_REG || in->type == COPA_FT_HARDLINK ? in->size : 0;
	e->mtime = in->mtime;
	e->rdev_major = in->rdev_major;
	e->rdev_minor = in->rdev_minor;
	e->layer = in->layer;
	e->data_offset = in->data_offset;
	e->implicit = in->implicit;
	e->link = in->link ? copa_arena_strdup(&v->arena, in->link) : NULL;
	e->content = in->content ? copa_arena_memdup(&v->arena, in->content, e->size) : NULL;
out:
	copa_buf_release(&norm);
	copa_buf_release(&canon);
	return e;
}

int copa_view_remove(struct copa_view *v, const char *path)
{
	uint32_t s;

	path = skip_slash(path);
	s = ht_find(v, path, strlen(path));
	if (s == NONE)
		return -1;
	if (s == 0) {
		drop_children(v, 0);
		return 0;
	}
	drop_slot(v, s);
	return 0;
}

int copa_view_clear_children(struct copa_view *v, const char *path)
{
	uint32_t s;

	path = skip_slash(path);
	s = ht_find(v, path, strlen(path));
	if (s == NONE || v->e[s].type != COPA_FT_DIR)
		return -1;
	drop_children(v, s);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const struct copa_view_entry *x = *(const struct copa_view_entry *const *)a;
	const struct copa_view_entry *y = *(const struct copa_view_entry *const *)b;

	return strcmp(x->name, y->name);
}

static int children_of(const struct copa_view *v, uint32_t s, const struct copa_view_entry ***out,
                       size_t *n)
{
	size_t count = 0, cap = 0;
	const struct copa_view_entry **arr = NULL;

	for (uint32_t c = v->e[s].first_child_; c != NONE; c = v->e[c].next_sibling_) {
		arr = copa_xgrow(arr, &cap, count + 1, sizeof(*arr));
		arr[count++] = &v->e[c];
	}
	if (count > 1)
		qsort(arr, count, sizeof(*arr), cmp_name);
	*out = arr;
	*n = count;
	return 0;
}

int copa_view_children(const struct copa_view *v, const char *dir,
                       const struct copa_view_entry ***out, size_t *n)
{
	uint32_t s;

	dir = skip_slash(dir);
	s = ht_find(v, dir, strlen(dir));
	*out = NULL;
	*n = 0;
	if (s == NONE || v->e[s].type != COPA_FT_DIR)
		return -1;
	return children_of(v, s, out, n);
}

static int walk_from(const struct copa_view *v, uint32_t s,
                     int (*fn)(void *ctx, const struct copa_view_entry *e), void *ctx)
{
	const struct copa_view_entry **kids;
	size_t n;
	int r = fn(ctx, &v->e[s]);

	if (r || v->e[s].type != COPA_FT_DIR)
		return r;
	children_of(v, s, &kids, &n);
	for (size_t i = 0; i < n && !r; i++)
		r = walk_from(v, (uint32_t)(kids[i] - v->e), fn, ctx);
	free(kids);
	return r;
}

int copa_view_walk(const struct copa_view *v, const char *prefix,
                   int (*fn)(void *ctx, const struct copa_view_entry *e), void *ctx)
{
	uint32_t s;

	prefix = skip_slash(prefix);
	s = ht_find(v, prefix, strlen(prefix));
	if (s == NONE)
		return 0;
	return walk_from(v, s, fn, ctx);
}

int copa_view_resolve(const struct copa_view *v, const char *path, unsigned flags,
                      struct copa_buf *canonical, const struct copa_view_entry **entry,
                      struct copa_err *err)
{
	uint32_t slot, parent;

	/* walk() only mutates with create=true. */
	if (walk((struct copa_view *)(uintptr_t)v, path, flags & COPA_VIEW_FOLLOW, false, canonical,
	         &slot, &parent, err) < 0)
		return -1;
	if (entry)
		*entry = slot == NONE ? NULL : &v->e[slot];
	return 0;
}

int copa_view_set_content(struct copa_view *v, const char *path, const void *data, size_t n,
                          struct copa_err *err)
{
	uint32_t s;

	path = skip_slash(path);
	s = ht_find(v, path, strlen(path));
	if (s == NONE)
		return copa_err_set(err, COPA_E_NOTFOUND, "'%s' is not in the image", path);
	v->e[s].content = copa_arena_memdup(&v->arena, data, n);
	v->e[s].size = n;
	return 0;
}

void copa_view_set_reader(struct copa_view *v, copa_view_reader fn, void *ctx)
{
	v->reader = fn;
	v->reader_ctx = ctx;
}

int copa_view_read(struct copa_view *v, const char *path, size_t max, struct copa_buf *out,
                   struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = NULL;
	int r;

	copa_buf_reset(out);
	r = copa_view_resolve(v, path, COPA_VIEW_FOLLOW, &canon, &e, err);
	/*
	 * A hard link that carries its own content (the layer reader copies the
	 * target's when it applies the link) keeps it even when a later layer
	 * replaces the target path, as a hard link on disk does.
	 */
	if (r == 0 && e && e->type == COPA_FT_HARDLINK && !copa_view_link_has_data(e)) {
		const struct copa_view_entry *t = copa_view_get(v, e->link ? e->link : "");

		e = t && t->type == COPA_FT_REG ? t : NULL;
		if (!e)
			r = copa_err_set(err, COPA_E_INPUT, "'%s' is a hard link to a missing file",
			                 path);
	}
	if (r == 0 && !e)
		r = copa_err_set(err, COPA_E_NOTFOUND, "'%s' is not in the image", path);
	if (r == 0 && e->type != COPA_FT_REG && e->type != COPA_FT_HARDLINK)
		r = copa_err_set(err, COPA_E_INPUT, "'%s' is not a regular file", path);
	if (r == 0 && e->size > max)
		r = copa_err_set(err, COPA_E_LIMIT, "'%s' is %llu bytes, more than the %zu allowed",
		                 path, (unsigned long long)e->size, max);
	if (r == 0) {
		if (e->content)
			copa_buf_add(out, e->content, (size_t)e->size);
		else if (v->reader)
			r = v->reader(v->reader_ctx, e, max, out, err);
		else
			r = copa_err_set(err, COPA_E_BUG, "no reader for the content of '%s'",
			                 path);
		if (r == 0 && !out->p)
			copa_buf_add(out, "", 0);
	}
	copa_buf_release(&canon);
	return r;
}

/*
 * apply.c: unpacking .deb packages into a new layer against the merged
 * view, and the dpkg database update (see apply.h).
 *
 * Each package goes through two phases. plan_*() reads the package
 * (control area, then data.tar streamed once, regular files staged or kept
 * inline), maps every path onto the image, decides conffiles and checks
 * for conflicts; nothing outside the plan changes, so an error leaves the
 * layer, the view and the database as they were. commit_*() then writes the
 * entries, removes the old version's leftovers and rewrites the database
 * files; it cannot fail on bad input.
 *
 * The references for the semantics are dpkg 1.21's src/main/archives.c
 * (tarobject), unpack.c (process_archive, pkg_remove_old_files,
 * pkg_infodb_update, pkg_remove_files_from_others) and configure.c
 * (deferred_configure_conffile).
 */
#include "pkg/deb/apply.h"

#include "pkg/deb/cacerts.h"
#include "pkg/fs.h"
#include "pkg/pathmap.h"
#include "pkg/deb/dpkgfilter.h"
#include "util/arena.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_INLINE_MAX (16u << 10)
#define INLINE_BUDGET      (16u << 20) /* inline bytes one package may hold in memory */
#define MAX_CONFFILE_SIZE  (64u << 20)
#define NEWCONFFILE        "newconffile"
#define NONEXISTENT        "-"
#define CACERTS_DIR        "usr/share/ca-certificates/"

/* ---- string vectors ---- */

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_add(struct strv *s, char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str)) {
			free(str);
			return;
		}
	s->v = copa_xgrow(s->v, &s->cap, s->n + 2, sizeof(*s->v));
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static char **strv_steal(struct strv *s)
{
	char **v = s->v;

	if (!v) {
		v = copa_xcalloc(1, sizeof(*v));
	}
	memset(s, 0, sizeof(*s));
	return v;
}

/* ---- file ownership index ---- */

struct owner_list {
	uint32_t *ids;
	uint32_t n, cap;
};

struct owners {
	struct copa_arena arena;
	struct copa_strmap by_path;  /* "/usr/bin/x" -> list */
	struct copa_strmap by_canon; /* "usr/bin/x" -> list */
	struct owner_list *lists;
	size_t n_lists, cap_lists;
	char **names;             /* id -> package name */
	struct copa_strmap id_of; /* "name:arch" -> id */
	size_t n_ids, cap_ids;
};

static void owners_free(struct owners *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_lists; i++)
		free(o->lists[i].ids);
	free(o->lists);
	free(o->names);
	copa_strmap_release(&o->by_path);
	copa_strmap_release(&o->by_canon);
	copa_strmap_release(&o->id_of);
	copa_arena_release(&o->arena);
	free(o);
}

static uint32_t owners_id(struct owners *o, const char *name, const char *arch)
{
	char *key = copa_xasprintf("%s:%s", name, arch);
	uint32_t id;

	if (!copa_strmap_get(&o->id_of, key, strlen(key), &id)) {
		const char *k = copa_arena_strdup(&o->arena, key);

		id = (uint32_t)o->n_ids;
		o->names = copa_xgrow(o->names, &o->cap_ids, o->n_ids + 1, sizeof(*o->names));
		o->names[o->n_ids++] = copa_arena_strdup(&o->arena, name);
		copa_strmap_put(&o->id_of, k, strlen(k), id);
	}
	free(key);
	return id;
}

static struct owner_list *owners_list(struct owners *o, struct copa_strmap *m, const char *path,
                                      size_t n, bool create)
{
	uint32_t idx;

	if (copa_strmap_get(m, path, n, &idx))
		return &o->lists[idx];
	if (!create)
		return NULL;
	o->lists = copa_xgrow(o->lists, &o->cap_lists, o->n_lists + 1, sizeof(*o->lists));
	memset(&o->lists[o->n_lists], 0, sizeof(o->lists[0]));
	copa_strmap_put(m, copa_arena_strndup(&o->arena, path, n), n, (uint32_t)o->n_lists);
	return &o->lists[o->n_lists++];
}

static void list_add(struct owner_list *l, uint32_t id)
{
	size_t cap = l->cap;

	for (uint32_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return;
	l->ids = copa_xgrow(l->ids, &cap, l->n + 1, sizeof(*l->ids));
	l->cap = (uint32_t)cap;
	l->ids[l->n++] = id;
}

static void list_del(struct owner_list *l, uint32_t id)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (l->ids[i] == id) {
			l->ids[i] = l->ids[--l->n];
			return;
		}
}

/* ---- the session ---- */

struct file_trigger {
	char *path; /* interest path, absolute */
	char *pkg;  /* as written: "name" or "name:arch" */
	bool noawait;
};

struct copa_deb_apply {
	struct copa_view *v;
	struct copa_layer_builder *b;
	struct copa_deb_apply_opts o;
	struct copa_dpkgdb *db;
	int stage_fd;
	uint64_t seq;
	struct owners *own;
	struct copa_buf old_status;
	bool have_old_status;
	bool db_changed;
	int64_t max_mtime;
	struct copa_dpkg_filters filters; /* the image's path-exclude/path-include */
	bool cacerts_touched;
	bool cacerts_configure;
	char *cacerts_config;
	struct strv notes;
	struct file_trigger *ftrig;
	size_t n_ftrig;
	struct strv whiteouts;         /* paths whited out so far */
	struct copa_buf passwd, group; /* the image's, for owner names in tar headers */
	bool finished;
};

static int64_t gen_mtime(const struct copa_deb_apply *a, int64_t pkg_mtime)
{
	if (a->o.mtime)
		return a->o.mtime;
	return pkg_mtime ? pkg_mtime : a->max_mtime;
}

static bool is_db_path(const struct copa_deb_apply *a, const char *path)
{
	size_t n = strlen(a->db->admindir);

	return !strncmp(path, a->db->admindir, n) && (path[n] == '/' || !path[n]);
}

int copa_deb_apply_read(struct copa_deb_apply *a, const char *path, size_t max,
                        struct copa_buf *out, struct copa_err *err)
{
	return copa_pkgfs_read(a->v, a->b, path, max, out, err);
}

/*
 * Deletes path from the image. A directory's whiteout makes the whiteouts
 * below it redundant, and harmful: some runtimes recreate the parent of
 * every tar member, whiteouts included, and would resurrect the directory.
 */
static int remove_path(struct copa_deb_apply *a, const char *path, struct copa_err *err)
{
	const struct copa_view_entry *e = copa_view_get(a->v, path);
	size_t n = strlen(path), w = 0;

	if (e && e->type == COPA_FT_DIR) {
		for (size_t i = 0; i < a->whiteouts.n; i++) {
			char *q = a->whiteouts.v[i];

			if (!strncmp(q, path, n) && q[n] == '/') {
				copa_layer_builder_remove(a->b, q);
				free(q);
				continue;
			}
			a->whiteouts.v[w++] = q;
		}
		a->whiteouts.n = w;
		if (a->whiteouts.v)
			a->whiteouts.v[w] = NULL;
	}
	if (copa_pkgfs_remove(a->v, a->b, path, err) < 0)
		return -1;
	strv_add(&a->whiteouts, copa_xstrdup(path));
	return 0;
}

/* Reads an optional file; *found false (and 0) when it does not exist. */
static int read_opt(struct copa_deb_apply *a, const char *path, size_t max, struct copa_buf *out,
                    bool *found, struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = NULL;
	struct copa_err e2 = COPA_ERR_INIT;
	int r;

	*found = false;
	copa_buf_reset(out);
	r = copa_view_resolve(a->v, path, COPA_VIEW_FOLLOW, &canon, &e, &e2);
	copa_buf_release(&canon);
	if (r < 0 || !e || (e->type != COPA_FT_REG && e->type != COPA_FT_HARDLINK))
		return 0;
	if (copa_deb_apply_read(a, path, max, out, err) < 0)
		return -1;
	*found = true;
	return 0;
}

static void load_file_triggers(struct copa_deb_apply *a)
{
	struct copa_buf data = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	char *path = copa_xasprintf("%s/triggers/File", a->db->admindir);
	struct copa_blob rest, line;
	size_t cap = 0;
	bool found;

	if (read_opt(a, path, 16u << 20, &data, &found, &err) == 0 && found) {
		rest = copa_blob(data.p, data.len);
		while (rest.n && copa_blob_split(&rest, '\n', &line)) {
			struct copa_blob p, k;
			struct file_trigger *t;
			char *slash;

			if (!copa_blob_word(&line, &p) || !copa_blob_word(&line, &k) ||
			    p.p[0] != '/' || a->n_ftrig >= 100000)
				continue;
			a->ftrig = copa_xgrow(a->ftrig, &cap, a->n_ftrig + 1, sizeof(*a->ftrig));
			t = &a->ftrig[a->n_ftrig++];
			t->path = copa_blob_dup(p);
			t->pkg = copa_blob_dup(k);
			t->noawait = false;
			slash = strchr(t->pkg, '/');
			if (slash) {
				t->noawait = !strcmp(slash, "/noawait");
				*slash = '\0';
			}
		}
	}
	copa_buf_release(&data);
	free(path);
}

/*
 * dpkg's own configuration in the image: the files of etc/dpkg/dpkg.cfg.d
 * in sorted order, then etc/dpkg/dpkg.cfg (dpkg_options_load). Only the
 * path filters matter to unpacking.
 */
static int load_path_filters(struct copa_deb_apply *a, struct copa_err *err)
{
	const struct copa_view_entry **kids = NULL;
	struct copa_buf text = COPA_BUF_INIT;
	size_t n = 0;
	bool found;
	int r = 0;

	if (copa_view_children(a->v, "etc/dpkg/dpkg.cfg.d", &kids, &n) < 0)
		n = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!copa_dpkg_filters_valid_name(kids[i]->name))
			continue;
		r = read_opt(a, kids[i]->path, 1u << 20, &text, &found, err);
		if (r == 0 && found)
			copa_dpkg_filters_parse(&a->filters, text.p, text.len);
	}
	free(kids);
	if (r == 0)
		r = read_opt(a, "etc/dpkg/dpkg.cfg", 1u << 20, &text, &found, err);
	if (r == 0 && found)
		copa_dpkg_filters_parse(&a->filters, text.p, text.len);
	copa_buf_release(&text);
	return r;
}

struct copa_deb_apply *copa_deb_apply_new(struct copa_view *v, struct copa_layer_builder *b,
                                          const struct copa_deb_apply_opts *opts,
                                          struct copa_err *err)
{
	struct copa_deb_apply *a = copa_xcalloc(1, sizeof(*a));
	bool found;

	a->v = v;
	a->b = b;
	if (opts)
		a->o = *opts;
	if (!a->o.inline_max)
		a->o.inline_max = DEFAULT_INLINE_MAX;
	a->stage_fd = copa_layer_builder_staging_fd(b);
	if (copa_dpkgdb_load(v, a->o.admindir, &a->db, err) < 0) {
		free(a);
		return NULL;
	}
	if (a->db->layout == COPA_DPKGDB_STATUS) {
		char *path = copa_xasprintf("%s/status", a->db->admindir);
		int r = read_opt(a, path, COPA_DPKGDB_MAX_FILE, &a->old_status, &found, err);

		free(path);
		if (r < 0) {
			copa_deb_apply_free(a);
			return NULL;
		}
		a->have_old_status = found;
	}
	load_file_triggers(a);
	if (load_path_filters(a, err) < 0) {
		copa_deb_apply_free(a);
		return NULL;
	}
	if (read_opt(a, "etc/passwd", 16u << 20, &a->passwd, &found, err) < 0 ||
	    read_opt(a, "etc/group", 16u << 20, &a->group, &found, err) < 0) {
		copa_deb_apply_free(a);
		return NULL;
	}
	return a;
}

/*
 * dpkg takes a tar entry's owner from its user and group names when the
 * system knows them (tar_entry_update_from_system), the number otherwise;
 * the system is the image.
 */
static void owner_from_name(const struct copa_buf *db, const char *name, uint32_t *id)
{
	struct copa_blob rest = copa_blob(db->p, db->len), line;
	size_t n = name ? strlen(name) : 0;

	if (!n)
		return;
	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob f, r2 = line, idf;
		uint64_t v;

		if (!copa_blob_split(&r2, ':', &f) || !copa_blob_eq(f, copa_blob(name, n)) ||
		    !copa_blob_split(&r2, ':', &f) || !copa_blob_split(&r2, ':', &idf) ||
		    copa_blob_to_u64(idf, UINT32_MAX, &v) < 0)
			continue;
		*id = (uint32_t)v;
		return;
	}
}

void copa_deb_apply_free(struct copa_deb_apply *a)
{
	if (!a)
		return;
	copa_dpkgdb_free(a->db);
	owners_free(a->own);
	copa_buf_release(&a->old_status);
	free(a->cacerts_config);
	copa_dpkg_filters_release(&a->filters);
	strv_release(&a->notes);
	strv_release(&a->whiteouts);
	copa_buf_release(&a->passwd);
	copa_buf_release(&a->group);
	for (size_t i = 0; i < a->n_ftrig; i++) {
		free(a->ftrig[i].path);
		free(a->ftrig[i].pkg);
	}
	free(a->ftrig);
	free(a);
}

const struct copa_dpkgdb *copa_deb_apply_db(const struct copa_deb_apply *a)
{
	return a->db;
}

const char *const *copa_deb_apply_notes(const struct copa_deb_apply *a)
{
	static const char *const none[] = {NULL};

	return a->notes.v ? (const char *const *)a->notes.v : none;
}

void copa_deb_apply_result_release(struct copa_deb_apply_result *r)
{
	free(r->name);
	free(r->arch);
	free(r->version);
	free(r->old_version);
	copa_strv_free(r->skipped);
	copa_strv_free(r->notes);
	memset(r, 0, sizeof(*r));
}

/* ---- reading the old version's files ---- */

struct pathvec {
	char **v;
	size_t n, cap;
};

static void pathvec_free(struct pathvec *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int pathvec_add_blob(void *ctx, struct copa_blob path)
{
	struct pathvec *p = ctx;

	if (p->n >= 4000000)
		return 1;
	p->v = copa_xgrow(p->v, &p->cap, p->n + 1, sizeof(*p->v));
	p->v[p->n++] = copa_blob_dup(path);
	return 0;
}

static int pathvec_add_md5(void *ctx, struct copa_blob md5, struct copa_blob path)
{
	struct pathvec *p = ctx;

	(void)md5;
	if (p->n >= 4000000)
		return 1;
	p->v = copa_xgrow(p->v, &p->cap, p->n + 1, sizeof(*p->v));
	p->v[p->n++] = copa_xasprintf("/%.*s", (int)path.n, path.p);
	return 0;
}

/* The files a package owns: its .list, or (distroless) its .md5sums. */
static int read_pkg_files(struct copa_deb_apply *a, const struct copa_dpkg_pkg *p,
                          struct pathvec *out, struct copa_err *err)
{
	struct copa_buf data = COPA_BUF_INIT;
	char *path;
	bool found;
	int r;

	if (a->db->layout == COPA_DPKGDB_STATUSD)
		path = copa_xasprintf("%s/status.d/%s.md5sums", a->db->admindir,
		                      p->statusd_file ? p->statusd_file : p->name);
	else
		path = copa_dpkgdb_info_path(a->db, p->name, p->arch, p->multi_arch, "list");
	r = read_opt(a, path, COPA_DPKGDB_MAX_FILE, &data, &found, err);
	if (r == 0 && found) {
		if (a->db->layout == COPA_DPKGDB_STATUSD)
			r = copa_dpkg_md5sums_foreach(data.p, data.len, path, pathvec_add_md5, out,
			                              err);
		else
			r = copa_dpkg_list_foreach(data.p, data.len, pathvec_add_blob, out);
		if (r > 0)
			r = copa_err_set(err, COPA_E_LIMIT, "'%s' lists too many files", path);
	}
	/* status.d has no .list: the conffiles the stanza records are files of the package too. */
	if (r == 0 && a->db->layout == COPA_DPKGDB_STATUSD)
		for (size_t i = 0; i < p->n_conffiles; i++)
			pathvec_add_blob(out, copa_blob_str(p->conffiles[i].path));
	free(path);
	copa_buf_release(&data);
	return r;
}

/* Canonical form of an absolute package path in the current view (no error: NULL). */
static char *canon_of(struct copa_deb_apply *a, const char *pkgpath)
{
	struct copa_buf c = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;
	char *s = NULL;

	if (copa_view_resolve(a->v, pkgpath, 0, &c, NULL, &e) == 0)
		s = copa_buf_detach(&c, NULL);
	copa_buf_release(&c);
	return s;
}

static void owners_add_pkg(struct owners *o, struct copa_deb_apply *a, uint32_t id,
                           const struct pathvec *files, bool add)
{
	for (size_t i = 0; i < files->n; i++) {
		const char *p = files->v[i];
		struct owner_list *l;
		char *c;

		if (!strcmp(p, "/."))
			continue;
		l = owners_list(o, &o->by_path, p, strlen(p), add);
		if (l)
			add ? list_add(l, id) : list_del(l, id);
		c = canon_of(a, p);
		if (c) {
			l = owners_list(o, &o->by_canon, c, strlen(c), add);
			if (l)
				add ? list_add(l, id) : list_del(l, id);
			free(c);
		}
	}
}

static int ensure_owners(struct copa_deb_apply *a, struct copa_err *err)
{
	struct owners *o;

	if (a->own)
		return 0;
	o = copa_xcalloc(1, sizeof(*o));
	for (size_t i = 0; i < a->db->n; i++) {
		const struct copa_dpkg_pkg *p = a->db->pkgs[i];
		struct pathvec files = {0};
		uint32_t id = owners_id(o, p->name, p->arch);

		if (read_pkg_files(a, p, &files, err) < 0) {
			pathvec_free(&files);
			owners_free(o);
			return -1;
		}
		owners_add_pkg(o, a, id, &files, true);
		pathvec_free(&files);
	}
	a->own = o;
	return 0;
}

/* The first owner of pkgpath (or of its canonical form) other than packages named `name`. */
static const char *other_owner(struct copa_deb_apply *a, const char *pkgpath, const char *canon,
                               const char *name)
{
	struct owners *o = a->own;
	const struct owner_list *ls[2] = {
	    pkgpath ? owners_list(o, &o->by_path, pkgpath, strlen(pkgpath), false) : NULL,
	    canon ? owners_list(o, &o->by_canon, canon, strlen(canon), false) : NULL,
	};

	for (int k = 0; k < 2; k++)
		for (uint32_t i = 0; ls[k] && i < ls[k]->n; i++)
			if (strcmp(o->names[ls[k]->ids[i]], name))
				return o->names[ls[k]->ids[i]];
	return NULL;
}

/* ---- the plan for one package ---- */

enum act {
	ACT_SKIP,      /* nothing to write: an existing directory, an unchanged conffile */
	ACT_WRITE,     /* an entry at dest */
	ACT_CONF_KEEP, /* conffile: keep the image's version, write nothing */
	ACT_CONF_DIST, /* conffile: keep the image's version, write the package's as dest
	                  (.dpkg-dist) */
};

struct item {
	const char *pkgpath; /* "/usr/bin/x", "/." for the root */
	const char *rel;     /* "usr/bin/x", "" for the root */
	uint8_t type;
	uint32_t mode, uid, gid;
	int64_t mtime;
	const char *link; /* symlink target, or the hard link target (rel) */
	uint32_t rmaj, rmin;
	struct copa_layer_xattr *xattrs;
	size_t n_xattrs;
	uint64_t size;
	const void *data;   /* inline content */
	const char *staged; /* or a staged file */
	char md5[33];
	const char *dest;  /* where it is written (canonical) */
	const char *canon; /* canonical path of the undiverted package path */
	enum act act;
	bool filtered; /* left out by dpkg's path filters: listed, not unpacked */
	bool conffile;
	const char *cur_md5; /* conffile: the image's version, NONEXISTENT when absent */
};

struct plan {
	struct copa_deb_apply *a;
	struct copa_debfile *deb;
	struct copa_arena ar;
	struct copa_deb822_para control;
	const char *name, *arch, *version, *ma;
	struct copa_dpkg_pkg *old;
	struct copa_deb822_para old_para;
	struct pathvec old_files;
	struct copa_dpkg_ctl_conffile *cc;
	size_t n_cc;
	struct item *items;
	size_t n_items, cap_items;
	struct copa_strmap by_rel;   /* rel -> item */
	struct copa_strmap overlay;  /* dest of written entries -> item */
	struct copa_strmap newcanon; /* canonical paths present after the unpack -> item */
	struct strv staged;          /* staged file names, unlinked if the plan fails */
	struct strv skipped, notes;
	uint64_t inline_bytes;
	int64_t max_mtime;
	size_t n_written, n_removed;
};

static void plan_release(struct plan *pl, bool failed)
{
	if (failed && pl->a->stage_fd >= 0)
		for (size_t i = 0; i < pl->staged.n; i++)
			unlinkat(pl->a->stage_fd, pl->staged.v[i], 0);
	copa_debfile_free(pl->deb);
	copa_deb822_para_release(&pl->control);
	copa_deb822_para_release(&pl->old_para);
	pathvec_free(&pl->old_files);
	copa_dpkg_ctl_conffiles_free(pl->cc, pl->n_cc);
	free(pl->items);
	copa_strmap_release(&pl->by_rel);
	copa_strmap_release(&pl->overlay);
	copa_strmap_release(&pl->newcanon);
	strv_release(&pl->staged);
	strv_release(&pl->skipped);
	strv_release(&pl->notes);
	copa_arena_release(&pl->ar);
}

static struct item *item_at(struct plan *pl, struct copa_strmap *m, const char *path)
{
	uint32_t i;

	if (!copa_strmap_get(m, path, strlen(path), &i))
		return NULL;
	return &pl->items[i];
}

static const struct copa_dpkg_ctl_conffile *ctl_conffile(const struct plan *pl, const char *path)
{
	for (size_t i = 0; i < pl->n_cc; i++)
		if (!strcmp(pl->cc[i].path, path))
			return &pl->cc[i];
	return NULL;
}

/* -- reading data.tar -- */

static int stage_content(struct plan *pl, struct item *it, struct copa_debfile_reader *r,
                         struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	struct copa_hash h;
	char buf[65536];
	uint64_t got = 0;
	ssize_t n;
	bool keep_inline = a->stage_fd < 0 || (it->size <= a->o.inline_max &&
	                                       pl->inline_bytes + it->size <= INLINE_BUDGET);
	char *mem = NULL;
	int fd = -1, rc = 0;

	copa_hash_init(&h, COPA_HASH_MD5);
	if (keep_inline) {
		mem = copa_arena_alloc(&pl->ar, it->size ? (size_t)it->size : 1);
		pl->inline_bytes += it->size;
	} else {
		char *name = copa_xasprintf("copa-deb-%ld-%llu", (long)getpid(),
		                            (unsigned long long)++a->seq);

		fd =
		    copa_fs_open_beneath(a->stage_fd, name, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
		if (fd < 0) {
			free(name);
			copa_hash_release(&h);
			return copa_err_wrap(err, "staging '%s'", it->pkgpath);
		}
		it->staged = copa_arena_strdup(&pl->ar, name);
		strv_add(&pl->staged, name);
	}
	while ((n = copa_debfile_read(r, buf, sizeof(buf), err)) > 0) {
		if (got + (uint64_t)n > it->size) {
			rc =
			    copa_err_set(err, COPA_E_INPUT,
			                 "'%s': data.tar entry '%s' is longer than its header says",
			                 pl->deb->label, it->pkgpath);
			break;
		}
		copa_hash_update(&h, buf, (size_t)n);
		if (mem)
			memcpy(mem + got, buf, (size_t)n);
		else if (copa_fs_write_all(fd, buf, (size_t)n, err) < 0) {
			rc = copa_err_wrap(err, "staging '%s'", it->pkgpath);
			break;
		}
		got += (uint64_t)n;
	}
	if (n < 0)
		rc = -1;
	if (rc == 0 && got != it->size)
		rc = copa_err_set(err, COPA_E_INPUT, "'%s': data.tar entry '%s' is truncated",
		                  pl->deb->label, it->pkgpath);
	if (fd >= 0)
		close(fd);
	copa_hash_final_hex(&h, buf);
	memcpy(it->md5, buf, 33);
	it->data = mem;
	return rc;
}

static int on_entry(void *ctx, const struct copa_debfile_entry *e, struct copa_debfile_reader *r,
                    struct copa_err *err)
{
	struct plan *pl = ctx;
	struct item *it;

	pl->items = copa_xgrow(pl->items, &pl->cap_items, pl->n_items + 1, sizeof(*pl->items));
	it = &pl->items[pl->n_items];
	memset(it, 0, sizeof(*it));
	it->rel = copa_arena_strdup(&pl->ar, e->path);
	if (e->path[0]) {
		char *p = copa_xasprintf("/%s", e->path);

		it->pkgpath = copa_arena_strdup(&pl->ar, p);
		free(p);
	} else {
		it->pkgpath = "/.";
	}
	it->type = e->type;
	it->filtered = e->path[0] && copa_dpkg_filters_skip(&pl->a->filters, it->pkgpath, e->type);
	it->mode = e->mode;
	it->uid = e->uid;
	it->gid = e->gid;
	owner_from_name(&pl->a->passwd, e->uname, &it->uid);
	owner_from_name(&pl->a->group, e->gname, &it->gid);
	it->mtime = e->mtime;
	it->link = e->link ? copa_arena_strdup(&pl->ar, e->link) : NULL;
	it->rmaj = e->rdev_major;
	it->rmin = e->rdev_minor;
	it->size = e->size;
	if (e->n_xattrs) {
		it->xattrs = copa_arena_alloc(&pl->ar, e->n_xattrs * sizeof(*it->xattrs));
		for (size_t i = 0; i < e->n_xattrs; i++) {
			it->xattrs[i].name = copa_arena_strdup(&pl->ar, e->xattrs[i].name);
			it->xattrs[i].value = copa_arena_memdup(
			    &pl->ar, e->xattrs[i].value, e->xattrs[i].len ? e->xattrs[i].len : 1);
			it->xattrs[i].len = e->xattrs[i].len;
		}
		it->n_xattrs = e->n_xattrs;
	}
	if (e->mtime > pl->max_mtime)
		pl->max_mtime = e->mtime;
	pl->n_items++;
	copa_strmap_put(&pl->by_rel, it->rel, strlen(it->rel), (uint32_t)(pl->n_items - 1));
	if (e->type == COPA_FT_REG)
		return stage_content(pl, it, r, err);
	return 0;
}

/* -- mapping paths onto the image -- */

/* What the package puts at a path, for the path mapping (pkg/pathmap.h). */
static int own_type(void *ctx, const char *path)
{
	struct plan *pl = ctx;
	struct item *ov = item_at(pl, &pl->overlay, path);

	return ov ? (int)ov->type : -1;
}

static const char *dup_ar(struct plan *pl, char *s)
{
	const char *d = copa_arena_strdup(&pl->ar, s);

	free(s);
	return d;
}

/* Canonical path of a package path (relative) whose parent resolves through the plan. */
static const char *map_path(struct plan *pl, const char *rel, struct copa_err *err)
{
	char *r = copa_pathmap_path(pl->a->v, rel, own_type, pl, pl->deb->label, err);

	return r ? dup_ar(pl, r) : NULL;
}

/* True when the view's entry at path is a directory or a symlink leading to one. */
static bool is_dir_or_link_to_dir(struct copa_deb_apply *a, const char *path,
                                  const struct copa_view_entry *ve, char **target)
{
	struct copa_buf c = COPA_BUF_INIT;
	const struct copa_view_entry *t = NULL;
	struct copa_err e = COPA_ERR_INIT;
	bool r;

	if (target)
		*target = NULL;
	if (!ve)
		return false;
	if (ve->type == COPA_FT_DIR) {
		if (target)
			*target = copa_xstrdup(path);
		return true;
	}
	if (ve->type != COPA_FT_SYMLINK)
		return false;
	r = copa_view_resolve(a->v, path, COPA_VIEW_FOLLOW, &c, &t, &e) == 0 && t &&
	    t->type == COPA_FT_DIR;
	if (r && target)
		*target = copa_buf_detach(&c, NULL);
	copa_buf_release(&c);
	return r;
}

/* dpkg's linktosameexistingdir(): both symlinks lead to the same existing directory. */
static bool link_to_same_dir(struct plan *pl, const char *dest, const struct copa_view_entry *ve,
                             const char *target)
{
	struct copa_deb_apply *a = pl->a;
	char *old_t = NULL, *new_path, *slash;
	struct copa_buf c = COPA_BUF_INIT;
	const struct copa_view_entry *t = NULL;
	struct copa_err e = COPA_ERR_INIT;
	bool same = false;

	if (!is_dir_or_link_to_dir(a, dest, ve, &old_t))
		return false;
	slash = strrchr(dest, '/');
	if (target[0] == '/')
		new_path = copa_xstrdup(target);
	else if (slash)
		new_path = copa_xasprintf("%.*s/%s", (int)(slash - dest), dest, target);
	else
		new_path = copa_xstrdup(target);
	if (copa_view_resolve(a->v, new_path, COPA_VIEW_FOLLOW, &c, &t, &e) == 0 && t &&
	    t->type == COPA_FT_DIR && !strcmp(copa_buf_str(&c), old_t))
		same = true;
	copa_buf_release(&c);
	free(new_path);
	free(old_t);
	return same;
}

static int md5_of(struct plan *pl, const char *path, char md5[33], struct copa_err *err)
{
	struct copa_buf data = COPA_BUF_INIT;
	char hex[COPA_HASH_HEX_MAX];
	int r = copa_deb_apply_read(pl->a, path, MAX_CONFFILE_SIZE, &data, err);

	if (r == 0) {
		copa_hash_hex(COPA_HASH_MD5, data.p ? data.p : "", data.len, hex);
		memcpy(md5, hex, 33);
	}
	copa_buf_release(&data);
	return r;
}

/* The hash the database records for conffile path: this package's, else another's. */
static const char *recorded_hash(struct plan *pl, const char *path, const char *canon)
{
	struct copa_dpkgdb *db = pl->a->db;

	if (pl->old)
		for (size_t i = 0; i < pl->old->n_conffiles; i++)
			if (!strcmp(pl->old->conffiles[i].path, path))
				return pl->old->conffiles[i].hash;
	for (size_t k = 0; k < db->n; k++)
		for (size_t i = 0; i < db->pkgs[k]->n_conffiles; i++)
			if (!strcmp(db->pkgs[k]->conffiles[i].path, path))
				return db->pkgs[k]->conffiles[i].hash;
	/* An old conffile known under another name for the same file (unpack.c "sameas"). */
	if (pl->old && canon)
		for (size_t i = 0; i < pl->old->n_conffiles; i++) {
			char *c = canon_of(pl->a, pl->old->conffiles[i].path);
			bool same = c && !strcmp(c, canon);

			free(c);
			if (same)
				return pl->old->conffiles[i].hash;
		}
	return NULL;
}

/* Copies mode and owner of the installed conffile (dpkg's file_copy_perms). */
static void copy_perms(struct item *it, const struct copa_view_entry *cur)
{
	if (!cur)
		return;
	it->mode = cur->mode;
	it->uid = cur->uid;
	it->gid = cur->gid;
}

/* deferred_configure_conffile() with --force-confold, decided at unpack time. */
static int plan_conffile(struct plan *pl, struct item *it, const char *usepath,
                         struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	struct copa_buf cdr = COPA_BUF_INIT;
	const struct copa_view_entry *cur = NULL;
	struct copa_err e2 = COPA_ERR_INIT;
	const char *hash;
	char cmd5[33];
	bool exists = false;
	int r = 0;

	if (copa_view_resolve(a->v, usepath, COPA_VIEW_FOLLOW, &cdr, &cur, &e2) < 0) {
		/* dpkg cannot dereference it: it installs at the plain path. */
		copa_buf_reset(&cdr);
		copa_buf_adds(&cdr, it->dest);
		cur = NULL;
	}
	if (cur && cur->type != COPA_FT_REG && cur->type != COPA_FT_HARDLINK) {
		copa_buf_release(&cdr);
		return copa_err_set(err, COPA_E_PACKAGE,
		                    "'%s': conffile '%s' is not a regular file in the image",
		                    pl->deb->label, it->pkgpath);
	}
	if (cur) {
		r = md5_of(pl, copa_buf_str(&cdr), cmd5, err);
		if (r < 0) {
			copa_buf_release(&cdr);
			return copa_err_wrap(err, "conffile '%s'", it->pkgpath);
		}
		exists = true;
		it->cur_md5 = copa_arena_strdup(&pl->ar, cmd5);
	} else {
		it->cur_md5 = NONEXISTENT;
	}
	hash = recorded_hash(pl, it->pkgpath, it->canon);
	it->conffile = true;
	if (exists && !strcmp(cmd5, it->md5)) {
		it->act = ACT_CONF_KEEP; /* identical */
	} else if (!hash || !strcmp(hash, NEWCONFFILE)) {
		it->act = exists ? ACT_CONF_DIST : ACT_WRITE;
	} else {
		bool user = !exists || strcmp(hash, cmd5);
		bool dist = strcmp(hash, it->md5) != 0;

		if (!user)
			it->act = dist ? ACT_WRITE : ACT_CONF_KEEP;
		else
			it->act = dist ? ACT_CONF_DIST : ACT_CONF_KEEP;
	}
	if (it->act == ACT_WRITE) {
		it->dest = copa_arena_strdup(&pl->ar, copa_buf_str(&cdr));
		copy_perms(it, cur);
	} else if (it->act == ACT_CONF_DIST) {
		char *d = copa_xasprintf("%s.dpkg-dist", copa_buf_str(&cdr));

		it->dest = dup_ar(pl, d);
		copy_perms(it, cur);
		strv_add(&pl->notes,
		         copa_xasprintf(
		             "kept the image's conffile '%s'%s; the package's version is in '/%s'",
		             it->pkgpath, exists ? "" : " (deleted in the image)", it->dest));
	} else if (exists && strcmp(cmd5, it->md5)) {
		strv_add(&pl->notes, copa_xasprintf("kept the image's conffile '%s'", it->pkgpath));
	}
	copa_buf_release(&cdr);
	return 0;
}

static int plan_item(struct plan *pl, struct item *it, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	const char *div = copa_dpkgdb_divert(a->db, it->pkgpath, pl->name);
	const char *userel = div ? div + 1 : it->rel;
	const struct copa_dpkg_statoverride *so;
	const struct copa_view_entry *ve;
	const struct copa_dpkg_ctl_conffile *cc;

	it->act = ACT_SKIP;
	if (!*it->rel) {
		it->canon = "";
		return 0; /* the package root: the image's root */
	}
	if (it->filtered)
		return 0; /* as dpkg: not in the archive's new files, so an old copy goes */
	if (copa_dpkgdb_diverted_to(a->db, it->pkgpath))
		strv_add(&pl->notes,
		         copa_xasprintf("'%s' is the divert-to path of another file; overwritten",
		                        it->pkgpath));
	it->dest = map_path(pl, userel, err);
	if (!it->dest)
		return -1;
	it->canon = div ? map_path(pl, it->rel, err) : it->dest;
	if (!it->canon)
		return -1;
	so = copa_dpkgdb_statoverride(a->db, it->pkgpath);
	if (so) {
		it->mode = so->mode;
		it->uid = so->uid;
		it->gid = so->gid;
	}
	cc = ctl_conffile(pl, it->pkgpath);
	if (cc && cc->remove_on_upgrade)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "'%s': conffile '%s' is marked for removal on upgrade but shipped",
		    pl->deb->label, it->pkgpath);
	/* The package's own planned entry at this path wins over the image. */
	ve = item_at(pl, &pl->overlay, it->dest) ? NULL : copa_view_get(a->v, it->dest);
	switch (it->type) {
	case COPA_FT_DIR:
		if (is_dir_or_link_to_dir(a, it->dest, ve, NULL))
			return 0; /* existing directory (or symlink to one): left alone */
		if (ve && ve->type != COPA_FT_SYMLINK)
			strv_add(&pl->notes,
			         copa_xasprintf("directory '%s' replaces a file of the image",
			                        it->pkgpath));
		it->act = ACT_WRITE;
		return 0;
	case COPA_FT_SYMLINK:
		if (ve && ve->type == COPA_FT_DIR)
			return 0;
		if (ve && ve->type == COPA_FT_SYMLINK &&
		    link_to_same_dir(pl, it->dest, ve, it->link))
			return 0;
		it->act = ACT_WRITE;
		return 0;
	case COPA_FT_HARDLINK:
	case COPA_FT_REG:
	case COPA_FT_CHR:
	case COPA_FT_BLK:
	case COPA_FT_FIFO:
		if (ve && ve->type == COPA_FT_DIR) {
			const char *owner;

			if (ensure_owners(a, err) < 0)
				return -1;
			owner = other_owner(a, NULL, it->dest, pl->name);
			if (owner)
				return copa_err_set(err, COPA_E_PACKAGE,
				                    "'%s': trying to overwrite directory '/%s' of "
				                    "package '%s' with a non-directory",
				                    pl->deb->label, it->dest, owner);
			strv_add(
			    &pl->notes,
			    copa_xasprintf("'%s' replaces a directory of the image", it->pkgpath));
		}
		if (it->type == COPA_FT_REG && cc)
			return plan_conffile(pl, it, div ? div : it->pkgpath, err);
		it->act = ACT_WRITE;
		return 0;
	}
	return copa_err_set(err, COPA_E_BUG, "unknown entry type %d", it->type);
}

/* The prefixes of a written path must not be symlinks the package itself writes. */
static int check_own_symlinks(struct plan *pl, const struct item *it, struct copa_err *err)
{
	const char *d = it->dest;

	for (const char *p = strchr(d, '/'); p; p = strchr(p + 1, '/')) {
		char *pre = copa_xstrndup(d, (size_t)(p - d));
		struct item *ov = item_at(pl, &pl->overlay, pre);

		free(pre);
		if (ov && ov->type == COPA_FT_SYMLINK && ov->act == ACT_WRITE)
			return copa_err_set(err, COPA_E_INPUT,
			                    "'%s': refusing '%s': it is written through the "
			                    "symlink '%s' the package ships",
			                    pl->deb->label, it->pkgpath, ov->pkgpath);
	}
	return 0;
}

static int plan_items(struct plan *pl, struct copa_err *err)
{
	for (size_t i = 0; i < pl->n_items; i++) {
		struct item *it = &pl->items[i];

		if (plan_item(pl, it, err) < 0)
			return -1;
		if (it->act == ACT_WRITE || it->act == ACT_CONF_DIST) {
			if (check_own_symlinks(pl, it, err) < 0)
				return -1;
			copa_strmap_put(&pl->overlay, it->dest, strlen(it->dest), (uint32_t)i);
		}
		if (it->canon)
			copa_strmap_put(&pl->newcanon, it->canon, strlen(it->canon), (uint32_t)i);
	}
	/* Hard links point at where their target was written. */
	for (size_t i = 0; i < pl->n_items; i++) {
		struct item *it = &pl->items[i], *t;

		if (it->type != COPA_FT_HARDLINK || it->act != ACT_WRITE)
			continue;
		t = item_at(pl, &pl->by_rel, it->link);
		if (!t || t->type != COPA_FT_REG)
			return copa_err_set(err, COPA_E_BUG, "hard link target vanished");
		memcpy(it->md5, t->md5, sizeof(it->md5));
		if (t->act == ACT_WRITE && !t->conffile) {
			it->link = t->dest;
		} else {
			/* The target is not written (a kept conffile): write a copy. */
			it->type = COPA_FT_REG;
			it->size = t->size;
			it->data = t->data;
			it->staged = t->staged;
			it->link = NULL;
		}
	}
	return 0;
}

/* -- the skipped scripts -- */

static bool view_has(struct copa_deb_apply *a, const char *path)
{
	return copa_view_get(a->v, path) != NULL;
}

static void plan_scripts(struct plan *pl)
{
	static const char *const scripts[] = {"preinst", "postinst", "prerm", "postrm"};
	struct copa_deb_apply *a = pl->a;

	if (pl->old && a->db->layout == COPA_DPKGDB_STATUS) {
		for (int i = 2; i < 4; i++) {
			char *p = copa_dpkgdb_info_path(a->db, pl->old->name, pl->old->arch,
			                                pl->old->multi_arch, scripts[i]);

			if (view_has(a, p))
				strv_add(&pl->skipped,
				         copa_xasprintf("%s (of %s %s)", scripts[i], pl->old->name,
				                        pl->old->version));
			free(p);
		}
	}
	for (int i = 0; i < 2; i++)
		if (copa_debfile_ctl(pl->deb, scripts[i]))
			strv_add(&pl->skipped, copa_xstrdup(scripts[i]));
	if (copa_debfile_ctl(pl->deb, "config"))
		strv_add(&pl->skipped, copa_xstrdup("config (debconf)"));
	{
		const struct copa_debfile_ctl *t = copa_debfile_ctl(pl->deb, "triggers");
		struct copa_blob rest, line;

		if (t) {
			rest = copa_blob(t->data, t->size);
			while (rest.n && copa_blob_split(&rest, '\n', &line)) {
				struct copa_blob kw, name;

				if (!copa_blob_word(&line, &kw) || kw.p[0] == '#' ||
				    !copa_blob_starts(kw, "activate") ||
				    !copa_blob_word(&line, &name))
					continue;
				strv_add(&pl->skipped,
				         copa_xasprintf("trigger %.*s", (int)name.n, name.p));
			}
		}
	}
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

static void note_file_triggers(struct plan *pl, const char *pkgpath)
{
	struct copa_deb_apply *a = pl->a;

	for (size_t i = 0; i < a->n_ftrig; i++)
		if (under(pkgpath, a->ftrig[i].path))
			strv_add(&pl->skipped, copa_xasprintf("trigger %s (%s)", a->ftrig[i].path,
			                                      a->ftrig[i].pkg));
}

/* -- planning one package -- */

static int check_identity(struct plan *pl, const struct copa_deb_pkg *p, struct copa_err *err)
{
	const char *what[] = {"name", "version", "architecture"};
	const char *want[] = {p->name, p->version, p->arch};
	const char *got[] = {pl->name, pl->version, pl->arch};

	for (int i = 0; i < 3; i++)
		if (want[i] && strcmp(want[i], got[i]))
			return copa_err_set(err, COPA_E_VERIFY,
			                    "'%s' has %s '%s', expected '%s' (%s %s %s)",
			                    pl->deb->label, what[i], got[i], want[i], pl->name,
			                    pl->version, pl->arch);
	return 0;
}

static int plan_package(struct plan *pl, const struct copa_deb_pkg *p, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	const struct copa_debfile_ctl *ctl;
	struct copa_deb822_parser ps;
	struct copa_debfile_limits lim = a->o.limits;
	_cleanup_free_ char *label = NULL;
	char *s;
	int r;

	if (!p->deb_path)
		return copa_err_set(err, COPA_E_BUG, "package '%s' has not been downloaded",
		                    p->name ? p->name : "?");
	/* The cache names files by digest; errors name the package file. */
	if (p->name && p->version && p->arch)
		label = copa_xasprintf("%s_%s_%s.deb", p->name, p->version, p->arch);
	lim.label = label;
	lim.installed_size = p->installed_size;
	if (copa_debfile_open(p->deb_path, &lim, &pl->deb, err) < 0)
		return -1;
	if (p->data_tar)
		copa_debfile_use_data_tar(pl->deb, p->data_tar);
	ctl = copa_debfile_ctl(pl->deb, "control");
	copa_deb822_init(&ps, ctl->data, ctl->size, pl->deb->label, false);
	r = copa_deb822_next(&ps, &pl->control, err);
	if (r == 0)
		return copa_err_set(err, COPA_E_INPUT, "'%s': empty control file", pl->deb->label);
	if (r < 0)
		return -1;
	s = copa_blob_dup(copa_deb822_get_trim(&pl->control, "Package"));
	for (char *q = s; *q; q++)
		*q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
	pl->name = dup_ar(pl, s);
	pl->version = dup_ar(pl, copa_blob_dup(copa_deb822_get_trim(&pl->control, "Version")));
	pl->arch = dup_ar(pl, copa_blob_dup(copa_deb822_get_trim(&pl->control, "Architecture")));
	s = copa_blob_dup(copa_deb822_get_trim(&pl->control, "Multi-Arch"));
	for (char *q = s; *q; q++)
		*q = (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q);
	pl->ma = dup_ar(pl, s);
	if (!copa_dpkg_name_valid(pl->name) || !*pl->version || !*pl->arch)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "'%s': the control file lacks a valid Package, Version or Architecture",
		    pl->deb->label);
	if (check_identity(pl, p, err) < 0)
		return -1;
	pl->old = copa_dpkgdb_find(a->db, pl->name, pl->arch, pl->ma);
	if (pl->old) {
		copa_deb822_init(&ps, pl->old->text, pl->old->text_len, "'status'", false);
		if (copa_deb822_next(&ps, &pl->old_para, err) < 0)
			return -1;
		if (read_pkg_files(a, pl->old, &pl->old_files, err) < 0)
			return -1;
	}
	ctl = copa_debfile_ctl(pl->deb, "conffiles");
	if (ctl && copa_dpkg_ctl_conffiles_parse(ctl->data, ctl->size, &pl->cc, &pl->n_cc, err) < 0)
		return copa_err_wrap(err, "'%s'", pl->deb->label);
	for (size_t i = 0; i < pl->deb->n_ctl; i++)
		if (pl->deb->ctl[i].mtime > pl->max_mtime)
			pl->max_mtime = pl->deb->ctl[i].mtime;
	if (copa_debfile_data_foreach(pl->deb, on_entry, pl, err) < 0)
		return -1;
	if (plan_items(pl, err) < 0)
		return -1;
	plan_scripts(pl);
	return 0;
}

/* ---- commit ---- */

static int put_item(struct plan *pl, struct item *it, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	struct copa_layer_entry e = {0};

	e.path = it->dest;
	e.type = it->type;
	e.mode = it->mode;
	e.uid = it->uid;
	e.gid = it->gid;
	e.mtime = it->mtime;
	e.link = it->link;
	e.rdev_major = it->rmaj;
	e.rdev_minor = it->rmin;
	e.size = it->type == COPA_FT_REG ? it->size : 0;
	e.content = it->type == COPA_FT_REG && !it->staged ? (it->data ? it->data : "") : NULL;
	e.staged = it->type == COPA_FT_REG ? it->staged : NULL;
	e.xattrs = it->xattrs;
	e.n_xattrs = it->n_xattrs;
	pl->n_written++;
	return copa_pkgfs_put(a->v, a->b, &e, e.content && is_db_path(a, e.path), err);
}

/* Conffile records of the new version (unpack.c deb_parse_conffiles + pkg_update_fields). */
struct confrecs {
	struct copa_dpkg_conffile *v;
	size_t n, cap;
};

static void confrecs_add(struct confrecs *c, const char *path, const char *hash, bool obsolete,
                         bool rm)
{
	c->v = copa_xgrow(c->v, &c->cap, c->n + 1, sizeof(*c->v));
	c->v[c->n].path = copa_xstrdup(path);
	c->v[c->n].hash = copa_xstrdup(hash);
	c->v[c->n].obsolete = obsolete;
	c->v[c->n].remove_on_upgrade = rm;
	c->n++;
}

static const char *old_conffile_hash(const struct plan *pl, const char *path, bool *found)
{
	*found = false;
	if (!pl->old)
		return NULL;
	for (size_t i = 0; i < pl->old->n_conffiles; i++)
		if (!strcmp(pl->old->conffiles[i].path, path)) {
			*found = true;
			return pl->old->conffiles[i].hash;
		}
	return NULL;
}

/* pkg_remove_conffile_on_upgrade() */
static int remove_conffile_on_upgrade(struct plan *pl, const char *path, const char *oldhash,
                                      struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	const char *div = copa_dpkgdb_divert(a->db, path, pl->name);
	struct copa_buf cdr = COPA_BUF_INIT, data = COPA_BUF_INIT;
	const struct copa_view_entry *cur = NULL;
	struct copa_err e2 = COPA_ERR_INIT;
	char *dist;
	int r = 0;

	if (copa_view_resolve(a->v, div ? div : path, COPA_VIEW_FOLLOW, &cdr, &cur, &e2) < 0) {
		copa_buf_release(&cdr);
		return 0;
	}
	if (other_owner(a, path, NULL, pl->name)) {
		copa_buf_release(&cdr);
		return 0;
	}
	dist = copa_xasprintf("%s.dpkg-dist", copa_buf_str(&cdr));
	if (copa_view_get(a->v, dist))
		r = remove_path(a, dist, err);
	free(dist);
	if (r == 0 && cur && cur->type == COPA_FT_REG) {
		char hex[COPA_HASH_HEX_MAX];

		r = copa_deb_apply_read(a, copa_buf_str(&cdr), MAX_CONFFILE_SIZE, &data, err);
		if (r == 0) {
			copa_hash_hex(COPA_HASH_MD5, data.p ? data.p : "", data.len, hex);
			if (oldhash && !strcmp(hex, oldhash)) {
				r = remove_path(a, copa_buf_str(&cdr), err);
			} else {
				struct copa_layer_entry e = {0};
				char *old = copa_xasprintf("%s.dpkg-old", copa_buf_str(&cdr));

				e.path = old;
				e.type = COPA_FT_REG;
				e.mode = cur->mode;
				e.uid = cur->uid;
				e.gid = cur->gid;
				e.mtime = cur->mtime;
				e.size = data.len;
				e.content = data.p ? data.p : "";
				r = copa_pkgfs_put(a->v, a->b, &e, false, err);
				if (r == 0)
					r = remove_path(a, copa_buf_str(&cdr), err);
				strv_add(&pl->notes,
				         copa_xasprintf("obsolete conffile '%s' was modified in "
				                        "the image; saved as '/%s'",
				                        path, old));
				free(old);
			}
		}
	}
	copa_buf_release(&cdr);
	copa_buf_release(&data);
	return r;
}

static bool dir_has_children(struct copa_deb_apply *a, const char *path)
{
	const struct copa_view_entry **kids = NULL;
	size_t n = 0;

	copa_view_children(a->v, path, &kids, &n);
	free(kids);
	return n > 0;
}

/* pkg_remove_old_files(): old paths in reverse order. */
static int remove_old_files(struct plan *pl, struct confrecs *recs, struct pathvec *newlist,
                            struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;

	for (size_t k = pl->old_files.n; k-- > 0;) {
		const char *op = pl->old_files.v[k];
		const char *div, *use;
		char *canon, *dirtarget = NULL;
		const struct copa_view_entry *ve;
		bool oldconf;
		const char *ohash;
		const struct item *ni = item_at(pl, &pl->by_rel, op[1] ? op + 1 : "");
		int r = 0;

		if ((ni && !ni->filtered) || ctl_conffile(pl, op))
			continue;
		div = copa_dpkgdb_divert(a->db, op, pl->name);
		use = div ? div : op;
		canon = canon_of(a, use);
		if (!canon)
			continue;
		ve = copa_view_get(a->v, canon);
		ohash = old_conffile_hash(pl, op, &oldconf);
		if (is_dir_or_link_to_dir(a, canon, ve, &dirtarget) &&
		    other_owner(a, op, dirtarget, pl->name)) {
			free(dirtarget);
			free(canon);
			continue;
		}
		free(dirtarget);
		if (!ve) {
			free(canon);
			continue;
		}
		if (ve->type == COPA_FT_DIR) {
			if (*canon && !dir_has_children(a, canon)) {
				r = remove_path(a, canon, err);
				pl->n_removed++;
			}
		} else if (oldconf) {
			struct item *same = item_at(pl, &pl->newcanon, canon);

			if (!same) {
				/* A disappearing conffile is kept and recorded as obsolete. */
				confrecs_add(recs, op, ohash ? ohash : NEWCONFFILE, true, false);
				pathvec_add_blob(newlist, copa_blob_str(op));
			}
		} else if (!item_at(pl, &pl->newcanon, canon) &&
		           !other_owner(a, op, canon, pl->name)) {
			note_file_triggers(pl, op);
			r = remove_path(a, canon, err);
			pl->n_removed++;
		}
		free(canon);
		if (r < 0)
			return -1;
	}
	return 0;
}

static void gen_md5sums(struct plan *pl, struct copa_buf *out)
{
	for (size_t i = 0; i < pl->n_items; i++) {
		const struct item *it = &pl->items[i];

		if ((it->type == COPA_FT_REG || it->type == COPA_FT_HARDLINK) && it->md5[0])
			copa_buf_addf(out, "%s  %s\n", it->md5, it->rel);
	}
}

struct takeover {
	const char *name; /* owner package */
	const char *arch;
	struct pathvec paths;
};

/* pkg_remove_files_from_others(): files this package now owns leave other packages' lists. */
static int elide_from_others(struct plan *pl, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	struct owners *o = a->own;
	struct takeover *t = NULL;
	size_t nt = 0, cap = 0;
	int r = 0;

	if (a->db->layout != COPA_DPKGDB_STATUS)
		return 0;
	for (size_t i = 0; i < pl->n_items; i++) {
		const struct item *it = &pl->items[i];
		const struct owner_list *l;

		if (it->act != ACT_WRITE || it->type == COPA_FT_DIR)
			continue;
		l = owners_list(o, &o->by_path, it->pkgpath, strlen(it->pkgpath), false);
		for (uint32_t k = 0; l && k < l->n; k++) {
			const char *owner = o->names[l->ids[k]];
			size_t j;

			if (!strcmp(owner, pl->name))
				continue;
			for (j = 0; j < nt; j++)
				if (!strcmp(t[j].name, owner))
					break;
			if (j == nt) {
				t = copa_xgrow(t, &cap, nt + 1, sizeof(*t));
				memset(&t[nt], 0, sizeof(*t));
				t[nt].name = owner;
				nt++;
			}
			pathvec_add_blob(&t[j].paths, copa_blob_str(it->pkgpath));
		}
	}
	for (size_t j = 0; j < nt && r == 0; j++) {
		for (size_t i = 0; i < a->db->n && r == 0; i++) {
			struct copa_dpkg_pkg *op = a->db->pkgs[i];
			struct pathvec files = {0}, keep = {0};
			struct copa_buf out = COPA_BUF_INIT;
			char *path;

			if (strcmp(op->name, t[j].name))
				continue;
			r = read_pkg_files(a, op, &files, err);
			for (size_t f = 0; f < files.n && r == 0; f++) {
				bool drop = false;

				for (size_t q = 0; q < t[j].paths.n; q++)
					if (!strcmp(files.v[f], t[j].paths.v[q]))
						drop = true;
				if (!drop)
					copa_buf_addf(&out, "%s\n", files.v[f]);
				else
					pathvec_add_blob(&keep, copa_blob_str(files.v[f]));
			}
			if (r == 0 && keep.n) {
				path = copa_dpkgdb_info_path(a->db, op->name, op->arch,
				                             op->multi_arch, "list");
				r = copa_pkgfs_put_file(a->v, a->b, path, out.p, out.len, 0644,
				                        gen_mtime(a, pl->max_mtime), err);
				owners_add_pkg(o, a, owners_id(o, op->name, op->arch), &keep,
				               false);
				strv_add(&pl->notes,
				         copa_xasprintf("took over %zu file(s) from package '%s'",
				                        keep.n, op->name));
				free(path);
			}
			pathvec_free(&files);
			pathvec_free(&keep);
			copa_buf_release(&out);
		}
	}
	for (size_t j = 0; j < nt; j++)
		pathvec_free(&t[j].paths);
	free(t);
	return r;
}

/* The info files (or status.d files) of the new version; stale ones of the old whited out. */
static int write_info(struct plan *pl, const struct pathvec *newlist, const char *stanza,
                      size_t stanza_len, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	int64_t mt = gen_mtime(a, pl->max_mtime);
	const struct copa_debfile_ctl *md5ctl = copa_debfile_ctl(pl->deb, "md5sums");
	struct copa_buf md5 = COPA_BUF_INIT, list = COPA_BUF_INIT;
	struct strv written = {0};
	int r = 0;

	if (md5ctl)
		copa_buf_add(&md5, md5ctl->data, md5ctl->size);
	else
		gen_md5sums(pl, &md5);
	if (a->db->layout == COPA_DPKGDB_STATUSD) {
		const char *file =
		    pl->old && pl->old->statusd_file ? pl->old->statusd_file : pl->name;
		char *p = copa_xasprintf("%s/status.d/%s", a->db->admindir, file);
		char *pm = copa_xasprintf("%s.md5sums", p);

		r = copa_pkgfs_put_file(a->v, a->b, p, stanza, stanza_len, 0644, mt, err);
		if (r == 0)
			r = copa_pkgfs_put_file(a->v, a->b, pm, md5.p, md5.len, 0644, mt, err);
		free(p);
		free(pm);
		copa_buf_release(&md5);
		return r;
	}
	for (size_t i = 0; i < newlist->n; i++)
		copa_buf_addf(&list, "%s\n", newlist->v[i]);
	{
		char *p = copa_dpkgdb_info_path(a->db, pl->name, pl->arch, pl->ma, "list");

		r = copa_pkgfs_put_file(a->v, a->b, p, list.p, list.len, 0644, mt, err);
		strv_add(&written, p);
	}
	for (size_t i = 0; i < pl->deb->n_ctl && r == 0; i++) {
		const struct copa_debfile_ctl *c = &pl->deb->ctl[i];
		struct copa_layer_entry e = {0};
		char *p;

		/* pkg_infodb_update(): the control file itself, names with a dot and "list" stay
		 * out. */
		if (!strcmp(c->name, "control") || strchr(c->name, '.') || !strcmp(c->name, "list"))
			continue;
		p = copa_dpkgdb_info_path(a->db, pl->name, pl->arch, pl->ma, c->name);
		e.path = p;
		e.type = COPA_FT_REG;
		e.mode = c->mode;
		e.mtime = c->mtime;
		e.size = c->size;
		e.content = c->data;
		r = copa_pkgfs_put(a->v, a->b, &e, true, err);
		strv_add(&written, p);
	}
	if (r == 0 && !md5ctl) {
		char *p = copa_dpkgdb_info_path(a->db, pl->name, pl->arch, pl->ma, "md5sums");

		r = copa_pkgfs_put_file(a->v, a->b, p, md5.p, md5.len, 0644, mt, err);
		strv_add(&written, p);
	}
	/* Info files of the old version that the new one does not have. */
	if (r == 0 && pl->old) {
		char *prefix = copa_dpkgdb_info_path(a->db, pl->old->name, pl->old->arch,
		                                     pl->old->multi_arch, "");
		char *dir = copa_xasprintf("%s/info", a->db->admindir);
		const struct copa_view_entry **kids = NULL;
		size_t n = 0, plen = strlen(prefix);

		copa_view_children(a->v, dir, &kids, &n);
		for (size_t i = 0; i < n && r == 0; i++) {
			const char *path = kids[i]->path;
			bool keep = false;

			if (strncmp(path, prefix, plen) || strchr(path + plen, '.') || !path[plen])
				continue;
			for (size_t w = 0; w < written.n; w++)
				if (!strcmp(written.v[w], path))
					keep = true;
			if (!keep)
				r = remove_path(a, path, err);
		}
		free(kids);
		free(dir);
		free(prefix);
	}
	strv_release(&written);
	copa_buf_release(&md5);
	copa_buf_release(&list);
	return r;
}

/* Marks other packages' conffile records obsolete when this package takes the file over. */
static void mark_others_obsolete(struct plan *pl)
{
	struct copa_deb_apply *a = pl->a;

	for (size_t i = 0; i < pl->n_cc; i++) {
		const char *path = pl->cc[i].path;

		for (size_t k = 0; k < a->db->n; k++) {
			struct copa_dpkg_pkg *op = a->db->pkgs[k];
			const struct owner_list *l;
			bool owns = false;

			if (!strcmp(op->name, pl->name) || !op->n_conffiles)
				continue;
			l = owners_list(a->own, &a->own->by_path, path, strlen(path), false);
			for (uint32_t j = 0; l && j < l->n; j++)
				if (!strcmp(a->own->names[l->ids[j]], op->name))
					owns = true;
			if (!owns)
				continue;
			for (size_t c = 0; c < op->n_conffiles; c++)
				if (!strcmp(op->conffiles[c].path, path) &&
				    !op->conffiles[c].obsolete) {
					struct copa_buf nt = COPA_BUF_INIT;
					struct copa_deb822_parser ps;
					struct copa_deb822_para para = {0};
					struct copa_err e = COPA_ERR_INIT;

					op->conffiles[c].obsolete = true;
					copa_deb822_init(&ps, op->text, op->text_len, "'status'",
					                 false);
					if (copa_deb822_next(&ps, &para, &e) != 1) {
						copa_deb822_para_release(&para);
						continue;
					}
					/* Rewrite only the Conffiles field; the rest stays byte for
					 * byte. */
					for (size_t f = 0; f < para.n; f++) {
						struct copa_blob fn = para.f[f].name;

						if (copa_blob_eqs_ci(fn, "Conffiles")) {
							copa_buf_adds(&nt, "Conffiles:\n");
							for (size_t q = 0; q < op->n_conffiles; q++)
								copa_buf_addf(
								    &nt, " %s %s%s%s\n",
								    op->conffiles[q].path,
								    op->conffiles[q].hash,
								    op->conffiles[q].obsolete
								        ? " obsolete"
								        : "",
								    op->conffiles[q]
								            .remove_on_upgrade
								        ? " remove-on-upgrade"
								        : "");
						} else {
							const char *end =
							    para.f[f].value.p + para.f[f].value.n;

							copa_buf_add(&nt, fn.p,
							             (size_t)(end - fn.p));
							copa_buf_addc(&nt, '\n');
						}
					}
					copa_deb822_para_release(&para);
					free(op->text);
					op->text = copa_buf_detach(&nt, &op->text_len);
					op->dirty = true;
					a->db_changed = true;
				}
		}
	}
}

/* ---- trigger interests (lib/dpkg/triglib.c) ---- */

struct interest {
	char *name; /* trigger name, or an absolute path for a file trigger */
	bool noawait;
};

static void interests_free(struct interest *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The interest lines of a triggers control file. */
static void parse_interests(const char *text, size_t len, struct interest **out, size_t *n)
{
	struct copa_blob rest = copa_blob(text, len), line;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob kw, name;

		if (!copa_blob_word(&line, &kw) || kw.p[0] == '#' || !copa_blob_word(&line, &name))
			continue;
		if (!copa_blob_eqs(kw, "interest") && !copa_blob_eqs(kw, "interest-await") &&
		    !copa_blob_eqs(kw, "interest-noawait"))
			continue;
		if (*n >= 10000)
			break;
		*out = copa_xgrow(*out, &cap, *n + 1, sizeof(**out));
		(*out)[*n].name = copa_blob_dup(name);
		(*out)[*n].noawait = copa_blob_eqs(kw, "interest-noawait");
		(*n)++;
	}
}

static bool same_pkg(const char *written, const char *name, const char *arch)
{
	size_t n = strlen(name);

	return !strncmp(written, name, n) &&
	       (!written[n] || (written[n] == ':' && !strcmp(written + n + 1, arch)));
}

static int write_or_remove(struct copa_deb_apply *a, const char *path, const struct copa_buf *b,
                           int64_t mtime, struct copa_err *err)
{
	if (b->len)
		return copa_pkgfs_put_file(a->v, a->b, path, b->p, b->len, 0644, mtime, err);
	if (copa_view_get(a->v, path))
		return remove_path(a, path, err);
	return 0;
}

/*
 * The old version's interests are dropped and the new version's added, as
 * dpkg does at unpack: triggers/File lines move to its end, explicit
 * triggers/<name> files get the package's line last.
 */
static int update_interests(struct plan *pl, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	const struct copa_debfile_ctl *t = copa_debfile_ctl(pl->deb, "triggers");
	struct interest *oldi = NULL, *newi = NULL;
	size_t n_old = 0, n_new = 0, cap = a->n_ftrig;
	struct copa_buf data = COPA_BUF_INIT;
	char *who = strcmp(pl->ma, "same") ? copa_xstrdup(pl->name)
	                                   : copa_xasprintf("%s:%s", pl->name, pl->arch);
	int64_t mt = gen_mtime(a, pl->max_mtime);
	bool file_edited = false;
	int r = 0;

	if (pl->old) {
		char *p = copa_dpkgdb_info_path(a->db, pl->old->name, pl->old->arch,
		                                pl->old->multi_arch, "triggers");
		bool found;

		if (read_opt(a, p, 1u << 20, &data, &found, err) == 0 && found)
			parse_interests(data.p, data.len, &oldi, &n_old);
		free(p);
	}
	if (t)
		parse_interests(t->data, t->size, &newi, &n_new);
	if (!n_old && !n_new)
		goto out;
	/* File triggers. */
	for (size_t i = 0; i < n_old; i++) {
		if (oldi[i].name[0] != '/')
			continue;
		for (size_t k = 0; k < a->n_ftrig; k++)
			if (!strcmp(a->ftrig[k].path, oldi[i].name) &&
			    same_pkg(a->ftrig[k].pkg, pl->old->name, pl->old->arch)) {
				free(a->ftrig[k].path);
				free(a->ftrig[k].pkg);
				memmove(&a->ftrig[k], &a->ftrig[k + 1],
				        (a->n_ftrig - k - 1) * sizeof(*a->ftrig));
				a->n_ftrig--;
				file_edited = true;
				break;
			}
	}
	for (size_t i = 0; i < n_new; i++) {
		bool dup = false;

		if (newi[i].name[0] != '/')
			continue;
		for (size_t k = 0; k < a->n_ftrig; k++)
			if (!strcmp(a->ftrig[k].path, newi[i].name) &&
			    !strcmp(a->ftrig[k].pkg, who)) {
				a->ftrig[k].noawait = newi[i].noawait;
				dup = true;
			}
		if (!dup) {
			a->ftrig = copa_xgrow(a->ftrig, &cap, a->n_ftrig + 1, sizeof(*a->ftrig));
			a->ftrig[a->n_ftrig].path = copa_xstrdup(newi[i].name);
			a->ftrig[a->n_ftrig].pkg = copa_xstrdup(who);
			a->ftrig[a->n_ftrig].noawait = newi[i].noawait;
			a->n_ftrig++;
		}
		file_edited = true;
	}
	if (file_edited) {
		char *p = copa_xasprintf("%s/triggers/File", a->db->admindir);

		copa_buf_reset(&data);
		for (size_t k = 0; k < a->n_ftrig; k++)
			copa_buf_addf(&data, "%s %s%s\n", a->ftrig[k].path, a->ftrig[k].pkg,
			              a->ftrig[k].noawait ? "/noawait" : "");
		r = write_or_remove(a, p, &data, mt, err);
		free(p);
	}
	/* Explicit triggers: one file per trigger name. */
	for (size_t pass = 0; pass < 2 && r == 0; pass++) {
		struct interest *set = pass ? newi : oldi;
		size_t n = pass ? n_new : n_old;

		for (size_t i = 0; i < n && r == 0; i++) {
			char *p;
			struct copa_buf out = COPA_BUF_INIT;
			struct copa_blob rest, line;
			bool found, in_new = false;

			if (set[i].name[0] == '/' || strchr(set[i].name, '/') ||
			    set[i].name[0] == '.')
				continue;
			p = copa_xasprintf("%s/triggers/%s", a->db->admindir, set[i].name);
			r = read_opt(a, p, 1u << 20, &data, &found, err);
			rest = copa_blob(data.p, data.len);
			while (r == 0 && found && rest.n && copa_blob_split(&rest, '\n', &line)) {
				char *l;
				char *slash;
				bool mine;

				if (!line.n)
					continue;
				l = copa_blob_dup(line);
				slash = strchr(l, '/');
				if (slash)
					*slash = '\0';
				mine = same_pkg(l, pl->name, pl->arch) ||
				       (pl->old && same_pkg(l, pl->old->name, pl->old->arch));
				if (slash)
					*slash = '/';
				if (!mine)
					copa_buf_addf(&out, "%s\n", l);
				free(l);
			}
			for (size_t k = 0; k < n_new; k++)
				if (!strcmp(newi[k].name, set[i].name)) {
					in_new = true;
					if (r == 0)
						copa_buf_addf(&out, "%s%s\n", who,
						              newi[k].noawait ? "/noawait" : "");
					break;
				}
			(void)in_new;
			if (r == 0 &&
			    (out.len != data.len || (out.len && memcmp(out.p, data.p, out.len))))
				r = write_or_remove(a, p, &out, mt, err);
			copa_buf_release(&out);
			free(p);
		}
	}
out:
	interests_free(oldi, n_old);
	interests_free(newi, n_new);
	copa_buf_release(&data);
	free(who);
	return r;
}

static int commit_package(struct plan *pl, struct copa_deb_apply_result *res, struct copa_err *err)
{
	struct copa_deb_apply *a = pl->a;
	struct confrecs recs = {0};
	struct pathvec newlist = {0};
	struct copa_buf stanza = COPA_BUF_INIT;
	struct copa_dpkg_stanza_in in = {0};
	struct copa_dpkg_pkg *np = NULL;
	bool with_status;
	int r = 0;

	if (ensure_owners(a, err) < 0)
		return -1;
	for (size_t i = 0; i < pl->n_cc; i++) {
		const struct copa_dpkg_ctl_conffile *cc = &pl->cc[i];
		struct item *it = item_at(pl, &pl->by_rel, cc->path + 1);
		bool found;
		const char *oh = old_conffile_hash(pl, cc->path, &found);

		if (cc->remove_on_upgrade)
			confrecs_add(&recs, cc->path, oh ? oh : NEWCONFFILE, false, true);
		else
			confrecs_add(&recs, cc->path,
			             it && it->type == COPA_FT_REG ? it->md5 : NEWCONFFILE, false,
			             false);
	}
	for (size_t i = 0; i < pl->n_items; i++)
		pathvec_add_blob(&newlist, copa_blob_str(pl->items[i].pkgpath));
	/*
	 * A trial of the new status stanza, built and parsed back before the
	 * layer, the view or the database change: a malformed control field (a
	 * bad Depends) fails the package while nothing was written yet. The
	 * stanza is built again below, once the obsolete conffiles are known.
	 */
	with_status = a->db->layout == COPA_DPKGDB_STATUS || a->db->statusd_status_field ||
	              (pl->old && pl->old->status);
	in.control = &pl->control;
	in.status = with_status ? "install ok installed" : NULL;
	in.conffiles = recs.v;
	in.n_conffiles = recs.n;
	in.old = pl->old ? &pl->old_para : NULL;
	r = copa_dpkg_stanza_build(&in, &stanza, err);
	if (r == 0)
		np = copa_dpkg_pkg_parse(stanza.p, stanza.len, "the new status stanza", err);
	if (!np)
		r = -1;
	copa_dpkg_pkg_free(np);
	np = NULL;
	copa_buf_reset(&stanza);

	/* Files of the package, in archive order. */
	for (size_t i = 0; i < pl->n_items && r == 0; i++) {
		struct item *it = &pl->items[i];

		if (it->act == ACT_WRITE || it->act == ACT_CONF_DIST) {
			r = put_item(pl, it, err);
			if (it->act == ACT_WRITE)
				note_file_triggers(pl, it->pkgpath);
		}
		if (a->o.no_cacerts == false &&
		    !strncmp(it->rel, CACERTS_DIR, strlen(CACERTS_DIR)) && it->act == ACT_WRITE)
			a->cacerts_touched = true;
	}
	for (size_t i = 0; i < pl->n_cc && r == 0; i++)
		if (pl->cc[i].remove_on_upgrade) {
			bool found;
			const char *oh = old_conffile_hash(pl, pl->cc[i].path, &found);

			r = remove_conffile_on_upgrade(pl, pl->cc[i].path, oh, err);
		}
	if (r == 0)
		r = remove_old_files(pl, &recs, &newlist, err);
	for (size_t i = 0; i < pl->old_files.n; i++)
		if (!strncmp(pl->old_files.v[i], "/" CACERTS_DIR, strlen(CACERTS_DIR) + 1) &&
		    !item_at(pl, &pl->by_rel, pl->old_files.v[i] + 1))
			a->cacerts_touched = true;
	if (r == 0)
		r = elide_from_others(pl, err);
	if (r == 0)
		mark_others_obsolete(pl);

	in.conffiles = recs.v;
	in.n_conffiles = recs.n;
	if (r == 0)
		r = copa_dpkg_stanza_build(&in, &stanza, err);
	if (r == 0)
		np = copa_dpkg_pkg_parse(stanza.p, stanza.len, "the new status stanza", err);
	if (r == 0 && !np)
		r = -1;
	if (r == 0 && a->db->layout == COPA_DPKGDB_STATUS)
		r = update_interests(pl, err);
	if (r == 0)
		r = write_info(pl, &newlist, stanza.p, stanza.len, err);
	if (r == 0) {
		uint32_t id_old = pl->old ? owners_id(a->own, pl->old->name, pl->old->arch) : 0;
		uint32_t id_new = owners_id(a->own, pl->name, pl->arch);

		if (pl->old)
			owners_add_pkg(a->own, a, id_old, &pl->old_files, false);
		owners_add_pkg(a->own, a, id_new, &newlist, true);
		if (res) {
			res->old_version = pl->old ? copa_xstrdup(pl->old->version) : NULL;
		}
		copa_dpkgdb_replace(a->db, pl->old, np);
		np = NULL;
		pl->old = NULL;
		a->db_changed = true;
		if (!strcmp(pl->name, "ca-certificates") && !a->o.no_cacerts) {
			const struct copa_debfile_ctl *cfg = copa_debfile_ctl(pl->deb, "config");

			a->cacerts_touched = true;
			a->cacerts_configure = true;
			free(a->cacerts_config);
			a->cacerts_config = cfg ? copa_xstrdup(cfg->data) : NULL;
		}
		if (pl->max_mtime > a->max_mtime)
			a->max_mtime = pl->max_mtime;
	}
	copa_dpkg_pkg_free(np);
	copa_dpkg_conffiles_free(recs.v, recs.n);
	pathvec_free(&newlist);
	copa_buf_release(&stanza);
	return r;
}

int copa_deb_apply_package(struct copa_deb_apply *a, const struct copa_deb_pkg *p,
                           struct copa_deb_apply_result *res, struct copa_err *err)
{
	struct plan pl;
	int r;

	if (res)
		memset(res, 0, sizeof(*res));
	if (a->finished)
		return copa_err_set(err, COPA_E_BUG, "copa_deb_apply_package after finish");
	memset(&pl, 0, sizeof(pl));
	pl.a = a;
	r = plan_package(&pl, p, err);
	if (r == 0 && ensure_owners(a, err) < 0)
		r = -1;
	if (r < 0) {
		plan_release(&pl, true);
		return -1;
	}
	r = commit_package(&pl, res, err);
	if (r == 0 && res) {
		res->name = copa_xstrdup(pl.name);
		res->arch = copa_xstrdup(pl.arch);
		res->version = copa_xstrdup(pl.version);
		res->skipped = strv_steal(&pl.skipped);
		res->notes = strv_steal(&pl.notes);
		res->n_written = pl.n_written;
		res->n_removed = pl.n_removed;
	}
	if (r == 0) {
		copa_info(a->o.out, "unpacked %s %s (%zu files written, %zu removed)", pl.name,
		          pl.version, pl.n_written, pl.n_removed);
		for (size_t i = 0; res && res->skipped[i]; i++)
			copa_debug(a->o.out, "%s: skipped %s", pl.name, res->skipped[i]);
	}
	plan_release(&pl, false);
	return r;
}

/* ---- finish ---- */

static const char *trust_new_crts(struct copa_deb_apply *a)
{
	static char value[16];
	struct copa_buf data = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	const char *res = "yes";
	bool found;

	if (read_opt(a, "var/cache/debconf/config.dat", 64u << 20, &data, &found, &err) == 0 &&
	    found) {
		struct copa_deb822_parser ps;
		struct copa_deb822_para para = {0};

		copa_deb822_init(&ps, data.p, data.len, "'config.dat'", true);
		while (copa_deb822_next(&ps, &para, &err) == 1) {
			struct copa_blob v;

			if (!copa_blob_eqs(copa_deb822_get_trim(&para, "Name"),
			                   "ca-certificates/trust_new_crts"))
				continue;
			v = copa_deb822_get_trim(&para, "Value");
			if (v.p && v.n && v.n < sizeof(value)) {
				memcpy(value, v.p, v.n);
				value[v.n] = '\0';
				res = value;
			}
			break;
		}
		copa_deb822_para_release(&para);
	}
	copa_buf_release(&data);
	return res;
}

static int status_meta(struct copa_deb_apply *a, const char *path, uint32_t *mode)
{
	const struct copa_view_entry *e = copa_view_get(a->v, path);

	*mode = e && e->type == COPA_FT_REG ? e->mode : 0644;
	return 0;
}

int copa_deb_apply_finish(struct copa_deb_apply *a, struct copa_err *err)
{
	int64_t mt = gen_mtime(a, 0);
	int r = 0;

	if (a->finished)
		return 0;
	a->finished = true;
	if (a->db->layout == COPA_DPKGDB_STATUS && a->db_changed) {
		struct copa_buf out = COPA_BUF_INIT;
		char *path = copa_xasprintf("%s/status", a->db->admindir);
		char *old = copa_xasprintf("%s/status-old", a->db->admindir);
		uint32_t mode;

		status_meta(a, path, &mode);
		copa_dpkgdb_write_status(a->db, &out);
		/* dpkg keeps the previous status as status-old. */
		if (a->have_old_status)
			r = copa_pkgfs_put_file(a->v, a->b, old, a->old_status.p, a->old_status.len,
			                        0644, mt, err);
		if (r == 0)
			r = copa_pkgfs_put_file(a->v, a->b, path, out.p, out.len, mode, mt, err);
		copa_buf_release(&out);
		free(path);
		free(old);
	} else if (a->db->layout == COPA_DPKGDB_STATUSD && a->db_changed) {
		/* Other packages' stanzas changed by a conffile takeover. */
		for (size_t i = 0; i < a->db->n && r == 0; i++) {
			const struct copa_dpkg_pkg *p = a->db->pkgs[i];
			char *path;

			if (!p->dirty || !p->statusd_file)
				continue;
			path = copa_xasprintf("%s/status.d/%s", a->db->admindir, p->statusd_file);
			if (!copa_layer_builder_get(a->b, path))
				r = copa_pkgfs_put_file(a->v, a->b, path, p->text, p->text_len,
				                        0644, mt, err);
			free(path);
		}
	}
	if (r == 0 && a->cacerts_touched && !a->o.no_cacerts) {
		struct copa_cacerts_opts co = {0};
		struct copa_cacerts_result cr = {0};

		co.view = a->v;
		co.builder = a->b;
		co.db = a->db;
		co.configure = a->cacerts_configure;
		co.config_script = a->cacerts_config;
		co.trust_new = trust_new_crts(a);
		co.mtime = mt;
		co.out = a->o.out;
		r = copa_cacerts_update(&co, &cr, err);
		if (r == 0) {
			for (size_t i = 0; cr.notes && cr.notes[i]; i++)
				strv_add(&a->notes, copa_xstrdup(cr.notes[i]));
		}
		copa_cacerts_result_release(&cr);
	}
	return r;
}

/* ---- validation ---- */

void copa_deb_installed_release(struct copa_deb_installed *i)
{
	free(i->name);
	free(i->arch);
	free(i->version);
	free(i->status);
	memset(i, 0, sizeof(*i));
}

int copa_deb_verify(struct copa_deb_apply *a, const struct copa_deb_pkg *pkgs, size_t n,
                    struct copa_deb_installed *out, struct copa_err *err)
{
	struct copa_dpkgdb *db = copa_dpkgdb_new(a->db->layout, a->db->admindir);
	struct copa_buf data = COPA_BUF_INIT;
	int r = 0;

	if (a->db->layout == COPA_DPKGDB_STATUS) {
		char *path = copa_xasprintf("%s/status", db->admindir);

		r = copa_deb_apply_read(a, path, COPA_DPKGDB_MAX_FILE, &data, err);
		if (r == 0)
			r = copa_dpkgdb_parse_status(db, copa_buf_str(&data), data.len,
			                             "the patched 'status'", err);
		free(path);
	} else {
		char *dir = copa_xasprintf("%s/status.d", db->admindir);
		const struct copa_view_entry **kids = NULL;
		size_t nk = 0;

		copa_view_children(a->v, dir, &kids, &nk);
		for (size_t i = 0; i < nk && r == 0; i++) {
			size_t len = strlen(kids[i]->name);

			if ((len > 8 && !strcmp(kids[i]->name + len - 8, ".md5sums")) ||
			    kids[i]->name[0] == '.' || kids[i]->type == COPA_FT_DIR)
				continue;
			r = copa_deb_apply_read(a, kids[i]->path, COPA_DPKGDB_MAX_FILE, &data, err);
			if (r == 0)
				r = copa_dpkgdb_add_statusd(db, kids[i]->name, copa_buf_str(&data),
				                            data.len, err);
		}
		free(kids);
		free(dir);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct copa_deb_pkg *p = &pkgs[i];
		struct copa_dpkg_pkg *got = copa_dpkgdb_find(db, p->name, p->arch, p->multi_arch);
		bool installed;

		if (out) {
			memset(&out[i], 0, sizeof(out[i]));
			if (got) {
				out[i].name = copa_xstrdup(got->name);
				out[i].arch = copa_xstrdup(got->arch);
				out[i].version = copa_xstrdup(got->version);
				if (got->status)
					out[i].status = copa_xasprintf("%s %s %s", got->want,
					                               got->eflag, got->status);
			}
		}
		if (!got) {
			r = copa_err_set(err, COPA_E_VERIFY,
			                 "package '%s' is not in the patched image's database",
			                 p->name);
			break;
		}
		installed =
		    !got->status || (!strcmp(got->want, "install") && !strcmp(got->eflag, "ok") &&
		                     !strcmp(got->status, "installed"));
		if (!installed || (a->db->layout == COPA_DPKGDB_STATUS && !got->status))
			r = copa_err_set(err, COPA_E_VERIFY,
			                 "package '%s' is not fully installed in the patched image "
			                 "(Status: %s %s %s)",
			                 p->name, got->want ? got->want : "",
			                 got->eflag ? got->eflag : "",
			                 got->status ? got->status : "");
		else if (p->version && strcmp(got->version, p->version))
			r = copa_err_set(
			    err, COPA_E_VERIFY,
			    "package '%s' is at version '%s' in the patched image, expected '%s'",
			    p->name, got->version, p->version);
	}
	copa_buf_release(&data);
	copa_dpkgdb_free(db);
	return r;
}

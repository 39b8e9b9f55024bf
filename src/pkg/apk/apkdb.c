/* apkdb.c: the apk installed database (see apkdb.h). */
#include "pkg/apk/apkdb.h"

#include "pkg/apk/apkindex.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <string.h>

void copa_apkdb_init(struct copa_apkdb *db)
{
	memset(db, 0, sizeof(*db));
}

void copa_apkdb_release(struct copa_apkdb *db)
{
	for (size_t i = 0; i < db->nmade; i++) {
		struct copa_apkdb_pkg *p = db->made[i];

		for (size_t j = 0; j < p->ndirs; j++)
			free(p->dirs[j].files);
		free(p->dirs);
	}
	free(db->made);
	free(db->pkgs);
	copa_arena_release(&db->arena);
	memset(db, 0, sizeof(*db));
}

struct copa_apkdb_pkg *copa_apkdb_pkg_new(struct copa_apkdb *db)
{
	struct copa_apkdb_pkg *p = copa_arena_alloc(&db->arena, sizeof(*p));

	memset(p, 0, sizeof(*p));
	db->made = copa_xgrow(db->made, &db->capmade, db->nmade + 1, sizeof(*db->made));
	db->made[db->nmade++] = p;
	return p;
}

static const char *dup_or_null(struct copa_apkdb *db, const char *s)
{
	return s ? copa_arena_strdup(&db->arena, s) : NULL;
}

struct copa_apk_dir *copa_apkdb_add_dir(struct copa_apkdb *db, struct copa_apkdb_pkg *p,
                                        const char *name, const char *acl)
{
	struct copa_apk_dir *d;

	p->dirs = copa_xgrow(p->dirs, &p->capdirs, p->ndirs + 1, sizeof(*p->dirs));
	d = &p->dirs[p->ndirs++];
	memset(d, 0, sizeof(*d));
	d->name = copa_arena_strdup(&db->arena, name);
	d->acl = dup_or_null(db, acl);
	return d;
}

struct copa_apk_file *copa_apkdb_add_file(struct copa_apkdb *db, struct copa_apk_dir *dir,
                                          const char *name, const char *acl, const char *csum)
{
	struct copa_apk_file *f;

	dir->files = copa_xgrow(dir->files, &dir->cap, dir->n + 1, sizeof(*dir->files));
	f = &dir->files[dir->n++];
	f->name = copa_arena_strdup(&db->arena, name);
	f->acl = dup_or_null(db, acl);
	f->csum = dup_or_null(db, csum);
	db->files++;
	return f;
}

struct parse {
	struct copa_apkdb *db;
	const char *text;
	struct copa_apkdb_pkg *cur;
	struct copa_apk_dir *dir;
	struct copa_apk_file *file;
	const char *start;        /* first byte of the current record */
	bool in_blank;            /* the current record's blank line(s) have begun */
	struct copa_strmap names; /* name -> index in pkgs, to refuse a name listed twice */
};

static char *str(struct parse *c, struct copa_blob v)
{
	return copa_arena_strndup(&c->db->arena, v.p, v.n);
}

static int finish(struct parse *c, const char *end, struct copa_err *err)
{
	struct copa_apkdb_pkg *p = c->cur;

	if (!p)
		return 0;
	p->text = copa_blob(c->start, (size_t)(end - c->start));
	if (!p->pkg.name || !p->pkg.version)
		return copa_err_set(err, COPA_E_INPUT, "package at line %zu: missing %s", p->line,
		                    !p->pkg.name ? "'P:' (name)" : "'V:' (version)");
	if (c->db->n >= COPA_APKDB_MAX_PACKAGES)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d packages",
		                    COPA_APKDB_MAX_PACKAGES);
	uint32_t prev;

	if (copa_strmap_get(&c->names, p->pkg.name, strlen(p->pkg.name), &prev))
		return copa_err_set(err, COPA_E_INPUT,
		                    "package '%.100s' is installed twice (lines %zu and %zu)",
		                    p->pkg.name, c->db->pkgs[prev]->line, p->line);
	copa_strmap_put(&c->names, p->pkg.name, strlen(p->pkg.name), (uint32_t)c->db->n);
	c->db->pkgs = copa_xgrow(c->db->pkgs, &c->db->cap, c->db->n + 1, sizeof(*c->db->pkgs));
	c->db->pkgs[c->db->n++] = p;
	c->cur = NULL;
	c->dir = NULL;
	c->file = NULL;
	return 0;
}

static int field(struct parse *c, size_t line, char letter, struct copa_blob v,
                 struct copa_err *err)
{
	struct copa_apkdb_pkg *p = c->cur;
	int r;

	switch (letter) {
	case 'F':
		if (v.n && (v.p[0] == '/' || memchr(v.p, '\0', v.n)))
			return copa_err_set(err, COPA_E_INPUT, "line %zu: bad directory '%.*s'",
			                    line, (int)(v.n > 80 ? 80 : v.n), v.p);
		p->dirs = copa_xgrow(p->dirs, &p->capdirs, p->ndirs + 1, sizeof(*p->dirs));
		c->dir = &p->dirs[p->ndirs++];
		memset(c->dir, 0, sizeof(*c->dir));
		c->dir->name = str(c, v);
		c->file = NULL;
		return 0;
	case 'M':
		if (!c->dir)
			return copa_err_set(err, COPA_E_INPUT, "line %zu: 'M:' before any 'F:'",
			                    line);
		c->dir->acl = str(c, v);
		return 0;
	case 'R':
		if (!c->dir)
			return copa_err_set(err, COPA_E_INPUT, "line %zu: 'R:' before any 'F:'",
			                    line);
		if (v.n == 0 || copa_blob_chr(v, '/'))
			return copa_err_set(err, COPA_E_INPUT, "line %zu: bad file name '%.*s'",
			                    line, (int)(v.n > 80 ? 80 : v.n), v.p);
		if (++c->db->files > COPA_APKDB_MAX_FILES)
			return copa_err_set(err, COPA_E_LIMIT, "more than %d files",
			                    COPA_APKDB_MAX_FILES);
		c->dir->files =
		    copa_xgrow(c->dir->files, &c->dir->cap, c->dir->n + 1, sizeof(*c->dir->files));
		c->file = &c->dir->files[c->dir->n++];
		memset(c->file, 0, sizeof(*c->file));
		c->file->name = str(c, v);
		return 0;
	case 'a':
	case 'Z':
		if (!c->file)
			return copa_err_set(err, COPA_E_INPUT, "line %zu: '%c:' before any 'R:'",
			                    line, letter);
		if (letter == 'a')
			c->file->acl = str(c, v);
		else
			c->file->csum = str(c, v);
		return 0;
	default:
		break;
	}
	r = copa_apk_pkg_set(&c->db->arena, &p->pkg, letter, v, err);
	if (r < 0)
		return copa_err_wrap(err, "line %zu", line);
	if (r == 0 && letter >= 'A' && letter <= 'Z')
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "line %zu: field '%c:' is from a newer apk (the image's apk is "
		                    "newer than copa understands)",
		                    line, letter);
	return 0; /* unknown lowercase fields are kept in the record's text, as apk ignores them */
}

static int on_line(void *ctx, size_t line, char letter, struct copa_blob value,
                   struct copa_blob raw, struct copa_err *err)
{
	struct parse *c = ctx;

	if (letter == 0) {
		if (!c->cur && c->db->n == 0)
			c->db->lead.n += raw.n; /* blank lines before the first record */
		c->in_blank = c->cur || c->db->n;
		return 0;
	}
	/* a record owns the blank lines after it: its text ends where the next begins */
	if (c->cur && c->in_blank && finish(c, raw.p, err) < 0)
		return -1;
	if (!c->cur) {
		c->cur = copa_apkdb_pkg_new(c->db);
		c->cur->line = line;
		c->start = raw.p;
	}
	c->in_blank = false;
	return field(c, line, letter, value, err);
}

int copa_apkdb_parse(struct copa_apkdb *db, const char *text, size_t n, const char *what,
                     struct copa_err *err)
{
	struct parse c;

	/* records keep views of their text: the database owns a copy */
	text = n ? copa_arena_memdup(&db->arena, text, n) : "";
	c = (struct parse){db, text, NULL, NULL, NULL, text, false, COPA_STRMAP_INIT};
	db->lead = copa_blob(text, 0);
	if (copa_apk_lines(text, n, on_line, &c, err) < 0 || finish(&c, text + n, err) < 0) {
		copa_strmap_release(&c.names);
		copa_apkdb_release(db);
		return copa_err_wrap(err, "%s", what);
	}
	copa_strmap_release(&c.names);
	return 0;
}

void copa_apkdb_pkg_write(const struct copa_apkdb_pkg *p, struct copa_buf *out)
{
	copa_apk_pkg_write(&p->pkg, true, out);
	for (size_t i = 0; i < p->ndirs; i++) {
		const struct copa_apk_dir *d = &p->dirs[i];

		copa_buf_addf(out, "F:%s\n", d->name);
		if (d->acl)
			copa_buf_addf(out, "M:%s\n", d->acl);
		for (size_t j = 0; j < d->n; j++) {
			const struct copa_apk_file *f = &d->files[j];

			copa_buf_addf(out, "R:%s\n", f->name);
			if (f->acl)
				copa_buf_addf(out, "a:%s\n", f->acl);
			if (f->csum)
				copa_buf_addf(out, "Z:%s\n", f->csum);
		}
	}
	copa_buf_addc(out, '\n');
}

void copa_apkdb_write(const struct copa_apkdb *db, struct copa_buf *out)
{
	copa_buf_add(out, db->lead.p, db->lead.n);
	for (size_t i = 0; i < db->n; i++) {
		const struct copa_apkdb_pkg *p = db->pkgs[i];

		if (p->dirty) {
			/* a record read without its closing blank line gets one before ours */
			if (i > 0 && (out->len < 2 || out->p[out->len - 1] != '\n' ||
			              out->p[out->len - 2] != '\n'))
				copa_buf_adds(
				    out, out->len && out->p[out->len - 1] == '\n' ? "\n" : "\n\n");
			copa_apkdb_pkg_write(p, out);
		} else
			copa_buf_add(out, p->text.p, p->text.n);
	}
}

struct copa_apkdb_pkg *copa_apkdb_find(const struct copa_apkdb *db, const char *name)
{
	for (size_t i = 0; i < db->n; i++)
		if (strcmp(db->pkgs[i]->pkg.name, name) == 0)
			return db->pkgs[i];
	return NULL;
}

struct copa_apkdb_pkg *copa_apkdb_put(struct copa_apkdb *db, struct copa_apkdb_pkg *p)
{
	p->dirty = true;
	p->text = copa_blob(NULL, 0);
	for (size_t i = 0; i < db->n; i++) {
		if (strcmp(db->pkgs[i]->pkg.name, p->pkg.name) == 0) {
			struct copa_apkdb_pkg *old = db->pkgs[i];

			/*
			 * The record before keeps the blank line that separated them; a
			 * record written from fields ends with its own.
			 */
			db->pkgs[i] = p;
			return old;
		}
	}
	db->pkgs = copa_xgrow(db->pkgs, &db->cap, db->n + 1, sizeof(*db->pkgs));
	db->pkgs[db->n++] = p;
	return NULL;
}

struct copa_apkdb_pkg *copa_apkdb_remove(struct copa_apkdb *db, const char *name)
{
	for (size_t i = 0; i < db->n; i++) {
		if (strcmp(db->pkgs[i]->pkg.name, name) == 0) {
			struct copa_apkdb_pkg *old = db->pkgs[i];

			memmove(&db->pkgs[i], &db->pkgs[i + 1],
			        (db->n - i - 1) * sizeof(*db->pkgs));
			db->n--;
			return old;
		}
	}
	return NULL;
}

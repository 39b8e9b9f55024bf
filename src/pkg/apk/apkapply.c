/*
 * apkapply.c: installing verified .apk packages into the new layer (see
 * apkapply.h). The reference is apk-tools 2.14 (src/database.c:
 * apk_db_install_archive_entry, apk_db_migrate_files, apk_db_purge_pkg,
 * apk_db_scriptdb_write, apk_db_triggers_write), read to learn the
 * behaviour; nothing is copied.
 */
#include "pkg/apk/apkapply.h"

#include "pkg/apk/apkdb.h"
#include "pkg/apk/apkeffects.h"
#include "pkg/apk/apkfile.h"
#include "pkg/apk/apkinst.h"
#include "pkg/apk/apktar.h"
#include "pkg/apk/apkver.h"
#include "pkg/fs.h"
#include "pkg/pathmap.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest package file read, scripts.tar and triggers file, and a config file compared. */
#define APK_FILE_MAX    (1024u << 20)
#define SCRIPTS_TAR_MAX (64u << 20)
#define TRIGGERS_MAX    (4u << 20)
#define COMPARE_MAX     (64u << 20)
/* Files larger than this are staged on disk rather than kept in memory by the builder. */
#define INLINE_MAX 16384

/* apk's script types, in apk_script_types order (scripts.tar is written in it). */
enum { SCRIPT_TYPES = 7 };
static const char *const script_types[SCRIPT_TYPES] = {
    "pre-install", "post-install", "pre-deinstall", "post-deinstall",
    "pre-upgrade", "post-upgrade", "trigger",
};

/* Protection modes of apk's protected_paths (apk_database.h's APK_PROTECT_*). */
enum { PROT_NONE, PROT_IGNORE, PROT_CHANGED, PROT_SYMLINKS_ONLY, PROT_ALL };

struct rule {
	char *pattern; /* relative, components separated by '/' */
	int mode;
};

/* What apk keeps per installed package besides its record: scripts and triggers. */
struct ipkg {
	char *name, *version, *csum;
	uint64_t build_time;
	struct copa_buf script[SCRIPT_TYPES];
	bool has[SCRIPT_TYPES];
	char *triggers; /* space-separated globs, NULL when none */
};

struct copa_apkapply {
	struct copa_view *v;
	struct copa_layer_builder *b;
	struct copa_apkapply_opts o;
	struct copa_apkdb db;
	char *dbdir; /* directory of the database files */
	/* installed list order (scripts.tar) and triggers list order, as apk keeps them */
	struct ipkg **ip;
	size_t nip, capip;
	struct ipkg **trig;
	size_t ntrig, captrig;
	/* path (package path, as recorded) -> owner (index into names), dir -> packages listing it
	 */
	struct copa_arena keys;
	struct copa_strmap owner, dirrefs;
	char **names;
	size_t nnames, capnames;
	struct copa_strmap name_ix;
	struct rule *rules;
	size_t nrules;
	bool changed, busybox, certs;
	bool bb_trigger; /* a package installed into busybox's bin directories */
	/* how the image's apk writes its files (apk-tools version; none: today's) */
	bool sorted_db;       /* the database sorted by name (2.14 and later) */
	bool tar_nul_numbers; /* scripts.tar sizes and mtimes NUL-terminated (before 2.12.9) */
	bool tar_build_time;  /* scripts.tar mtimes are build times (2.12.12-2.12.x, 2.14.1-), else
	                         the run's */
	int64_t newest;
	size_t staged_seq;
};

/* ---- small helpers ---- */

static char *join(const char *dir, const char *name)
{
	return *dir ? copa_xasprintf("%s/%s", dir, name) : copa_xstrdup(name);
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

static void sha1_csum(const void *data, size_t n, char out[32])
{
	struct copa_hash h;
	unsigned char raw[64];

	copa_hash_init(&h, COPA_HASH_SHA1);
	copa_hash_update(&h, data, n);
	copa_hash_final_raw(&h, raw);
	copa_hash_release(&h);
	copa_apk_csum_format(raw, out);
}

static uint32_t name_index(struct copa_apkapply *a, const char *name)
{
	uint32_t ix;

	if (copa_strmap_get(&a->name_ix, name, strlen(name), &ix))
		return ix;
	a->names = copa_xgrow(a->names, &a->capnames, a->nnames + 1, sizeof(*a->names));
	a->names[a->nnames] = copa_xstrdup(name);
	ix = (uint32_t)a->nnames++;
	copa_strmap_put(&a->name_ix, a->names[ix], strlen(a->names[ix]), ix);
	return ix;
}

/* The package that owns path (as recorded), or NULL. */
static const char *owner_of(const struct copa_apkapply *a, const char *path)
{
	uint32_t ix;

	return copa_strmap_get(&a->owner, path, strlen(path), &ix) ? a->names[ix] : NULL;
}

static char *file_path(const struct copa_apk_dir *d, const struct copa_apk_file *f)
{
	return join(d->name, f->name);
}

/* Records p's files and directories in the ownership maps (or drops them). */
static void own_record(struct copa_apkapply *a, const struct copa_apkdb_pkg *p, bool add)
{
	uint32_t ix = name_index(a, p->pkg.name), cur;

	for (size_t i = 0; i < p->ndirs; i++) {
		const struct copa_apk_dir *d = &p->dirs[i];
		size_t dn = strlen(d->name);
		uint32_t refs = 0;

		copa_strmap_get(&a->dirrefs, d->name, dn, &refs);
		if (add) {
			copa_strmap_put(&a->dirrefs, copa_arena_strdup(&a->keys, d->name), dn,
			                refs + 1);
		} else if (refs > 1) {
			copa_strmap_put(&a->dirrefs, d->name, dn, refs - 1);
		} else {
			copa_strmap_del(&a->dirrefs, d->name, dn);
		}
		for (size_t j = 0; j < d->n; j++) {
			char *path = file_path(d, &d->files[j]);

			if (add)
				copa_strmap_put(&a->owner, copa_arena_strdup(&a->keys, path),
				                strlen(path), ix);
			else if (copa_strmap_get(&a->owner, path, strlen(path), &cur) && cur == ix)
				copa_strmap_del(&a->owner, path, strlen(path));
			free(path);
		}
	}
}

static uint32_t dir_refs(const struct copa_apkapply *a, const char *dir)
{
	uint32_t refs = 0;

	copa_strmap_get(&a->dirrefs, dir, strlen(dir), &refs);
	return refs;
}

/* ---- protected paths (apk's "+etc @etc/init.d !etc/apk" and protected_paths.d) ---- */

static void add_rule(struct copa_apkapply *a, struct copa_blob line)
{
	int mode = PROT_CHANGED;

	line = copa_blob_trim(line);
	if (!line.n || line.p[0] == '#')
		return;
	switch (line.p[0]) {
	case '-':
		mode = PROT_IGNORE;
		break;
	case '+':
		mode = PROT_CHANGED;
		break;
	case '@':
		mode = PROT_SYMLINKS_ONLY;
		break;
	case '!':
		mode = PROT_ALL;
		break;
	default:
		goto pattern;
	}
	line.p++;
	line.n--;
pattern:
	while (line.n && line.p[0] == '/')
		line.p++, line.n--;
	while (line.n && line.p[line.n - 1] == '/')
		line.n--;
	a->rules = copa_xrealloc(a->rules, (a->nrules + 1) * sizeof(*a->rules));
	a->rules[a->nrules].pattern = copa_blob_dup(line);
	a->rules[a->nrules++].mode = mode;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(((const struct copa_view_entry *const *)x)[0]->name,
	              ((const struct copa_view_entry *const *)y)[0]->name);
}

static void read_rules(struct copa_apkapply *a)
{
	static const char *const dflt[] = {"+etc", "@etc/init.d", "!etc/apk"};
	const struct copa_view_entry **kids = NULL;
	size_t n = 0;

	for (size_t i = 0; i < COPA_ARRAY_SIZE(dflt); i++)
		add_rule(a, copa_blob_str(dflt[i]));
	if (copa_view_children(a->v, "etc/apk/protected_paths.d", &kids, &n) < 0)
		return;
	if (n)
		qsort(kids, n, sizeof(*kids), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct copa_buf text = COPA_BUF_INIT;
		struct copa_err e = COPA_ERR_INIT;
		struct copa_blob rest, line;

		if (!copa_blob_ends(copa_blob_str(kids[i]->name), ".list") ||
		    copa_pkgfs_read(a->v, a->b, kids[i]->path, 1u << 20, &text, &e) < 0) {
			copa_buf_release(&text);
			continue;
		}
		rest = copa_blob(text.p, text.len);
		while (rest.n && copa_blob_split(&rest, '\n', &line))
			add_rule(a, line);
		copa_buf_release(&text);
	}
	free(kids);
}

/*
 * The protection of a directory as apk computes it: inherited from the
 * parent, set by every rule whose pattern has exactly as many components
 * and matches component by component (fnmatch), the last such rule winning.
 */
static int protect_mode(const struct copa_apkapply *a, const char *dir)
{
	int mode = PROT_NONE;
	size_t depth = 0;

	if (!*dir)
		return PROT_NONE;
	for (const char *p = dir; p; p = strchr(p + 1, '/'))
		depth++;
	for (size_t k = 1; k <= depth; k++) {
		for (size_t r = 0; r < a->nrules; r++) {
			const char *pat = a->rules[r].pattern, *d = dir;
			size_t comps = 1, i;
			bool ok = true;

			for (const char *q = strchr(pat, '/'); q; q = strchr(q + 1, '/'))
				comps++;
			if (comps != k)
				continue;
			for (i = 0; i < k && ok; i++) {
				const char *ps = strchr(pat, '/'), *ds = strchr(d, '/');
				char *pc =
				    ps ? copa_xstrndup(pat, (size_t)(ps - pat)) : copa_xstrdup(pat);
				char *dc =
				    ds ? copa_xstrndup(d, (size_t)(ds - d)) : copa_xstrdup(d);

				ok = fnmatch(pc, dc, FNM_PATHNAME) == 0;
				free(pc);
				free(dc);
				pat = ps ? ps + 1 : "";
				d = ds ? ds + 1 : "";
			}
			if (ok)
				mode = a->rules[r].mode;
		}
	}
	return mode;
}

static bool protected_dir(const struct copa_apkapply *a, const char *dir)
{
	int m = protect_mode(a, dir);

	return m != PROT_NONE && m != PROT_IGNORE;
}

/* ---- scripts.tar and triggers ---- */

static struct ipkg *ipkg_new(const char *name, const char *version, const char *csum,
                             uint64_t build_time)
{
	struct ipkg *p = copa_xcalloc(1, sizeof(*p));

	p->name = copa_xstrdup(name);
	p->version = copa_xstrdup(version);
	p->csum = copa_xstrdup(csum ? csum : "");
	p->build_time = build_time;
	return p;
}

static void ipkg_free(struct ipkg *p)
{
	if (!p)
		return;
	for (int i = 0; i < SCRIPT_TYPES; i++)
		copa_buf_release(&p->script[i]);
	free(p->name);
	free(p->version);
	free(p->csum);
	free(p->triggers);
	free(p);
}

static struct ipkg *ipkg_by_csum(struct copa_apkapply *a, struct copa_blob csum)
{
	for (size_t i = 0; i < a->nip; i++)
		if (copa_blob_eqs(csum, a->ip[i]->csum))
			return a->ip[i];
	return NULL;
}

static struct ipkg *ipkg_by_name(struct copa_apkapply *a, const char *name, size_t *at)
{
	for (size_t i = 0; i < a->nip; i++)
		if (!strcmp(a->ip[i]->name, name)) {
			if (at)
				*at = i;
			return a->ip[i];
		}
	return NULL;
}

static int script_type(struct copa_blob s)
{
	for (int i = 0; i < SCRIPT_TYPES; i++)
		if (copa_blob_eqs(s, script_types[i]))
			return i;
	return -1;
}

/* `<name>-<version>.<Q1csum>.<type>`: the checksum sits between the last two dots. */
static int read_scripts(struct copa_apkapply *a, const struct copa_buf *tar, struct copa_err *err)
{
	struct copa_apk_tar t;
	struct copa_apk_tar_entry e;
	int r;

	copa_apk_tar_init(&t, tar->p, tar->len, "scripts.tar");
	while ((r = copa_apk_tar_next(&t, &e, err)) > 0) {
		const char *act = strrchr(e.name, '.'), *cs;
		struct ipkg *p;
		int type;

		if (e.type != '0' || !act || act == e.name)
			continue;
		for (cs = act - 1; cs > e.name && *cs != '.'; cs--)
			;
		if (*cs != '.')
			continue;
		type = script_type(copa_blob_str(act + 1));
		p = ipkg_by_csum(a, copa_blob(cs + 1, (size_t)(act - cs - 1)));
		if (type < 0 || !p)
			continue;
		copa_buf_reset(&p->script[type]);
		copa_buf_add(&p->script[type], e.data.p ? e.data.p : "", e.data.n);
		p->has[type] = true;
	}
	copa_apk_tar_release(&t);
	return r < 0 ? copa_err_wrap(err, "'%s/scripts.tar'", a->dbdir) : 0;
}

static void trig_remove(struct copa_apkapply *a, const struct ipkg *p)
{
	for (size_t i = 0; i < a->ntrig; i++)
		if (a->trig[i] == p) {
			memmove(&a->trig[i], &a->trig[i + 1],
			        (a->ntrig - i - 1) * sizeof(*a->trig));
			a->ntrig--;
			return;
		}
}

static void trig_add(struct copa_apkapply *a, struct ipkg *p)
{
	trig_remove(a, p);
	a->trig = copa_xgrow(a->trig, &a->captrig, a->ntrig + 1, sizeof(*a->trig));
	a->trig[a->ntrig++] = p;
}

static void read_triggers(struct copa_apkapply *a, const struct copa_buf *text)
{
	struct copa_blob rest = copa_blob(text->p, text->len), line;

	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob csum;
		struct ipkg *p;
		char *globs;

		if (!copa_blob_word(&line, &csum) || !(p = ipkg_by_csum(a, csum)))
			continue;
		line = copa_blob_trim(line);
		if (!line.n)
			continue;
		globs = copa_blob_dup(line);
		free(p->triggers);
		p->triggers = globs;
		trig_add(a, p);
	}
}

static void put_octal(char *s, size_t l, uint64_t v, bool nul)
{
	char *p = s + l - 1;

	if (nul)
		*p-- = '\0';
	for (; p >= s; p--) {
		*p = (char)('0' + (v & 7));
		v >>= 3;
	}
}

/* One entry of scripts.tar as apk_tar_write_entry writes it (GNU magic, root:root). */
static void tar_entry(struct copa_buf *out, const char *name, const struct copa_buf *data,
                      uint64_t mtime, bool nul)
{
	char h[512] = {0};
	unsigned sum = 0;
	size_t n = strlen(name);

	memcpy(h, name, n < 99 ? n : 99);
	put_octal(h + 100, 8, 0755, true);
	put_octal(h + 108, 8, 0, true);
	put_octal(h + 116, 8, 0, true);
	put_octal(h + 124, 12, data->len, nul);
	put_octal(h + 136, 12, mtime, nul);
	h[156] = '0';
	memcpy(h + 257, "ustar  ", 8);
	memcpy(h + 265, "root", 4);
	memcpy(h + 297, "root", 4);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	put_octal(h + 148, 7, sum, true);
	copa_buf_add(out, h, sizeof(h));
	copa_buf_add(out, data->p ? data->p : "", data->len);
	if (data->len % 512) {
		static const char zero[512];

		copa_buf_add(out, zero, 512 - data->len % 512);
	}
}

static void write_scripts(const struct copa_apkapply *a, int64_t now, struct copa_buf *out)
{
	static const char zero[1024];

	for (size_t i = 0; i < a->nip; i++) {
		const struct ipkg *p = a->ip[i];

		for (int t = 0; t < SCRIPT_TYPES; t++) {
			char *name;

			if (!p->has[t])
				continue;
			name = copa_xasprintf("%s-%s.%s.%s", p->name, p->version, p->csum,
			                      script_types[t]);
			tar_entry(out, name, &p->script[t],
			          a->tar_build_time ? p->build_time : (uint64_t)now,
			          a->tar_nul_numbers);
			free(name);
		}
	}
	copa_buf_add(out, zero, sizeof(zero));
}

static void write_triggers(const struct copa_apkapply *a, struct copa_buf *out)
{
	for (size_t i = 0; i < a->ntrig; i++) {
		const struct ipkg *p = a->trig[i];
		struct copa_blob rest = copa_blob_str(p->triggers), w;

		copa_buf_adds(out, p->csum);
		while (copa_blob_word(&rest, &w)) {
			copa_buf_addc(out, ' ');
			copa_buf_add(out, w.p, w.n);
		}
		copa_buf_addc(out, '\n');
	}
}

/* ---- new / free / version ---- */

/* Reads a database file through the layer; a missing file reads as empty. */
static int read_db_file(struct copa_apkapply *a, const char *name, size_t max, struct copa_buf *out,
                        bool *found, struct copa_err *err)
{
	char *path = join(a->dbdir, name);
	int r = copa_pkgfs_read(a->v, a->b, path, max, out, err);

	if (found)
		*found = r == 0;
	if (r < 0 && err->code == COPA_E_NOTFOUND) {
		copa_err_clear(err);
		copa_buf_reset(out);
		r = 0;
	}
	if (r < 0)
		copa_err_wrap(err, "cannot read '%s'", path);
	free(path);
	return r;
}

struct copa_apkapply *copa_apkapply_new(struct copa_view *v, struct copa_layer_builder *b,
                                        const struct copa_apkapply_opts *o, struct copa_err *err)
{
	struct copa_apkapply *a = copa_xcalloc(1, sizeof(*a));
	struct copa_buf text = COPA_BUF_INIT;
	const char *slash;
	bool found = false;

	a->v = v;
	a->b = b;
	a->o = *o;
	copa_apkdb_init(&a->db);
	a->keys = (struct copa_arena)COPA_ARENA_INIT;
	if (!o->db_path || !(slash = strrchr(o->db_path, '/'))) {
		copa_err_set(err, COPA_E_BUG, "apkapply: db_path '%s' has no directory",
		             o->db_path ? o->db_path : "");
		goto fail;
	}
	a->dbdir = copa_xstrndup(o->db_path, (size_t)(slash - o->db_path));
	if (read_db_file(a, slash + 1, COPA_APKDB_MAX_FILE, &text, &found, err) < 0)
		goto fail;
	if (!found) {
		copa_err_set(err, COPA_E_NOTFOUND, "the image has no apk database '%s'",
		             o->db_path);
		goto fail;
	}
	if (copa_apkdb_parse(&a->db, text.p ? text.p : "", text.len, o->db_path, err) < 0)
		goto fail;
	for (size_t i = 0; i < a->db.n; i++) {
		const struct copa_apk_pkg *p = &a->db.pkgs[i]->pkg;

		own_record(a, a->db.pkgs[i], true);
		a->ip = copa_xgrow(a->ip, &a->capip, a->nip + 1, sizeof(*a->ip));
		a->ip[a->nip++] = ipkg_new(p->name, p->version, p->csum, p->build_time);
	}
	if (read_db_file(a, "scripts.tar", SCRIPTS_TAR_MAX, &text, NULL, err) < 0 ||
	    read_scripts(a, &text, err) < 0 ||
	    read_db_file(a, "triggers", TRIGGERS_MAX, &text, NULL, err) < 0)
		goto fail;
	read_triggers(a, &text);
	read_rules(a);
	{
		/* the image's apk is the one whose writers we follow; none: today's */
		const struct copa_apkdb_pkg *apk = copa_apkdb_find(&a->db, "apk-tools");
		struct copa_blob ver = copa_blob_str(apk ? apk->pkg.version : "2.14.4");
#define AT_LEAST(v) (copa_apkver_cmp(ver, copa_blob_str(v)) != COPA_APKV_LESS)

		a->sorted_db = AT_LEAST("2.14");
		a->tar_nul_numbers = !AT_LEAST("2.12.9");
		a->tar_build_time = (AT_LEAST("2.12.12") && !a->sorted_db) || AT_LEAST("2.14.1");
#undef AT_LEAST
	}
	copa_buf_release(&text);
	return a;
fail:
	copa_buf_release(&text);
	copa_apkapply_free(a);
	return NULL;
}

void copa_apkapply_free(struct copa_apkapply *a)
{
	if (!a)
		return;
	copa_apkdb_release(&a->db);
	for (size_t i = 0; i < a->nip; i++)
		ipkg_free(a->ip[i]);
	free(a->ip);
	free(a->trig);
	for (size_t i = 0; i < a->nnames; i++)
		free(a->names[i]);
	free(a->names);
	for (size_t i = 0; i < a->nrules; i++)
		free(a->rules[i].pattern);
	free(a->rules);
	copa_strmap_release(&a->owner);
	copa_strmap_release(&a->dirrefs);
	copa_strmap_release(&a->name_ix);
	copa_arena_release(&a->keys);
	free(a->dbdir);
	free(a);
}

const char *copa_apkapply_version(const struct copa_apkapply *a, const char *name)
{
	const struct copa_apkdb_pkg *p = copa_apkdb_find(&a->db, name);

	return p ? p->pkg.version : NULL;
}

/* ---- planning one package ---- */

enum action {
	ACT_WRITE,  /* put the entry at its canonical path */
	ACT_KEEP,   /* nothing to write (an existing directory, or a config equal to the new one) */
	ACT_APKNEW, /* a modified configuration file: the new content goes to <path>.apk-new */
	ACT_SKIP,   /* an older owner that replaces this package keeps the file */
};

struct pentry {
	const struct copa_apkfile_entry *e;
	char *path;  /* package path, normalised */
	char *canon; /* where it lands in the image */
	uint8_t type;
	enum action act;
	const char *taken_from; /* another package whose record loses the file */
	char *staged;           /* the content staged beneath the builder's staging directory */
	bool dir_acl;           /* an existing directory gets dir_uid/gid/mode */
	uint64_t dir_uid, dir_gid;
	uint32_t dir_mode;
};

struct plan {
	struct copa_apkapply *a;
	struct copa_apkfile f;
	char *label; /* "name-version" */
	const struct copa_apkdb_pkg *old;
	struct copa_apkdb_pkg *rec;
	struct pentry *pe;
	size_t n, cap;
	struct copa_strmap by_canon, by_path; /* -> index into pe */
	char **rm_files;                      /* canonical paths to white out */
	size_t nrm, caprm;
	char **rm_dirs; /* package directories the old version leaves behind */
	size_t nrmd, caprmd;
	struct pentry *left; /* directories others keep, with the permissions they expect */
	size_t nleft, capleft;
};

static void plan_release(struct plan *pl, bool failed)
{
	int sfd = pl->a ? copa_layer_builder_staging_fd(pl->a->b) : -1;

	for (size_t i = 0; i < pl->n; i++) {
		if (failed && pl->pe[i].staged && sfd >= 0)
			unlinkat(sfd, pl->pe[i].staged, 0);
		free(pl->pe[i].staged);
		free(pl->pe[i].path);
		free(pl->pe[i].canon);
	}
	free(pl->pe);
	for (size_t i = 0; i < pl->nrm; i++)
		free(pl->rm_files[i]);
	free(pl->rm_files);
	for (size_t i = 0; i < pl->nrmd; i++)
		free(pl->rm_dirs[i]);
	free(pl->rm_dirs);
	for (size_t i = 0; i < pl->nleft; i++) {
		free(pl->left[i].path);
		free(pl->left[i].canon);
	}
	free(pl->left);
	copa_strmap_release(&pl->by_canon);
	copa_strmap_release(&pl->by_path);
	copa_apkfile_release(&pl->f);
	free(pl->label);
}

static int ftype(char t)
{
	switch (t) {
	case '0':
	case '7':
	case '\0':
		return COPA_FT_REG;
	case '1':
		return COPA_FT_HARDLINK;
	case '2':
		return COPA_FT_SYMLINK;
	case '3':
		return COPA_FT_CHR;
	case '4':
		return COPA_FT_BLK;
	case '5':
		return COPA_FT_DIR;
	case '6':
		return COPA_FT_FIFO;
	}
	return -1;
}

static int own_cb(void *ctx, const char *path)
{
	struct plan *pl = ctx;
	uint32_t ix;

	return copa_strmap_get(&pl->by_canon, path, strlen(path), &ix) ? pl->pe[ix].type : -1;
}

static int own_none(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return -1;
}

static bool dep_matches(const struct copa_apk_deps *deps, const struct copa_apk_pkg *p)
{
	for (size_t i = 0; i < deps->n; i++) {
		const struct copa_apk_dep *d = &deps->v[i];

		if (strcmp(d->name, p->name) || d->op == 0 /* conflict-only never materialises */)
			continue;
		if (!d->version ||
		    copa_apkver_match(copa_blob_str(p->version), d->op, copa_blob_str(d->version)))
			return true;
	}
	return false;
}

/*
 * apk's rule for a file another package owns: same origin, or the new
 * package replaces the owner, overwrites; the owner replacing the new one
 * with a higher priority keeps it; anything else is an error.
 */
static int check_owner(struct plan *pl, struct pentry *pe, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;
	const char *owner = owner_of(a, pe->path);
	const struct copa_apkdb_pkg *op;
	const struct copa_apk_pkg *np = &pl->rec->pkg;
	long oprio = -1, nprio = -1;

	if (!owner || !strcmp(owner, np->name))
		return 0;
	op = copa_apkdb_find(&a->db, owner);
	if (!op)
		return 0;
	if (op->pkg.origin && np->origin && !strcmp(op->pkg.origin, np->origin))
		goto take;
	if (dep_matches(&op->pkg.replaces, np))
		oprio = (long)op->pkg.replaces_priority;
	if (dep_matches(&np->replaces, &op->pkg))
		nprio = (long)np->replaces_priority;
	if (oprio > nprio) {
		pe->act = ACT_SKIP;
		return 0;
	}
	if (nprio >= 0)
		goto take;
	return copa_err_set(err, COPA_E_PACKAGE,
	                    "package '%s': '/%s' belongs to '%s-%s' and neither package "
	                    "replaces the other",
	                    pl->label, pe->path, op->pkg.name, op->pkg.version);
take:
	pe->taken_from = op->pkg.name;
	return 0;
}

/* The Z: checksum the database records for path, or NULL. */
static const char *recorded_csum(const struct copa_apkapply *a, const char *path, bool *known)
{
	const char *owner = owner_of(a, path);
	const struct copa_apkdb_pkg *p = owner ? copa_apkdb_find(&a->db, owner) : NULL;
	const char *slash = strrchr(path, '/');
	size_t dn = slash ? (size_t)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;

	*known = false;
	for (size_t i = 0; p && i < p->ndirs; i++) {
		if (strlen(p->dirs[i].name) != dn || strncmp(p->dirs[i].name, path, dn))
			continue;
		for (size_t j = 0; j < p->dirs[i].n; j++)
			if (!strcmp(p->dirs[i].files[j].name, base)) {
				*known = true;
				return p->dirs[i].files[j].csum;
			}
	}
	return NULL;
}

/*
 * The checksum apk computes of what the image has at canon (without
 * following a last symlink): the content of a file, the target of a
 * symlink. Returns 1 with out set, 0 when nothing (checksummable) is there.
 */
static int current_csum(struct copa_apkapply *a, const char *canon, char out[32],
                        struct copa_err *err)
{
	const struct copa_view_entry *ve = copa_view_get(a->v, canon);
	struct copa_buf data = COPA_BUF_INIT;

	if (!ve)
		return 0;
	if (ve->type == COPA_FT_SYMLINK) {
		sha1_csum(ve->link ? ve->link : "", ve->link ? strlen(ve->link) : 0, out);
		return 1;
	}
	if (ve->type != COPA_FT_REG && ve->type != COPA_FT_HARDLINK)
		return 0;
	if (copa_pkgfs_read(a->v, a->b, canon, COMPARE_MAX, &data, err) < 0) {
		copa_buf_release(&data);
		return copa_err_wrap(err, "cannot compare '/%s'", canon);
	}
	sha1_csum(data.p ? data.p : "", data.len, out);
	copa_buf_release(&data);
	return 1;
}

static const struct copa_apkfile_entry *entry_data(const struct plan *pl, const struct pentry *pe)
{
	uint32_t ix;

	if (pe->type != COPA_FT_HARDLINK)
		return pe->e;
	if (!copa_strmap_get(&pl->by_path, pe->e->linkname, strlen(pe->e->linkname), &ix))
		return NULL;
	return pl->pe[ix].e;
}

/* apk_db_migrate_files: a protected path with local changes keeps them. */
static int plan_config(struct plan *pl, struct pentry *pe, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;
	const struct copa_apkfile_entry *src = entry_data(pl, pe);
	const char *slash = strrchr(pe->path, '/');
	char *dir = slash ? copa_xstrndup(pe->path, (size_t)(slash - pe->path)) : copa_xstrdup("");
	bool prot = protected_dir(a, dir), known;
	const char *rec;
	char cur[32], mine[32];
	int r;

	free(dir);
	if (!prot)
		return 0;
	r = current_csum(a, pe->canon, cur, err);
	if (r <= 0)
		return r;
	rec = recorded_csum(a, pe->path, &known);
	if (known && rec && !strcmp(rec, cur))
		return 0; /* unmodified: replaced */
	if (pe->type == COPA_FT_SYMLINK)
		sha1_csum(pe->e->linkname, strlen(pe->e->linkname), mine);
	else if (src && src->csum[0])
		snprintf(mine, sizeof(mine), "%s", src->csum);
	else
		mine[0] = '\0';
	pe->act = mine[0] && !strcmp(mine, cur) ? ACT_KEEP : ACT_APKNEW;
	return 0;
}

struct acl {
	uint64_t uid, gid;
	uint32_t mode;
	bool set;
};

/* apk_db_dir_apply_diri_permissions: the lowest owner wins, modes of equal owners are ANDed. */
static void acl_merge(struct acl *m, const char *text)
{
	unsigned long long uid = 0, gid = 0;
	unsigned mode = 0755;

	if (text && sscanf(text, "%llu:%llu:%o", &uid, &gid, &mode) != 3)
		uid = gid = 0, mode = 0755;
	if (!m->set || uid < m->uid || (uid == m->uid && gid < m->gid)) {
		m->uid = uid;
		m->gid = gid;
		m->mode = mode;
		m->set = true;
	} else if (uid == m->uid && gid == m->gid) {
		m->mode &= mode;
	}
}

/* The permissions apk expects of directory `dir` from the records listing it. */
static struct acl dir_expected(const struct copa_apkapply *a, const char *dir, const char *skip,
                               const struct copa_apkdb_pkg *extra)
{
	struct acl m = {0};

	for (size_t i = 0; i < a->db.n; i++) {
		const struct copa_apkdb_pkg *p = a->db.pkgs[i];

		if (skip && !strcmp(p->pkg.name, skip))
			continue;
		for (size_t j = 0; j < p->ndirs; j++)
			if (!strcmp(p->dirs[j].name, dir))
				acl_merge(&m, p->dirs[j].acl);
	}
	for (size_t j = 0; extra && j < extra->ndirs; j++)
		if (!strcmp(extra->dirs[j].name, dir))
			acl_merge(&m, extra->dirs[j].acl);
	return m;
}

/*
 * A directory the image has: apk updates its permissions only when they are
 * what the installed packages led it to expect (an administrator's change
 * stays), to what the packages expect once this one is installed.
 */
static void plan_existing_dir(struct plan *pl, struct pentry *pe, const struct copa_view_entry *ve)
{
	struct acl before, after;

	pe->act = ACT_KEEP;
	if (!dir_refs(pl->a, pe->path))
		return;
	before = dir_expected(pl->a, pe->path, NULL, NULL);
	if (ve->mode != (before.mode & 07777) || ve->uid != before.uid || ve->gid != before.gid)
		return;
	after = dir_expected(pl->a, pe->path, pl->rec->pkg.name, pl->rec);
	if (ve->mode != (after.mode & 07777) || ve->uid != after.uid || ve->gid != after.gid) {
		pe->act = ACT_WRITE;
		pe->dir_acl = true;
		pe->dir_uid = after.uid;
		pe->dir_gid = after.gid;
		pe->dir_mode = after.mode & 07777;
	}
}

static int plan_entry(struct plan *pl, const struct copa_apkfile_entry *e, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;
	struct copa_buf norm = COPA_BUF_INIT;
	const char *base;
	struct pentry pe = {0};
	int t = ftype(e->type);

	if (e->name[0] == '.')
		return 0; /* apk skips dot entries of the data segment */
	if (t < 0)
		return copa_err_set(err, COPA_E_INPUT, "package '%s': '%s' has tar type '%c'",
		                    pl->label, e->name, e->type);
	if (copa_path_normalize(e->name, &norm) < 0 || !norm.len) {
		copa_buf_release(&norm);
		return copa_err_set(err, COPA_E_INPUT, "package '%s': bad path '%s'", pl->label,
		                    e->name);
	}
	pe.path = copa_buf_detach(&norm, NULL);
	base = strrchr(pe.path, '/');
	base = base ? base + 1 : pe.path;
	if (t != COPA_FT_DIR && !strncmp(base, ".keep_", 6) && strlen(base) > 6) {
		free(pe.path);
		return 0; /* apk does not extract .keep_ files */
	}
	pe.e = e;
	pe.type = (uint8_t)t;
	pe.canon = copa_pathmap_path(a->v, pe.path, own_cb, pl, pl->label, err);
	if (!pe.canon) {
		free(pe.path);
		return -1;
	}
	if (t == COPA_FT_DIR) {
		const struct copa_view_entry *ve = copa_view_get(a->v, pe.canon);

		if (ve && ve->type == COPA_FT_SYMLINK)
			pe.act = ACT_KEEP; /* pathmap has checked it leads to a directory */
		else if (ve && ve->type == COPA_FT_DIR)
			plan_existing_dir(pl, &pe, ve);
	} else if (check_owner(pl, &pe, err) < 0 ||
	           (pe.act == ACT_WRITE && plan_config(pl, &pe, err) < 0)) {
		free(pe.path);
		free(pe.canon);
		return -1;
	}
	pl->pe = copa_xgrow(pl->pe, &pl->cap, pl->n + 1, sizeof(*pl->pe));
	pl->pe[pl->n] = pe;
	copa_strmap_put(&pl->by_canon, pl->pe[pl->n].canon, strlen(pe.canon), (uint32_t)pl->n);
	copa_strmap_put(&pl->by_path, pl->pe[pl->n].path, strlen(pe.path), (uint32_t)pl->n);
	pl->n++;
	return 0;
}

static bool new_has(const struct plan *pl, const char *path)
{
	uint32_t ix;

	return copa_strmap_get(&pl->by_path, path, strlen(path), &ix) ||
	       copa_strmap_get(&pl->by_canon, path, strlen(path), &ix);
}

/*
 * A directory the old version listed and others still do: apk recomputes
 * its permissions without the old version's (when they were as expected).
 */
static void plan_left_dir(struct plan *pl, const struct copa_apkdb_pkg *old, const char *dir)
{
	struct copa_apkapply *a = pl->a;
	struct copa_err e = COPA_ERR_INIT;
	char *canon = copa_pathmap_path(a->v, dir, own_none, NULL, pl->label, &e);
	const struct copa_view_entry *ve = canon ? copa_view_get(a->v, canon) : NULL;
	struct acl before, after;

	if (ve && ve->type == COPA_FT_DIR) {
		before = dir_expected(a, dir, NULL, NULL);
		after = dir_expected(a, dir, old->pkg.name, NULL);
		if (ve->mode == (before.mode & 07777) && ve->uid == before.uid &&
		    ve->gid == before.gid &&
		    (ve->mode != (after.mode & 07777) || ve->uid != after.uid ||
		     ve->gid != after.gid)) {
			struct pentry pe = {0};

			pe.path = copa_xstrdup(dir);
			pe.canon = steal_ptr(&canon);
			pe.type = COPA_FT_DIR;
			pe.act = ACT_WRITE;
			pe.dir_acl = true;
			pe.dir_uid = after.uid;
			pe.dir_gid = after.gid;
			pe.dir_mode = after.mode & 07777;
			pl->left =
			    copa_xgrow(pl->left, &pl->capleft, pl->nleft + 1, sizeof(*pl->left));
			pl->left[pl->nleft++] = pe;
		}
	}
	free(canon);
}

/*
 * What the old version (or a purged package) leaves: its files that no
 * other package owns now, unless a protected file was changed (apk's purge
 * keeps those), and its directories no other package lists.
 */
static int plan_removals(struct plan *pl, const struct copa_apkdb_pkg *old, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;

	for (size_t i = 0; i < old->ndirs; i++) {
		const struct copa_apk_dir *d = &old->dirs[i];
		bool prot = protected_dir(a, d->name);

		for (size_t j = 0; j < d->n; j++) {
			char *path = file_path(d, &d->files[j]), *canon;
			const char *owner = owner_of(a, path);
			char cur[32];
			int r;

			if (new_has(pl, path) || !owner || strcmp(owner, old->pkg.name)) {
				free(path);
				continue;
			}
			canon = copa_pathmap_path(a->v, path, own_none, NULL, pl->label, err);
			free(path);
			if (!canon) {
				copa_err_clear(err);
				continue;
			}
			if (new_has(pl, canon) || !copa_view_get(a->v, canon)) {
				free(canon);
				continue;
			}
			if (prot) {
				r = current_csum(a, canon, cur, err);
				if (r < 0) {
					free(canon);
					return -1;
				}
				if (!d->files[j].csum ||
				    (r == 1 && strcmp(cur, d->files[j].csum))) {
					free(canon);
					continue;
				}
			}
			pl->rm_files =
			    copa_xgrow(pl->rm_files, &pl->caprm, pl->nrm + 1, sizeof(char *));
			pl->rm_files[pl->nrm++] = canon;
		}
		if (*d->name && !new_has(pl, d->name) && dir_refs(a, d->name) <= 1) {
			pl->rm_dirs =
			    copa_xgrow(pl->rm_dirs, &pl->caprmd, pl->nrmd + 1, sizeof(char *));
			pl->rm_dirs[pl->nrmd++] = copa_xstrdup(d->name);
		} else if (*d->name && !new_has(pl, d->name)) {
			plan_left_dir(pl, old, d->name);
		}
	}
	return 0;
}

/* ---- writing ---- */

/*
 * Large regular files go to the builder's staging directory while planning,
 * so that an I/O error there happens before the first write.
 */
static int stage(struct plan *pl, struct pentry *pe, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;
	int sfd = copa_layer_builder_staging_fd(a->b), fd;
	const struct copa_apkfile_entry *src = pe->e;
	char *name;

	if (sfd < 0 || pe->type != COPA_FT_REG || src->data.n <= INLINE_MAX ||
	    (pe->act != ACT_WRITE && pe->act != ACT_APKNEW))
		return 0;
	name = copa_xasprintf("copa-apk-%ld-%zu", (long)getpid(), ++a->staged_seq);
	fd = copa_fs_open_beneath(sfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600, err);
	if (fd < 0 || copa_fs_write_all(fd, src->data.p, src->data.n, err) < 0) {
		if (fd >= 0) {
			close(fd);
			unlinkat(sfd, name, 0);
		}
		free(name);
		return copa_err_wrap(err, "cannot stage '%s'", src->name);
	}
	close(fd);
	pe->staged = name;
	return 0;
}

static int write_entry(struct plan *pl, struct pentry *pe, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;
	const struct copa_apkfile_entry *e = pe->e, *src = entry_data(pl, pe);
	struct copa_layer_entry le = {0};
	char *path = pe->act == ACT_APKNEW ? copa_xasprintf("%s.apk-new", pe->canon)
	                                   : copa_xstrdup(pe->canon);
	char *link = NULL;
	int r;

	le.path = path;
	le.type = pe->type;
	le.mode = e->mode & 07777;
	le.uid = (uint32_t)e->uid;
	le.gid = (uint32_t)e->gid;
	le.mtime = (int64_t)e->mtime;
	if (pe->dir_acl) {
		le.uid = (uint32_t)pe->dir_uid;
		le.gid = (uint32_t)pe->dir_gid;
		le.mode = pe->dir_mode;
	}
	if (pe->type == COPA_FT_SYMLINK) {
		le.link = e->linkname;
	} else if (pe->type == COPA_FT_HARDLINK) {
		uint32_t ix;
		const struct pentry *t = NULL;

		if (copa_strmap_get(&pl->by_path, e->linkname, strlen(e->linkname), &ix))
			t = &pl->pe[ix];
		if (t && t->act == ACT_WRITE) {
			le.link = t->canon;
		} else if (t && t->act == ACT_APKNEW) {
			le.link = link = copa_xasprintf("%s.apk-new", t->canon);
		} else if (src) {
			le.type = COPA_FT_REG; /* the target stays as the image has it: a copy */
			le.mode = src->mode & 07777;
		}
	}
	if (le.type == COPA_FT_REG && src) {
		le.size = src->data.n;
		if (pe->staged && src == pe->e)
			le.staged = pe->staged;
		else
			le.content = src->data.p ? src->data.p : "";
	}
	if (le.type == COPA_FT_CHR || le.type == COPA_FT_BLK) {
		le.rdev_major = e->devmajor;
		le.rdev_minor = e->devminor;
	}
	/*
	 * apk sets the entry's xattrs on what it extracted except symlinks;
	 * directories it only mkdirs (apk_db_dir_prepare), so they get none.
	 * A hard link turned into a copy takes its own, else its target's.
	 */
	const struct copa_apkfile_entry *xs = e;

	if (pe->type == COPA_FT_HARDLINK && le.type == COPA_FT_REG && !e->n_xattrs && src)
		xs = src;
	struct copa_layer_xattr *xa = NULL;

	if (xs->n_xattrs && le.type != COPA_FT_SYMLINK && le.type != COPA_FT_DIR) {
		xa = copa_xcalloc(xs->n_xattrs, sizeof(*xa));
		for (size_t i = 0; i < xs->n_xattrs; i++)
			xa[i] = (struct copa_layer_xattr){xs->xattrs[i].name, xs->xattrs[i].value,
			                                  xs->xattrs[i].len};
		le.xattrs = xa;
		le.n_xattrs = xs->n_xattrs;
	}
	r = copa_pkgfs_put(a->v, a->b, &le, false, err);
	free(xa);
	free(path);
	free(link);
	return r;
}

static int cmp_len_desc(const void *x, const void *y)
{
	size_t a = strlen(*(char *const *)x), b = strlen(*(char *const *)y);

	return a < b ? 1 : a > b ? -1 : strcmp(*(char *const *)x, *(char *const *)y);
}

static int do_removals(struct plan *pl, struct copa_err *err)
{
	struct copa_apkapply *a = pl->a;

	for (size_t i = 0; i < pl->nleft; i++) {
		const struct pentry *pe = &pl->left[i];
		const struct copa_view_entry *ve = copa_view_get(a->v, pe->canon);
		struct copa_layer_entry le = {0};

		le.path = pe->canon;
		le.type = COPA_FT_DIR;
		le.mode = pe->dir_mode;
		le.uid = (uint32_t)pe->dir_uid;
		le.gid = (uint32_t)pe->dir_gid;
		le.mtime = ve ? ve->mtime : 0;
		if (copa_pkgfs_put(a->v, a->b, &le, false, err) < 0)
			return -1;
	}

	for (size_t i = pl->nrm; i-- > 0;)
		if (copa_view_get(a->v, pl->rm_files[i]) &&
		    copa_pkgfs_remove(a->v, a->b, pl->rm_files[i], err) < 0)
			return -1;
	if (pl->nrmd)
		qsort(pl->rm_dirs, pl->nrmd, sizeof(char *), cmp_len_desc);
	for (size_t i = 0; i < pl->nrmd; i++) {
		char *canon =
		    copa_pathmap_path(a->v, pl->rm_dirs[i], own_none, NULL, pl->label, err);
		const struct copa_view_entry **kids = NULL;
		const struct copa_view_entry *ve;
		size_t n = 0;

		if (!canon) {
			copa_err_clear(err);
			continue;
		}
		ve = copa_view_get(a->v, canon);
		if (ve && ve->type == COPA_FT_DIR &&
		    copa_view_children(a->v, canon, &kids, &n) == 0 && n == 0 &&
		    copa_pkgfs_remove(a->v, a->b, canon, err) < 0) {
			free(kids);
			free(canon);
			return -1;
		}
		free(kids);
		free(canon);
	}
	return 0;
}

/* Drops the file at path from record p (a file another package took over, or kept). */
static bool record_drop_file(struct copa_apkdb_pkg *p, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dn = slash ? (size_t)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;

	for (size_t i = 0; i < p->ndirs; i++) {
		struct copa_apk_dir *d = &p->dirs[i];

		if (strlen(d->name) != dn || strncmp(d->name, path, dn))
			continue;
		for (size_t j = 0; j < d->n; j++)
			if (!strcmp(d->files[j].name, base)) {
				memmove(&d->files[j], &d->files[j + 1],
				        (d->n - j - 1) * sizeof(*d->files));
				d->n--;
				return true;
			}
	}
	return false;
}

/* A package new to the image goes where apk's sorted writer puts it (strcasecmp, then strcmp). */
static int name_cmp(const char *x, const char *y)
{
	int c = strcasecmp(x, y);

	return c ? c : strcmp(x, y);
}

/*
 * apk 2.14 writes the database sorted by name whatever order it read (a
 * package new to the image lands in its place); older apk writes its
 * installed list, where an installed or upgraded package is appended.
 */
static void put_record(struct copa_apkapply *a, struct copa_apkdb_pkg *rec)
{
	struct copa_apkdb_pkg *old = copa_apkdb_put(&a->db, rec);
	size_t at = 0, n = a->db.n;

	while (at < n && a->db.pkgs[at] != rec)
		at++;
	if (at == n)
		COPA_BUG("apkapply: a record put is not in the database");
	if (a->sorted_db) {
		if (old)
			return;
		for (at = 0; at < n - 1; at++)
			if (name_cmp(a->db.pkgs[at]->pkg.name, rec->pkg.name) > 0)
				break;
		memmove(&a->db.pkgs[at + 1], &a->db.pkgs[at], (n - 1 - at) * sizeof(*a->db.pkgs));
		a->db.pkgs[at] = rec;
		return;
	}
	memmove(&a->db.pkgs[at], &a->db.pkgs[at + 1], (n - 1 - at) * sizeof(*a->db.pkgs));
	a->db.pkgs[n - 1] = rec;
}

struct ranked {
	struct copa_apkdb_pkg *p;
	size_t at;
};

static int cmp_ranked(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;
	int c = name_cmp(a->p->pkg.name, b->p->pkg.name);

	return c ? c : a->at < b->at ? -1 : a->at > b->at;
}

/* apk 2.14's writer order: by name (a stable sort: records of one name keep theirs). */
static void sort_db(struct copa_apkapply *a)
{
	struct ranked *r;

	if (!a->sorted_db || a->db.n < 2)
		return;
	r = copa_xcalloc(a->db.n, sizeof(*r));
	for (size_t i = 0; i < a->db.n; i++)
		r[i] = (struct ranked){a->db.pkgs[i], i};
	qsort(r, a->db.n, sizeof(*r), cmp_ranked);
	for (size_t i = 0; i < a->db.n; i++)
		a->db.pkgs[i] = r[i].p;
	free(r);
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = copa_xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* The scripts apk would run for this package and the triggers its directories fire. */
static char **skipped_scripts(struct plan *pl)
{
	struct copa_apkapply *a = pl->a;
	const char *want[2] = {"pre-install", "post-install"};
	char **v = NULL;
	size_t n = 0;

	if (pl->old) {
		want[0] = "pre-upgrade";
		want[1] = "post-upgrade";
	}
	for (int w = 0; w < 2; w++)
		for (size_t i = 0; i < pl->f.nscripts; i++)
			if (!strcmp(pl->f.scripts[i].name + 1, want[w]))
				strv_push(&v, &n, copa_xstrdup(want[w]));
	if (pl->f.triggers)
		for (size_t i = 0; i < pl->f.nscripts; i++)
			if (!strcmp(pl->f.scripts[i].name, ".trigger"))
				strv_push(&v, &n, copa_xstrdup("trigger"));
	for (size_t t = 0; t < a->ntrig; t++) {
		const struct ipkg *p = a->trig[t];
		bool fired = false;

		if (!strcmp(p->name, pl->rec->pkg.name))
			continue;
		for (size_t i = 0; i < pl->rec->ndirs && !fired; i++) {
			struct copa_blob rest = copa_blob_str(p->triggers), w;
			char *rooted = copa_xasprintf("/%s", pl->rec->dirs[i].name);

			while (!fired && copa_blob_word(&rest, &w)) {
				char *g = copa_blob_dup(w);

				fired = fnmatch(g, rooted, FNM_PATHNAME) == 0;
				free(g);
			}
			free(rooted);
		}
		if (fired)
			strv_push(&v, &n,
			          copa_xasprintf("trigger (of %s %s)", p->name, p->version));
	}
	if (!v)
		v = copa_xcalloc(1, sizeof(*v));
	return v;
}

static void update_ipkg(struct copa_apkapply *a, const struct plan *pl)
{
	const struct copa_apk_pkg *np = &pl->rec->pkg;
	size_t at;
	struct ipkg *old = ipkg_by_name(a, np->name, &at), *p;

	if (old) {
		trig_remove(a, old);
		memmove(&a->ip[at], &a->ip[at + 1], (a->nip - at - 1) * sizeof(*a->ip));
		a->nip--;
		ipkg_free(old);
	}
	p = ipkg_new(np->name, np->version, np->csum, np->build_time);
	for (size_t i = 0; i < pl->f.nscripts; i++) {
		int t = script_type(copa_blob_str(pl->f.scripts[i].name + 1));

		if (t < 0)
			continue;
		copa_buf_add(&p->script[t], pl->f.scripts[i].body.p ? pl->f.scripts[i].body.p : "",
		             pl->f.scripts[i].body.n);
		p->has[t] = true;
	}
	a->ip = copa_xgrow(a->ip, &a->capip, a->nip + 1, sizeof(*a->ip));
	a->ip[a->nip++] = p;
	if (pl->f.triggers && copa_blob_trim(copa_blob_str(pl->f.triggers)).n) {
		p->triggers = copa_xstrdup(pl->f.triggers);
		trig_add(a, p);
	}
}

/*
 * Whether p's change is one ca-certificates' trigger reacts to: the package
 * itself, or certificates under the directories update-ca-certificates
 * reads. ca-certificates-bundle ships a ready bundle and runs nothing.
 */
static bool touches_certs(const struct copa_apkdb_pkg *p)
{
	if (!strcmp(p->pkg.name, "ca-certificates"))
		return true;
	for (size_t i = 0; i < p->ndirs; i++)
		if ((under(p->dirs[i].name, "usr/share/ca-certificates") ||
		     under(p->dirs[i].name, "usr/local/share/ca-certificates")) &&
		    p->dirs[i].n > 0)
			return true;
	return false;
}

int copa_apkapply_package(struct copa_apkapply *a, const char *apk_path, const char *expect_csum,
                          struct copa_pm_applied *res, struct copa_err *err)
{
	struct copa_buf file = COPA_BUF_INIT;
	struct plan pl = {0};
	const char *base = strrchr(apk_path, '/');
	int rc = -1;

	memset(res, 0, sizeof(*res));
	pl.a = a;
	copa_apkfile_init(&pl.f);
	if (copa_fs_read_file(AT_FDCWD, apk_path, APK_FILE_MAX, &file, err) < 0)
		goto out;
	pl.label = copa_xstrdup(base ? base + 1 : apk_path);
	if (copa_apkfile_read(&pl.f, file.p, file.len, a->o.keys, expect_csum, pl.label, err) < 0)
		goto out;
	free(pl.label);
	pl.label = copa_xasprintf("%s-%s", pl.f.pkg.name, pl.f.pkg.version);
	pl.old = copa_apkdb_find(&a->db, pl.f.pkg.name);
	if (copa_apkinst_record(&a->db, &pl.f, file.len, &pl.rec, err) < 0)
		goto out;
	copa_buf_release(&file);

	/* plan: every check and read before the first write */
	for (size_t i = 0; i < pl.f.n; i++)
		if (plan_entry(&pl, &pl.f.entries[i], err) < 0)
			goto out;
	if (pl.old && plan_removals(&pl, pl.old, err) < 0)
		goto out;
	for (size_t i = 0; i < pl.n; i++)
		if (stage(&pl, &pl.pe[i], err) < 0)
			goto out;

	/* write */
	for (size_t i = 0; i < pl.n; i++) {
		struct pentry *pe = &pl.pe[i];

		if ((pe->act == ACT_WRITE || pe->act == ACT_APKNEW) &&
		    write_entry(&pl, pe, err) < 0)
			goto out;
	}
	if (do_removals(&pl, err) < 0)
		goto out;
	for (size_t i = 0; i < pl.n; i++) {
		struct pentry *pe = &pl.pe[i];

		if (pe->act == ACT_SKIP) {
			record_drop_file(pl.rec, pe->path);
		} else if (pe->taken_from) {
			struct copa_apkdb_pkg *op = copa_apkdb_find(&a->db, pe->taken_from);

			if (op && record_drop_file(op, pe->path))
				copa_apkdb_put(&a->db, op);
		}
	}
	if (pl.old)
		own_record(a, pl.old, false);
	own_record(a, pl.rec, true);
	put_record(a, pl.rec);
	res->skipped = skipped_scripts(&pl);
	update_ipkg(a, &pl);
	res->name = copa_xstrdup(pl.rec->pkg.name);
	for (char **s = res->skipped; *s; s++)
		copa_debug(a->o.out, "%s: skipped %s", pl.label, *s);
	a->changed = true;
	if (!strcmp(pl.rec->pkg.name, "busybox"))
		a->busybox = true;
	for (size_t i = 0; i < pl.rec->ndirs; i++)
		for (size_t d = 0; d < COPA_APK_BUSYBOX_DIRS; d++)
			if (!strcmp(pl.rec->dirs[i].name, copa_apk_busybox_dirs[d]))
				a->bb_trigger = true;
	if (touches_certs(pl.rec) || (pl.old && touches_certs(pl.old)))
		a->certs = true;
	if ((int64_t)pl.rec->pkg.build_time > a->newest)
		a->newest = (int64_t)pl.rec->pkg.build_time;
	rc = 0;
out:
	if (rc < 0 && !copa_err_is_set(err))
		copa_err_set(err, COPA_E_BUG, "apkapply: failed without a message");
	copa_buf_release(&file);
	plan_release(&pl, rc < 0);
	return rc;
}

int copa_apkapply_remove(struct copa_apkapply *a, const char *name, struct copa_err *err)
{
	struct copa_apkdb_pkg *old = copa_apkdb_find(&a->db, name);
	struct plan pl = {0};
	size_t at;
	struct ipkg *ip;
	int rc = -1;

	if (!old)
		return copa_err_set(err, COPA_E_NOTFOUND, "package '%s' is not installed", name);
	pl.a = a;
	copa_apkfile_init(&pl.f);
	pl.label = copa_xasprintf("%s-%s", old->pkg.name, old->pkg.version);
	if (plan_removals(&pl, old, err) < 0 || do_removals(&pl, err) < 0)
		goto out;
	own_record(a, old, false);
	if (touches_certs(old))
		a->certs = true;
	copa_apkdb_remove(&a->db, name);
	if ((ip = ipkg_by_name(a, name, &at))) {
		for (int t = 2; t < 4; t++) /* pre-deinstall, post-deinstall */
			if (ip->has[t])
				copa_info(a->o.out, "%s: skipped %s", pl.label, script_types[t]);
		trig_remove(a, ip);
		memmove(&a->ip[at], &a->ip[at + 1], (a->nip - at - 1) * sizeof(*a->ip));
		a->nip--;
		ipkg_free(ip);
	}
	a->changed = true;
	rc = 0;
out:
	plan_release(&pl, rc < 0);
	return rc;
}

/* ---- finish: busybox links, certificates, database files ---- */

static int put_db_file(struct copa_apkapply *a, const char *name, const struct copa_buf *data,
                       int64_t mtime, struct copa_err *err)
{
	char *rel = join(a->dbdir, name);
	char *canon = copa_pathmap_path(a->v, rel, own_none, NULL, a->o.db_path, err);
	int r = canon ? copa_pkgfs_put_file(a->v, a->b, canon, data->p ? data->p : "", data->len,
	                                    0644, mtime, err)
	              : -1;

	free(rel);
	free(canon);
	return r;
}

int copa_apkapply_finish(struct copa_apkapply *a, struct copa_err *err)
{
	struct copa_buf out = COPA_BUF_INIT;
	int64_t mtime = a->o.mtime ? a->o.mtime : a->newest;
	int r = 0;

	if (!a->changed)
		return 0;
	if (a->busybox || a->bb_trigger) {
		struct ipkg *bb = ipkg_by_name(a, "busybox", NULL);

		if (bb && (a->busybox || bb->has[SCRIPT_TYPES - 1]) &&
		    copa_apk_busybox_links(a->v, a->b, a->busybox, mtime, a->o.out, err) < 0)
			return -1;
	}
	if (a->certs && !a->o.no_cacerts && copa_apkdb_find(&a->db, "ca-certificates") &&
	    copa_apk_update_ca(a->v, a->b, mtime, err) < 0)
		return -1;
	sort_db(a);
	copa_apkdb_write(&a->db, &out);
	r = put_db_file(a, strrchr(a->o.db_path, '/') + 1, &out, mtime, err);
	copa_buf_reset(&out);
	write_scripts(a, mtime, &out);
	if (r == 0)
		r = put_db_file(a, "scripts.tar", &out, mtime, err);
	copa_buf_reset(&out);
	write_triggers(a, &out);
	if (r == 0)
		r = put_db_file(a, "triggers", &out, mtime, err);
	copa_buf_release(&out);
	return r;
}

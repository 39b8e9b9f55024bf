/*
 * dpkgdb.c: the dpkg database model (see dpkgdb.h). Field order, value
 * normalisation and sort order follow dpkg 1.21 (lib/dpkg/parse.c
 * fieldinfos, dump.c, fields.c f_dependency, parsehelp.c parseversion).
 */
#include "pkg/deb/dpkgdb.h"

#include "layer/view.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_ADMINDIR "var/lib/dpkg"

/* ---- small helpers ---- */

static bool c_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool c_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *lower_dup(struct copa_blob b)
{
	char *s = copa_blob_dup(b);

	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

bool copa_dpkg_name_valid(const char *name)
{
	if (!name || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-+._", *p))
			return false;
	return strlen(name) <= 256;
}

/* ---- conffiles ---- */

void copa_dpkg_conffiles_free(struct copa_dpkg_conffile *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].path);
		free(c[i].hash);
	}
	free(c);
}

/* The last blank-separated word of [start, end): sets *w and *wn; end of the rest in *rest_end. */
static void last_word(const char *start, const char *end, const char **w, size_t *wn,
                      const char **rest_end)
{
	const char *e = end, *b;

	while (e > start && c_blank(e[-1]))
		e--;
	b = e;
	while (b > start && !c_blank(b[-1]))
		b--;
	*w = b;
	*wn = (size_t)(e - b);
	while (b > start && c_blank(b[-1]))
		b--;
	*rest_end = b;
}

int copa_dpkg_conffiles_parse(struct copa_blob value, struct copa_dpkg_conffile **out, size_t *n,
                              struct copa_err *err)
{
	struct copa_dpkg_conffile *v = NULL;
	size_t count = 0, cap = 0;
	struct copa_blob rest = value, line;

	*out = NULL;
	*n = 0;
	while (rest.p && copa_blob_split(&rest, '\n', &line)) {
		const char *start = line.p, *end = line.p + line.n, *w, *fend;
		size_t wn;
		bool obsolete = false, rm = false;

		while (end > start && (end[-1] == '\r' || c_blank(end[-1])))
			end--;
		if (end == start)
			continue;
		if (!c_blank(*start) && start != value.p) {
			copa_dpkg_conffiles_free(v, count);
			return copa_err_set(err, COPA_E_INPUT,
			                    "Conffiles line '%.*s' does not start with a space",
			                    (int)(end - start), start);
		}
		while (start < end && c_blank(*start))
			start++;
		last_word(start, end, &w, &wn, &fend);
		if (wn == 17 && !memcmp(w, "remove-on-upgrade", 17)) {
			rm = true;
			last_word(start, fend, &w, &wn, &fend);
		}
		if (wn == 8 && !memcmp(w, "obsolete", 8)) {
			obsolete = true;
			last_word(start, fend, &w, &wn, &fend);
		}
		/* dpkg strips "/" and "./" prefixes and adds one "/". */
		while (start < fend &&
		       (*start == '/' || (*start == '.' && start + 1 < fend && start[1] == '/')))
			start += *start == '/' ? 1 : 2;
		if (fend <= start || wn == 0) {
			copa_dpkg_conffiles_free(v, count);
			return copa_err_set(err, COPA_E_INPUT,
			                    "Conffiles line '%.*s' has no file name or no hash",
			                    (int)(end - line.p), line.p);
		}
		if (count >= COPA_DPKGDB_MAX_DIVERSIONS) {
			copa_dpkg_conffiles_free(v, count);
			return copa_err_set(err, COPA_E_LIMIT, "more than %d conffiles",
			                    COPA_DPKGDB_MAX_DIVERSIONS);
		}
		v = copa_xgrow(v, &cap, count + 1, sizeof(*v));
		v[count].path = copa_xasprintf("/%.*s", (int)(fend - start), start);
		v[count].hash = copa_xstrndup(w, wn);
		v[count].obsolete = obsolete;
		v[count].remove_on_upgrade = rm;
		count++;
	}
	*out = v;
	*n = count;
	return 0;
}

void copa_dpkg_ctl_conffiles_free(struct copa_dpkg_ctl_conffile *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].path);
	free(c);
}

int copa_dpkg_ctl_conffiles_parse(const char *text, size_t n, struct copa_dpkg_ctl_conffile **out,
                                  size_t *count, struct copa_err *err)
{
	struct copa_dpkg_ctl_conffile *v = NULL;
	size_t c = 0, cap = 0;
	struct copa_blob rest = copa_blob(text, n), line;

	*out = NULL;
	*count = 0;
	if (n && memchr(text, '\0', n))
		return copa_err_set(err, COPA_E_INPUT, "conffiles: the file contains a NUL byte");
	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		const char *s = line.p, *e = line.p + line.n;
		bool rm = false;

		/* dpkg reads lines with fgets: the last one needs its newline. */
		if (!rest.p && line.n)
			goto bad_end;
		while (e > s && c_space(e[-1]))
			e--;
		if (e == s)
			continue;
		if (*s != '/') {
			const char *sp = memchr(s, ' ', (size_t)(e - s));

			if (!sp || (size_t)(sp - s) != 17 || memcmp(s, "remove-on-upgrade", 17) ||
			    sp + 1 >= e || sp[1] != '/') {
				copa_dpkg_ctl_conffiles_free(v, c);
				return copa_err_set(err, COPA_E_INPUT,
				                    "conffiles: '%.*s' is not an absolute path",
				                    (int)(e - s), s);
			}
			rm = true;
			s = sp + 1;
		}
		for (const char *p = s; p < e; p++)
			if ((unsigned char)*p < 0x20) {
				copa_dpkg_ctl_conffiles_free(v, c);
				return copa_err_set(err, COPA_E_INPUT,
				                    "conffiles: control character in '%.*s'",
				                    (int)(e - s), s);
			}
		if (c >= 100000) {
			copa_dpkg_ctl_conffiles_free(v, c);
			return copa_err_set(err, COPA_E_LIMIT, "conffiles: too many lines");
		}
		v = copa_xgrow(v, &cap, c + 1, sizeof(*v));
		v[c].path = copa_xstrndup(s, (size_t)(e - s));
		v[c].remove_on_upgrade = rm;
		c++;
	}
	*out = v;
	*count = c;
	return 0;
bad_end:
	copa_dpkg_ctl_conffiles_free(v, c);
	return copa_err_set(err, COPA_E_INPUT,
	                    "conffiles: the last line '%.*s' has no final newline", (int)line.n,
	                    line.p);
}

/* ---- packages ---- */

void copa_dpkg_pkg_free(struct copa_dpkg_pkg *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->arch);
	free(p->version);
	free(p->multi_arch);
	free(p->want);
	free(p->eflag);
	free(p->status);
	copa_dpkg_conffiles_free(p->conffiles, p->n_conffiles);
	free(p->text);
	free(p->statusd_file);
	free(p);
}

static bool word_in(struct copa_blob w, const char *const *set)
{
	for (; *set; set++)
		if (copa_blob_eqs(w, *set))
			return true;
	return false;
}

static int parse_status_field(struct copa_dpkg_pkg *p, struct copa_blob v, const char *what,
                              struct copa_err *err)
{
	static const char *const wants[] = {"unknown",   "install", "hold",
	                                    "deinstall", "purge",   NULL};
	static const char *const eflags[] = {"ok", "reinstreq", NULL};
	static const char *const states[] = {
	    "not-installed",    "config-files",     "half-installed", "unpacked", "half-configured",
	    "triggers-awaited", "triggers-pending", "installed",      NULL};
	struct copa_blob w[3], extra;
	const char *const *sets[3] = {wants, eflags, states};

	for (int i = 0; i < 3; i++)
		if (!copa_blob_word(&v, &w[i]) || !word_in(w[i], sets[i]))
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s: package '%s' has an invalid Status", what,
			                    p->name);
	if (copa_blob_word(&v, &extra))
		return copa_err_set(err, COPA_E_INPUT, "%s: package '%s' has an invalid Status",
		                    what, p->name);
	p->want = copa_blob_dup(w[0]);
	p->eflag = copa_blob_dup(w[1]);
	p->status = copa_blob_dup(w[2]);
	return 0;
}

static int pkg_from_para(struct copa_dpkg_pkg *p, const struct copa_deb822_para *para,
                         const char *what, struct copa_err *err)
{
	struct copa_blob name = copa_deb822_get_trim(para, "Package"), v;

	if (!name.p || !name.n)
		return copa_err_set(err, COPA_E_INPUT,
		                    "%s line %zu: stanza without a Package field", what,
		                    para->line);
	p->name = lower_dup(name);
	if (!copa_dpkg_name_valid(p->name))
		return copa_err_set(err, COPA_E_INPUT, "%s line %zu: invalid package name '%s'",
		                    what, para->line, p->name);
	p->arch = copa_blob_dup(copa_deb822_get_trim(para, "Architecture"));
	p->version = copa_blob_dup(copa_deb822_get_trim(para, "Version"));
	p->multi_arch = lower_dup(copa_deb822_get_trim(para, "Multi-Arch"));
	v = copa_deb822_get(para, "Status");
	if (v.p && parse_status_field(p, v, what, err) < 0)
		return -1;
	v = copa_deb822_get(para, "Conffiles");
	if (v.p && copa_dpkg_conffiles_parse(v, &p->conffiles, &p->n_conffiles, err) < 0)
		return copa_err_wrap(err, "%s: package '%s'", what, p->name);
	p->text_len = para->text.n + 1;
	p->text = copa_xmalloc(p->text_len + 1);
	memcpy(p->text, para->text.p, para->text.n);
	p->text[para->text.n] = '\n';
	p->text[p->text_len] = '\0';
	return 0;
}

struct copa_dpkg_pkg *copa_dpkg_pkg_parse(const char *text, size_t n, const char *what,
                                          struct copa_err *err)
{
	struct copa_deb822_parser ps;
	struct copa_deb822_para para = {0};
	struct copa_dpkg_pkg *p = copa_xcalloc(1, sizeof(*p));
	int r;

	copa_deb822_init(&ps, text, n, what, false);
	r = copa_deb822_next(&ps, &para, err);
	if (r == 0)
		r = copa_err_set(err, COPA_E_INPUT, "%s: no stanza", what);
	if (r > 0)
		r = pkg_from_para(p, &para, what, err);
	if (r >= 0) {
		struct copa_deb822_para more = {0};

		r = copa_deb822_next(&ps, &more, err);
		if (r > 0)
			r = copa_err_set(err, COPA_E_INPUT, "%s: more than one stanza", what);
		copa_deb822_para_release(&more);
	}
	copa_deb822_para_release(&para);
	if (r < 0) {
		copa_dpkg_pkg_free(p);
		return NULL;
	}
	return p;
}

/* ---- the database ---- */

struct copa_dpkgdb *copa_dpkgdb_new(enum copa_dpkgdb_layout layout, const char *admindir)
{
	struct copa_dpkgdb *db = copa_xcalloc(1, sizeof(*db));

	db->layout = layout;
	db->admindir = copa_xstrdup(admindir ? admindir : DEFAULT_ADMINDIR);
	while (db->admindir[0] == '/')
		memmove(db->admindir, db->admindir + 1, strlen(db->admindir));
	return db;
}

void copa_dpkgdb_free(struct copa_dpkgdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++)
		copa_dpkg_pkg_free(db->pkgs[i]);
	free(db->pkgs);
	for (size_t i = 0; i < db->n_divs; i++) {
		free(db->divs[i].from);
		free(db->divs[i].to);
		free(db->divs[i].package);
	}
	free(db->divs);
	for (size_t i = 0; i < db->n_overrides; i++)
		free(db->overrides[i].path);
	free(db->overrides);
	free(db->admindir);
	copa_strmap_release(&db->by_name_arch);
	copa_arena_release(&db->keys);
	free(db);
}

static bool is_same(const struct copa_dpkg_pkg *p)
{
	return p->multi_arch && !strcmp(p->multi_arch, "same");
}

/* "name\0arch" into b, the key of by_name_arch. */
static void name_arch_key(struct copa_buf *b, const char *name, const char *arch)
{
	copa_buf_reset(b);
	copa_buf_add(b, name, strlen(name) + 1);
	copa_buf_adds(b, arch);
}

static bool has_name_arch(const struct copa_dpkgdb *db, const char *name, const char *arch)
{
	struct copa_buf k = COPA_BUF_INIT;
	uint32_t v;
	bool r;

	name_arch_key(&k, name, arch);
	r = copa_strmap_get(&db->by_name_arch, k.p, k.len, &v);
	copa_buf_release(&k);
	return r;
}

static void index_pkg(struct copa_dpkgdb *db, const struct copa_dpkg_pkg *p)
{
	struct copa_buf k = COPA_BUF_INIT;

	name_arch_key(&k, p->name, p->arch);
	copa_strmap_put(&db->by_name_arch, copa_arena_memdup(&db->keys, k.p, k.len), k.len, 1);
	copa_buf_release(&k);
}

static void unindex_pkg(struct copa_dpkgdb *db, const struct copa_dpkg_pkg *p)
{
	struct copa_buf k = COPA_BUF_INIT;

	name_arch_key(&k, p->name, p->arch);
	copa_strmap_del(&db->by_name_arch, k.p, k.len);
	copa_buf_release(&k);
}

/* Checks the cap before a stanza is parsed, so a huge database costs no more than the cap. */
static int check_room(const struct copa_dpkgdb *db, const char *what, struct copa_err *err)
{
	if (db->n >= COPA_DPKGDB_MAX_PACKAGES)
		return copa_err_set(err, COPA_E_LIMIT, "%s: more than %d packages", what,
		                    COPA_DPKGDB_MAX_PACKAGES);
	return 0;
}

static int append_pkg(struct copa_dpkgdb *db, struct copa_dpkg_pkg *p, const char *what,
                      struct copa_err *err)
{
	if (check_room(db, what, err) < 0) {
		copa_dpkg_pkg_free(p);
		return -1;
	}
	/* A hash lookup: a linear one per stanza made a 100,000-package status take a minute. */
	if (has_name_arch(db, p->name, p->arch)) {
		copa_err_set(err, COPA_E_INPUT, "%s: package '%s%s%s' is listed twice", what,
		             p->name, *p->arch ? ":" : "", p->arch);
		copa_dpkg_pkg_free(p);
		return -1;
	}
	index_pkg(db, p);
	db->pkgs = copa_xgrow(db->pkgs, &db->cap, db->n + 1, sizeof(*db->pkgs));
	db->pkgs[db->n++] = p;
	return 0;
}

int copa_dpkgdb_parse_status(struct copa_dpkgdb *db, const char *text, size_t n, const char *what,
                             struct copa_err *err)
{
	struct copa_deb822_parser ps;
	struct copa_deb822_para para = {0};
	int r;

	copa_deb822_init(&ps, text, n, what, false);
	while ((r = copa_deb822_next(&ps, &para, err)) == 1) {
		struct copa_dpkg_pkg *p;

		if (check_room(db, what, err) < 0) {
			r = -1;
			break;
		}
		p = copa_xcalloc(1, sizeof(*p));
		if (pkg_from_para(p, &para, what, err) < 0) {
			copa_dpkg_pkg_free(p);
			r = -1;
			break;
		}
		if (append_pkg(db, p, what, err) < 0) {
			r = -1;
			break;
		}
	}
	copa_deb822_para_release(&para);
	return r < 0 ? -1 : 0;
}

int copa_dpkgdb_add_statusd(struct copa_dpkgdb *db, const char *file, const char *text, size_t n,
                            struct copa_err *err)
{
	char *what = copa_xasprintf("'status.d/%s'", file);
	struct copa_dpkg_pkg *p;
	int r;

	if (check_room(db, what, err) < 0) {
		free(what);
		return -1;
	}
	p = copa_dpkg_pkg_parse(text, n, what, err);
	if (!p) {
		free(what);
		return -1;
	}
	p->statusd_file = copa_xstrdup(file);
	if (p->status)
		db->statusd_status_field = true;
	r = append_pkg(db, p, what, err);
	free(what);
	return r;
}

int copa_dpkg_pkg_cmp(const char *name_a, const char *arch_a, bool same_a, const char *name_b,
                      const char *arch_b, bool same_b)
{
	int r = strcmp(name_a, name_b);

	if (r)
		return r;
	if (!strcmp(arch_a, arch_b))
		return 0;
	if (same_a && same_b)
		return strcmp(arch_a, arch_b);
	if (same_a)
		return 1;
	return same_b ? -1 : 0;
}

struct copa_dpkg_pkg *copa_dpkgdb_find(struct copa_dpkgdb *db, const char *name, const char *arch,
                                       const char *multi_arch)
{
	bool same = multi_arch && !strcasecmp(multi_arch, "same");
	struct copa_dpkg_pkg *any = NULL;

	for (size_t i = 0; i < db->n; i++) {
		struct copa_dpkg_pkg *p = db->pkgs[i];

		if (strcmp(p->name, name))
			continue;
		if (arch && !strcmp(p->arch, arch))
			return p;
		/* A package that is not Multi-Arch: same has one instance per set. */
		if (!same && !any && !is_same(p))
			any = p;
		/* Cross-grading a Multi-Arch: same instance to another kind. */
		if (!same && !any && !arch)
			any = p;
	}
	return any;
}

void copa_dpkgdb_replace(struct copa_dpkgdb *db, struct copa_dpkg_pkg *old, struct copa_dpkg_pkg *p)
{
	size_t pos = db->n;

	p->dirty = true;
	if (old) {
		for (size_t i = 0; i < db->n; i++)
			if (db->pkgs[i] == old) {
				if (!p->statusd_file && old->statusd_file)
					p->statusd_file = copa_xstrdup(old->statusd_file);
				unindex_pkg(db, old);
				index_pkg(db, p);
				db->pkgs[i] = p;
				copa_dpkg_pkg_free(old);
				return;
			}
		COPA_BUG("replacing a package that is not in the database");
	}
	index_pkg(db, p);
	/* dpkg writes the status file sorted: insert before the first greater one. */
	for (size_t i = 0; i < db->n; i++)
		if (copa_dpkg_pkg_cmp(db->pkgs[i]->name, db->pkgs[i]->arch, is_same(db->pkgs[i]),
		                      p->name, p->arch, is_same(p)) > 0) {
			pos = i;
			break;
		}
	db->pkgs = copa_xgrow(db->pkgs, &db->cap, db->n + 1, sizeof(*db->pkgs));
	memmove(db->pkgs + pos + 1, db->pkgs + pos, (db->n - pos) * sizeof(*db->pkgs));
	db->pkgs[pos] = p;
	db->n++;
}

void copa_dpkgdb_write_status(const struct copa_dpkgdb *db, struct copa_buf *out)
{
	copa_buf_reset(out);
	copa_buf_add(out, "", 0);
	for (size_t i = 0; i < db->n; i++) {
		copa_buf_add(out, db->pkgs[i]->text, db->pkgs[i]->text_len);
		copa_buf_addc(out, '\n');
	}
}

/* ---- diversions, stat overrides ---- */

int copa_dpkgdb_parse_diversions(struct copa_dpkgdb *db, const char *text, size_t n,
                                 struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), l[3];
	size_t cap = db->n_divs, lineno = 0;

	for (;;) {
		int got = 0;

		for (int i = 0; i < 3; i++) {
			if (!rest.n || !copa_blob_split(&rest, '\n', &l[i]))
				break;
			lineno++;
			got++;
		}
		if (got == 0)
			return 0;
		if (got < 3 || !l[0].n || !l[1].n || !l[2].n || l[0].p[0] != '/' ||
		    l[1].p[0] != '/')
			return copa_err_set(
			    err, COPA_E_INPUT,
			    "'diversions' line %zu: expected three lines (from, to, package)",
			    lineno);
		if (db->n_divs >= COPA_DPKGDB_MAX_DIVERSIONS)
			return copa_err_set(err, COPA_E_LIMIT, "'diversions': more than %d entries",
			                    COPA_DPKGDB_MAX_DIVERSIONS);
		db->divs = copa_xgrow(db->divs, &cap, db->n_divs + 1, sizeof(*db->divs));
		db->divs[db->n_divs].from = copa_blob_dup(l[0]);
		db->divs[db->n_divs].to = copa_blob_dup(l[1]);
		db->divs[db->n_divs].package =
		    copa_blob_eqs(l[2], ":") ? NULL : copa_blob_dup(l[2]);
		db->n_divs++;
	}
}

const char *copa_dpkgdb_divert(const struct copa_dpkgdb *db, const char *path, const char *pkg)
{
	for (size_t i = 0; i < db->n_divs; i++) {
		const struct copa_dpkg_diversion *d = &db->divs[i];

		if (strcmp(d->from, path))
			continue;
		if (d->package && pkg && !strcmp(d->package, pkg))
			return NULL;
		return d->to;
	}
	return NULL;
}

const struct copa_dpkg_diversion *copa_dpkgdb_diverted_to(const struct copa_dpkgdb *db,
                                                          const char *path)
{
	for (size_t i = 0; i < db->n_divs; i++)
		if (!strcmp(db->divs[i].to, path))
			return &db->divs[i];
	return NULL;
}

static int parse_id(struct copa_blob w, bool group, copa_dpkg_name_lookup lookup, void *ctx,
                    uint32_t *id)
{
	uint64_t v;
	char *name;
	int r;

	if (w.n > 1 && w.p[0] == '#') {
		if (copa_blob_to_u64(copa_blob(w.p + 1, w.n - 1), UINT32_MAX, &v) < 0)
			return -1;
		*id = (uint32_t)v;
		return 0;
	}
	if (!lookup)
		return -1;
	name = copa_blob_dup(w);
	r = lookup(ctx, group, name, id);
	free(name);
	return r;
}

int copa_dpkgdb_parse_statoverride(struct copa_dpkgdb *db, const char *text, size_t n,
                                   copa_dpkg_name_lookup lookup, void *ctx, struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	size_t cap = db->n_overrides, lineno = 0;

	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob w[3], path;
		struct copa_dpkg_statoverride o;
		unsigned long mode;
		char *end, *m;

		lineno++;
		if (!line.n)
			continue;
		if (!copa_blob_word(&line, &w[0]) || !copa_blob_word(&line, &w[1]) ||
		    !copa_blob_word(&line, &w[2]))
			return copa_err_set(err, COPA_E_INPUT,
			                    "'statoverride' line %zu: too few fields", lineno);
		path = copa_blob_trim(line);
		if (!path.n || path.p[0] != '/')
			return copa_err_set(err, COPA_E_INPUT,
			                    "'statoverride' line %zu: the path is not absolute",
			                    lineno);
		m = copa_blob_dup(w[2]);
		errno = 0;
		mode = strtoul(m, &end, 8);
		if (*end || end == m || errno || mode > 07777) {
			free(m);
			return copa_err_set(err, COPA_E_INPUT,
			                    "'statoverride' line %zu: invalid mode", lineno);
		}
		free(m);
		/* dpkg ignores overrides naming users or groups it cannot find. */
		if (parse_id(w[0], false, lookup, ctx, &o.uid) < 0 ||
		    parse_id(w[1], true, lookup, ctx, &o.gid) < 0)
			continue;
		if (db->n_overrides >= COPA_DPKGDB_MAX_DIVERSIONS)
			return copa_err_set(err, COPA_E_LIMIT, "'statoverride': too many entries");
		o.mode = (uint32_t)mode;
		o.path = copa_blob_dup(path);
		db->overrides =
		    copa_xgrow(db->overrides, &cap, db->n_overrides + 1, sizeof(*db->overrides));
		db->overrides[db->n_overrides++] = o;
	}
	return 0;
}

const struct copa_dpkg_statoverride *copa_dpkgdb_statoverride(const struct copa_dpkgdb *db,
                                                              const char *path)
{
	for (size_t i = 0; i < db->n_overrides; i++)
		if (!strcmp(db->overrides[i].path, path))
			return &db->overrides[i];
	return NULL;
}

char *copa_dpkgdb_info_path(const struct copa_dpkgdb *db, const char *name, const char *arch,
                            const char *multi_arch, const char *what)
{
	bool same = multi_arch && !strcasecmp(multi_arch, "same") && arch && *arch;

	if (same)
		return copa_xasprintf("%s/info/%s:%s.%s", db->admindir, name, arch, what);
	return copa_xasprintf("%s/info/%s.%s", db->admindir, name, what);
}

/* ---- .list and .md5sums ---- */

int copa_dpkg_list_foreach(const char *text, size_t n, int (*fn)(void *ctx, struct copa_blob path),
                           void *ctx)
{
	struct copa_blob rest = copa_blob(text, n), line;

	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		int r;

		if (!line.n)
			continue;
		r = fn(ctx, line);
		if (r)
			return r;
	}
	return 0;
}

static bool all_hex(struct copa_blob b)
{
	for (size_t i = 0; i < b.n; i++)
		if (!isxdigit((unsigned char)b.p[i]))
			return false;
	return true;
}

int copa_dpkg_md5sums_foreach(const char *text, size_t n, const char *what,
                              int (*fn)(void *ctx, struct copa_blob md5, struct copa_blob path),
                              void *ctx, struct copa_err *err)
{
	struct copa_blob rest = copa_blob(text, n), line;
	size_t lineno = 0;

	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob md5, path;
		size_t i = 32;
		int r;

		lineno++;
		if (!line.n)
			continue;
		md5 = copa_blob(line.p, line.n < 32 ? line.n : 32);
		if (line.n < 34 || !all_hex(md5) || !c_blank(line.p[32]))
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s line %zu: expected '<md5>  <path>'", what, lineno);
		while (i < line.n && c_blank(line.p[i]))
			i++;
		if (i < line.n && line.p[i] == '*')
			i++;
		path = copa_blob(line.p + i, line.n - i);
		while (path.n && path.p[path.n - 1] == '\r')
			path.n--;
		if (!path.n)
			return copa_err_set(err, COPA_E_INPUT, "%s line %zu: no path", what,
			                    lineno);
		r = fn(ctx, md5, path);
		if (r)
			return r;
	}
	return 0;
}

/* ---- versions and dependencies ---- */

int copa_dpkg_version_normalize(struct copa_blob v, struct copa_buf *out, struct copa_err *err)
{
	const char *s = v.p, *end = v.p + v.n, *colon, *hyphen, *up, *upend;
	unsigned long epoch = 0;

	while (s < end && c_blank(*s))
		s++;
	while (end > s && c_blank(end[-1]))
		end--;
	if (s == end)
		return copa_err_set(err, COPA_E_INPUT, "version string is empty");
	for (const char *p = s; p < end; p++)
		if (c_space(*p))
			return copa_err_set(err, COPA_E_INPUT, "version '%.*s' has embedded spaces",
			                    (int)(end - s), s);
	colon = memchr(s, ':', (size_t)(end - s));
	up = s;
	if (colon) {
		const char *p = s;

		if (p < colon && (*p == '+' || *p == '-'))
			p++;
		if (p == colon)
			return copa_err_set(err, COPA_E_INPUT, "version '%.*s': epoch is empty",
			                    (int)(end - s), s);
		if (*s == '-' && colon - s > 1)
			return copa_err_set(err, COPA_E_INPUT, "version '%.*s': epoch is negative",
			                    (int)(end - s), s);
		for (; p < colon; p++) {
			if (!isdigit((unsigned char)*p))
				return copa_err_set(err, COPA_E_INPUT,
				                    "version '%.*s': epoch is not a number",
				                    (int)(end - s), s);
			epoch = epoch * 10 + (unsigned long)(*p - '0');
			if (epoch > INT_MAX)
				return copa_err_set(err, COPA_E_INPUT,
				                    "version '%.*s': epoch is too big",
				                    (int)(end - s), s);
		}
		up = colon + 1;
		if (up == end)
			return copa_err_set(err, COPA_E_INPUT,
			                    "version '%.*s': nothing after the colon",
			                    (int)(end - s), s);
	}
	hyphen = NULL;
	for (const char *p = up; p < end; p++)
		if (*p == '-')
			hyphen = p;
	upend = hyphen ? hyphen : end;
	if (hyphen && hyphen + 1 == end)
		return copa_err_set(err, COPA_E_INPUT, "version '%.*s': revision is empty",
		                    (int)(end - s), s);
	if (upend == up)
		return copa_err_set(err, COPA_E_INPUT, "version '%.*s': version number is empty",
		                    (int)(end - s), s);
	/* vdew_nonambig: the epoch is shown when non-zero or when a ':' needs it. */
	if (epoch || memchr(up, ':', (size_t)(end - up)))
		copa_buf_addf(out, "%lu:", epoch);
	copa_buf_add(out, up, (size_t)(end - up));
	return 0;
}

static bool no_alternatives(const char *field)
{
	return !strcasecmp(field, "Conflicts") || !strcasecmp(field, "Breaks") ||
	       !strcasecmp(field, "Provides") || !strcasecmp(field, "Replaces");
}

int copa_dpkg_dep_normalize(const char *field, struct copa_blob value, struct copa_buf *out,
                            struct copa_err *err)
{
	_cleanup_free_ char *buf = copa_blob_dup(value);
	const char *p = buf;
	bool first_group = true;

	while (c_space(*p))
		p++;
	if (!*p)
		return 0;
	for (;;) {
		bool first_alt = true;

		if (!first_group)
			copa_buf_adds(out, ", ");
		first_group = false;
		for (;;) {
			const char *ns = p;
			char *name;

			while (*p && !c_space(*p) && *p != ':' && *p != '(' && *p != ',' &&
			       *p != '|')
				p++;
			if (p == ns)
				return copa_err_set(err, COPA_E_INPUT,
				                    "'%s' field: missing package name, or garbage "
				                    "where a package name is expected",
				                    field);
			name = lower_dup(copa_blob(ns, (size_t)(p - ns)));
			if (!copa_dpkg_name_valid(name)) {
				copa_err_set(err, COPA_E_INPUT,
				             "'%s' field: invalid package name '%s'", field, name);
				free(name);
				return -1;
			}
			if (!first_alt)
				copa_buf_adds(out, " | ");
			first_alt = false;
			copa_buf_adds(out, name);
			free(name);
			if (*p == ':') {
				const char *as = ++p;

				while (*p && !c_space(*p) && *p != '(' && *p != ',' && *p != '|')
					p++;
				if (p == as)
					return copa_err_set(err, COPA_E_INPUT,
					                    "'%s' field: missing architecture name",
					                    field);
				copa_buf_addc(out, ':');
				copa_buf_add(out, as, (size_t)(p - as));
			}
			while (c_space(*p))
				p++;
			if (*p == '(') {
				const char *op, *vs;
				char c1;

				p++;
				while (c_space(*p))
					p++;
				c1 = *p;
				if (c1 == '<' || c1 == '>') {
					char c2 = *++p;

					if (c2 == '=') {
						op = c1 == '<' ? "<=" : ">=";
						p++;
					} else if (c2 == c1) {
						op = c1 == '<' ? "<<" : ">>";
						p++;
					} else if (c2 == '<' || c2 == '>') {
						return copa_err_set(
						    err, COPA_E_INPUT,
						    "'%s' field: bad version relationship %c%c",
						    field, c1, c2);
					} else {
						/* Obsolete '<' and '>' mean '<=' and '>='. */
						op = c1 == '<' ? "<=" : ">=";
					}
				} else if (c1 == '=') {
					op = "=";
					p++;
				} else {
					op = "=";
				}
				while (c_space(*p))
					p++;
				vs = p;
				while (*p && *p != ')' && *p != '(' && !c_space(*p))
					p++;
				{
					const char *ve = p;

					while (c_space(*p))
						p++;
					if (!*p)
						return copa_err_set(
						    err, COPA_E_INPUT,
						    "'%s' field: version unterminated", field);
					if (*p != ')')
						return copa_err_set(err, COPA_E_INPUT,
						                    "'%s' field: version contains "
						                    "'%c' instead of ')'",
						                    field, *p);
					copa_buf_addf(out, " (%s ", op);
					if (copa_dpkg_version_normalize(
					        copa_blob(vs, (size_t)(ve - vs)), out, err) < 0)
						return copa_err_wrap(err, "'%s' field", field);
					copa_buf_addc(out, ')');
				}
				p++;
				while (c_space(*p))
					p++;
			}
			if (!*p || *p == ',')
				break;
			if (*p != '|')
				return copa_err_set(err, COPA_E_INPUT,
				                    "'%s' field: syntax error after a package name",
				                    field);
			if (no_alternatives(field))
				return copa_err_set(
				    err, COPA_E_INPUT,
				    "alternatives ('|') are not allowed in the '%s' field", field);
			p++;
			while (c_space(*p))
				p++;
		}
		if (!*p)
			break;
		p++;
		while (c_space(*p))
			p++;
	}
	return 0;
}

/* ---- building a stanza ---- */

enum fkind {
	F_PACKAGE,
	F_BOOL,
	F_STATUS,
	F_PRIORITY,
	F_SECTION,
	F_CHAR,
	F_ARCH,
	F_MULTIARCH,
	F_VERSION,
	F_NULL, /* known, not written for an installed package */
	F_DEP,
	F_CONFFILES,
	F_OBSDEP, /* obsolete dependency field merged into another */
};

struct fieldinfo {
	const char *name;
	enum fkind kind;
	const char *target; /* F_OBSDEP: the field it is merged into */
};

/* dpkg's fieldinfos[] (lib/dpkg/parse.c), in writing order. */
static const struct fieldinfo fieldinfos[] = {
    {"Package", F_PACKAGE, NULL},
    {"Essential", F_BOOL, NULL},
    {"Protected", F_BOOL, NULL},
    {"Status", F_STATUS, NULL},
    {"Priority", F_PRIORITY, NULL},
    {"Section", F_SECTION, NULL},
    {"Installed-Size", F_CHAR, NULL},
    {"Origin", F_CHAR, NULL},
    {"Maintainer", F_CHAR, NULL},
    {"Bugs", F_CHAR, NULL},
    {"Architecture", F_ARCH, NULL},
    {"Multi-Arch", F_MULTIARCH, NULL},
    {"Source", F_CHAR, NULL},
    {"Version", F_VERSION, NULL},
    {"Config-Version", F_NULL, NULL},
    {"Replaces", F_DEP, NULL},
    {"Provides", F_DEP, NULL},
    {"Depends", F_DEP, NULL},
    {"Pre-Depends", F_DEP, NULL},
    {"Recommends", F_DEP, NULL},
    {"Suggests", F_DEP, NULL},
    {"Breaks", F_DEP, NULL},
    {"Conflicts", F_DEP, NULL},
    {"Enhances", F_DEP, NULL},
    {"Conffiles", F_CONFFILES, NULL},
    {"Filename", F_NULL, NULL},
    {"Size", F_NULL, NULL},
    {"MD5sum", F_NULL, NULL},
    {"MSDOS-Filename", F_NULL, NULL},
    {"Description", F_CHAR, NULL},
    {"Triggers-Pending", F_NULL, NULL},
    {"Triggers-Awaited", F_NULL, NULL},
    /* Obsolete fields dpkg remaps or drops. */
    {"Recommended", F_OBSDEP, "Recommends"},
    {"Optional", F_OBSDEP, "Suggests"},
    {"Class", F_NULL, NULL},
    {"Revision", F_NULL, NULL},
    {"Package-Revision", F_NULL, NULL},
    {"Package_Revision", F_NULL, NULL},
};

static const struct fieldinfo *known_field(struct copa_blob name)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(fieldinfos); i++)
		if (copa_blob_eqs_ci(name, fieldinfos[i].name))
			return &fieldinfos[i];
	return NULL;
}

/* The value as dpkg keeps it: leading blanks gone, trailing whitespace trimmed. */
static struct copa_blob dpkg_value(struct copa_blob v)
{
	if (!v.p)
		return v;
	while (v.n && c_space(v.p[v.n - 1]))
		v.n--;
	return v;
}

/* parse_nv: a case-insensitive prefix match, the rest blank; -1 when none matches. */
static int parse_nv(struct copa_blob v, const char *const *names, bool *junk)
{
	*junk = false;
	for (int i = 0; names[i]; i++) {
		size_t n = strlen(names[i]);

		if (v.n >= n && !strncasecmp(v.p, names[i], n)) {
			for (size_t j = n; j < v.n; j++)
				if (!c_space(v.p[j]))
					*junk = true;
			return i;
		}
	}
	return -1;
}

static int write_bool(const struct fieldinfo *fi, struct copa_blob v, struct copa_buf *out,
                      struct copa_err *err)
{
	static const char *const names[] = {"no", "yes", NULL};
	bool junk;
	int r;

	if (!v.n)
		return 0;
	r = parse_nv(v, names, &junk);
	if (r < 0 || junk)
		return copa_err_set(err, COPA_E_INPUT,
		                    "boolean (yes/no) '%s' field: invalid value '%.*s'", fi->name,
		                    (int)v.n, v.p);
	if (r == 1)
		copa_buf_addf(out, "%s: yes\n", fi->name);
	return 0;
}

static int write_priority(struct copa_blob v, struct copa_buf *out, struct copa_err *err)
{
	static const char *const names[] = {"required", "important", "standard", "optional",
	                                    "extra",    "unknown",   NULL};
	bool junk;
	int r;

	if (!v.n)
		return 0;
	r = parse_nv(v, names, &junk);
	if (r >= 0 && junk)
		return copa_err_set(err, COPA_E_INPUT, "word in 'Priority' field: trailing junk");
	if (r == 5)
		return 0; /* "unknown" is not written */
	if (r >= 0)
		copa_buf_addf(out, "Priority: %s\n", names[r]);
	else
		copa_buf_addf(out, "Priority: %.*s\n", (int)v.n, v.p);
	return 0;
}

static int write_multiarch(struct copa_blob v, struct copa_buf *out, struct copa_err *err)
{
	static const char *const names[] = {"no", "same", "allowed", "foreign", NULL};
	bool junk;
	int r;

	if (!v.n)
		return 0;
	r = parse_nv(v, names, &junk);
	if (r < 0 || junk)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "quadstate (foreign/allowed/same/no) 'Multi-Arch' field: invalid value '%.*s'",
		    (int)v.n, v.p);
	if (r > 0)
		copa_buf_addf(out, "Multi-Arch: %s\n", names[r]);
	return 0;
}

/* Collects every value of dependency field `name` (and its obsolete aliases), in order. */
static int write_deps(const struct fieldinfo *fi, const struct copa_deb822_para *c,
                      struct copa_buf *out, struct copa_err *err)
{
	struct copa_buf vals = COPA_BUF_INIT;
	bool any = false;
	int r = 0;

	for (size_t i = 0; i < c->n && r == 0; i++) {
		const struct fieldinfo *k = known_field(c->f[i].name);
		struct copa_blob v = dpkg_value(c->f[i].value);

		if (!k || !(k == fi || (k->kind == F_OBSDEP && !strcmp(k->target, fi->name))))
			continue;
		if (!v.n)
			continue;
		if (any)
			copa_buf_adds(&vals, ", ");
		r = copa_dpkg_dep_normalize(fi->name, v, &vals, err);
		any = true;
	}
	if (r == 0 && any && vals.len)
		copa_buf_addf(out, "%s: %s\n", fi->name, copa_buf_str(&vals));
	copa_buf_release(&vals);
	return r;
}

static void write_conffiles(const struct copa_dpkg_stanza_in *in, struct copa_buf *out)
{
	if (!in->n_conffiles)
		return;
	copa_buf_adds(out, "Conffiles:\n");
	for (size_t i = 0; i < in->n_conffiles; i++) {
		const struct copa_dpkg_conffile *c = &in->conffiles[i];

		copa_buf_addf(out, " %s %s%s%s\n", c->path, c->hash, c->obsolete ? " obsolete" : "",
		              c->remove_on_upgrade ? " remove-on-upgrade" : "");
	}
}

int copa_dpkg_stanza_build(const struct copa_dpkg_stanza_in *in, struct copa_buf *out,
                           struct copa_err *err)
{
	const struct copa_deb822_para *c = in->control;

	for (size_t i = 0; i < COPA_ARRAY_SIZE(fieldinfos); i++) {
		const struct fieldinfo *fi = &fieldinfos[i];
		struct copa_blob v = dpkg_value(copa_deb822_get(c, fi->name));
		int r = 0;

		switch (fi->kind) {
		case F_PACKAGE: {
			char *name = lower_dup(copa_blob_trim(v));

			if (!copa_dpkg_name_valid(name)) {
				r = copa_err_set(err, COPA_E_INPUT, "invalid package name '%s'",
				                 name);
			} else {
				copa_buf_addf(out, "Package: %s\n", name);
			}
			free(name);
			break;
		}
		case F_BOOL:
			r = write_bool(fi, v, out, err);
			break;
		case F_STATUS:
			if (in->status)
				copa_buf_addf(out, "Status: %s\n", in->status);
			break;
		case F_PRIORITY:
			if ((!v.p || !v.n) && in->old)
				v = dpkg_value(copa_deb822_get(in->old, "Priority"));
			r = write_priority(v, out, err);
			break;
		case F_SECTION:
			if ((!v.p || !v.n) && in->old)
				v = dpkg_value(copa_deb822_get(in->old, "Section"));
			if (v.n)
				copa_buf_addf(out, "Section: %.*s\n", (int)v.n, v.p);
			break;
		case F_CHAR:
		case F_ARCH:
			if (v.n)
				copa_buf_addf(out, "%s: %.*s\n", fi->name, (int)v.n, v.p);
			break;
		case F_MULTIARCH:
			r = write_multiarch(v, out, err);
			break;
		case F_VERSION:
			if (v.n) {
				copa_buf_adds(out, "Version: ");
				r = copa_dpkg_version_normalize(v, out, err);
				if (r < 0)
					copa_err_wrap(err, "'Version' field");
				copa_buf_addc(out, '\n');
			}
			break;
		case F_DEP:
			r = write_deps(fi, c, out, err);
			break;
		case F_CONFFILES:
			write_conffiles(in, out);
			break;
		case F_NULL:
		case F_OBSDEP:
			break;
		}
		if (r < 0)
			return -1;
	}
	/* User-defined fields, in their original order and spelling. */
	for (size_t i = 0; i < c->n; i++) {
		struct copa_blob v = dpkg_value(c->f[i].value);

		if (known_field(c->f[i].name))
			continue;
		copa_buf_add(out, c->f[i].name.p, c->f[i].name.n);
		copa_buf_adds(out, ": ");
		copa_buf_add(out, v.p ? v.p : "", v.n);
		copa_buf_addc(out, '\n');
	}
	return out->overflow ? copa_err_set(err, COPA_E_LIMIT, "status stanza too large") : 0;
}

/* ---- loading from an image ---- */

struct idmaps {
	struct copa_buf passwd, group;
};

static int lookup_id(void *ctx, bool group, const char *name, uint32_t *id)
{
	struct idmaps *m = ctx;
	const struct copa_buf *b = group ? &m->group : &m->passwd;
	struct copa_blob rest = copa_blob(b->p, b->len), line;
	size_t nlen = strlen(name);

	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_blob f, r2 = line, idf;
		uint64_t v;

		if (!copa_blob_split(&r2, ':', &f) || !copa_blob_eq(f, copa_blob(name, nlen)))
			continue;
		if (!copa_blob_split(&r2, ':', &f) || !copa_blob_split(&r2, ':', &idf))
			continue;
		if (copa_blob_to_u64(idf, UINT32_MAX, &v) < 0)
			continue;
		*id = (uint32_t)v;
		return 0;
	}
	/* root is 0 even in an image without /etc/passwd or /etc/group. */
	if (!strcmp(name, "root")) {
		*id = 0;
		return 0;
	}
	return -1;
}

static int read_optional(struct copa_view *v, const char *path, struct copa_buf *out, bool *found,
                         struct copa_err *err)
{
	const struct copa_view_entry *e = NULL;
	struct copa_buf canon = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;

	*found = false;
	copa_buf_reset(out);
	if (copa_view_resolve(v, path, COPA_VIEW_FOLLOW, &canon, &e, &e2) < 0 || !e) {
		copa_buf_release(&canon);
		return 0;
	}
	copa_buf_release(&canon);
	if (copa_view_read(v, path, COPA_DPKGDB_MAX_FILE, out, err) < 0)
		return -1;
	*found = true;
	return 0;
}

static int load_statusd(struct copa_view *v, struct copa_dpkgdb *db, const char *dir,
                        struct copa_err *err)
{
	const struct copa_view_entry **kids = NULL;
	size_t n = 0;
	struct copa_buf data = COPA_BUF_INIT;
	int r = 0;

	if (copa_view_children(v, dir, &kids, &n) < 0)
		return copa_err_set(err, COPA_E_INPUT, "'%s' is not a directory", dir);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct copa_view_entry *e = kids[i];
		size_t len = strlen(e->name);

		if (e->type != COPA_FT_REG && e->type != COPA_FT_HARDLINK &&
		    e->type != COPA_FT_SYMLINK)
			continue;
		if (len > 8 && !strcmp(e->name + len - 8, ".md5sums"))
			continue;
		if (e->name[0] == '.')
			continue;
		r = copa_view_read(v, e->path, COPA_DPKGDB_MAX_FILE, &data, err);
		if (r == 0)
			r = copa_dpkgdb_add_statusd(db, e->name, copa_buf_str(&data), data.len,
			                            err);
	}
	free(kids);
	copa_buf_release(&data);
	return r;
}

/* True when text holds a non-blank line: a status file with a package paragraph in it. */
static bool has_content(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return true;
	return false;
}

int copa_dpkgdb_locate(struct copa_view *v, const char *admindir, enum copa_dpkgdb_layout *layout,
                       struct copa_err *err)
{
	_cleanup_free_ char *status =
	    copa_xasprintf("%s/status", admindir ? admindir : "var/lib/dpkg");
	_cleanup_free_ char *statusd =
	    copa_xasprintf("%s/status.d", admindir ? admindir : "var/lib/dpkg");
	const struct copa_view_entry *e = NULL, *sd = NULL;
	struct copa_buf canon = COPA_BUF_INIT;
	struct copa_buf data = COPA_BUF_INIT;
	bool have_status, have_statusd;
	int r = 1;

	have_status = copa_view_resolve(v, status, COPA_VIEW_FOLLOW, &canon, &e, NULL) == 0 && e &&
	              (e->type == COPA_FT_REG || e->type == COPA_FT_HARDLINK);
	have_statusd = copa_view_resolve(v, statusd, COPA_VIEW_FOLLOW, &canon, &sd, NULL) == 0 &&
	               sd && sd->type == COPA_FT_DIR;
	copa_buf_release(&canon);
	*layout = COPA_DPKGDB_STATUS;
	if (have_status && have_statusd) {
		if (copa_view_read(v, status, COPA_DPKGDB_MAX_FILE, &data, err) < 0)
			r = -1;
		else if (!has_content(data.p ? data.p : "", data.len))
			*layout = COPA_DPKGDB_STATUSD;
	} else if (have_statusd) {
		*layout = COPA_DPKGDB_STATUSD;
	} else if (!have_status) {
		r = 0;
	}
	copa_buf_release(&data);
	return r;
}

int copa_dpkgdb_load(struct copa_view *v, const char *admindir, struct copa_dpkgdb **out,
                     struct copa_err *err)
{
	_cleanup_free_ char *status_path = NULL, *statusd = NULL, *div = NULL, *so = NULL;
	struct copa_dpkgdb *db = NULL;
	struct copa_buf data = COPA_BUF_INIT;
	struct idmaps ids = {COPA_BUF_INIT, COPA_BUF_INIT};
	const struct copa_view_entry *sd;
	bool found;
	int r = -1;

	*out = NULL;
	db = copa_dpkgdb_new(COPA_DPKGDB_STATUS, admindir);
	status_path = copa_xasprintf("%s/status", db->admindir);
	statusd = copa_xasprintf("%s/status.d", db->admindir);
	div = copa_xasprintf("%s/diversions", db->admindir);
	so = copa_xasprintf("%s/statoverride", db->admindir);
	{
		enum copa_dpkgdb_layout layout;
		int lr = copa_dpkgdb_locate(v, db->admindir, &layout, err);

		if (lr < 0)
			goto out;
		if (lr == 0) {
			copa_err_set(err, COPA_E_NOTFOUND,
			             "the image has no dpkg database ('/%s' or '/%s/')",
			             status_path, statusd);
			goto out;
		}
		db->layout = layout;
	}
	if (db->layout == COPA_DPKGDB_STATUS) {
		if (read_optional(v, status_path, &data, &found, err) < 0)
			goto out;
		if (copa_dpkgdb_parse_status(db, copa_buf_str(&data), data.len, "'status'", err) <
		    0)
			goto out;
	} else {
		struct copa_buf canon = COPA_BUF_INIT;
		struct copa_err e2 = COPA_ERR_INIT;

		sd = NULL;
		if (copa_view_resolve(v, statusd, COPA_VIEW_FOLLOW, &canon, &sd, &e2) < 0)
			sd = NULL;
		r = sd ? load_statusd(v, db, canon.p, err) : 0;
		copa_buf_release(&canon);
		if (r < 0)
			goto out;
		r = -1;
	}
	if (read_optional(v, div, &data, &found, err) < 0)
		goto out;
	if (found && copa_dpkgdb_parse_diversions(db, copa_buf_str(&data), data.len, err) < 0)
		goto out;
	if (read_optional(v, so, &data, &found, err) < 0)
		goto out;
	if (found) {
		if (read_optional(v, "etc/passwd", &ids.passwd, &found, err) < 0 ||
		    read_optional(v, "etc/group", &ids.group, &found, err) < 0)
			goto out;
		if (copa_dpkgdb_parse_statoverride(db, copa_buf_str(&data), data.len, lookup_id,
		                                   &ids, err) < 0)
			goto out;
	}
	*out = steal_ptr(&db);
	r = 0;
out:
	copa_buf_release(&data);
	copa_buf_release(&ids.passwd);
	copa_buf_release(&ids.group);
	copa_dpkgdb_free(db);
	return r;
}

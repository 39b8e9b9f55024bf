/*
 * cacerts.c: the ca-certificates postinst, update-ca-certificates and
 * `openssl rehash`, reproduced against the merged view (see cacerts.h).
 * The shell and C sources followed are ca-certificates 20230311's
 * debian/postinst and sbin/update-ca-certificates, and OpenSSL 3.0's
 * apps/rehash.c.
 */
#include "pkg/deb/cacerts.h"

#include "pkg/certs.h"
#include "pkg/fs.h"
#include "util/arena.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONF      "etc/ca-certificates.conf"
#define CERTSDIR  "usr/share/ca-certificates"
#define LOCALDIR  "usr/local/share/ca-certificates"
#define ETCCERTS  "etc/ssl/certs"
#define BUNDLE    "ca-certificates.crt"
#define HOOKSDIR  "etc/ca-certificates/update.d"
#define MAX_CERT  (4u << 20)
#define MAX_CONF  (16u << 20)
#define MAX_CERTS 100000

/*
 * A list of strings with a hash index built on the first lookup and kept up
 * to date after it: an image controls how many certificates and
 * configuration lines there are, so membership must not be a linear scan.
 */
struct sv {
	char **v;
	size_t n, cap;
	struct copa_strmap idx;
	bool indexed;
};

static void sv_add(struct sv *s, char *str)
{
	s->v = copa_xgrow(s->v, &s->cap, s->n + 2, sizeof(*s->v));
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	if (s->indexed)
		copa_strmap_put(&s->idx, str, strlen(str), 1);
}

static void sv_release(struct sv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	copa_strmap_release(&s->idx);
	memset(s, 0, sizeof(*s));
}

static bool sv_has(struct sv *s, const char *str)
{
	uint32_t one;

	if (!s->indexed) {
		for (size_t i = 0; i < s->n; i++)
			copa_strmap_put(&s->idx, s->v[i], strlen(s->v[i]), 1);
		s->indexed = true;
	}
	return copa_strmap_get(&s->idx, str, strlen(str), &one);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sv_sort_uniq(struct sv *s)
{
	size_t w = 0;

	copa_strmap_release(&s->idx); /* its keys are about to be freed */
	s->indexed = false;
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (w && !strcmp(s->v[w - 1], s->v[i])) {
			free(s->v[i]);
			continue;
		}
		s->v[w++] = s->v[i];
	}
	s->n = w;
	if (s->v)
		s->v[w] = NULL;
}

struct ctx {
	const struct copa_cacerts_opts *o;
	struct copa_view *v;
	struct copa_layer_builder *b;
	struct copa_cacerts_result *res;
	struct sv notes;
	/*
	 * The image has the bundle but neither /etc/ca-certificates.conf nor a
	 * link in /etc/ssl/certs (distroless: no maintainer script ever ran).
	 * Only the bundle is rewritten, from the configuration the postinst
	 * would have created (conf_text), never written to the image.
	 */
	bool bundle_only;
	struct copa_buf conf_text;
};

/* ---- view helpers: the shell's test -f / -e / -L and readlink ---- */

static const struct copa_view_entry *follow(struct ctx *c, const char *path, struct copa_buf *canon)
{
	const struct copa_view_entry *e = NULL;
	struct copa_err err = COPA_ERR_INIT;

	if (copa_view_resolve(c->v, path, COPA_VIEW_FOLLOW, canon, &e, &err) < 0)
		return NULL;
	return e;
}

static bool test_f(struct ctx *c, const char *path)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = follow(c, path, &canon);

	copa_buf_release(&canon);
	return e && (e->type == COPA_FT_REG || e->type == COPA_FT_HARDLINK);
}

static bool test_e(struct ctx *c, const char *path)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = follow(c, path, &canon);

	copa_buf_release(&canon);
	return e != NULL;
}

static bool test_d(struct ctx *c, const char *path)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = follow(c, path, &canon);

	copa_buf_release(&canon);
	return e && e->type == COPA_FT_DIR;
}

/* The entry at path without following its last component (lstat). */
static const struct copa_view_entry *lstat_e(struct ctx *c, const char *path,
                                             struct copa_buf *canon)
{
	const struct copa_view_entry *e = NULL;
	struct copa_err err = COPA_ERR_INIT;

	if (copa_view_resolve(c->v, path, 0, canon, &e, &err) < 0)
		return NULL;
	return e;
}

static int read_file(struct ctx *c, const char *path, size_t max, struct copa_buf *out,
                     struct copa_err *err)
{
	return copa_pkgfs_read(c->v, c->b, path, max, out, err);
}

/* ---- the postinst's /etc/ca-certificates.conf update ---- */

static void split_list(struct sv *out, const char *list)
{
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *s = p, *e = p + n;

		while (s < e && (*s == ' ' || *s == '\t' || *s == '\n'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
			e--;
		if (e > s)
			sv_add(out, copa_xstrndup(s, (size_t)(e - s)));
		p = comma ? comma + 1 : NULL;
	}
}

/* CERTS_LIST="..." in the package's debconf config script. */
static void certs_list(const char *script, struct sv *out)
{
	const char *p = script ? strstr(script, "\nCERTS_LIST=\"") : NULL;
	const char *end;
	char *list;

	if (!p)
		return;
	p += strlen("\nCERTS_LIST=\"");
	end = strchr(p, '"');
	if (!end)
		return;
	list = copa_xstrndup(p, (size_t)(end - p));
	split_list(out, list);
	free(list);
}

struct walk_ctx {
	struct sv *out;
	size_t prefix;
	size_t count;
};

static int collect_crt(void *vctx, const struct copa_view_entry *e)
{
	struct walk_ctx *w = vctx;
	size_t n = strlen(e->name);

	/* find . -type f -name '*.crt' */
	if ((e->type == COPA_FT_REG || e->type == COPA_FT_HARDLINK) && n >= 4 &&
	    !strcmp(e->name + n - 4, ".crt") && strlen(e->path) > w->prefix) {
		if (++w->count > MAX_CERTS)
			return 1;
		sv_add(w->out, copa_xstrdup(e->path + w->prefix));
	}
	return 0;
}

/* `read line` without -r: surrounding blanks go, backslashes escape. */
static char *shell_read(const char *s, size_t n, bool raw)
{
	char *out = copa_xmalloc(n + 1);
	size_t o = 0, b = 0, e = n;

	while (b < e && (s[b] == ' ' || s[b] == '\t'))
		b++;
	while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
		e--;
	for (size_t i = b; i < e; i++) {
		if (!raw && s[i] == '\\' && i + 1 < e)
			i++;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/*
 * `grep -q "^$prefix"` over lines sorted with cmp_str (sorted_lines): the
 * first line not below the prefix starts with it when any line does.
 */
static bool line_prefix(const struct sv *sorted, const char *prefix)
{
	size_t lo = 0, hi = sorted->n, n = strlen(prefix);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sorted->v[mid], prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sorted->n && !strncmp(sorted->v[lo], prefix, n);
}

static void sorted_lines(const struct copa_buf *text, struct sv *out)
{
	struct copa_blob rest = copa_blob(text->p, text->len), line;

	while (text->len && copa_blob_split(&rest, '\n', &line))
		sv_add(out, copa_blob_dup(line));
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

static const char conf_header[] =
    "# This file lists certificates that you wish to use or to ignore to be\n"
    "# installed in /etc/ssl/certs.\n"
    "# update-ca-certificates(8) will update /etc/ssl/certs by reading this file.\n"
    "#\n"
    "# This is autogenerated by dpkg-reconfigure ca-certificates.\n"
    "# Certificates should be installed under /usr/share/ca-certificates\n"
    "# and files with extension '.crt' is recognized as available certs.\n"
    "#\n"
    "# line begins with # is comment.\n"
    "# line begins with ! is certificate filename to be deselected.\n"
    "#\n";

static int local_dir(struct ctx *c, struct copa_err *err)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *ul = follow(c, "usr/local", &canon), *ld;
	struct copa_layer_entry e = {0};
	int r = 0;

	copa_buf_release(&canon);
	ld = lstat_e(c, LOCALDIR, &canon);
	copa_buf_release(&canon);
	if (!ul)
		return 0;
	if (!ld && !test_e(c, LOCALDIR)) {
		/* mkdir -m <mode of /usr/local>; chgrp <group of /usr/local> */
		if (!test_d(c, "usr/local/share"))
			return 0;
		e.path = LOCALDIR;
		e.type = COPA_FT_DIR;
		e.mode = ul->mode;
		e.uid = 0;
		e.gid = ul->gid;
		e.mtime = c->o->mtime;
		return copa_pkgfs_put(c->v, c->b, &e, false, err);
	}
	if (c->o->db && copa_dpkgdb_statoverride(c->o->db, "/" LOCALDIR))
		return 0;
	ld = follow(c, LOCALDIR, &canon);
	if (ld && ld->type == COPA_FT_DIR &&
	    (ld->mode != ul->mode || ld->uid != ul->uid || ld->gid != ul->gid)) {
		e.path = copa_buf_str(&canon);
		e.type = COPA_FT_DIR;
		e.mode = ul->mode;
		e.uid = ul->uid;
		e.gid = ul->gid;
		e.mtime = ld->mtime;
		r = copa_pkgfs_put(c->v, c->b, &e, false, err);
	}
	copa_buf_release(&canon);
	return r;
}

static int configure(struct ctx *c, struct copa_err *err)
{
	struct sv avail = {0}, enabled = {0}, disabled = {0}, trust = {0}, lines = {0},
	          appended = {0};
	struct copa_buf conf = COPA_BUF_INIT, out = COPA_BUF_INIT;
	const char *trust_new = c->o->trust_new ? c->o->trust_new : "yes";
	bool have_conf = test_f(c, CONF);
	struct walk_ctx w;
	int r;

	r = c->bundle_only ? 0 : local_dir(c, err);
	if (r < 0)
		return -1;
	if (have_conf && read_file(c, CONF, MAX_CONF, &conf, err) < 0)
		return -1;
	/* config: the certificates available and those enabled. */
	w.out = &avail;
	w.prefix = strlen(CERTSDIR) + 1;
	w.count = 0;
	if (copa_view_walk(c->v, CERTSDIR, collect_crt, &w) > 0) {
		r = copa_err_set(err, COPA_E_LIMIT, "more than %d certificates in '/%s'", MAX_CERTS,
		                 CERTSDIR);
		goto out;
	}
	certs_list(c->o->config_script, &avail);
	sv_sort_uniq(&avail);
	{
		struct copa_blob rest = copa_blob(conf.p, conf.len), line;

		while (conf.len && copa_blob_split(&rest, '\n', &line)) {
			if (line.n && line.p[0] == '!')
				sv_add(&disabled, copa_xstrndup(line.p + 1, line.n - 1));
			else if (!line.n || line.p[0] != '#')
				sv_add(&trust, copa_blob_dup(line));
		}
	}
	for (size_t i = 0; i < avail.n; i++) {
		if (sv_has(&disabled, avail.v[i]))
			continue;
		if (sv_has(&trust, avail.v[i]) || !strcmp(trust_new, "yes"))
			sv_add(&enabled, copa_xstrdup(avail.v[i]));
	}
	/* postinst: rewrite the configuration. */
	if (have_conf) {
		struct copa_blob rest = copa_blob(conf.p, conf.len), line;

		while (conf.len && copa_blob_split(&rest, '\n', &line)) {
			char *l, *ca;
			bool bang;

			if (!rest.p && !line.n)
				break; /* `read` sees no line after the final newline */
			l = shell_read(line.p, line.n, false);
			if (l[0] == '#') {
				copa_buf_addf(&out, "%s\n", l);
				free(l);
				continue;
			}
			bang = l[0] == '!';
			ca = bang ? l + 1 : l;
			if (sv_has(&enabled, ca) || (!*ca && enabled.n == 0))
				copa_buf_addf(&out, "%s\n", ca);
			else if (sv_has(&avail, ca) || bang || (!*ca && avail.n == 0))
				copa_buf_addf(&out, "!%s\n", ca);
			else {
				char *p1 = copa_xasprintf(CERTSDIR "/%s", ca);
				char *p2 = copa_xasprintf(LOCALDIR "/%s", ca);

				copa_buf_addf(&out, "%s%s\n",
				              *ca && (test_f(c, p1) || test_f(c, p2)) ? "" : "!",
				              ca);
				free(p1);
				free(p2);
			}
			free(l);
		}
		/*
		 * The postinst's `grep -q "^$crt"` against the file as it grows. Both
		 * lists are sorted and without duplicates, so a line appended here is
		 * below every later query and never its match, except the enabled
		 * lines for the '!' queries after them: those are searched as well.
		 */
		sorted_lines(&out, &lines);
		for (size_t i = 0; i < enabled.n; i++)
			if (!line_prefix(&lines, enabled.v[i])) {
				copa_buf_addf(&out, "%s\n", enabled.v[i]);
				sv_add(&appended, copa_xstrdup(enabled.v[i]));
			}
		for (size_t i = 0; i < avail.n; i++) {
			char *neg;

			if (sv_has(&enabled, avail.v[i]))
				continue;
			neg = copa_xasprintf("!%s", avail.v[i]);
			if (!line_prefix(&lines, neg) && !line_prefix(&appended, neg))
				copa_buf_addf(&out, "%s\n", neg);
			free(neg);
		}
		if (out.len != conf.len || (out.len && memcmp(out.p, conf.p, out.len))) {
			const struct copa_view_entry *ce;
			struct copa_buf canon = COPA_BUF_INIT;
			struct copa_layer_entry e = {0};

			ce = lstat_e(c, CONF, &canon);
			e.path = CONF ".dpkg-old";
			e.type = COPA_FT_REG;
			e.mode = ce ? ce->mode : 0644;
			e.uid = ce ? ce->uid : 0;
			e.gid = ce ? ce->gid : 0;
			e.mtime = ce ? ce->mtime : c->o->mtime;
			e.size = conf.len;
			e.content = conf.p ? conf.p : "";
			copa_buf_release(&canon);
			r = copa_pkgfs_put(c->v, c->b, &e, true, err);
			if (r == 0)
				r = copa_pkgfs_put_file(c->v, c->b, CONF, out.p, out.len, 0644,
				                        c->o->mtime, err);
			if (r == 0)
				sv_add(&c->notes,
				       copa_xstrdup("updated /etc/ca-certificates.conf (previous "
				                    "version kept as .dpkg-old)"));
		}
	} else {
		struct sv all = {0};

		copa_buf_adds(&out, conf_header);
		for (size_t i = 0; i < enabled.n; i++)
			sv_add(&all, copa_xasprintf("%s\t2", enabled.v[i]));
		/* sort | uniq -c over ENABLED and AVAILABLE: in both -> trusted, else '!' */
		for (size_t i = 0; i < avail.n; i++)
			sv_add(&all, copa_xstrdup(avail.v[i]));
		{
			struct sv names = {0};

			for (size_t i = 0; i < avail.n; i++)
				sv_add(&names, copa_xstrdup(avail.v[i]));
			for (size_t i = 0; i < enabled.n; i++)
				sv_add(&names, copa_xstrdup(enabled.v[i]));
			sv_sort_uniq(&names);
			for (size_t i = 0; i < names.n; i++) {
				bool in_e = sv_has(&enabled, names.v[i]),
				     in_a = sv_has(&avail, names.v[i]);

				copa_buf_addf(&out, "%s%s\n", in_e && in_a ? "" : "!", names.v[i]);
			}
			sv_release(&names);
		}
		sv_release(&all);
		if (c->bundle_only) {
			copa_buf_add(&c->conf_text, out.p, out.len);
			goto out;
		}
		r = copa_pkgfs_put_file(c->v, c->b, CONF, out.p, out.len, 0644, c->o->mtime, err);
		if (r == 0)
			sv_add(&c->notes, copa_xstrdup("created /etc/ca-certificates.conf"));
	}
out:
	sv_release(&avail);
	sv_release(&enabled);
	sv_release(&disabled);
	sv_release(&trust);
	sv_release(&lines);
	sv_release(&appended);
	copa_buf_release(&conf);
	copa_buf_release(&out);
	return r;
}

/* ---- update-ca-certificates ---- */

static char *pem_name(const char *cert, bool translate)
{
	const char *base = strrchr(cert, '/');
	size_t n;
	char *s;

	base = base ? base + 1 : cert;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".crt"))
		n -= 4;
	s = copa_xasprintf(ETCCERTS "/%.*s.pem", (int)n, base);
	if (translate)
		for (char *p = s + strlen(ETCCERTS) + 1; *p; p++) {
			if (*p == ' ' || *p == ',')
				*p = '_';
			else if (*p == '(' || *p == ')')
				*p = '=';
		}
	return s;
}

struct symlinks {
	struct sv paths;
};

static int collect_links(void *vctx, const struct copa_view_entry *e)
{
	struct sv *s = vctx;

	if (e->type == COPA_FT_SYMLINK) {
		if (s->n >= MAX_CERTS * 4)
			return 1;
		sv_add(s, copa_xstrdup(e->path));
	}
	return 0;
}

static int remove_path(struct ctx *c, const char *path, struct copa_err *err)
{
	return copa_pkgfs_remove(c->v, c->b, path, err);
}

struct update {
	struct copa_buf bundle;
	bool bundle_made;
	unsigned added, removed, certs;
};

static int add_cert(struct ctx *c, struct update *u, const char *cert, struct copa_err *err)
{
	char *pem = pem_name(cert, true);
	struct copa_buf canon = COPA_BUF_INIT, data = COPA_BUF_INIT;
	const struct copa_view_entry *le = lstat_e(c, pem, &canon);
	int r = 0;

	if (c->bundle_only)
		; /* no links */
	else if (!test_e(c, pem) || !le || le->type != COPA_FT_SYMLINK || !le->link ||
	         strcmp(le->link, cert)) {
		r = copa_pkgfs_put_symlink(c->v, c->b, pem, cert, c->o->mtime, err);
		u->added++;
	}
	if (r == 0)
		r = read_file(c, cert, MAX_CERT, &data, err);
	if (r == 0) {
		copa_buf_add(&u->bundle, data.p, data.len);
		if (data.len && data.p[data.len - 1] != '\n')
			copa_buf_addc(&u->bundle, '\n');
		u->bundle_made = true;
		u->certs++;
	}
	copa_buf_release(&canon);
	copa_buf_release(&data);
	free(pem);
	return r;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* find -L DIR -type f -name '*.crt': paths as find prints them (through symlinks). */
static void find_local(struct ctx *c, const char *shown, const char *real, int depth,
                       struct sv *out)
{
	const struct copa_view_entry **kids = NULL;
	size_t n = 0;

	if (depth > 16 || copa_view_children(c->v, real, &kids, &n) < 0)
		return;
	for (size_t i = 0; i < n && out->n < MAX_CERTS; i++) {
		const struct copa_view_entry *e = kids[i];
		char *path = copa_xasprintf("%s/%s", shown, e->name);
		struct copa_buf canon = COPA_BUF_INIT;
		const struct copa_view_entry *t = e;
		size_t len = strlen(e->name);

		if (e->type == COPA_FT_SYMLINK)
			t = follow(c, e->path, &canon);
		else
			copa_buf_adds(&canon, e->path);
		if (t && t->type == COPA_FT_DIR)
			find_local(c, path, copa_buf_str(&canon), depth + 1, out);
		else if (t && (t->type == COPA_FT_REG || t->type == COPA_FT_HARDLINK) && len >= 4 &&
		         !strcmp(e->name + len - 4, ".crt"))
			sv_add(out, copa_xstrdup(path));
		free(path);
		copa_buf_release(&canon);
	}
	free(kids);
}

static int update(struct ctx *c, struct copa_err *err)
{
	struct copa_buf conf = COPA_BUF_INIT, canon = COPA_BUF_INIT;
	struct update u = {COPA_BUF_INIT, false, 0, 0, 0};
	struct sv links = {0}, local = {0};
	bool fresh;
	int r = 0;

	if (!test_d(c, ETCCERTS)) {
		sv_add(
		    &c->notes,
		    copa_xstrdup("'/" ETCCERTS
		                 "' does not exist: the certificate bundle was not regenerated"));
		return 0;
	}
	if (c->bundle_only)
		copa_buf_add(&conf, c->conf_text.p, c->conf_text.len);
	else if (test_f(c, CONF) && read_file(c, CONF, MAX_CONF, &conf, err) < 0)
		return -1;
	fresh = conf.len == 0 && !c->bundle_only;
	if (fresh) {
		/* Clearing symlinks that point into the certificate directories, then dangling
		 * ones. */
		copa_view_walk(c->v, ETCCERTS, collect_links, &links);
		for (size_t i = 0; i < links.n && r == 0; i++) {
			const struct copa_view_entry *e = copa_view_get(c->v, links.v[i]);

			if (e && e->link &&
			    (!strncmp(e->link, "/" CERTSDIR, strlen(CERTSDIR) + 1) ||
			     !strncmp(e->link, "/" LOCALDIR, strlen(LOCALDIR) + 1)))
				r = remove_path(c, links.v[i], err);
		}
		for (size_t i = 0; i < links.n && r == 0; i++)
			if (copa_view_get(c->v, links.v[i]) && !test_f(c, links.v[i]))
				r = remove_path(c, links.v[i], err);
		sv_release(&links);
	}
	/* Deselected certificates: "!" lines. */
	{
		struct copa_blob rest = copa_blob(conf.p, conf.len), line;

		while (r == 0 && conf.len && copa_blob_split(&rest, '\n', &line)) {
			char *crt, *pem, *cert;
			const struct copa_view_entry *le;

			if (!line.n || line.p[0] != '!')
				continue;
			crt = shell_read(line.p + 1, line.n - 1, true);
			cert = copa_xasprintf("/" CERTSDIR "/%s", crt);
			pem = pem_name(cert, false);
			copa_buf_reset(&canon);
			le = lstat_e(c, pem, &canon);
			if (le && le->type == COPA_FT_SYMLINK && !c->bundle_only) {
				r = remove_path(c, copa_buf_str(&canon), err);
				u.removed++;
			}
			free(pem);
			free(cert);
			free(crt);
		}
	}
	/* Selected certificates, in the order of the configuration. */
	{
		struct copa_blob rest = copa_blob(conf.p, conf.len), line;

		while (r == 0 && conf.len && copa_blob_split(&rest, '\n', &line)) {
			char *crt, *cert;

			if (!line.n || line.p[0] == '#' || line.p[0] == '!')
				continue;
			crt = shell_read(line.p, line.n, true);
			cert = copa_xasprintf("/" CERTSDIR "/%s", crt);
			if (!*crt || !test_f(c, cert))
				copa_warn(c->o->out, "%s not found, but listed in /" CONF, cert);
			else
				r = add_cert(c, &u, cert, err);
			free(cert);
			free(crt);
		}
	}
	/* Certificates installed by the local administrator. */
	if (r == 0 && test_d(c, LOCALDIR)) {
		copa_buf_reset(&canon);
		if (follow(c, LOCALDIR, &canon))
			find_local(c, "/" LOCALDIR, copa_buf_str(&canon), 0, &local);
		if (local.n > 1)
			qsort(local.v, local.n, sizeof(*local.v), cmp_cstr);
		for (size_t i = 0; i < local.n && r == 0; i++)
			r = add_cert(c, &u, local.v[i], err);
	}
	if (r == 0 && (u.added || u.removed) && !c->bundle_only) {
		/* Orphan symlinks would make rehash fail: they go first. */
		copa_view_walk(c->v, ETCCERTS, collect_links, &links);
		for (size_t i = 0; i < links.n && r == 0; i++)
			if (copa_view_get(c->v, links.v[i]) && !test_e(c, links.v[i]))
				r = remove_path(c, links.v[i], err);
		if (r == 0)
			r = copa_certs_rehash(c->v, c->b, ETCCERTS, c->o->mtime, err);
		c->res->rehashed = true;
	}
	if (r == 0 && u.bundle_made)
		r = copa_pkgfs_put_file(c->v, c->b, ETCCERTS "/" BUNDLE, u.bundle.p, u.bundle.len,
		                        0644, c->o->mtime, err);
	if (r == 0 && c->bundle_only) {
		c->res->certificates = u.certs;
		sv_add(&c->notes,
		       copa_xasprintf("regenerated /" ETCCERTS "/" BUNDLE
		                      ": %u certificates (the image has no /" CONF
		                      " nor certificate links, so only the bundle was updated)",
		                      u.certs));
	} else if (r == 0) {
		c->res->added = u.added;
		c->res->removed = u.removed;
		c->res->certificates = u.certs;
		sv_add(&c->notes,
		       copa_xasprintf(
		           "regenerated /" ETCCERTS "/" BUNDLE
		           " as update-ca-certificates does: %u certificates, %u added, %u removed",
		           u.certs, u.added, u.removed));
	}
	sv_release(&links);
	sv_release(&local);
	copa_buf_release(&conf);
	copa_buf_release(&canon);
	copa_buf_release(&u.bundle);
	return r;
}

static void note_hooks(struct ctx *c)
{
	const struct copa_view_entry **kids = NULL;
	size_t n = 0;

	if (copa_view_children(c->v, HOOKSDIR, &kids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool valid = kids[i]->name[0] != '\0';

		/* run-parts: names of letters, digits, '_' and '-', executable. */
		for (const char *p = kids[i]->name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
				valid = false;
		if (valid && kids[i]->type != COPA_FT_DIR && (kids[i]->mode & 0111))
			sv_add(&c->notes,
			       copa_xasprintf("skipped update-ca-certificates hook '/%s'",
			                      kids[i]->path));
	}
	free(kids);
}

int copa_cacerts_update(const struct copa_cacerts_opts *o, struct copa_cacerts_result *res,
                        struct copa_err *err)
{
	struct ctx c = {.o = o, .v = o->view, .b = o->builder, .res = res};
	int r = 0;

	memset(res, 0, sizeof(*res));
	if (!test_f(&c, CONF) && test_f(&c, ETCCERTS "/" BUNDLE)) {
		struct sv links = {0};

		copa_view_walk(c.v, ETCCERTS, collect_links, &links);
		c.bundle_only = links.n == 0;
		sv_release(&links);
	}
	if (o->configure || c.bundle_only)
		r = configure(&c, err);
	if (r == 0)
		r = update(&c, err);
	if (r == 0)
		note_hooks(&c);
	if (r == 0)
		for (size_t i = 0; i < c.notes.n; i++)
			copa_info(o->out, "%s", c.notes.v[i]);
	copa_buf_release(&c.conf_text);
	res->notes = c.notes.v;
	if (!res->notes)
		res->notes = copa_xcalloc(1, sizeof(char *));
	return r;
}

void copa_cacerts_result_release(struct copa_cacerts_result *r)
{
	copa_strv_free(r->notes);
	memset(r, 0, sizeof(*r));
}

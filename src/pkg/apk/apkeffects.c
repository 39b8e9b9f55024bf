/* apkeffects.c: script effects reproduced natively (see apkeffects.h). */
#include "pkg/apk/apkeffects.h"

#include "pkg/certs.h"
#include "pkg/fs.h"
#include "util/blob.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

const char *const copa_apk_busybox_dirs[COPA_APK_BUSYBOX_DIRS] = {"bin", "sbin", "usr/bin",
                                                                  "usr/sbin"};

/*
 * busybox's post-install/post-upgrade: drop links to /bin/busybox in the
 * four bin directories that are no applet any more, then `busybox --install
 * -s` (a link per applet where nothing is). The applet list is the one the
 * package ships in etc/busybox-paths.d/busybox (Alpine 3.19 and later); an
 * older busybox without it keeps the links the image has. Its trigger (a
 * package installed into those directories) runs only the install part:
 * stale is false.
 */
int copa_apk_busybox_links(struct copa_view *v, struct copa_layer_builder *b, bool stale,
                           int64_t mtime, struct copa_out *out, struct copa_err *err)
{
	struct copa_buf list = COPA_BUF_INIT;
	struct copa_strmap applets = COPA_STRMAP_INIT;
	struct copa_blob rest, line;
	int r = 0;

	if (copa_pkgfs_read(v, b, "etc/busybox-paths.d/busybox", 1u << 20, &list, err) < 0) {
		copa_err_clear(err);
		copa_warn(out, "busybox: no etc/busybox-paths.d/busybox; its applet "
		               "links are left as the image has them");
		copa_buf_release(&list);
		return 0;
	}
	rest = copa_blob(list.p, list.len);
	while (rest.n && copa_blob_split(&rest, '\n', &line)) {
		line = copa_blob_trim(line);
		while (line.n && line.p[0] == '/')
			line.p++, line.n--;
		if (line.n)
			copa_strmap_put(&applets, line.p, line.n, 1);
	}
	for (size_t d = 0; stale && d < COPA_APK_BUSYBOX_DIRS && r == 0; d++) {
		const struct copa_view_entry **kids = NULL;
		size_t n = 0;
		uint32_t one;

		if (copa_view_children(v, copa_apk_busybox_dirs[d], &kids, &n) < 0)
			continue;
		for (size_t i = 0; i < n && r == 0; i++)
			if (kids[i]->type == COPA_FT_SYMLINK && kids[i]->link &&
			    !strcmp(kids[i]->link, "/bin/busybox") &&
			    !copa_strmap_get(&applets, kids[i]->path, strlen(kids[i]->path),
			                     &one)) {
				char *p = copa_xstrdup(kids[i]->path);

				r = copa_pkgfs_remove(v, b, p, err);
				free(p);
			}
		free(kids);
	}
	rest = copa_blob(list.p, list.len);
	while (r == 0 && rest.n && copa_blob_split(&rest, '\n', &line)) {
		struct copa_buf canon = COPA_BUF_INIT, norm = COPA_BUF_INIT;
		const struct copa_view_entry *ve = NULL;
		char *rel;

		line = copa_blob_trim(line);
		if (!line.n)
			continue;
		rel = copa_blob_dup(line);
		if (copa_path_normalize(rel, &norm) == 0 && norm.len &&
		    copa_view_resolve(v, copa_buf_str(&norm), 0, &canon, &ve, err) == 0 && !ve)
			r = copa_pkgfs_put_symlink(v, b, copa_buf_str(&canon), "/bin/busybox",
			                           mtime, err);
		else if (copa_err_is_set(err))
			copa_err_clear(err); /* no such directory: --install skips it */
		free(rel);
		copa_buf_release(&canon);
		copa_buf_release(&norm);
	}
	copa_strmap_release(&applets);
	copa_buf_release(&list);
	return r;
}

/* ---- ca-certificates ---- */

#define CERTSDIR      "usr/share/ca-certificates"
#define LOCALCERTSDIR "usr/local/share/ca-certificates"
#define ETCCERTSDIR   "etc/ssl/certs"
#define CERT_MAX      (1u << 20)

struct calink {
	char *name;   /* "ca-cert-<name>.pem" in etc/ssl/certs */
	char *target; /* absolute path of the certificate */
	bool done;
};

struct cacerts {
	struct calink *v;
	size_t n, cap;
	struct copa_buf bundle;
};

/* proc_localglobaldir: a link named after the file (".crt" cut, ", " -> "_", "()" -> "="), and the
 * bundle. */
static void ca_add(struct copa_view *v, struct copa_layer_builder *b, struct cacerts *c,
                   const char *rel)
{
	const char *base = strrchr(rel, '/');
	size_t n;
	char *name;
	struct copa_buf data = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;

	base = base ? base + 1 : rel;
	n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".crt"))
		n -= 4;
	name = copa_xasprintf("ca-cert-%.*s.pem", (int)n, base);
	for (char *s = name; *s; s++)
		*s = *s == ',' || *s == ' ' ? '_' : *s == '(' || *s == ')' ? '=' : *s;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, name)) {
			free(name);
			name = NULL;
			break;
		}
	if (name) {
		c->v = copa_xgrow(c->v, &c->cap, c->n + 1, sizeof(*c->v));
		c->v[c->n].name = name;
		c->v[c->n].target = copa_xasprintf("/%s", rel);
		c->v[c->n++].done = false;
	}
	if (copa_pkgfs_read(v, b, rel, CERT_MAX, &data, &e) == 0)
		copa_buf_add(&c->bundle, data.p ? data.p : "", data.len);
	copa_buf_addc(&c->bundle, '\n');
	copa_buf_release(&data);
}

static int cmp_entry_name(const void *x, const void *y)
{
	return strcmp((*(const struct copa_view_entry *const *)x)->name,
	              (*(const struct copa_view_entry *const *)y)->name);
}

/*
 * update-ca-certificates (Alpine's update-ca.c): the certificates listed in
 * etc/ca-certificates.conf (relative to usr/share/ca-certificates, "#" and
 * "!" lines skipped), then every file of usr/local/share/ca-certificates,
 * each with a "ca-cert-*.pem" link in etc/ssl/certs and its bytes plus a
 * newline in the bundle; links into those directories that are not wanted
 * any more are removed. The tool reads the local directory in readdir
 * order; copa sorts it by name. Hash links are kept right with
 * copa_certs_rehash when the image has any (the tool does not make them).
 */
int copa_apk_update_ca(struct copa_view *v, struct copa_layer_builder *b, int64_t mtime,
                       struct copa_err *err)
{
	struct cacerts c = {0};
	struct copa_buf conf = COPA_BUF_INIT;
	const struct copa_view_entry **kids = NULL;
	struct copa_err e = COPA_ERR_INIT;
	struct copa_layer_entry le = {0};
	size_t n = 0;
	bool hashes = false;
	int r = 0;

	copa_buf_init(&c.bundle, 0);
	if (copa_pkgfs_read(v, b, "etc/ca-certificates.conf", CERT_MAX, &conf, &e) == 0) {
		struct copa_blob rest = copa_blob(conf.p, conf.len), line;

		while (rest.n && copa_blob_split(&rest, '\n', &line)) {
			char *l, *rel;

			if (line.n && (line.p[0] == '#' || line.p[0] == '!'))
				continue;
			l = copa_blob_dup(line);
			rel = copa_xasprintf(CERTSDIR "/%s", l);
			ca_add(v, b, &c, rel);
			free(rel);
			free(l);
		}
	}
	copa_err_clear(&e);
	if (copa_view_children(v, LOCALCERTSDIR, &kids, &n) == 0) {
		if (n)
			qsort(kids, n, sizeof(*kids), cmp_entry_name);
		for (size_t i = 0; i < n; i++)
			if (kids[i]->name[0] != '.')
				ca_add(v, b, &c, kids[i]->path);
	}
	free(kids);
	kids = NULL;
	n = 0;
	if (copa_view_children(v, ETCCERTSDIR, &kids, &n) == 0) {
		for (size_t i = 0; i < n && r == 0; i++) {
			const struct copa_view_entry *k = kids[i];
			struct calink *want = NULL;
			char *path;

			if (k->type != COPA_FT_SYMLINK || !k->link)
				continue;
			for (size_t j = 0; j < c.n && !want; j++)
				if (!strcmp(c.v[j].name, k->name))
					want = &c.v[j];
			if (!want && strncmp(k->link, "/" CERTSDIR "/", sizeof(CERTSDIR) + 1) &&
			    strncmp(k->link, "/" LOCALCERTSDIR "/", sizeof(LOCALCERTSDIR) + 1)) {
				hashes = hashes || strchr(k->name, '.') == k->name + 8;
				continue;
			}
			if (want && !strcmp(want->target, k->link)) {
				want->done = true;
				continue;
			}
			path = copa_xstrdup(k->path);
			r = copa_pkgfs_remove(v, b, path, err);
			free(path);
		}
	}
	free(kids);
	for (size_t i = 0; i < c.n && r == 0; i++)
		if (!c.v[i].done) {
			char *path = copa_xasprintf(ETCCERTSDIR "/%s", c.v[i].name);

			r = copa_pkgfs_put_symlink(v, b, path, c.v[i].target, mtime, err);
			free(path);
		}
	if (r == 0) {
		le.path = ETCCERTSDIR "/ca-certificates.crt";
		le.type = COPA_FT_REG;
		le.mode = 0644;
		le.mtime = mtime;
		le.size = c.bundle.len;
		le.content = c.bundle.p ? c.bundle.p : "";
		r = copa_pkgfs_put(v, b, &le, true, err);
	}
	if (r == 0 && hashes)
		r = copa_certs_rehash(v, b, ETCCERTSDIR, mtime, err);
	for (size_t i = 0; i < c.n; i++) {
		free(c.v[i].name);
		free(c.v[i].target);
	}
	free(c.v);
	copa_buf_release(&c.bundle);
	copa_buf_release(&conf);
	return r < 0 ? copa_err_wrap(err, "ca-certificates") : 0;
}

#include "pkg/deb/probe_repo.h"

#include "pkg/deb/dpkgdb.h"

#include "pkg/deb/control.h"
#include "pgp/armor.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <ctype.h>
#include <fcntl.h>
#include <string.h>

void copa_deb_status_release(struct copa_deb_status *st)
{
	free(st->text);
	free(st->native_arch);
	if (st->foreign_archs)
		copa_strv_free(st->foreign_archs);
	memset(st, 0, sizeof(*st));
}

const char *copa_deb_arch_from_oci(const char *arch, const char *variant)
{
	static const struct {
		const char *oci, *variant, *deb;
	} map[] = {
	    {"amd64", NULL, "amd64"},       {"arm64", NULL, "arm64"},
	    {"386", NULL, "i386"},          {"arm", "v7", "armhf"},
	    {"arm", "v6", "armel"},         {"arm", "v5", "armel"},
	    {"arm", NULL, "armhf"},         {"ppc64le", NULL, "ppc64el"},
	    {"s390x", NULL, "s390x"},       {"riscv64", NULL, "riscv64"},
	    {"mips64le", NULL, "mips64el"}, {"mipsle", NULL, "mipsel"},
	    {"loong64", NULL, "loong64"},
	};

	if (!arch)
		return NULL;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(map); i++)
		if (strcmp(map[i].oci, arch) == 0 &&
		    (!map[i].variant || (variant && strcmp(map[i].variant, variant) == 0)))
			return map[i].deb;
	return NULL;
}

static bool valid_arch(struct copa_blob a)
{
	if (a.n == 0 || a.n > 32)
		return false;
	for (size_t i = 0; i < a.n; i++)
		if (!islower((unsigned char)a.p[i]) && !isdigit((unsigned char)a.p[i]) &&
		    a.p[i] != '-')
			return false;
	return true;
}

/* True when a status paragraph describes a package whose files are on disk. */
static bool is_installed(const struct copa_deb822_para *p)
{
	struct copa_blob s = copa_deb822_get_trim(p, "Status"), w, rest;
	int i = 0;

	if (!s.p)
		return true; /* status.d paragraphs carry no Status */
	rest = s;
	while (copa_blob_word(&rest, &w))
		if (++i == 3)
			return !copa_blob_eqs(w, "not-installed") &&
			       !copa_blob_eqs(w, "config-files");
	return false;
}

static void push_unique(char ***v, size_t *n, size_t *cap, struct copa_blob a)
{
	for (size_t i = 0; i < *n; i++)
		if (copa_blob_eqs(a, (*v)[i]))
			return;
	*v = copa_xgrow(*v, cap, *n + 2, sizeof(char *));
	(*v)[(*n)++] = copa_blob_dup(a);
	(*v)[*n] = NULL;
}

/* Native and foreign architectures from the installed packages. */
static int detect_archs(struct copa_view *v, const char *hint, struct copa_deb_status *st,
                        struct copa_err *err)
{
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	char **seen = NULL, **foreign = NULL;
	size_t ns = 0, scap = 0, nf = 0, fcap = 0, count[16] = {0};
	struct copa_blob best = COPA_BLOB_NULL;
	int rank = 0, r;

	copa_deb822_init(&p, st->text, st->len,
	                 st->distroless ? "'var/lib/dpkg/status.d'" : "'var/lib/dpkg/status'",
	                 false);
	while ((r = copa_deb822_next(&p, &para, err)) == 1) {
		struct copa_blob name = copa_deb822_get_trim(&para, "Package");
		struct copa_blob arch = copa_deb822_get_trim(&para, "Architecture");
		int this_rank;

		if (!arch.p || !valid_arch(arch) || copa_blob_eqs(arch, "all") ||
		    !is_installed(&para))
			continue;
		this_rank = copa_blob_eqs(name, "dpkg")         ? 3
		            : copa_blob_eqs(name, "base-files") ? 2
		            : copa_blob_eqs(name, "libc6")      ? 1
		                                                : 0;
		if (this_rank > rank) {
			rank = this_rank;
			best = arch;
		}
		if (ns < COPA_ARRAY_SIZE(count))
			push_unique(&seen, &ns, &scap, arch);
		for (size_t i = 0; i < ns; i++)
			if (copa_blob_eqs(arch, seen[i]))
				count[i]++;
	}
	copa_deb822_para_release(&para);
	if (r < 0)
		goto fail;
	if (!best.p && ns) {
		size_t bi = 0;

		for (size_t i = 1; i < ns; i++)
			if (count[i] > count[bi])
				bi = i;
		best = copa_blob_str(seen[bi]);
	}
	if (!best.p && hint)
		best = copa_blob_str(hint);
	if (!best.p) {
		copa_err_set(err, COPA_E_INPUT,
		             "cannot tell the dpkg architecture of the image: no installed package "
		             "names one");
		goto fail;
	}
	st->native_arch = copa_blob_dup(best);
	/* dpkg --add-architecture writes var/lib/dpkg/arch. */
	{
		struct copa_buf b = COPA_BUF_INIT;
		struct copa_err e2 = COPA_ERR_INIT;

		if (copa_view_read(v, "var/lib/dpkg/arch", 4096, &b, &e2) == 0) {
			struct copa_blob rest = copa_blob(b.p, b.len), w;

			while (copa_blob_word(&rest, &w))
				if (valid_arch(w) && !copa_blob_eqs(w, st->native_arch) &&
				    !copa_blob_eqs(w, "all") && nf < 16)
					push_unique(&foreign, &nf, &fcap, w);
		}
		copa_buf_release(&b);
	}
	for (size_t i = 0; i < ns; i++)
		if (strcmp(seen[i], st->native_arch) != 0 && nf < 16)
			push_unique(&foreign, &nf, &fcap, copa_blob_str(seen[i]));
	st->foreign_archs = foreign ? foreign : copa_xcalloc(1, sizeof(char *));
	if (seen)
		copa_strv_free(seen);
	return 0;
fail:
	if (seen)
		copa_strv_free(seen);
	return -1;
}

static int read_statusd(struct copa_view *v, const char *dir, struct copa_deb_status *st,
                        struct copa_err *err)
{
	const struct copa_view_entry **kids = NULL;
	size_t nk = 0;
	struct copa_buf all = COPA_BUF_INIT, one = COPA_BUF_INIT;
	int r = -1;

	copa_buf_init(&all, COPA_DEB_STATUS_MAX);
	if (copa_view_children(v, dir, &kids, &nk) < 0)
		return copa_err_set(err, COPA_E_NOTFOUND, "'%s' is not a directory", dir);
	if (nk > COPA_DEB_STATUSD_FILES) {
		copa_err_set(err, COPA_E_LIMIT, "'%s' has more than %d files", dir,
		             COPA_DEB_STATUSD_FILES);
		goto out;
	}
	for (size_t i = 0; i < nk; i++) {
		size_t l = strlen(kids[i]->name);
		_cleanup_free_ char *path = NULL;

		if ((l > 8 && strcmp(kids[i]->name + l - 8, ".md5sums") == 0) ||
		    kids[i]->type == COPA_FT_DIR)
			continue;
		path = copa_xasprintf("%s/%s", dir, kids[i]->name);
		if (copa_view_read(v, path, COPA_DEB_STATUS_MAX, &one, err) < 0)
			goto out;
		copa_buf_add(&all, one.p, one.len);
		/* Each file is one paragraph; keep them apart whatever their last lines are. */
		copa_buf_adds(&all, "\n\n");
		st->n_files++;
	}
	if (all.overflow) {
		copa_err_set(err, COPA_E_LIMIT, "'%s' holds more than %u bytes", dir,
		             COPA_DEB_STATUS_MAX);
		goto out;
	}
	st->text = copa_buf_detach(&all, &st->len);
	st->distroless = true;
	r = 0;
out:
	free(kids);
	copa_buf_release(&all);
	copa_buf_release(&one);
	return r;
}

int copa_deb_probe_status(struct copa_view *v, const char *arch_hint, struct copa_deb_status *st,
                          struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;

	enum copa_dpkgdb_layout layout;
	int r;

	memset(st, 0, sizeof(*st));
	/* The rule every reader of the database follows (dpkgdb.h). */
	r = copa_dpkgdb_locate(v, NULL, &layout, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return copa_err_set(
		    err, COPA_E_NOTFOUND,
		    "the image has no dpkg database (neither var/lib/dpkg/status nor "
		    "var/lib/dpkg/status.d/): it is not a Debian or Ubuntu image, or "
		    "its package database was removed");
	if (layout == COPA_DPKGDB_STATUS) {
		if (copa_view_read(v, "var/lib/dpkg/status", COPA_DEB_STATUS_MAX, &b, err) < 0) {
			copa_buf_release(&b);
			return -1;
		}
		st->text = copa_buf_detach(&b, &st->len);
		if (!st->text)
			st->text = copa_xstrdup("");
	} else if (read_statusd(v, "var/lib/dpkg/status.d", st, err) < 0) {
		return -1;
	}
	if (detect_archs(v, arch_hint, st, err) < 0) {
		copa_deb_status_release(st);
		return -1;
	}
	return 0;
}

int copa_deb_key_append(struct copa_buf *keyring, const char *data, size_t n, const char *what,
                        struct copa_err *err)
{
	if (copa_pgp_is_armored(data, n))
		return copa_pgp_dearmor(data, n, what, keyring, err) < 0 ? -1 : 0;
	/* A binary keyring starts with a public-key packet tag (old 0x99 or new 0xc6 format). */
	if (n == 0 || !((unsigned char)data[0] & 0x80))
		return copa_err_set(err, COPA_E_INPUT,
		                    "%s is not an OpenPGP key file (neither armoured nor a binary "
		                    "keyring; GnuPG keybox files are not supported)",
		                    what);
	copa_buf_add(keyring, data, n);
	return 0;
}

struct trust {
	struct copa_view *v;
	const struct copa_osrelease *os;
	const struct copa_deb_repo_opts *o;
	struct copa_buf image_default; /* trusted.gpg + trusted.gpg.d */
	char *image_default_desc;
	struct copa_buf user; /* --keyring files */
	bool have_image_default;
};

/* Reads one key file from the image; 0 when absent, 1 when added. */
static int image_key(struct trust *t, const char *path, struct copa_buf *kr, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	_cleanup_free_ char *what = NULL;
	int r;

	if (copa_view_read(t->v, path, COPA_DEB_KEYFILE_MAX, &b, &e2) < 0) {
		copa_buf_release(&b);
		if (e2.code == COPA_E_NOTFOUND)
			return 0;
		*err = e2;
		return -1;
	}
	what = copa_xasprintf("key file '%s' of the image", path);
	r = copa_deb_key_append(kr, b.p ? b.p : "", b.len, what, err) < 0 ? -1 : 1;
	copa_buf_release(&b);
	return r;
}

static int host_key(const char *path, struct copa_buf *kr, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	_cleanup_free_ char *what = copa_xasprintf("key file '%s'", path);
	int r;

	if (copa_fs_read_file(AT_FDCWD, path, COPA_DEB_KEYFILE_MAX, &b, err) < 0) {
		copa_buf_release(&b);
		return -1;
	}
	r = copa_deb_key_append(kr, b.p ? b.p : "", b.len, what, err);
	copa_buf_release(&b);
	return r;
}

static int load_image_default(struct trust *t, struct copa_err *err)
{
	struct copa_buf dir = COPA_BUF_INIT;
	const struct copa_view_entry **kids = NULL;
	size_t nk = 0, files = 0;
	struct copa_err e2 = COPA_ERR_INIT;
	int r;

	r = image_key(t, "etc/apt/trusted.gpg", &t->image_default, err);
	if (r < 0)
		return -1;
	files += (size_t)r;
	if (copa_view_resolve(t->v, "etc/apt/trusted.gpg.d", COPA_VIEW_FOLLOW, &dir, NULL, &e2) ==
	        0 &&
	    copa_view_children(t->v, copa_buf_str(&dir), &kids, &nk) == 0) {
		for (size_t i = 0; i < nk && i < 1000; i++) {
			size_t l = strlen(kids[i]->name);
			_cleanup_free_ char *path = NULL;

			if (l < 5 || (strcmp(kids[i]->name + l - 4, ".gpg") != 0 &&
			              strcmp(kids[i]->name + l - 4, ".asc") != 0))
				continue;
			path = copa_xasprintf("%s/%s", copa_buf_str(&dir), kids[i]->name);
			r = image_key(t, path, &t->image_default, err);
			if (r < 0) {
				/* apt ignores unreadable keyrings there with a warning; so does
				 * copa. */
				copa_warn(t->o->out, "ignoring %s", err->msg);
				copa_err_clear(err);
				continue;
			}
			files += (size_t)r;
		}
	}
	free(kids);
	copa_buf_release(&dir);
	t->have_image_default = files > 0;
	if (files) {
		t->image_default_desc = copa_xstrdup("the image's etc/apt/trusted.gpg(.d)");
		return 0;
	}
	/* No trusted.gpg.d: the distribution's archive keyring, the image's or the host's. */
	{
		const char *id = t->os && t->os->id ? t->os->id : "";
		const char *name = strcmp(id, "ubuntu") == 0   ? "ubuntu-archive-keyring.gpg"
		                   : strcmp(id, "debian") == 0 ? "debian-archive-keyring.gpg"
		                                               : NULL;
		_cleanup_free_ char *ipath = NULL, *hpath = NULL;

		if (!name)
			return 0;
		ipath = copa_xasprintf("usr/share/keyrings/%s", name);
		r = image_key(t, ipath, &t->image_default, err);
		if (r < 0)
			return -1;
		if (r > 0) {
			t->image_default_desc = copa_xasprintf("the image's /%s", ipath);
			return 0;
		}
		hpath = copa_xasprintf(
		    "%s/%s",
		    t->o->host_keyring_dir ? t->o->host_keyring_dir : "/usr/share/keyrings", name);
		if (!copa_fs_exists(AT_FDCWD, hpath)) {
			copa_warn(t->o->out,
			          "no %s in the image or on this machine: repositories can only be "
			          "verified with --keyring",
			          name);
			return 0;
		}
		if (host_key(hpath, &t->image_default, err) < 0)
			return -1;
		t->image_default_desc = copa_xasprintf("this machine's %s", hpath);
	}
	return 0;
}

/* The well-known archive keyrings copa may take from the host when an image lacks them. */
static bool archive_keyring(const char *path)
{
	static const char *const known[] = {
	    "/usr/share/keyrings/debian-archive-keyring.gpg",
	    "/usr/share/keyrings/debian-archive-keyring.pgp",
	    "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
	};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(known); i++)
		if (strcmp(path, known[i]) == 0)
			return true;
	return false;
}

static int resolve_one(struct trust *t, struct copa_deb_source *src, struct copa_err *err)
{
	struct copa_buf desc = COPA_BUF_INIT;
	bool need_default = !src->signed_by && !src->signed_by_key;
	char **fps = NULL;
	size_t nf = 0, fcap = 0;

	copa_buf_init(&src->keyring, COPA_DEB_KEYRING_MAX);
	if (src->signed_by_key) {
		_cleanup_free_ char *what = copa_xasprintf("the Signed-By key of %s", src->where);

		if (copa_pgp_dearmor(src->signed_by_key, strlen(src->signed_by_key), what,
		                     &src->keyring, err) < 0)
			goto fail;
		copa_buf_adds(&desc, what);
	}
	for (char **sb = src->signed_by; sb && *sb; sb++) {
		if (copa_deb_is_fingerprint(*sb)) {
			push_unique(&fps, &nf, &fcap, copa_blob_str(*sb));
			need_default = true;
			continue;
		}
		if (desc.len)
			copa_buf_adds(&desc, ", ");
		if (src->user) {
			if (host_key(*sb, &src->keyring, err) < 0)
				goto fail;
			copa_buf_addf(&desc, "'%s'", *sb);
			continue;
		}
		{
			int r = image_key(t, *sb, &src->keyring, err);

			if (r < 0)
				goto fail;
			if (r > 0) {
				copa_buf_addf(&desc, "the image's '%s'", *sb);
				continue;
			}
		}
		if (archive_keyring(*sb) && copa_fs_exists(AT_FDCWD, *sb)) {
			copa_warn(t->o->out,
			          "%s: '%s' is not in the image; using this machine's copy",
			          src->where, *sb);
			if (host_key(*sb, &src->keyring, err) < 0)
				goto fail;
			copa_buf_addf(&desc, "this machine's '%s'", *sb);
			continue;
		}
		copa_err_set(err, COPA_E_NOTFOUND,
		             "%s: the key file '%s' named by Signed-By is not in the image: give "
		             "the repository's key with --keyring",
		             src->where, *sb);
		goto fail;
	}
	if (need_default) {
		copa_buf_add(&src->keyring, t->image_default.p, t->image_default.len);
		if (t->image_default_desc) {
			if (desc.len)
				copa_buf_adds(&desc, ", ");
			copa_buf_adds(&desc, t->image_default_desc);
		}
	}
	if (t->user.len) {
		copa_buf_add(&src->keyring, t->user.p, t->user.len);
		if (desc.len)
			copa_buf_adds(&desc, ", ");
		copa_buf_adds(&desc, "--keyring");
		/* The user's keys sign with any fingerprint. */
		if (fps) {
			copa_strv_free(fps);
			fps = NULL;
		}
	}
	if (src->keyring.overflow) {
		copa_err_set(err, COPA_E_LIMIT, "%s: keys larger than %u bytes", src->where,
		             COPA_DEB_KEYRING_MAX);
		goto fail;
	}
	src->fingerprints = fps;
	src->keyring_desc = desc.len ? copa_buf_detach(&desc, NULL) : NULL;
	copa_buf_release(&desc);
	return 0;
fail:
	if (fps)
		copa_strv_free(fps);
	copa_buf_release(&desc);
	return -1;
}

/* apt reads preferences.d files named with [A-Za-z0-9_.-] and no extension or ".pref". */
static bool pref_name_ok(const char *n)
{
	const char *dot = strrchr(n, '.');

	if (!*n)
		return false;
	for (const char *q = n; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.')
			return false;
	return !dot || !strcmp(dot, ".pref");
}

static int read_prefs_file(struct copa_view *v, const char *path, struct copa_apt_prefs *out,
                           struct copa_out *log, struct copa_err *err)
{
	struct copa_buf text = COPA_BUF_INIT;
	int r;

	if (copa_view_read(v, path, COPA_DEB_PREFS_MAX, &text, err) < 0)
		return copa_err_wrap(err, "apt preferences");
	r = copa_apt_prefs_parse(text.p ? text.p : "", text.len, path, out, log, err);
	copa_buf_release(&text);
	return r;
}

int copa_deb_probe_prefs(struct copa_view *v, struct copa_apt_prefs *out, struct copa_out *log,
                         struct copa_err *err)
{
	const struct copa_view_entry *e = copa_view_get(v, "etc/apt/preferences");
	const struct copa_view_entry **kids = NULL;
	size_t nk = 0, files = 0;
	int r = 0;

	if (e && e->type == COPA_FT_REG) {
		if (read_prefs_file(v, "etc/apt/preferences", out, log, err) < 0)
			return -1;
		files++;
	}
	if (copa_view_children(v, "etc/apt/preferences.d", &kids, &nk) == 0) {
		for (size_t i = 0; i < nk && r == 0; i++) {
			_cleanup_free_ char *path = NULL;

			if (kids[i]->type != COPA_FT_REG && kids[i]->type != COPA_FT_SYMLINK)
				continue;
			if (!pref_name_ok(kids[i]->name)) {
				copa_info(log,
				          "ignoring 'etc/apt/preferences.d/%s' (apt ignores that "
				          "name too)",
				          kids[i]->name);
				continue;
			}
			path = copa_xasprintf("etc/apt/preferences.d/%s", kids[i]->name);
			r = read_prefs_file(v, path, out, log, err);
			files++;
		}
		free(kids);
	}
	if (r == 0 && out->n)
		copa_info(
		    log,
		    "apt preferences in the image: %zu pin%s in %zu file%s, applied as apt does",
		    out->n, out->n == 1 ? "" : "s", files, files == 1 ? "" : "s");
	return r;
}

int copa_deb_probe_repos(struct copa_view *v, const struct copa_osrelease *os,
                         const char *native_arch, const struct copa_deb_repo_opts *o,
                         struct copa_deb_sources *out, struct copa_err *err)
{
	struct trust t = {.v = v, .os = os, .o = o};
	int r = -1;

	if (!o->repo_replace) {
		if (copa_deb_sources_read_view(v, out, o->out, err) < 0)
			return -1;
		if (out->n == 0) {
			if (!os || !os->id) {
				if (!o->repos || !o->repos[0])
					return copa_err_set(
					    err, COPA_E_UNSUPPORTED,
					    "the image has no apt sources and no "
					    "os-release: name its repositories with "
					    "--repo");
			} else if (copa_deb_sources_default(out, os, native_arch, err) < 0) {
				if (!o->repos || !o->repos[0])
					return -1;
				copa_err_clear(err);
			} else {
				copa_info(o->out,
				          "the image has no apt sources; using the official "
				          "repositories of %s %s",
				          os->id, os->codename ? os->codename : "");
			}
		}
	}
	for (char *const *rp = o->repos; rp && *rp; rp++)
		if (copa_deb_sources_add_user(out, *rp, err) < 0)
			return -1;
	if (out->n == 0)
		return copa_err_set(err, COPA_E_USAGE, "--repo-replace needs at least one --repo");
	for (char *const *m = o->mirrors; m && *m; m++) {
		int n = copa_deb_sources_rewrite(out, *m, err);

		if (n < 0)
			return -1;
		if (n == 0)
			copa_warn(o->out, "mirror rule '%s' matches no repository", *m);
	}
	copa_buf_init(&t.image_default, COPA_DEB_KEYRING_MAX);
	copa_buf_init(&t.user, COPA_DEB_KEYRING_MAX);
	for (char *const *k = o->keyrings; k && *k; k++)
		if (host_key(*k, &t.user, err) < 0) {
			copa_err_wrap(err, "--keyring");
			goto out;
		}
	if (load_image_default(&t, err) < 0)
		goto out;
	for (size_t i = 0; i < out->n; i++)
		if (resolve_one(&t, &out->v[i], err) < 0)
			goto out;
	r = 0;
out:
	copa_buf_release(&t.image_default);
	copa_buf_release(&t.user);
	free(t.image_default_desc);
	return r;
}

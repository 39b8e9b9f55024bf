#include "core/probe.h"

#include "pkg/deb/control.h"
#include "util/buf.h"
#include "util/mem.h"

#include <ctype.h>
#include <string.h>

/* Cap for the package database files probed (they are read into memory). */
#define PKG_DB_MAX (256 * 1024 * 1024)

const char *copa_pkgmgr_name(enum copa_pkgmgr pm)
{
	switch (pm) {
	case COPA_PM_NONE:
		return NULL;
	case COPA_PM_DPKG:
		return "dpkg";
	case COPA_PM_APK:
		return "apk";
	case COPA_PM_RPM:
		return "rpm";
	}
	return NULL;
}

/* True when path resolves to something that exists in the image. */
static bool exists(struct copa_view *v, const char *path, enum copa_ftype type)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = NULL;
	bool r = copa_view_resolve(v, path, COPA_VIEW_FOLLOW, &canon, &e, NULL) == 0 && e &&
		 (e->type == type || (type == COPA_FT_REG && e->type == COPA_FT_HARDLINK));

	copa_buf_release(&canon);
	return r;
}

static bool any_exists(struct copa_view *v, const char *const *paths)
{
	for (; *paths; paths++)
		if (exists(v, *paths, COPA_FT_REG))
			return true;
	return false;
}

static int count_deb822(const struct copa_buf *b, const char *what, bool only_installed,
			long *count, struct copa_err *err)
{
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	int r;

	copa_deb822_init(&p, b->p, b->len, what, false);
	while ((r = copa_deb822_next(&p, &para, err)) == 1) {
		struct copa_blob st = copa_deb822_get_trim(&para, "Status");

		if (!copa_deb822_has(&para, "Package"))
			continue;
		/* dpkg keeps removed-but-not-purged packages; they are not installed. */
		if (only_installed && st.p && !copa_blob_ends(st, " installed"))
			continue;
		(*count)++;
	}
	copa_deb822_para_release(&para);
	return r;
}

static int probe_dpkg(struct copa_view *v, struct copa_probe *p, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	int r = 0;

	p->pm = COPA_PM_DPKG;
	p->n_packages = 0;
	if (exists(v, "var/lib/dpkg/status", COPA_FT_REG)) {
		p->db_path = copa_xstrdup("var/lib/dpkg/status");
		r = copa_view_read(v, "var/lib/dpkg/status", PKG_DB_MAX, &b, err);
		if (r == 0)
			r = count_deb822(&b, "'var/lib/dpkg/status'", true, &p->n_packages, err);
	} else {
		const struct copa_view_entry **kids;
		size_t n;

		p->db_path = copa_xstrdup("var/lib/dpkg/status.d");
		copa_view_children(v, "var/lib/dpkg/status.d", &kids, &n);
		for (size_t i = 0; i < n && r == 0; i++) {
			_cleanup_free_ char *path = NULL;
			_cleanup_free_ char *what = NULL;

			if (kids[i]->type != COPA_FT_REG ||
			    copa_blob_ends(copa_blob_str(kids[i]->name), ".md5sums"))
				continue;
			path = copa_xasprintf("var/lib/dpkg/status.d/%s", kids[i]->name);
			what = copa_xasprintf("'%s'", path);
			r = copa_view_read(v, path, PKG_DB_MAX, &b, err);
			if (r == 0)
				r = count_deb822(&b, what, false, &p->n_packages, err);
		}
		free(kids);
	}
	copa_buf_release(&b);
	if (r < 0)
		return copa_err_wrap(err, "dpkg database");
	return 0;
}

static long count_prefix_lines(const struct copa_buf *b, const char *prefix)
{
	struct copa_blob rest = copa_blob(b->p, b->len), line;
	long n = 0;

	while (copa_blob_split(&rest, '\n', &line))
		if (copa_blob_starts(line, prefix))
			n++;
	return n;
}

static int probe_apk(struct copa_view *v, struct copa_probe *p, const char *db,
		     struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;

	p->pm = COPA_PM_APK;
	p->db_path = copa_xstrdup(db);
	if (copa_view_read(v, db, PKG_DB_MAX, &b, err) < 0) {
		copa_buf_release(&b);
		return copa_err_wrap(err, "apk database");
	}
	p->n_packages = count_prefix_lines(&b, "P:");
	copa_buf_release(&b);
	return 0;
}

static int probe_rpm(struct copa_view *v, struct copa_probe *p, const char *db,
		     struct copa_err *err)
{
	p->pm = COPA_PM_RPM;
	p->db_path = copa_xstrdup(db);
	p->n_packages = -1;
	if (strstr(db, "rpmmanifest")) {
		struct copa_buf b = COPA_BUF_INIT;

		if (copa_view_read(v, db, PKG_DB_MAX, &b, err) < 0) {
			copa_buf_release(&b);
			return copa_err_wrap(err, "rpm manifest");
		}
		p->n_packages = 0;
		{
			struct copa_blob rest = copa_blob(b.p, b.len), line;

			while (copa_blob_split(&rest, '\n', &line))
				if (copa_blob_trim(line).n)
					p->n_packages++;
		}
		copa_buf_release(&b);
	}
	return 0;
}

static int probe_image(struct copa_view *v, struct copa_probe *p, struct copa_err *err)
{
	static const char *const dpkg_bins[] = {"usr/bin/dpkg", "usr/bin/apt-get", "bin/dpkg", NULL};
	static const char *const apk_bins[] = {"sbin/apk", "usr/sbin/apk", "bin/apk", NULL};
	static const char *const rpm_bins[] = {"usr/bin/rpm", "usr/bin/dnf", "usr/bin/yum",
					       "usr/bin/microdnf", "usr/bin/tdnf", "bin/rpm", NULL};
	static const char *const rpm_dbs[] = {
		"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite",
		"var/lib/rpm/Packages", "var/lib/rpm/Packages.db", "usr/lib/sysimage/rpm/Packages.db",
		"var/lib/rpmmanifest/container-manifest-2", NULL};
	int r;

	memset(p, 0, sizeof(*p));
	p->n_packages = -1;
	r = copa_osrelease_read(v, &p->os, err);
	if (r < 0)
		return copa_err_wrap(err, "os-release");
	p->has_os_release = r == 1;
	if (exists(v, "var/lib/dpkg/status", COPA_FT_REG) ||
	    exists(v, "var/lib/dpkg/status.d", COPA_FT_DIR)) {
		r = probe_dpkg(v, p, err);
		p->distroless = !any_exists(v, dpkg_bins);
		return r;
	}
	if (exists(v, "lib/apk/db/installed", COPA_FT_REG)) {
		r = probe_apk(v, p, "lib/apk/db/installed", err);
		p->distroless = !any_exists(v, apk_bins);
		return r;
	}
	if (exists(v, "usr/lib/apk/db/installed", COPA_FT_REG)) {
		r = probe_apk(v, p, "usr/lib/apk/db/installed", err);
		p->distroless = !any_exists(v, apk_bins);
		return r;
	}
	for (const char *const *db = rpm_dbs; *db; db++)
		if (exists(v, *db, COPA_FT_REG)) {
			r = probe_rpm(v, p, *db, err);
			p->distroless = !any_exists(v, rpm_bins);
			return r;
		}
	p->distroless = true;
	return 0;
}

/* On failure nothing is left to release: callers keep the probe only when it succeeds. */
int copa_probe_image(struct copa_view *v, struct copa_probe *p, struct copa_err *err)
{
	if (probe_image(v, p, err) < 0) {
		copa_probe_release(p);
		return -1;
	}
	return 0;
}

void copa_probe_release(struct copa_probe *p)
{
	copa_osrelease_release(&p->os);
	free(p->db_path);
	memset(p, 0, sizeof(*p));
}

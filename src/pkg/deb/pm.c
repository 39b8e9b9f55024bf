/*
 * pm.c: the dpkg family behind pkg/pm.h. Owns the image's dpkg database as
 * the planner, the applier and inspect read it (one reader, one rule:
 * copa_dpkgdb_locate), its APT sources, keys and pins, the verified indexes,
 * the libsolv plan and the applier.
 */
#include "pkg/pm.h"

#include "pkg/deb/apply.h"
#include "pkg/deb/control.h"
#include "pkg/deb/debfile.h"
#include "pkg/deb/debrepo.h"
#include "pkg/deb/dpkgdb.h"
#include "pkg/deb/plan.h"
#include "pkg/deb/probe_repo.h"
#include "pkg/fetch.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Cap for the package database files counted by detect (they are read into memory). */
#define PKG_DB_MAX (256 * 1024 * 1024)

struct deb_pm {
	struct copa_pm base; /* first: a struct copa_pm * is a struct deb_pm * */
	struct copa_pm_open_opts o;
	struct copa_deb_status st;
	struct copa_deb_sources sources;
	struct copa_apt_prefs prefs;
	struct copa_deb_indexes ix;
	struct copa_deb_plan plan;
	bool have_plan;
	struct copa_deb_apply_opts ao;
	struct copa_deb_apply *apply;
};

/* ---- detect ---- */

static int count_deb822(const char *text, size_t n, const char *what, bool only_installed,
                        long *count, struct copa_err *err)
{
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	int r;

	copa_deb822_init(&p, text, n, what, false);
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

static int deb_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err)
{
	static const char *const bins[] = {"usr/bin/dpkg", "usr/bin/apt-get", "bin/dpkg", NULL};
	struct copa_buf b = COPA_BUF_INIT;
	enum copa_dpkgdb_layout layout;
	int r;

	r = copa_dpkgdb_locate(v, NULL, &layout, err);
	if (r <= 0)
		return r;
	r = 0;
	info->n_packages = 0;
	info->distroless = copa_pm_distroless(v, bins);
	if (layout == COPA_DPKGDB_STATUS) {
		info->db_path = copa_xstrdup("var/lib/dpkg/status");
		r = copa_view_read(v, "var/lib/dpkg/status", PKG_DB_MAX, &b, err);
		if (r == 0)
			r = count_deb822(b.p ? b.p : "", b.len, "'var/lib/dpkg/status'", true,
			                 &info->n_packages, err);
	} else {
		const struct copa_view_entry **kids;
		size_t n;

		info->db_path = copa_xstrdup("var/lib/dpkg/status.d");
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
				r = count_deb822(b.p ? b.p : "", b.len, what, false,
				                 &info->n_packages, err);
		}
		free(kids);
	}
	copa_buf_release(&b);
	if (r < 0)
		return copa_err_wrap(err, "dpkg database");
	return 1;
}

/* ---- open ---- */

static void deb_free(struct copa_pm *pm)
{
	struct deb_pm *d = (struct deb_pm *)pm;

	if (!d)
		return;
	copa_deb_apply_free(d->apply);
	if (d->have_plan)
		copa_deb_plan_release(&d->plan);
	copa_pm_plan_release(&d->base.plan);
	copa_deb_indexes_release(&d->ix);
	copa_deb_sources_release(&d->sources);
	copa_apt_prefs_release(&d->prefs);
	copa_deb_status_release(&d->st);
	free(d);
}

static struct copa_pm *deb_open(const struct copa_pm_open_opts *o, struct copa_err *err)
{
	struct deb_pm *d = copa_xcalloc(1, sizeof(*d));
	struct copa_deb_repo_opts ro = {
	    .repos = o->repos,
	    .repo_replace = o->repos_replace,
	    .keyrings = o->keyrings,
	    .out = o->out,
	};
	struct copa_debrepo_opts lo = {
	    .http = o->http,
	    .cache = o->cache,
	    .out = o->out,
	    .allow_insecure = o->allow_insecure,
	};

	d->base.ops = &copa_pm_deb_ops;
	d->o = *o;
	d->ao.out = o->out;
	if (copa_deb_probe_status(o->view, copa_deb_arch_from_oci(o->oci_arch, o->oci_variant),
	                          &d->st, err) < 0 ||
	    copa_deb_probe_repos(o->view, o->os, d->st.native_arch, &ro, &d->sources, err) < 0 ||
	    copa_deb_probe_prefs(o->view, &d->prefs, o->out, err) < 0)
		goto fail;
	lo.native_arch = d->st.native_arch;
	lo.foreign_archs = d->st.foreign_archs;
	if (copa_debrepo_load(&d->sources, &lo, &d->ix, err) < 0)
		goto fail;
	return &d->base;
fail:
	deb_free(&d->base);
	return NULL;
}

/* ---- plan ---- */

static char *xdup(const char *s)
{
	return s ? copa_xstrdup(s) : NULL;
}

static enum copa_pm_outcome outcome_of(enum copa_deb_outcome o)
{
	switch (o) {
	case COPA_DEB_UPDATED:
		return COPA_PM_UPDATED;
	case COPA_DEB_ALREADY_FIXED:
		return COPA_PM_ALREADY_FIXED;
	case COPA_DEB_NOT_AVAILABLE:
		return COPA_PM_NOT_AVAILABLE;
	case COPA_DEB_HELD:
		return COPA_PM_HELD;
	case COPA_DEB_NOT_INSTALLED:
		return COPA_PM_NOT_INSTALLED;
	case COPA_DEB_FAILED:
		return COPA_PM_FAILED;
	}
	return COPA_PM_FAILED;
}

void copa_deb_pkg_to_pm(const struct copa_deb_pkg *p, struct copa_pm_pkg *out)
{
	memset(out, 0, sizeof(*out));
	out->name = xdup(p->name);
	out->arch = xdup(p->arch);
	out->version = xdup(p->version);
	out->old_version = xdup(p->old_version);
	out->url = xdup(p->url);
	out->repo = xdup(p->repo);
	out->size = p->size;
	out->installed_size = p->installed_size;
	snprintf(out->digest, sizeof(out->digest), "sha256:%s", p->sha256);
}

static int deb_plan(struct copa_pm *pm, const struct copa_pm_request *req, size_t n,
                    struct copa_err *err)
{
	struct deb_pm *d = (struct deb_pm *)pm;
	struct copa_deb_request *dr = copa_xcalloc(n + 1, sizeof(*dr));
	struct copa_deb_plan_opts po = {.cache = d->o.cache, .out = d->o.out, .prefs = &d->prefs};
	struct copa_pm_plan *p = &pm->plan;
	int rc;

	for (size_t i = 0; i < n; i++) {
		dr[i].name = req[i].name;
		dr[i].fixed_version = req[i].fixed_version;
	}
	po.requests = req ? dr : NULL;
	po.n_requests = n;
	rc = copa_deb_plan(&d->st, &d->ix, &po, &d->plan, err);
	free(dr);
	if (rc < 0)
		return -1;
	d->have_plan = true;
	p->pkgs = copa_xcalloc(d->plan.n_pkgs + 1, sizeof(*p->pkgs));
	for (size_t i = 0; i < d->plan.n_pkgs; i++)
		copa_deb_pkg_to_pm(&d->plan.pkgs[i], &p->pkgs[i]);
	p->n_pkgs = d->plan.n_pkgs;
	p->results = copa_xcalloc(d->plan.n_results + 1, sizeof(*p->results));
	for (size_t i = 0; i < d->plan.n_results; i++) {
		const struct copa_deb_result *r = &d->plan.results[i];

		p->results[i] = (struct copa_pm_result){
		    .name = xdup(r->name),
		    .arch = xdup(r->arch),
		    .installed_version = xdup(r->installed_version),
		    .fixed_version = xdup(r->fixed_version),
		    .chosen_version = xdup(r->chosen_version),
		    .reason = xdup(r->reason),
		    .outcome = outcome_of(r->outcome),
		};
	}
	p->n_results = d->plan.n_results;
	return 0;
}

/* ---- prepare, apply, finish, verify ---- */

/*
 * Decompressed data.tar members by package: cache record "deb-data/<.deb
 * sha256 hex>" names the blob (sha256 of the uncompressed tar) that holds
 * it. A warm run, or the next image of a fleet with the same updates, links
 * the verified blob instead of decompressing the .deb again (xz is most of
 * the applier's time). The blob is re-hashed before use like every cached
 * blob; a record whose blob is gone or wrong is decompressed again.
 */
#define DEB_DATA_NS "deb-data"

static bool data_from_cache(const struct deb_pm *d, const char *hex, const char *path)
{
	struct copa_buf rec = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	bool ok = false;

	if (copa_cache_get(d->o.cache, DEB_DATA_NS, hex, 256, &rec, &e2) == 1 &&
	    copa_digest_valid(copa_buf_str(&rec))) {
		int fd = copa_cache_open_blob(d->o.cache, copa_buf_str(&rec), true, &e2);

		if (fd >= 0) {
			_cleanup_free_ char *blob =
			    copa_cache_blob_path(d->o.cache, copa_buf_str(&rec));

			ok = link(blob, path) == 0;
			close(fd);
		}
	}
	copa_buf_release(&rec);
	return ok;
}

/* Extracts into a cache entry, records it and links it at path; false: extract directly. */
static bool data_to_cache(const struct deb_pm *d, const char *hex, struct copa_debfile *df,
                          const char *path, struct copa_err *err)
{
	struct copa_tmpfile t;
	struct copa_err e2 = COPA_ERR_INIT;
	char digest[COPA_DIGEST_MAX];
	_cleanup_free_ char *blob = NULL;
	bool ok = false;

	if (copa_cache_begin(d->o.cache, &t, &e2) < 0)
		return false;
	if (copa_debfile_extract_data(df, t.fd, err) < 0) {
		copa_tmpfile_release(&t);
		return false;
	}
	if (copa_cache_commit_blob(d->o.cache, &t, NULL, false, digest, &e2) == 0) {
		blob = copa_cache_blob_path(d->o.cache, digest);
		ok = link(blob, path) == 0;
		if (ok)
			(void)copa_cache_put(d->o.cache, DEB_DATA_NS, hex, digest, strlen(digest),
			                     &e2);
	}
	copa_tmpfile_release(&t);
	return ok;
}

/* Decompresses package i's data.tar beside the other prepared files (the applier reads it). */
static int deb_prepare(const struct copa_pm *pm, size_t i, struct copa_pm_pkg *p,
                       const char *work_dir, struct copa_err *err)
{
	const struct deb_pm *d = (const struct deb_pm *)pm;
	struct copa_debfile *df = NULL;
	struct copa_debfile_limits lim = d->ao.limits;
	_cleanup_free_ char *label = copa_xasprintf("%s_%s_%s.deb", p->name, p->version, p->arch);
	char *path = copa_xasprintf("%s/%zu.tar", work_dir, i);
	const char *hex = strchr(p->digest, ':');
	int fd = -1;
	int r = -1;

	if (d->o.cache && hex && data_from_cache(d, hex + 1, path)) {
		copa_debug(d->o.out, "%s: data.tar from the cache", label);
		p->prepared = path;
		return 0;
	}
	/* Bounded by what the index declares, as the applier is: a bomb stops early. */
	lim.installed_size = p->installed_size;
	lim.label = label;
	if (copa_debfile_open(p->local_path, &lim, &df, err) < 0)
		goto out;
	if (d->o.cache && hex) {
		if (data_to_cache(d, hex + 1, df, path, err)) {
			r = 0;
			goto out;
		}
		if (copa_err_is_set(err))
			goto out; /* the package itself is bad: the applier will say so */
		copa_debfile_free(df);
		df = NULL;
		if (copa_debfile_open(p->local_path, &lim, &df, err) < 0)
			goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		copa_err_sys(err, COPA_E_IO, errno, "cannot create '%s'", path);
	else if (copa_debfile_extract_data(df, fd, err) == 0)
		r = 0;
	if (fd >= 0)
		close(fd);
	if (r < 0 && fd >= 0)
		unlink(path);
out:
	if (r == 0) {
		p->prepared = path;
	} else {
		free(path);
	}
	copa_debfile_free(df);
	return r;
}

static int deb_apply(struct copa_pm *pm, struct copa_layer_builder *b, size_t i,
                     struct copa_pm_applied *res, struct copa_err *err)
{
	struct deb_pm *d = (struct deb_pm *)pm;
	struct copa_deb_pkg *p = &d->plan.pkgs[i];
	const struct copa_pm_pkg *pp = &pm->plan.pkgs[i];
	struct copa_deb_apply_result ar = {0};
	int r;

	if (!d->apply) {
		d->apply = copa_deb_apply_new(d->o.view, b, &d->ao, err);
		if (!d->apply)
			return -1;
	}
	free(p->deb_path);
	free(p->data_tar);
	p->deb_path = xdup(pp->local_path);
	p->data_tar = xdup(pp->prepared);
	r = copa_deb_apply_package(d->apply, p, &ar, err);
	free(p->data_tar);
	p->data_tar = NULL;
	if (r == 0 && res) {
		memset(res, 0, sizeof(*res));
		res->name = steal_ptr(&ar.name);
		res->skipped = steal_ptr(&ar.skipped);
	}
	copa_deb_apply_result_release(&ar);
	return r;
}

static int deb_finish(struct copa_pm *pm, struct copa_err *err)
{
	struct deb_pm *d = (struct deb_pm *)pm;

	return d->apply ? copa_deb_apply_finish(d->apply, err) : 0;
}

static int deb_verify(struct copa_pm *pm, const bool *applied, char **versions,
                      struct copa_err *err)
{
	struct deb_pm *d = (struct deb_pm *)pm;
	size_t n = d->plan.n_pkgs, k = 0;
	struct copa_deb_pkg *sel;
	struct copa_deb_installed *got;
	size_t *at;
	int rc;

	if (!d->apply)
		return 0;
	sel = copa_xcalloc(n + 1, sizeof(*sel));
	got = copa_xcalloc(n + 1, sizeof(*got));
	at = copa_xcalloc(n + 1, sizeof(*at));
	/* Shallow copies: only the packages that were applied are checked. */
	for (size_t i = 0; i < n; i++)
		if (applied[i]) {
			at[k] = i;
			sel[k++] = d->plan.pkgs[i];
		}
	rc = copa_deb_verify(d->apply, sel, k, got, err);
	for (size_t j = 0; j < k; j++) {
		if (rc == 0 && got[j].version)
			versions[at[j]] = copa_xstrdup(got[j].version);
		copa_deb_installed_release(&got[j]);
	}
	free(sel);
	free(got);
	free(at);
	return rc;
}

const struct copa_pm_ops copa_pm_deb_ops = {
    .fam = COPA_FAM_DEB,
    .name = "dpkg",
    .pkg_suffix = ".deb",
    .detect = deb_detect,
    .open = deb_open,
    .plan = deb_plan,
    .prepare = deb_prepare,
    .apply = deb_apply,
    .finish = deb_finish,
    .verify = deb_verify,
    .free = deb_free,
};

/* ---- for the copa-debplan test helper ---- */

int copa_deb_fetch(struct copa_deb_pkg *pkgs, size_t n, const struct copa_pkg_fetch_opts *o,
                   struct copa_err *err)
{
	struct copa_pm_pkg *pp = copa_xcalloc(n + 1, sizeof(*pp));
	int rc;

	for (size_t i = 0; i < n; i++)
		copa_deb_pkg_to_pm(&pkgs[i], &pp[i]);
	rc = copa_pkg_fetch(pp, n, o, NULL, err);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			free(pkgs[i].deb_path);
			pkgs[i].deb_path = steal_ptr(&pp[i].local_path);
		}
		copa_pm_pkg_release(&pp[i]);
	}
	free(pp);
	return rc;
}

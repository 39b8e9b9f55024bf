/*
 * pm.c: the apk family behind pkg/pm.h. Detects an Alpine-family image
 * (lib/apk/db/installed or usr/lib/apk/db/installed); open reads its apk
 * configuration and verified indexes (apkprobe.h); plan resolves with
 * apksolve.h as `apk upgrade [NAME...]` would; check verifies a downloaded
 * package on a fetch worker (the index gives no digest of the file);
 * apply/finish go through the applier (apkapply.h); verify reads the
 * rewritten database back.
 */
#include "pkg/pm.h"

#include "pkg/apk/apkapply.h"
#include "pkg/apk/apkfile.h"
#include "pkg/apk/apkprobe.h"
#include "pkg/apk/apksolve.h"
#include "pkg/apk/apkver.h"
#include "util/blob.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <string.h>

/* The largest .apk read when its index gives no size (packages are read whole). */
#define PKG_FILE_MAX (1u << 30)

struct apk_pm {
	struct copa_pm base; /* first: a struct copa_pm * is a struct apk_pm * */
	struct copa_pm_open_opts o;
	struct copa_apk_probe pr;
	struct copa_apksolve_out sol;
	bool have_sol;
	const struct copa_apk_pkg **src; /* per plan package: its index record */
	char **removals;                 /* installed packages the upgrade purges */
	size_t nremovals;
	struct copa_apkapply *apply;
	size_t n_applied;
	bool purged; /* finish applied the removals */
};

/* ---- detect ---- */

static int apk_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err)
{
	static const char *const dbs[] = {"lib/apk/db/installed", "usr/lib/apk/db/installed", NULL};
	static const char *const bins[] = {"sbin/apk", "usr/sbin/apk", "bin/apk", NULL};
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_blob rest, line;

	for (const char *const *db = dbs; *db; db++) {
		if (!copa_pm_has_file(v, *db))
			continue;
		info->db_path = copa_xstrdup(*db);
		info->distroless = copa_pm_distroless(v, bins);
		if (copa_view_read(v, *db, COPA_APKDB_MAX_FILE, &b, err) < 0) {
			copa_buf_release(&b);
			return copa_err_wrap(err, "apk database");
		}
		info->n_packages = 0;
		rest = copa_blob(b.p, b.len);
		while (copa_blob_split(&rest, '\n', &line))
			if (copa_blob_starts(line, "P:"))
				info->n_packages++;
		copa_buf_release(&b);
		return 1;
	}
	return 0;
}

/* ---- open, free ---- */

static void apk_free(struct copa_pm *pm)
{
	struct apk_pm *a = (struct apk_pm *)pm;

	if (!a)
		return;
	copa_apkapply_free(a->apply);
	copa_pm_plan_release(&a->base.plan);
	if (a->have_sol)
		copa_apksolve_out_release(&a->sol);
	free(a->src);
	for (size_t i = 0; i < a->nremovals; i++)
		free(a->removals[i]);
	free(a->removals);
	copa_apk_probe_release(&a->pr);
	free(a);
}

static struct copa_pm *apk_open(const struct copa_pm_open_opts *o, struct copa_err *err)
{
	struct apk_pm *a = copa_xcalloc(1, sizeof(*a));

	a->base.ops = &copa_pm_apk_ops;
	a->o = *o;
	if (o->allow_insecure)
		copa_warn(o->out, "apk: --allow-insecure-repo does not apply to apk repositories: "
		                  "every index and package must be signed by a trusted key");
	if (copa_apk_probe_open(&a->pr, o, err) < 0) {
		free(a);
		return NULL;
	}
	copa_info(o->out, "apk: %s, %zu installed packages in '%s', %zu repositories, %zu keys",
	          a->pr.arch, a->pr.db.n, a->pr.db_path, a->pr.repos.n,
	          copa_apk_keys_count(a->pr.keys));
	return &a->base;
}

/* ---- plan ---- */

static int vcmp(const char *x, const char *y)
{
	return copa_apkver_sign(copa_apkver_cmp(copa_blob_str(x), copa_blob_str(y)));
}

static char *xdup(const char *s)
{
	return s ? copa_xstrdup(s) : NULL;
}

/* The solver's repositories: every loaded index with its tag. */
static struct copa_apksolve_repo *solve_repos(const struct apk_pm *a, size_t *n)
{
	struct copa_apksolve_repo *r = copa_xcalloc(a->pr.repos.n + 1, sizeof(*r));

	*n = 0;
	for (size_t i = 0; i < a->pr.repos.n; i++) {
		if (!a->pr.loaded[i])
			continue;
		r[*n].pkgs = (const struct copa_apk_pkg *const *)a->pr.idx[i].pkgs;
		r[*n].n = a->pr.idx[i].n;
		r[*n].tag = a->pr.repos.v[i].tag;
		(*n)++;
	}
	return r;
}

/* The repository an index record belongs to (its URL builds the package's). */
static long repo_of(const struct apk_pm *a, const struct copa_apk_pkg *p)
{
	for (size_t i = 0; i < a->pr.repos.n; i++)
		for (size_t k = 0; a->pr.loaded[i] && k < a->pr.idx[i].n; k++)
			if (a->pr.idx[i].pkgs[k] == p)
				return (long)i;
	return -1;
}

/* The tag world pins `name` to (`name@tag`), or NULL. */
static const char *world_tag(const struct apk_pm *a, const char *name)
{
	for (size_t i = 0; i < a->pr.world.n; i++)
		if (a->pr.world.v[i].tag && strcmp(a->pr.world.v[i].name, name) == 0)
			return a->pr.world.v[i].tag;
	return NULL;
}

/*
 * The newest version of `name` in the repositories apk would take it from
 * (the untagged ones, and the one world pins it to), and where; NULL when none.
 */
static const struct copa_apk_pkg *newest(const struct apk_pm *a, const char *name, size_t *repo)
{
	const struct copa_apk_pkg *best = NULL;
	const char *pin = world_tag(a, name);

	for (size_t i = 0; i < a->pr.repos.n; i++) {
		const char *tag = a->pr.repos.v[i].tag;

		if (!a->pr.loaded[i] || (tag && (!pin || strcmp(tag, pin) != 0)))
			continue;
		for (size_t k = 0; k < a->pr.idx[i].n; k++) {
			const struct copa_apk_pkg *p = a->pr.idx[i].pkgs[k];

			if (strcmp(p->name, name) == 0 &&
			    (!best || vcmp(p->version, best->version) > 0)) {
				best = p;
				*repo = i;
			}
		}
	}
	return best;
}

static int solve(struct apk_pm *a, const char *const *names, size_t n, bool all,
                 struct copa_apksolve_out *out, struct copa_err *err)
{
	size_t nrepos;
	_cleanup_free_ struct copa_apksolve_repo *repos = solve_repos(a, &nrepos);
	_cleanup_free_ const struct copa_apk_pkg **inst =
	    copa_xcalloc(a->pr.db.n + 1, sizeof(*inst));
	struct copa_apksolve_in in = {0};

	for (size_t i = 0; i < a->pr.db.n; i++)
		inst[i] = &a->pr.db.pkgs[i]->pkg;
	in.installed = inst;
	in.ninstalled = a->pr.db.n;
	in.repos = repos;
	in.nrepos = nrepos;
	in.world = &a->pr.world;
	in.upgrade_all = all;
	in.upgrade = names;
	in.nupgrade = n;
	memset(out, 0, sizeof(*out));
	return copa_apksolve(&in, out, err);
}

static const struct copa_apk_pkg *chosen(const struct copa_apksolve_out *s, const char *name)
{
	for (size_t i = 0; i < s->nchosen; i++)
		if (strcmp(s->chosen[i]->name, name) == 0)
			return s->chosen[i];
	return NULL;
}

static struct copa_pm_result *add_result(struct copa_pm_plan *p, size_t *cap, const char *name)
{
	struct copa_pm_result *r;

	p->results = copa_xgrow(p->results, cap, p->n_results + 1, sizeof(*p->results));
	r = &p->results[p->n_results++];
	memset(r, 0, sizeof(*r));
	r->name = copa_xstrdup(name);
	return r;
}

static void set_reason(struct copa_pm_result *r, enum copa_pm_outcome o, char *reason)
{
	r->outcome = o;
	free(r->reason);
	r->reason = reason;
}

/*
 * Report mode: decides each request's outcome before solving; returns the
 * names to upgrade (the results of the others are final).
 */
static const char **classify(struct apk_pm *a, const struct copa_pm_request *req, size_t n,
                             size_t *cap, size_t *nup)
{
	struct copa_pm_plan *p = &a->base.plan;
	const char **up = copa_xcalloc(n + 1, sizeof(*up));

	*nup = 0;
	for (size_t i = 0; i < n; i++) {
		const struct copa_apkdb_pkg *inst = copa_apkdb_find(&a->pr.db, req[i].name);
		const char *fixed = req[i].fixed_version;
		struct copa_pm_result *r = add_result(p, cap, req[i].name);
		const struct copa_apk_pkg *best;
		size_t repo = 0;

		r->fixed_version = xdup(fixed);
		if (!inst) {
			r->outcome = COPA_PM_NOT_INSTALLED;
			continue;
		}
		r->arch = xdup(inst->pkg.arch ? inst->pkg.arch : a->pr.arch);
		r->installed_version = copa_xstrdup(inst->pkg.version);
		if (fixed && !copa_apkver_valid(copa_blob_str(fixed))) {
			set_reason(
			    r, COPA_PM_FAILED,
			    copa_xasprintf("the fixed version '%s' is not an apk version", fixed));
			continue;
		}
		if (fixed && vcmp(inst->pkg.version, fixed) >= 0) {
			r->outcome = COPA_PM_ALREADY_FIXED;
			continue;
		}
		best = newest(a, req[i].name, &repo);
		if (!best) {
			set_reason(r, COPA_PM_NOT_AVAILABLE,
			           copa_xasprintf("no repository has '%s'", req[i].name));
			continue;
		}
		if (fixed && vcmp(best->version, fixed) < 0) {
			set_reason(
			    r, COPA_PM_NOT_AVAILABLE,
			    copa_xasprintf("the newest version is %s in '%s', below the fixed "
			                   "version %s",
			                   best->version, a->pr.repos.v[repo].url, fixed));
			continue;
		}
		if (!fixed && vcmp(best->version, inst->pkg.version) <= 0) {
			r->outcome = COPA_PM_ALREADY_FIXED;
			continue;
		}
		r->outcome = COPA_PM_UPDATED; /* confirmed by the solver below */
		up[(*nup)++] = r->name;
	}
	return up;
}

static struct copa_pm_result *result_of(struct copa_pm_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_results; i++)
		if (strcmp(p->results[i].name, name) == 0)
			return &p->results[i];
	return NULL;
}

/*
 * Solves the report's upgrades together; when that fails, each alone, so one
 * unsatisfiable update fails (an outcome) and the others go on.
 */
static int solve_requests(struct apk_pm *a, const char **up, size_t *nup_io, struct copa_err *err)
{
	struct copa_pm_plan *p = &a->base.plan;
	size_t k = 0, nup = *nup_io;

	if (solve(a, up, nup, false, &a->sol, err) == 0)
		return 0;
	if (err->code != COPA_E_PACKAGE)
		return -1;
	copa_err_clear(err);
	for (size_t i = 0; i < nup; i++) {
		struct copa_apksolve_out one;
		struct copa_err e = COPA_ERR_INIT;

		if (solve(a, &up[i], 1, false, &one, &e) == 0) {
			copa_apksolve_out_release(&one);
			up[k++] = up[i];
			continue;
		}
		if (e.code != COPA_E_PACKAGE) {
			*err = e;
			return -1;
		}
		set_reason(result_of(p, up[i]), COPA_PM_FAILED, copa_xstrdup(e.msg));
	}
	*nup_io = k;  /* up[0..k) are the names that can be solved */
	if (k == 0) { /* nothing left to upgrade: no changes */
		memset(&a->sol, 0, sizeof(a->sol));
		return 0;
	}
	return solve(a, up, k, false, &a->sol, err);
}

/* The plan's packages from the solver's changes (removals kept aside for finish). */
static int fill_pkgs(struct apk_pm *a, struct copa_err *err)
{
	struct copa_pm_plan *p = &a->base.plan;
	size_t n = a->sol.nchanges;

	p->pkgs = copa_xcalloc(n + 1, sizeof(*p->pkgs));
	a->src = copa_xcalloc(n + 1, sizeof(*a->src));
	a->removals = copa_xcalloc(n + 1, sizeof(*a->removals));
	for (size_t i = 0; i < n; i++) {
		const struct copa_apksolve_change *c = &a->sol.changes[i];
		struct copa_pm_pkg *pp;
		long ri;

		if (c->kind == COPA_APKSOLVE_REMOVE) {
			a->removals[a->nremovals++] = copa_xstrdup(c->old->name);
			continue;
		}
		ri = repo_of(a, c->pkg);
		if (ri < 0)
			return copa_err_set(err, COPA_E_BUG, "planned '%s' %s is in no repository",
			                    c->pkg->name, c->pkg->version);
		pp = &p->pkgs[p->n_pkgs];
		a->src[p->n_pkgs++] = c->pkg;
		pp->name = copa_xstrdup(c->pkg->name);
		pp->arch = copa_xstrdup(c->pkg->arch ? c->pkg->arch : a->pr.arch);
		pp->version = copa_xstrdup(c->pkg->version);
		pp->old_version = c->old ? copa_xstrdup(c->old->version) : NULL;
		pp->url = copa_apk_repo_package_url(&a->pr.repos.v[ri], a->pr.arch, c->pkg->name,
		                                    c->pkg->version);
		pp->repo = copa_xstrdup(a->pr.repos.v[ri].url);
		pp->size = c->pkg->size;
		pp->installed_size = c->pkg->installed_size;
		pp->id = copa_xstrdup(c->pkg->csum);
	}
	return 0;
}

static int apk_plan(struct copa_pm *pm, const struct copa_pm_request *req, size_t n,
                    struct copa_err *err)
{
	struct apk_pm *a = (struct apk_pm *)pm;
	struct copa_pm_plan *p = &pm->plan;
	size_t cap = 0;

	if (req) {
		size_t nup = 0;
		_cleanup_free_ const char **up = classify(a, req, n, &cap, &nup);

		/*
		 * World constraints or exact dependencies can keep a package below its
		 * fix: it fails and the rest is solved again without it, so that no
		 * package is moved to a version that still lacks the fix.
		 */
		for (bool again = nup > 0; again;) {
			size_t k = 0;

			again = false;
			if (a->have_sol)
				copa_apksolve_out_release(&a->sol);
			if (solve_requests(a, up, &nup, err) < 0)
				return -1;
			a->have_sol = true;
			for (size_t i = 0; i < nup; i++) {
				struct copa_pm_result *r = result_of(p, up[i]);
				const struct copa_apk_pkg *c = chosen(&a->sol, r->name);

				if (r->outcome != COPA_PM_UPDATED)
					continue;
				if (!c ||
				    (r->fixed_version && vcmp(c->version, r->fixed_version) < 0) ||
				    vcmp(c->version, r->installed_version) <= 0) {
					set_reason(r, COPA_PM_FAILED,
					           copa_xasprintf(
					               "apk would keep it at %s (constraints "
					               "of 'etc/apk/world' or its dependencies)",
					               c ? c->version : "nothing"));
					again = true;
					continue;
				}
				up[k++] = up[i];
			}
			nup = k;
			if (again && nup == 0) {
				copa_apksolve_out_release(&a->sol);
				break;
			}
		}
		for (size_t i = 0; i < p->n_results; i++) {
			struct copa_pm_result *r = &p->results[i];
			const struct copa_apk_pkg *c = chosen(&a->sol, r->name);

			if (r->outcome == COPA_PM_UPDATED && c)
				r->chosen_version = copa_xstrdup(c->version);
		}
	} else {
		if (solve(a, NULL, 0, true, &a->sol, err) < 0)
			return -1;
		a->have_sol = true;
		for (size_t i = 0; i < a->sol.nchanges; i++) {
			const struct copa_apksolve_change *c = &a->sol.changes[i];
			struct copa_pm_result *r;

			if (c->kind != COPA_APKSOLVE_UPGRADE)
				continue;
			r = add_result(p, &cap, c->pkg->name);
			r->arch = xdup(c->old->arch ? c->old->arch : a->pr.arch);
			r->installed_version = copa_xstrdup(c->old->version);
			r->chosen_version = copa_xstrdup(c->pkg->version);
			r->outcome = COPA_PM_UPDATED;
		}
	}
	if (fill_pkgs(a, err) < 0)
		return -1;
	for (size_t i = 0; i < a->nremovals; i++)
		copa_info(a->o.out,
		          "apk: '%s' is purged, as apk does when nothing needs it after the "
		          "upgrade",
		          a->removals[i]);
	return 0;
}

/* ---- check (fetch workers), apply, finish, verify ---- */

static int apk_check(const struct copa_pm *pm, size_t i, const struct copa_pm_pkg *p,
                     const char *path, struct copa_err *err)
{
	const struct apk_pm *a = (const struct apk_pm *)pm;
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_apkfile f;
	_cleanup_free_ char *what =
	    copa_xasprintf("package '%s-%s' from '%s'", p->name, p->version, p->url);
	int r;

	(void)i;
	copa_apkfile_init(&f);
	/* fetch enforced the index's size; without one, a cap of what is read into memory */
	r = copa_fs_read_file(AT_FDCWD, path, p->size ? p->size : PKG_FILE_MAX, &b, err);
	if (r == 0)
		r = copa_apkfile_read(&f, b.p ? b.p : "", b.len, a->pr.keys, p->id, what, err);
	/* Whatever is wrong with a download, its chain of trust did not hold. */
	if (r < 0)
		err->code = COPA_E_VERIFY;
	copa_apkfile_release(&f);
	copa_buf_release(&b);
	return r;
}

static int apk_apply(struct copa_pm *pm, struct copa_layer_builder *b, size_t i,
                     struct copa_pm_applied *res, struct copa_err *err)
{
	struct apk_pm *a = (struct apk_pm *)pm;
	const struct copa_pm_pkg *pp = &pm->plan.pkgs[i];

	if (!a->apply) {
		struct copa_apkapply_opts ao = {
		    .out = a->o.out, .db_path = a->pr.db_path, .keys = a->pr.keys};

		a->apply = copa_apkapply_new(a->o.view, b, &ao, err);
		if (!a->apply)
			return -1;
	}
	if (copa_apkapply_package(a->apply, pp->local_path, pp->id, res, err) < 0)
		return -1;
	a->n_applied++;
	return 0;
}

static int apk_finish(struct copa_pm *pm, struct copa_err *err)
{
	struct apk_pm *a = (struct apk_pm *)pm;

	if (!a->apply)
		return 0;
	/* A purge follows from the whole upgrade: not when a package of it was skipped. */
	if (a->n_applied == pm->plan.n_pkgs) {
		for (size_t i = 0; i < a->nremovals; i++)
			if (copa_apkapply_remove(a->apply, a->removals[i], err) < 0)
				return copa_err_wrap(err, "purging '%s'", a->removals[i]);
		a->purged = true;
	} else if (a->nremovals) {
		copa_warn(a->o.out,
		          "apk: %zu package%s that the full upgrade would purge %s kept: a package "
		          "of the upgrade was skipped",
		          a->nremovals, a->nremovals == 1 ? "" : "s",
		          a->nremovals == 1 ? "is" : "are");
	}
	return copa_apkapply_finish(a->apply, err);
}

/* Reads the database back from the view as the new layer leaves it. */
static int apk_verify(struct copa_pm *pm, const bool *applied, char **versions,
                      struct copa_err *err)
{
	struct apk_pm *a = (struct apk_pm *)pm;
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_apkdb db;
	_cleanup_free_ char *what = copa_xasprintf("'%s'", a->pr.db_path);
	int r;

	copa_apkdb_init(&db);
	r = copa_view_read(a->o.view, a->pr.db_path, COPA_APKDB_MAX_FILE, &b, err);
	if (r == 0)
		r = copa_apkdb_parse(&db, b.p ? b.p : "", b.len, what, err);
	for (size_t i = 0; r == 0 && i < pm->plan.n_pkgs; i++) {
		const struct copa_pm_pkg *pp = &pm->plan.pkgs[i];
		const struct copa_apkdb_pkg *got;

		if (!applied[i])
			continue;
		got = copa_apkdb_find(&db, pp->name);
		if (got)
			versions[i] = copa_xstrdup(got->pkg.version);
		if (!got || strcmp(got->pkg.version, pp->version) != 0)
			r = copa_err_set(err, COPA_E_VERIFY, "%s lists '%s' at %s, not %s", what,
			                 pp->name, got ? got->pkg.version : "nothing", pp->version);
	}
	for (size_t i = 0; r == 0 && a->purged && i < a->nremovals; i++)
		if (copa_apkdb_find(&db, a->removals[i]))
			r = copa_err_set(err, COPA_E_VERIFY, "%s still lists purged '%s'", what,
			                 a->removals[i]);
	copa_apkdb_release(&db);
	copa_buf_release(&b);
	return r;
}

static int apk_vercmp(const char *x, const char *y)
{
	return vcmp(x, y);
}

static bool apk_ver_valid(const char *v)
{
	return copa_apkver_valid(copa_blob_str(v));
}

const struct copa_pm_ops copa_pm_apk_ops = {
    .fam = COPA_FAM_APK,
    .name = "apk",
    .pkg_suffix = ".apk",
    .detect = apk_detect,
    .open = apk_open,
    .plan = apk_plan,
    .check = apk_check,
    .apply = apk_apply,
    .finish = apk_finish,
    .verify = apk_verify,
    .free = apk_free,
    .vercmp = apk_vercmp,
    .ver_valid = apk_ver_valid,
};

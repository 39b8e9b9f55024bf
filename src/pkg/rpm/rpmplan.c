/*
 * rpmplan.c: the libsolv planner of the rpm family (see rpmplan.h).
 */
#include "pkg/rpm/rpmplan.h"

#include "pkg/rpm/rpmlib.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <solv/knownid.h>
#include <solv/evr.h>
#include <solv/policy.h>
#include <solv/problems.h>
#include <solv/repo_rpmdb.h>
#include <solv/solver.h>
#include <solv/transaction.h>
#include <stdlib.h>
#include <string.h>

/* dnf's default installonlypkgs (libdnf ConfigMain). */
static const char *const installonly[] = {
    "kernel",
    "kernel-PAE",
    "installonlypkg(kernel)",
    "installonlypkg(kernel-module)",
    "installonlypkg(vm)",
    "multiversion(kernel)",
};

int copa_rpm_pool_installed(Pool *pool, const char *root, size_t expect, struct copa_out *out,
                            struct copa_err *err)
{
	struct copa_rpmlib s;
	Repo *repo;
	int rc = 0;

	if (copa_rpmlib_begin(&s, out, err) < 0)
		return -1;
	/*
	 * libsolv takes %_dbpath as it is (Debian's default is ~/.rpmdb, where it
	 * silently finds nothing): an absolute path to the copy. Not
	 * REPO_USE_ROOTDIR with "/var/lib/rpm": libsolv 0.7.23 leaks a path
	 * joined with the root on that route (LeakSanitizer in the e2e tests).
	 */
	_cleanup_free_ char *dbpath = copa_xasprintf("%s/var/lib/rpm", root);

	copa_rpmlib_define(&s, "_dbpath", dbpath);
	copa_rpmlib_define(&s, "_db_backend", "sqlite");
	repo = repo_create(pool, "@System");
	if (repo_add_rpmdb_reffp(repo, NULL, 0) != 0)
		rc = copa_err_set(err, COPA_E_INPUT, "libsolv cannot read the rpm database: %s",
		                  pool_errstr(pool));
	copa_rpmlib_end(&s);
	if (rc < 0)
		return -1;
	if ((size_t)repo->nsolvables != expect)
		return copa_err_set(err, COPA_E_INPUT,
		                    "libsolv reads %d packages from the rpm database, librpm %zu",
		                    repo->nsolvables, expect);
	pool_set_installed(pool, repo);
	return 0;
}

void copa_rpm_steps_free(struct copa_rpm_step *steps, size_t n)
{
	for (size_t i = 0; steps && i < n; i++) {
		for (char **r = steps[i].replaces; r && *r; r++)
			free(*r);
		free(steps[i].replaces);
	}
	free(steps);
}

static const char *evr(Pool *pool, Id p)
{
	return pool_id2str(pool, pool->solvables[p].evr);
}

static bool arch_ok(Id a, Id b)
{
	return a == b || a == ARCH_NOARCH || b == ARCH_NOARCH;
}

/* The newest installed package called name (0: none). */
static Id installed_named(Pool *pool, Id name)
{
	Repo *inst = pool->installed;
	Solvable *s;
	Id p, best = 0;

	FOR_REPO_SOLVABLES(inst, p, s)
	{
		if (s->name != name)
			continue;
		if (!best ||
		    pool_evrcmp(pool, s->evr, pool->solvables[best].evr, EVRCMP_COMPARE) > 0)
			best = p;
	}
	return best;
}

/* The newest available package with ip's name, of a compatible arch (0: none). */
static Id best_available(Pool *pool, Id ip)
{
	Solvable *is = pool->solvables + ip;
	Id p, pp, best = 0;

	FOR_PROVIDES(p, pp, is->name)
	{
		Solvable *s = pool->solvables + p;

		if (s->repo == pool->installed || s->name != is->name ||
		    !arch_ok(s->arch, is->arch) || !pool_installable(pool, s))
			continue;
		if (!best ||
		    pool_evrcmp(pool, s->evr, pool->solvables[best].evr, EVRCMP_COMPARE) > 0)
			best = p;
	}
	return best;
}

static struct copa_pm_result *add_result(struct copa_pm_plan *plan, size_t *cap)
{
	plan->results = copa_xgrow(plan->results, cap, plan->n_results + 2, sizeof(*plan->results));
	memset(&plan->results[plan->n_results], 0, 2 * sizeof(*plan->results));
	return &plan->results[plan->n_results++];
}

static int cmp_ver(const char *a, const char *b, int *res, struct copa_err *err)
{
	return copa_version_cmp(COPA_FAM_RPM, a, b, res, err);
}

/* Checks one request; pushes its job when there is something to install. */
static int request(Pool *pool, const struct copa_pm_request *rq, struct copa_pm_result *r,
                   Queue *job, struct copa_err *err)
{
	Id name = pool_str2id(pool, rq->name, 0);
	Id ip = name ? installed_named(pool, name) : 0, best;
	bool newer;
	int c = 0;

	r->name = copa_xstrdup(rq->name);
	r->fixed_version = rq->fixed_version ? copa_xstrdup(rq->fixed_version) : NULL;
	if (!ip) {
		r->outcome = COPA_PM_NOT_INSTALLED;
		return 0;
	}
	r->arch = copa_xstrdup(pool_id2str(pool, pool->solvables[ip].arch));
	r->installed_version = copa_xstrdup(evr(pool, ip));
	if (rq->fixed_version) {
		if (cmp_ver(r->installed_version, rq->fixed_version, &c, err) < 0)
			return copa_err_wrap(err, "package '%s'", rq->name);
		if (c >= 0) {
			r->outcome = COPA_PM_ALREADY_FIXED;
			return 0;
		}
	}
	best = best_available(pool, ip);
	newer = best && pool_evrcmp(pool, pool->solvables[best].evr, pool->solvables[ip].evr,
	                            EVRCMP_COMPARE) > 0;
	if (!rq->fixed_version && !newer) {
		r->outcome = COPA_PM_ALREADY_FIXED;
		return 0;
	}
	if (rq->fixed_version && newer && cmp_ver(evr(pool, best), rq->fixed_version, &c, err) < 0)
		return copa_err_wrap(err, "package '%s'", rq->name);
	if (rq->fixed_version && (!newer || c < 0)) {
		r->outcome = COPA_PM_NOT_AVAILABLE;
		r->reason =
		    best ? copa_xasprintf("the repositories offer at most %s", evr(pool, best))
		         : copa_xstrdup("the repositories do not offer this package");
		return 0;
	}
	r->outcome = COPA_PM_UPDATED;
	queue_push2(job, SOLVER_INSTALL | SOLVER_SOLVABLE, best);
	return 0;
}

static char *problems_text(Solver *solv, int n)
{
	struct copa_buf b = COPA_BUF_INIT;

	for (Id i = 1; i <= n && i <= 3; i++)
		copa_buf_addf(&b, "%s%s", i > 1 ? "; " : "", solver_problem2str(solv, i));
	return copa_buf_detach(&b, NULL);
}

/* Fills one plan package from solvable p. */
static int fill_pkg(Pool *pool, const struct copa_rpm_sources *src, Transaction *trans, Id p,
                    struct copa_pm_pkg *pk, struct copa_rpm_step *st, struct copa_err *err)
{
	Solvable *s = pool->solvables + p;
	size_t si = (size_t)(uintptr_t)s->repo->appdata - 1;
	const char *loc = solvable_lookup_location(s, NULL);
	Id type = 0;
	const char *sum = solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &type);
	struct copa_buf norm = COPA_BUF_INIT;
	Queue q;
	size_t k = 0;

	pk->name = copa_xstrdup(pool_id2str(pool, s->name));
	pk->arch = copa_xstrdup(pool_id2str(pool, s->arch));
	pk->version = copa_xstrdup(pool_id2str(pool, s->evr));
	pk->repo = copa_xstrdup(src->v[si].id);
	pk->size = solvable_lookup_num(s, SOLVABLE_DOWNLOADSIZE, 0);
	pk->installed_size = solvable_lookup_num(s, SOLVABLE_INSTALLSIZE, 0);
	st->p = p;
	st->src = si;
	if (!loc || copa_path_normalize(loc, &norm) < 0 || norm.len == 0 ||
	    strcmp(copa_buf_str(&norm), loc) != 0) {
		copa_buf_release(&norm);
		return copa_err_set(err, COPA_E_INPUT,
		                    "repository '%s': package '%s' has a bad location '%s'",
		                    pk->repo, pk->name, loc ? loc : "");
	}
	copa_buf_release(&norm);
	pk->url = copa_xasprintf("%s%s", src->v[si].base, loc);
	if (!sum || (type != REPOKEY_TYPE_SHA256 && type != REPOKEY_TYPE_SHA512))
		return copa_err_set(err, COPA_E_VERIFY,
		                    "repository '%s': package '%s' has no sha256 or sha512 "
		                    "checksum in its primary index",
		                    pk->repo, pk->name);
	snprintf(pk->digest, sizeof(pk->digest), "%s:%s",
	         type == REPOKEY_TYPE_SHA256 ? "sha256" : "sha512", sum);
	queue_init(&q);
	transaction_all_obs_pkgs(trans, p, &q);
	st->replaces = copa_xcalloc((size_t)q.count + 1, sizeof(char *));
	for (int i = 0; i < q.count; i++) {
		Solvable *o = pool->solvables + q.elements[i];

		st->replaces[k++] = copa_xstrdup(pool_id2str(pool, o->name));
		if (!pk->old_version || o->name == s->name) {
			free(pk->old_version);
			pk->old_version = copa_xstrdup(pool_id2str(pool, o->evr));
		}
	}
	queue_free(&q);
	return 0;
}

int copa_rpm_plan(Pool *pool, const struct copa_rpm_sources *src, const struct copa_pm_request *req,
                  size_t n, struct copa_pm_plan *plan, struct copa_rpm_step **steps_out,
                  struct copa_out *out, struct copa_err *err)
{
	Queue job;
	Solver *solv = NULL;
	Transaction *trans = NULL;
	struct copa_rpm_step *steps = NULL;
	size_t rcap = 0, n_jobs_base;
	int rc = -1, nprob;

	(void)out;
	*steps_out = NULL;
	queue_init(&job);
	pool_addfileprovides(pool);
	pool_createwhatprovides(pool);
	for (size_t i = 0; i < COPA_ARRAY_SIZE(installonly); i++)
		queue_push2(&job, SOLVER_MULTIVERSION | SOLVER_SOLVABLE_PROVIDES,
		            pool_str2id(pool, installonly[i], 1));
	n_jobs_base = (size_t)job.count;
	if (!req) {
		queue_push2(&job, SOLVER_UPDATE | SOLVER_SOLVABLE_ALL | SOLVER_FORCEBEST, 0);
	} else {
		for (size_t i = 0; i < n; i++)
			if (request(pool, &req[i], add_result(plan, &rcap), &job, err) < 0)
				goto out;
	}
	if ((size_t)job.count == n_jobs_base) {
		rc = 0;
		goto out;
	}
	solv = solver_create(pool);
	solver_set_flag(solv, SOLVER_FLAG_ALLOW_VENDORCHANGE, 1);
	solver_set_flag(solv, SOLVER_FLAG_BEST_OBEY_POLICY, 1);
	nprob = solver_solve(solv, &job);
	if (nprob) {
		_cleanup_free_ char *why = problems_text(solv, nprob);

		if (!req) {
			copa_err_set(err, COPA_E_PACKAGE,
			             "the updates cannot be installed together: %s", why);
			goto out;
		}
		for (size_t i = 0; i < plan->n_results; i++)
			if (plan->results[i].outcome == COPA_PM_UPDATED) {
				plan->results[i].outcome = COPA_PM_FAILED;
				plan->results[i].reason = copa_xstrdup(why);
			}
		rc = 0;
		goto out;
	}
	trans = solver_create_transaction(solv);
	transaction_order(trans, 0);
	plan->pkgs = copa_xcalloc((size_t)trans->steps.count + 1, sizeof(*plan->pkgs));
	steps = copa_xcalloc((size_t)trans->steps.count + 1, sizeof(*steps));
	for (int i = 0; i < trans->steps.count; i++) {
		Id p = trans->steps.elements[i];
		Solvable *s = pool->solvables + p;

		if (s->repo == pool->installed) {
			Id t = transaction_type(trans, p, SOLVER_TRANSACTION_SHOW_ACTIVE);

			if (t == SOLVER_TRANSACTION_ERASE) {
				copa_err_set(err, COPA_E_PACKAGE,
				             "the update would remove '%s' (%s), which copa does "
				             "not do: update the packages that conflict with it "
				             "in a new image build",
				             pool_id2str(pool, s->name), evr(pool, p));
				goto out;
			}
			continue;
		}
		if (fill_pkg(pool, src, trans, p, &plan->pkgs[plan->n_pkgs], &steps[plan->n_pkgs],
		             err) < 0) {
			plan->n_pkgs++;
			goto out;
		}
		plan->n_pkgs++;
	}
	/* outcomes: what was chosen for each request, or one result per update */
	for (size_t i = 0; i < plan->n_pkgs; i++) {
		struct copa_pm_pkg *pk = &plan->pkgs[i];
		struct copa_pm_result *r = NULL;

		for (size_t k = 0; req && k < plan->n_results; k++)
			if (strcmp(plan->results[k].name, pk->name) == 0 &&
			    plan->results[k].outcome == COPA_PM_UPDATED) {
				r = &plan->results[k];
				free(r->chosen_version);
				r->chosen_version = copa_xstrdup(pk->version);
			}
		if (req || !pk->old_version)
			continue;
		r = add_result(plan, &rcap);
		r->name = copa_xstrdup(pk->name);
		r->arch = copa_xstrdup(pk->arch);
		r->installed_version = copa_xstrdup(pk->old_version);
		r->chosen_version = copa_xstrdup(pk->version);
		r->outcome = COPA_PM_UPDATED;
	}
	*steps_out = steps;
	steps = NULL;
	rc = 0;
out:
	if (steps)
		copa_rpm_steps_free(steps, plan->n_pkgs);
	if (trans)
		transaction_free(trans);
	if (solv)
		solver_free(solv);
	queue_free(&job);
	return rc;
}

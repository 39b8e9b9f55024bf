/* pm.c: what every package family shares behind pm.h: detection order, outcomes, releases. */
#include "pkg/pm.h"

#include "util/buf.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

const char *copa_pm_outcome_str(enum copa_pm_outcome o)
{
	switch (o) {
	case COPA_PM_UPDATED:
		return "updated";
	case COPA_PM_ALREADY_FIXED:
		return "already-fixed";
	case COPA_PM_NOT_AVAILABLE:
		return "not-available";
	case COPA_PM_HELD:
		return "held";
	case COPA_PM_NOT_INSTALLED:
		return "not-installed";
	case COPA_PM_FAILED:
		return "failed";
	}
	return "failed";
}

bool copa_pm_outcome_is_error(enum copa_pm_outcome o)
{
	return o == COPA_PM_NOT_AVAILABLE || o == COPA_PM_FAILED || o == COPA_PM_HELD;
}

void copa_pm_applied_release(struct copa_pm_applied *a)
{
	free(a->name);
	for (char **p = a->skipped; p && *p; p++)
		free(*p);
	free(a->skipped);
	memset(a, 0, sizeof(*a));
}

bool copa_pm_has_file(struct copa_view *v, const char *path)
{
	struct copa_buf canon = COPA_BUF_INIT;
	const struct copa_view_entry *e = NULL;
	bool r = copa_view_resolve(v, path, COPA_VIEW_FOLLOW, &canon, &e, NULL) == 0 && e &&
	         (e->type == COPA_FT_REG || e->type == COPA_FT_HARDLINK);

	copa_buf_release(&canon);
	return r;
}

bool copa_pm_distroless(struct copa_view *v, const char *const *bins)
{
	for (const char *const *p = bins; *p; p++)
		if (copa_pm_has_file(v, *p))
			return false;
	return true;
}

void copa_pm_info_release(struct copa_pm_info *i)
{
	free(i->db_path);
	memset(i, 0, sizeof(*i));
	i->n_packages = -1;
}

int copa_pm_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err)
{
	static const struct copa_pm_ops *const families[] = {&copa_pm_deb_ops, &copa_pm_apk_ops,
	                                                     &copa_pm_rpm_ops};

	memset(info, 0, sizeof(*info));
	info->n_packages = -1;
	for (size_t i = 0; i < COPA_ARRAY_SIZE(families); i++) {
		int r = families[i]->detect(v, info, err);

		if (r < 0)
			return -1;
		if (r > 0) {
			info->ops = families[i];
			return 0;
		}
	}
	info->distroless = true;
	return 0;
}

void copa_pm_repos_release(struct copa_pm_repos *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].url);
		free(r->v[i].from);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

void copa_pm_pkg_release(struct copa_pm_pkg *p)
{
	free(p->name);
	free(p->arch);
	free(p->version);
	free(p->old_version);
	free(p->url);
	free(p->repo);
	free(p->id);
	free(p->local_path);
	if (p->prepared)
		unlink(p->prepared);
	free(p->prepared);
	memset(p, 0, sizeof(*p));
}

void copa_pm_plan_release(struct copa_pm_plan *plan)
{
	for (size_t i = 0; i < plan->n_pkgs; i++)
		copa_pm_pkg_release(&plan->pkgs[i]);
	free(plan->pkgs);
	for (size_t i = 0; i < plan->n_results; i++) {
		struct copa_pm_result *r = &plan->results[i];

		free(r->name);
		free(r->arch);
		free(r->installed_version);
		free(r->fixed_version);
		free(r->chosen_version);
		free(r->reason);
	}
	free(plan->results);
	memset(plan, 0, sizeof(*plan));
}

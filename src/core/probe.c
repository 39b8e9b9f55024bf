#include "core/probe.h"

#include "util/mem.h"

#include <string.h>

const char *copa_probe_manager(const struct copa_probe *p)
{
	return p->pm ? p->pm->name : NULL;
}

static int probe_image(struct copa_view *v, struct copa_probe *p, struct copa_err *err)
{
	struct copa_pm_info info;
	int r;

	memset(p, 0, sizeof(*p));
	p->n_packages = -1;
	p->fam = COPA_FAM_NONE;
	r = copa_osrelease_read(v, &p->os, err);
	if (r < 0)
		return copa_err_wrap(err, "os-release");
	p->has_os_release = r == 1;
	r = copa_pm_detect(v, &info, err);
	if (r == 0) {
		p->pm = info.ops;
		p->fam = info.ops ? info.ops->fam : COPA_FAM_NONE;
		p->db_path = steal_ptr(&info.db_path);
		p->n_packages = info.n_packages;
		p->distroless = info.distroless;
	}
	copa_pm_info_release(&info);
	return r;
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

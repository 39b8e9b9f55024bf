/*
 * apksolve.c: a small greedy apk resolver (see apksolve.h).
 *
 * Dependencies are taken from a queue (world first, then each chosen
 * package's), and each is satisfied by a package already chosen when one
 * fits, else by the best candidate, which is chosen for its name for good.
 * install_if is applied to a fixed point after the queue drains; conflicts
 * are checked once the set is complete.
 */
#include "pkg/apk/apksolve.h"

#include "pkg/apk/apkver.h"
#include "util/mem.h"

#include <string.h>

struct cand {
	const struct copa_apk_pkg *p;
	const char *tag; /* NULL: installed or untagged repository */
	bool installed;
};

struct item {
	const struct copa_apk_dep *d;
	const char *by; /* who needs it: a package name or "world" */
};

struct solver {
	const struct copa_apksolve_in *in;
	struct cand *c;
	size_t nc;
	const struct copa_apk_pkg **sel;
	size_t nsel, capsel;
	struct item *q;
	size_t nq, capq, head;
	const char **up; /* names being upgraded: the requested ones and their dependencies */
	size_t nup, capup;
};

static bool version_ok(const char *have, const struct copa_apk_dep *d, const char *csum)
{
	int op = d->op & ~COPA_APKV_CONFLICT;

	if ((op & COPA_APKV_ANY) == COPA_APKV_ANY)
		return true;
	if (op == COPA_APKV_CHECKSUM)
		return csum && d->version && strcmp(csum, d->version) == 0;
	if (!have || !d->version)
		return false;
	return copa_apkver_match(copa_blob_str(have), op, copa_blob_str(d->version));
}

/* 2: by its own name, 1: by a versioned or usable provide, 0: not at all. */
static int satisfies(const struct copa_apk_dep *d, const struct copa_apk_pkg *p)
{
	if (strcmp(p->name, d->name) == 0)
		return version_ok(p->version, d, p->csum) ? 2 : 0;
	for (size_t i = 0; i < p->provides.n; i++) {
		const struct copa_apk_dep *pv = &p->provides.v[i];

		if (strcmp(pv->name, d->name) != 0)
			continue;
		if (pv->version) {
			if (version_ok(pv->version, d, NULL))
				return 1;
		} else if ((d->op & COPA_APKV_ANY) == COPA_APKV_ANY) {
			return 1; /* an unversioned provide only satisfies an unversioned dependency
			           */
		}
	}
	return 0;
}

bool copa_apk_dep_satisfied_by(const struct copa_apk_dep *d, const struct copa_apk_pkg *p)
{
	return satisfies(d, p) != 0;
}

static const struct copa_apk_pkg *installed_named(const struct solver *s, const char *name)
{
	for (size_t i = 0; i < s->in->ninstalled; i++)
		if (strcmp(s->in->installed[i]->name, name) == 0)
			return s->in->installed[i];
	return NULL;
}

static const struct copa_apk_pkg *selected_named(const struct solver *s, const char *name)
{
	for (size_t i = 0; i < s->nsel; i++)
		if (strcmp(s->sel[i]->name, name) == 0)
			return s->sel[i];
	return NULL;
}

static bool in_upgrade_set(const struct solver *s, const char *name)
{
	for (size_t i = 0; i < s->nup; i++)
		if (strcmp(s->up[i], name) == 0)
			return true;
	return false;
}

static bool wants_upgrade(const struct solver *s, const char *name)
{
	return s->in->upgrade_all || !installed_named(s, name) || in_upgrade_set(s, name);
}

/*
 * `apk add -u NAME` upgrades NAME and its dependencies: the flag goes from a
 * name to every provider of each dependency of that name's packages, before
 * anything is chosen, so the result does not depend on the order of world.
 */
static void spread_upgrade(struct solver *s)
{
	for (size_t i = 0; i < s->in->nupgrade; i++) {
		if (in_upgrade_set(s, s->in->upgrade[i]))
			continue;
		s->up = copa_xgrow(s->up, &s->capup, s->nup + 1, sizeof(*s->up));
		s->up[s->nup++] = s->in->upgrade[i];
	}
	for (size_t u = 0; u < s->nup; u++) {
		for (size_t i = 0; i < s->nc; i++) {
			const struct copa_apk_pkg *p = s->c[i].p;

			if (strcmp(p->name, s->up[u]) != 0)
				continue;
			for (size_t j = 0; j < p->depends.n; j++) {
				const struct copa_apk_dep *d = &p->depends.v[j];

				if (d->op & COPA_APKV_CONFLICT)
					continue;
				for (size_t k = 0; k < s->nc; k++) {
					const char *name = s->c[k].p->name;

					if (satisfies(d, s->c[k].p) && !in_upgrade_set(s, name)) {
						s->up = copa_xgrow(s->up, &s->capup, s->nup + 1,
						                   sizeof(*s->up));
						s->up[s->nup++] = name;
					}
				}
			}
		}
	}
}

static bool tag_ok(const struct cand *c, const struct copa_apk_dep *d)
{
	return c->installed || !c->tag || (d->tag && strcmp(d->tag, c->tag) == 0);
}

/* The version p provides `name` at, or NULL (its own name: its version). */
static const char *provided_version(const struct copa_apk_pkg *p, const char *name)
{
	for (size_t i = 0; i < p->provides.n; i++)
		if (strcmp(p->provides.v[i].name, name) == 0)
			return p->provides.v[i].version;
	return NULL;
}

/* The version p offers for dependency d: its own, a provided one, or NULL (unversioned). */
static const char *offered_version(const struct copa_apk_pkg *p, const struct copa_apk_dep *d)
{
	return strcmp(p->name, d->name) == 0 ? p->version : provided_version(p, d->name);
}

/*
 * >0 when a is a better choice than b for d; the order of apk's
 * compare_providers (solver.c), at the level of names: the installed
 * version unless the name is upgraded, the highest version offered for the
 * requested name, the newest of one name, the provider the image has
 * installed, the highest provider_priority, then the name (stable).
 */
static int better(const struct solver *s, const struct copa_apk_dep *d, const struct cand *a,
                  const struct cand *b)
{
	const char *va = offered_version(a->p, d), *vb = offered_version(b->p, d);
	bool same = strcmp(a->p->name, b->p->name) == 0;
	int r;

	if (same && !wants_upgrade(s, a->p->name) && a->installed != b->installed)
		return a->installed ? 1 : -1;
	if (va && vb &&
	    (r = copa_apkver_sign(copa_apkver_cmp(copa_blob_str(va), copa_blob_str(vb)))))
		return r;
	if (same) {
		r = copa_apkver_sign(
		    copa_apkver_cmp(copa_blob_str(a->p->version), copa_blob_str(b->p->version)));
		if (r)
			return r;
		if (a->installed != b->installed)
			return a->installed ? 1 : -1; /* no churn for an equal version */
		return 0;
	}
	bool ia = installed_named(s, a->p->name) != NULL,
	     ib = installed_named(s, b->p->name) != NULL;

	if (ia != ib)
		return ia ? 1 : -1; /* keep the provider the image has */
	if (a->p->provider_priority != b->p->provider_priority)
		return a->p->provider_priority > b->p->provider_priority ? 1 : -1;
	return strcmp(b->p->name, a->p->name);
}

static const struct copa_apk_pkg *best(const struct solver *s, const struct copa_apk_dep *d)
{
	const struct cand *top = NULL;

	for (size_t i = 0; i < s->nc; i++) {
		const struct cand *c = &s->c[i];
		int sc;

		if (!tag_ok(c, d) || !(sc = satisfies(d, c->p)))
			continue;
		/* a virtual provider is chosen on its own only with a priority or when installed */
		if (sc == 1 && !c->p->provider_priority && !installed_named(s, c->p->name)) {
			bool versioned = false;

			for (size_t j = 0; j < c->p->provides.n; j++)
				if (strcmp(c->p->provides.v[j].name, d->name) == 0 &&
				    c->p->provides.v[j].version)
					versioned = true;
			if (!versioned)
				continue;
		}
		/* a name already chosen cannot take another version */
		const struct copa_apk_pkg *chosen = selected_named(s, c->p->name);

		if (chosen && chosen != c->p)
			continue;
		if (!top || better(s, d, c, top) > 0)
			top = c;
	}
	return top ? top->p : NULL;
}

static void push(struct solver *s, const struct copa_apk_dep *d, const char *by)
{
	s->q = copa_xgrow(s->q, &s->capq, s->nq + 1, sizeof(*s->q));
	s->q[s->nq++] = (struct item){d, by};
}

static void choose(struct solver *s, const struct copa_apk_pkg *p)
{
	s->sel = copa_xgrow(s->sel, &s->capsel, s->nsel + 1, sizeof(*s->sel));
	s->sel[s->nsel++] = p;
	for (size_t i = 0; i < p->depends.n; i++)
		push(s, &p->depends.v[i], p->name);
}

static int drain(struct solver *s, struct copa_err *err)
{
	while (s->head < s->nq) {
		struct item it = s->q[s->head++];
		const struct copa_apk_pkg *p;
		bool done = false;

		if (it.d->op & COPA_APKV_CONFLICT)
			continue; /* checked on the final set */
		for (size_t i = 0; i < s->nsel && !done; i++)
			done = satisfies(it.d, s->sel[i]) != 0;
		if (done)
			continue;
		p = best(s, it.d);
		if (!p) {
			struct copa_buf dep = COPA_BUF_INIT;
			const struct copa_apk_pkg *other;

			copa_apk_dep_write(it.d, &dep);
			other = selected_named(s, it.d->name);
			if (other)
				copa_err_set(err, COPA_E_PACKAGE,
				             "'%s' needs '%s', but '%s-%s' is already chosen",
				             it.by, copa_buf_str(&dep), other->name,
				             other->version);
			else
				copa_err_set(err, COPA_E_PACKAGE,
				             "'%s' needs '%s', which no repository provides", it.by,
				             copa_buf_str(&dep));
			copa_buf_release(&dep);
			return -1;
		}
		choose(s, p);
	}
	return 0;
}

static bool install_if_met(const struct solver *s, const struct copa_apk_pkg *p)
{
	if (p->install_if.n == 0)
		return false;
	for (size_t j = 0; j < p->install_if.n; j++) {
		const struct copa_apk_dep *d = &p->install_if.v[j];
		bool hit = false;

		for (size_t k = 0; k < s->nsel && !hit; k++)
			hit = satisfies(d, s->sel[k]) != 0;
		if ((d->op & COPA_APKV_CONFLICT) ? hit : !hit)
			return false;
	}
	return true;
}

/*
 * One round of install_if: for a name nothing chose, the best of its
 * packages whose own install_if the chosen set meets (an old version whose
 * conditions no longer hold is not one). Returns how many it added.
 */
static size_t install_if(struct solver *s)
{
	size_t added = 0;

	for (size_t i = 0; i < s->nc; i++) {
		const struct cand *top = NULL;
		const char *name = s->c[i].p->name;

		if (selected_named(s, name) || !install_if_met(s, s->c[i].p) || s->c[i].tag)
			continue;
		struct copa_apk_dep self = {name, NULL, NULL, COPA_APKV_ANY, false};

		for (size_t j = 0; j < s->nc; j++) {
			const struct cand *c = &s->c[j];

			if (strcmp(c->p->name, name) != 0 || c->tag || !install_if_met(s, c->p))
				continue;
			if (!top || better(s, &self, c, top) > 0)
				top = c;
		}
		choose(s, top->p);
		added++;
	}
	return added;
}

static int check_conflicts(const struct solver *s, struct copa_err *err)
{
	for (size_t i = 0; i < s->nsel; i++) {
		const struct copa_apk_pkg *p = s->sel[i];

		for (size_t j = 0; j < p->depends.n; j++) {
			const struct copa_apk_dep *d = &p->depends.v[j];

			if (!(d->op & COPA_APKV_CONFLICT))
				continue;
			for (size_t k = 0; k < s->nsel; k++)
				if (s->sel[k] != p && satisfies(d, s->sel[k]))
					return copa_err_set(err, COPA_E_PACKAGE,
					                    "'%s-%s' conflicts with '%s-%s'",
					                    p->name, p->version, s->sel[k]->name,
					                    s->sel[k]->version);
		}
	}
	return 0;
}

static void changes(const struct solver *s, struct copa_apksolve_out *out)
{
	size_t cap = 0;

	for (size_t i = 0; i < s->nsel; i++) {
		const struct copa_apk_pkg *p = s->sel[i], *old = installed_named(s, p->name);

		if (old == p || (old && strcmp(old->version, p->version) == 0 && old->csum &&
		                 p->csum && strcmp(old->csum, p->csum) == 0))
			continue;
		out->changes =
		    copa_xgrow(out->changes, &cap, out->nchanges + 1, sizeof(*out->changes));
		out->changes[out->nchanges++] = (struct copa_apksolve_change){
		    old ? COPA_APKSOLVE_UPGRADE : COPA_APKSOLVE_ADD, old, p};
	}
	for (size_t i = 0; i < s->in->ninstalled; i++) {
		const struct copa_apk_pkg *old = s->in->installed[i];

		if (selected_named(s, old->name))
			continue;
		out->changes =
		    copa_xgrow(out->changes, &cap, out->nchanges + 1, sizeof(*out->changes));
		out->changes[out->nchanges++] =
		    (struct copa_apksolve_change){COPA_APKSOLVE_REMOVE, old, NULL};
	}
}

int copa_apksolve(const struct copa_apksolve_in *in, struct copa_apksolve_out *out,
                  struct copa_err *err)
{
	struct solver s = {in, NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, NULL, 0, 0};
	size_t capc = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->ninstalled; i++) {
		s.c = copa_xgrow(s.c, &capc, s.nc + 1, sizeof(*s.c));
		s.c[s.nc++] = (struct cand){in->installed[i], NULL, true};
	}
	for (size_t r_i = 0; r_i < in->nrepos; r_i++) {
		const struct copa_apksolve_repo *repo = &in->repos[r_i];
		const char *tag = repo->tag && *repo->tag ? repo->tag : NULL;

		for (size_t i = 0; i < repo->n; i++) {
			s.c = copa_xgrow(s.c, &capc, s.nc + 1, sizeof(*s.c));
			s.c[s.nc++] = (struct cand){repo->pkgs[i], tag, false};
		}
	}
	spread_upgrade(&s);
	for (size_t i = 0; in->world && i < in->world->n; i++)
		push(&s, &in->world->v[i], "world");
	do {
		if ((r = drain(&s, err)) < 0)
			break;
	} while (install_if(&s) > 0);
	if (r == 0)
		r = check_conflicts(&s, err);
	if (r == 0) {
		changes(&s, out);
		out->chosen = steal_ptr(&s.sel);
		out->nchosen = s.nsel;
	}
	free(s.c);
	free(s.sel);
	free(s.q);
	free(s.up);
	return r;
}

void copa_apksolve_out_release(struct copa_apksolve_out *out)
{
	free(out->chosen);
	free(out->changes);
	memset(out, 0, sizeof(*out));
}

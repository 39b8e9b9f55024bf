#include "pkg/deb/plan.h"

#include "pkg/version.h"

#include "pkg/deb/control.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/strmap.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <solv/bitmap.h>
#include <solv/evr.h>
#include <solv/knownid.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/problems.h>
#include <solv/repo.h>
#include <solv/repo_deb.h>
#include <solv/repo_solv.h>
#include <solv/repo_write.h>
#include <solv/rules.h>
#include <solv/selection.h>
#include <solv/solvversion.h>
#include <solv/solver.h>
#include <solv/transaction.h>

/* ---- versions ---- */

static Pool *version_pool;
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_pool_init(void)
{
	version_pool = pool_create();
	pool_setdisttype(version_pool, DISTTYPE_DEB);
}

int copa_deb_solv_version_cmp(const char *a, const char *b)
{
	pthread_once(&version_once, version_pool_init);
	return pool_evrcmp_str(version_pool, a, b, EVRCMP_COMPARE);
}

int copa_deb_version_cmp(const char *a, const char *b)
{
	int r = 0;

	/* dpkg's rule (pkg/version.c), the one the read-back check and reports use. */
	if (copa_version_cmp(COPA_FAM_DEB, a, b, &r, NULL) == 0)
		return r;
	return copa_deb_solv_version_cmp(a, b);
}

bool copa_deb_version_valid(const char *s)
{
	/* One rule for what a Debian version is: deb-version(7), as core/version.c reads it. */
	return s && strlen(s) <= 256 && copa_version_valid(COPA_FAM_DEB, s);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 200 || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
		    !strchr("+-.:", s[i]))
			return false;
	return true;
}

const char *copa_deb_outcome_str(enum copa_deb_outcome o)
{
	switch (o) {
	case COPA_DEB_UPDATED:
		return "updated";
	case COPA_DEB_ALREADY_FIXED:
		return "already-fixed";
	case COPA_DEB_NOT_AVAILABLE:
		return "not-available";
	case COPA_DEB_HELD:
		return "held";
	case COPA_DEB_NOT_INSTALLED:
		return "not-installed";
	case COPA_DEB_FAILED:
		return "failed";
	}
	return "unknown";
}

bool copa_deb_outcome_is_error(enum copa_deb_outcome o)
{
	return o == COPA_DEB_NOT_AVAILABLE || o == COPA_DEB_FAILED || o == COPA_DEB_HELD;
}

void copa_deb_plan_release(struct copa_deb_plan *plan)
{
	for (size_t i = 0; i < plan->n_pkgs; i++)
		copa_deb_pkg_release(&plan->pkgs[i]);
	free(plan->pkgs);
	for (size_t i = 0; i < plan->n_results; i++) {
		struct copa_deb_result *r = &plan->results[i];

		free(r->name);
		free(r->arch);
		free(r->installed_version);
		free(r->fixed_version);
		free(r->chosen_version);
		free(r->best_available);
		free(r->repo);
		free(r->reason);
	}
	free(plan->results);
	memset(plan, 0, sizeof(*plan));
}

/* ---- the planning context ---- */

/* What a job stands for, to map solver answers back to requests. */
struct jobinfo {
	size_t result; /* index into plan->results */
	Id installed;  /* the installed solvable the job is about */
	bool dropped;
};

struct ctx {
	const struct copa_deb_status *st;
	const struct copa_deb_indexes *ix;
	const struct copa_deb_plan_opts *o;
	struct copa_deb_plan *plan;
	Pool *pool;
	Repo *installed;
	char **archs; /* native first, then foreign */
	size_t n_archs;
	Map held; /* installed solvables with want=hold, by solvable id */
	Map considered;
	bool have_considered;
	Map pin_cut; /* by name id: pins keep a newer available version out */
	bool have_pins;
	size_t res_cap;
	struct jobinfo *ji; /* per job-queue pair index (job.count / 2) */
	size_t ji_cap;
	Id standin; /* the stand-in for omitted dependencies, or 0 */
};

static struct copa_deb_result *add_result(struct ctx *c)
{
	struct copa_deb_plan *p = c->plan;

	p->results = copa_xgrow(p->results, &c->res_cap, p->n_results + 1, sizeof(*p->results));
	memset(&p->results[p->n_results], 0, sizeof(*p->results));
	return &p->results[p->n_results++];
}

static void set_str(char **slot, const char *s)
{
	free(*slot);
	*slot = s ? copa_xstrdup(s) : NULL;
}

/* "name:arch" names stand for packages of foreign architectures; the base name is before ':'. */
static const char *base_name(struct ctx *c, Solvable *s, char *buf, size_t cap)
{
	const char *n = pool_id2str(c->pool, s->name);
	const char *colon = strchr(n, ':');

	if (!colon)
		return n;
	snprintf(buf, cap, "%.*s", (int)(colon - n), n);
	return buf;
}

/*
 * The foreign architecture `arch` (an Id) names, as the string the context
 * owns, or NULL when it is native or unknown. Strings of libsolv's pool move
 * when pool_str2id() grows it: never keep one across such a call.
 */
static const char *foreign_arch(struct ctx *c, Id arch)
{
	const char *a = pool_id2str(c->pool, arch);

	for (size_t i = 1; i < c->n_archs; i++)
		if (strcmp(c->archs[i], a) == 0)
			return c->archs[i];
	return NULL;
}

/* ---- the installed database ---- */

/* The dpkg want state of a status paragraph ("install", "hold"...), or "" */
static struct copa_blob want_of(const struct copa_deb822_para *p)
{
	struct copa_blob s = copa_deb822_get_trim(p, "Status"), w = COPA_BLOB_NULL;

	if (s.p)
		copa_blob_word(&s, &w);
	return w;
}

static bool installed_para(const struct copa_deb822_para *p)
{
	struct copa_blob s = copa_deb822_get_trim(p, "Status"), w;
	int i = 0;

	if (!s.p)
		return true;
	while (copa_blob_word(&s, &w))
		if (++i == 3)
			return !copa_blob_eqs(w, "not-installed") &&
			       !copa_blob_eqs(w, "config-files");
	return false;
}

static int reduce_para(const struct copa_deb822_para *para, struct copa_buf *out,
                       struct copa_err *err);

/*
 * Loads installed packages: only paragraphs whose files are on disk, each
 * reduced to the solver's fields as the indexes are (reduce_para), so
 * libsolv sees exactly the installed set and nothing it would only parse
 * slowly (a 100 MB Description took minutes). Records held
 * packages by (name, arch, version) to map them to solvables after loading.
 */
static int load_installed(struct ctx *c, struct copa_strmap *holds, struct copa_arena *arena,
                          struct copa_err *err)
{
	struct copa_deb822_parser p;
	struct copa_deb822_para para = {0};
	struct copa_buf text = COPA_BUF_INIT;
	const char *what = c->st->distroless ? "'var/lib/dpkg/status.d'" : "'var/lib/dpkg/status'";
	FILE *fp;
	int r;

	copa_deb822_init(&p, c->st->text, c->st->len, what, false);
	while ((r = copa_deb822_next(&p, &para, err)) == 1) {
		struct copa_blob name = copa_deb822_get_trim(&para, "Package");

		if (!name.p || !name.n || !installed_para(&para))
			continue;
		if (reduce_para(&para, &text, err) < 0) {
			r = copa_err_wrap(err, "%s", what);
			break;
		}
		if (copa_blob_eqs(want_of(&para), "hold")) {
			char *key = copa_arena_strndup(arena, name.p, name.n);

			copa_strmap_put(holds, key, name.n, 1);
		}
	}
	copa_deb822_para_release(&para);
	if (r < 0) {
		copa_buf_release(&text);
		return -1;
	}
	c->installed = repo_create(c->pool, "@System");
	if (text.len) {
		fp = fmemopen(text.p, text.len, "r");
		if (!fp) {
			copa_buf_release(&text);
			return copa_err_sys(err, COPA_E_IO, errno, "cannot read the dpkg database");
		}
		repo_add_debpackages(c->installed, fp, 0);
		fclose(fp);
	}
	copa_buf_release(&text);
	pool_set_installed(c->pool, c->installed);
	return 0;
}

/* ---- Multi-Arch ---- */

static Id with_arch(Pool *pool, Id name, const char *arch)
{
	char buf[512];
	const char *n;
	Id id;

	if (!arch)
		return name;
	/* n is read before pool_str2id, which may move the pool's strings. */
	n = pool_id2str(pool, name);
	if ((size_t)snprintf(buf, sizeof(buf), "%s:%s", n, arch) < sizeof(buf))
		return pool_str2id(pool, buf, 1);
	{
		char *big = copa_xasprintf("%s:%s", n, arch); /* a dependency name can be long */

		id = pool_str2id(pool, big, 1);
		free(big);
	}
	return id;
}

/* Rewrites a dependency of a package of architecture `arch` to that architecture's names. */
static Id map_dep(Pool *pool, Id dep, const char *arch)
{
	Reldep *rd;
	Id name, evr;
	int flags;

	if (!ISRELDEP(dep))
		return with_arch(pool, dep, arch);
	rd = GETRELDEP(pool, dep);
	name = rd->name;
	evr = rd->evr;
	flags = rd->flags;
	if (flags == REL_MULTIARCH) /* "foo:any" */
		return dep;
	if (flags == REL_OR || flags == REL_AND || flags == REL_WITH || flags == REL_COND ||
	    flags == REL_UNLESS || flags == REL_ELSE)
		return pool_rel2id(pool, map_dep(pool, name, arch), map_dep(pool, evr, arch), flags,
		                   1);
	if (flags < 8)
		return pool_rel2id(pool, map_dep(pool, name, arch), evr, flags, 1);
	return dep;
}

static void map_deps(Repo *repo, Offset off, const char *arch)
{
	Id *ids;

	if (!off)
		return;
	for (ids = repo->idarraydata + off; *ids; ids++)
		if (*ids != SOLVABLE_PREREQMARKER && *ids != SOLVABLE_FILEMARKER)
			*ids = map_dep(repo->pool, *ids, arch);
}

/*
 * Models Multi-Arch when the image has foreign architectures: packages of
 * foreign architecture X are renamed "name:X" with their dependencies
 * mapped to X; Multi-Arch: foreign packages provide their names for every
 * architecture; Multi-Arch: same packages conflict with other versions of
 * themselves on the other architectures (dpkg keeps them in step).
 */
static void model_multiarch(struct ctx *c)
{
	Pool *pool = c->pool;
	Id p;

	if (c->n_archs < 2)
		return;
	for (p = 2; p < pool->nsolvables; p++) {
		Solvable *s = pool->solvables + p;
		const char *ma, *own;
		bool ma_foreign, ma_same;
		Id orig_name, orig_prov = 0;
		Repo *repo = s->repo;

		if (!repo)
			continue;
		/*
		 * Everything read from the pool's strings is settled here: the
		 * renames below add strings, which may move them all.
		 */
		own = foreign_arch(c, s->arch);
		ma = solvable_lookup_str(s, SOLVABLE_MULTIARCH);
		ma_foreign = ma && strcmp(ma, "foreign") == 0;
		ma_same = ma && strcmp(ma, "same") == 0;
		ma = NULL;
		orig_name = s->name;
		/* Remember the original provides for Multi-Arch: foreign. */
		if (ma_foreign && s->provides) {
			Queue q;

			queue_init(&q);
			for (Id *ids = repo->idarraydata + s->provides; *ids; ids++)
				queue_push(&q, *ids);
			for (int i = 0; i < q.count; i++)
				orig_prov = repo_addid_dep(repo, orig_prov, q.elements[i], 0);
			queue_free(&q);
		}
		if (own) {
			s->name = with_arch(pool, s->name, own);
			map_deps(repo, s->provides, own);
			map_deps(repo, s->requires, own);
			map_deps(repo, s->conflicts, own);
			map_deps(repo, s->obsoletes, own);
			map_deps(repo, s->recommends, own);
			map_deps(repo, s->suggests, own);
			map_deps(repo, s->supplements, own);
			map_deps(repo, s->enhances, own);
		}
		for (size_t a = 0; a < c->n_archs; a++) {
			const char *other = a == 0 ? NULL : c->archs[a];

			if ((own == NULL && other == NULL) ||
			    (own && other && strcmp(own, other) == 0))
				continue;
			if (ma_foreign && orig_prov) {
				Queue q;

				queue_init(&q);
				for (Id *ids = repo->idarraydata + orig_prov; *ids; ids++)
					queue_push(&q, *ids);
				for (int i = 0; i < q.count; i++)
					s->provides =
					    repo_addid_dep(repo, s->provides,
					                   map_dep(pool, q.elements[i], other), 0);
				queue_free(&q);
			} else if (ma_same && s->arch != ARCH_ALL) {
				Id other_name = with_arch(pool, orig_name, other);

				s->conflicts = repo_addid_dep(
				    repo, s->conflicts,
				    pool_rel2id(pool, other_name, s->evr, REL_LT | REL_GT, 1), 0);
			}
		}
	}
}

/* ---- omitted dependencies ---- */

static void collect_names(Pool *pool, Id dep, Queue *names)
{
	if (ISRELDEP(dep)) {
		Reldep *rd = GETRELDEP(pool, dep);
		Id name = rd->name, evr = rd->evr;
		int flags = rd->flags;

		if (flags == REL_OR) {
			collect_names(pool, name, names);
			collect_names(pool, evr, names);
		} else if (flags < 8 || flags == REL_MULTIARCH) {
			collect_names(pool, name, names);
		}
		return;
	}
	queue_pushunique(names, dep);
}

static bool installed_provides(Pool *pool, Repo *installed, Id dep)
{
	Id p, pp;

	FOR_PROVIDES(p, pp, dep)
	if (pool->solvables[p].repo == installed)
		return true;
	return false;
}

/*
 * Dependencies the image already leaves unsatisfied (distroless images are
 * assembled without dependency closure; slimmed images had packages forced
 * out) must not be pulled in by an update: a stand-in installed package
 * provides every such name at a version that satisfies any lower bound.
 * Returns the number of names it provides.
 */
static int add_omitted_standin(struct ctx *c)
{
	Pool *pool = c->pool;
	Queue names;
	Solvable *s;
	Id p;
	int n;

	queue_init(&names);
	FOR_REPO_SOLVABLES(c->installed, p, s)
	{
		if (!s->requires)
			continue;
		for (Id *ids = c->installed->idarraydata + s->requires; *ids; ids++) {
			Queue cand;

			if (*ids == SOLVABLE_PREREQMARKER ||
			    installed_provides(pool, c->installed, *ids))
				continue;
			/* Only names nothing installed provides at any version: a too-old installed
			 * package is a real dependency to update, not an omission. */
			queue_init(&cand);
			collect_names(pool, *ids, &cand);
			for (int i = 0; i < cand.count; i++)
				if (!installed_provides(pool, c->installed, cand.elements[i]))
					queue_pushunique(&names, cand.elements[i]);
			queue_free(&cand);
		}
	}
	n = names.count;
	if (n) {
		Id evr = pool_str2id(pool, "999999999:999999999", 1);

		c->standin = repo_add_solvable(c->installed);
		s = pool_id2solvable(pool, c->standin);
		s->name = pool_str2id(pool, "copa:omitted-dependencies", 1);
		s->evr = pool_str2id(pool, "1", 1);
		s->arch = ARCH_ALL;
		for (int i = 0; i < names.count; i++)
			s->provides =
			    repo_addid_dep(c->installed, s->provides,
			                   pool_rel2id(pool, names.elements[i], evr, REL_EQ, 1), 0);
		copa_debug(c->o->out, "%d dependencies the image leaves out stay out", n);
	}
	queue_free(&names);
	return n;
}

/* ---- candidates ---- */

static bool arch_compatible(Solvable *inst, Solvable *cand)
{
	return inst->arch == cand->arch || cand->arch == ARCH_ALL || inst->arch == ARCH_ALL;
}

static bool usable(struct ctx *c, Id p)
{
	return !c->have_considered || MAPTST(&c->considered, p);
}

/*
 * Collects available versions of installed package ip's name that are newer
 * than it and >= min (when not NULL). *best gets the highest available
 * version of any kind (or 0).
 */
static void candidates(struct ctx *c, Id ip, const char *min, Queue *q, Id *best)
{
	Pool *pool = c->pool;
	Solvable *inst = pool->solvables + ip;
	Id p, pp, min_evr = min ? pool_str2id(pool, min, 1) : 0;

	*best = 0;
	FOR_PROVIDES(p, pp, inst->name)
	{
		Solvable *s = pool->solvables + p;

		if (s->repo == c->installed || s->name != inst->name || !arch_compatible(inst, s) ||
		    !usable(c, p) || !pool_installable(pool, s))
			continue;
		if (!*best ||
		    pool_evrcmp(pool, s->evr, pool->solvables[*best].evr, EVRCMP_COMPARE) > 0)
			*best = p;
		if (pool_evrcmp(pool, s->evr, inst->evr, EVRCMP_COMPARE) <= 0)
			continue;
		if (min_evr && pool_evrcmp(pool, s->evr, min_evr, EVRCMP_COMPARE) < 0)
			continue;
		queue_push(q, p);
	}
}

static const struct copa_deb_index *index_of(struct ctx *c, Solvable *s)
{
	uintptr_t i = (uintptr_t)s->repo->appdata;

	return i ? &c->ix->v[i - 1] : NULL;
}

/*
 * Without pins: NotAutomatic repositories only update packages installed
 * from them (apt's default priorities 1 and 100). With pins, setup_pins
 * applies apt's whole policy instead, these defaults included.
 */
static void setup_considered(struct ctx *c)
{
	Pool *pool = c->pool;
	bool any = false;
	Id p;

	for (size_t i = 0; i < c->ix->n; i++)
		any |= c->ix->v[i].not_automatic;
	if (!any)
		return;
	map_init(&c->considered, pool->nsolvables);
	map_setall(&c->considered);
	c->have_considered = true;
	for (p = 2; p < pool->nsolvables; p++) {
		Solvable *s = pool->solvables + p;
		const struct copa_deb_index *x;
		bool from_here = false;
		Id ip;
		Solvable *is;

		if (!s->repo || s->repo == c->installed || !(x = index_of(c, s)) ||
		    !x->not_automatic)
			continue;
		if (x->but_automatic_upgrades) {
			FOR_REPO_SOLVABLES(c->installed, ip, is)
			{
				Id q;
				Solvable *qs;

				if (is->name != s->name)
					continue;
				/* Installed from this repository: its exact version is there. */
				FOR_REPO_SOLVABLES(s->repo, q, qs)
				if (qs->name == is->name && qs->evr == is->evr)
					from_here = true;
			}
		}
		if (!from_here)
			MAPCLR(&c->considered, p);
	}
	pool->considered = &c->considered;
}

/* ---- apt pins (aptprefs.h) ---- */

static int cmp_by_name(const void *a, const void *b, void *pool_)
{
	Pool *pool = pool_;
	const Solvable *x = pool->solvables + *(const Id *)a, *y = pool->solvables + *(const Id *)b;
	int d;

	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	d = pool_evrcmp(pool, y->evr, x->evr, EVRCMP_COMPARE); /* newest first */
	if (d)
		return d;
	return *(const Id *)a < *(const Id *)b ? -1 : 1;
}

static void apt_file_of(struct ctx *c, Solvable *s, struct copa_apt_file *f)
{
	const struct copa_deb_index *x = index_of(c, s);

	memset(f, 0, sizeof(*f));
	if (s->repo == c->installed || !x) {
		f->status = true;
		return;
	}
	f->origin = x->rel_origin;
	f->label = x->rel_label;
	f->suite = x->rel_suite;
	f->codename = x->rel_codename;
	f->component = x->component;
	f->arch = x->arch;
	f->host = x->host;
	f->not_automatic = x->not_automatic;
	f->but_automatic_upgrades = x->but_automatic_upgrades;
}

/*
 * apt's candidate for every package name under the image's pins: versions
 * newest first, the highest priority wins (the newest among equals), no
 * version below the installed one unless a pin of 1000 or more says so, and
 * none at all when the best priority is not positive. Every other available
 * version leaves the solver's reach, as apt never installs a non-candidate.
 */
static void setup_pins(struct ctx *c)
{
	Pool *pool = c->pool;
	Id *ids = copa_xcalloc((size_t)pool->nsolvables + 1, sizeof(*ids));
	struct copa_apt_file *files = copa_xcalloc((size_t)pool->nsolvables + 1, sizeof(*files));
	size_t n = 0;

	for (Id p = 2; p < pool->nsolvables; p++)
		if (pool->solvables[p].repo && p != c->standin)
			ids[n++] = p;
	qsort_r(ids, n, sizeof(*ids), cmp_by_name, pool);
	map_init(&c->considered, pool->nsolvables);
	map_setall(&c->considered);
	c->have_considered = true;
	map_init(&c->pin_cut, pool->ss.nstrings);
	c->have_pins = true;
	for (size_t i = 0; i < n;) {
		Id name = pool->solvables[ids[i]].name;
		size_t end = i, newest_avail = (size_t)-1;
		Id inst_evr = 0, pref = 0;
		long max = 0;
		bool stop = false;

		while (end < n && pool->solvables[ids[end]].name == name)
			end++;
		for (size_t k = i; k < end; k++) {
			Solvable *s = pool->solvables + ids[k];

			if (s->repo == c->installed)
				inst_evr = s->evr;
			else if (newest_avail == (size_t)-1)
				newest_avail = k;
		}
		/* One version at a time: all solvables sharing an evr are its files. */
		for (size_t k = i; k < end && !stop;) {
			Id evr = pool->solvables[ids[k]].evr;
			size_t nf = 0;
			long prio;

			for (; k < end && pool->solvables[ids[k]].evr == evr; k++)
				apt_file_of(c, pool->solvables + ids[k], &files[nf++]);
			prio = copa_apt_priority(c->o->prefs, pool_id2str(pool, name),
			                         pool_id2str(pool, evr), files, nf, NULL);
			if (prio > max) {
				max = prio;
				pref = evr;
			}
			if (evr == inst_evr && max < 1000)
				stop = true;
		}
		for (size_t k = i; k < end; k++) {
			Solvable *s = pool->solvables + ids[k];

			if (s->repo != c->installed && s->evr != pref)
				MAPCLR(&c->considered, ids[k]);
		}
		if (newest_avail != (size_t)-1 && pool->solvables[ids[newest_avail]].evr != pref &&
		    (!inst_evr || pool_evrcmp(pool, pool->solvables[ids[newest_avail]].evr,
		                              inst_evr, EVRCMP_COMPARE) > 0))
			MAPSET(&c->pin_cut, name);
		i = end;
	}
	pool->considered = &c->considered;
	free(files);
	free(ids);
}

/* Why pins keep installed package ip from newer versions: the deciding record, or NULL. */
static char *pin_reason(struct ctx *c, Id ip)
{
	Pool *pool = c->pool;
	Solvable *is = pool->solvables + ip;
	const struct copa_apt_pin *why = NULL;
	struct copa_apt_file f;
	Id newest = 0;

	if (!c->have_pins || !MAPTST(&c->pin_cut, is->name))
		return NULL;
	/* Out of the solver's reach now, so looked for among all solvables. */
	for (Id p = 2; p < pool->nsolvables; p++) {
		Solvable *s = pool->solvables + p;

		if (!s->repo || s->repo == c->installed || s->name != is->name)
			continue;
		if (!newest ||
		    pool_evrcmp(pool, s->evr, pool->solvables[newest].evr, EVRCMP_COMPARE) > 0)
			newest = p;
	}
	/* A pin against the newest version, else one for the installed version. */
	if (newest) {
		apt_file_of(c, pool->solvables + newest, &f);
		copa_apt_priority(c->o->prefs, pool_id2str(pool, is->name),
		                  pool_id2str(pool, pool->solvables[newest].evr), &f, 1, &why);
	}
	if (!why) {
		apt_file_of(c, is, &f);
		copa_apt_priority(c->o->prefs, pool_id2str(pool, is->name),
		                  pool_id2str(pool, is->evr), &f, 1, &why);
	}
	return copa_xasprintf("pinned by the image's apt preferences (%s): apt would not "
	                      "install a newer version",
	                      why ? why->where : "etc/apt/preferences");
}

/* ---- results ---- */

static void fill_installed(struct ctx *c, struct copa_deb_result *r, Id ip)
{
	char buf[256];
	Solvable *s = c->pool->solvables + ip;

	set_str(&r->name, base_name(c, s, buf, sizeof(buf)));
	set_str(&r->arch, pool_id2str(c->pool, s->arch));
	set_str(&r->installed_version, pool_id2str(c->pool, s->evr));
}

static void set_best(struct ctx *c, struct copa_deb_result *r, Id best)
{
	if (!best)
		return;
	set_str(&r->best_available, pool_id2str(c->pool, c->pool->solvables[best].evr));
	if (index_of(c, c->pool->solvables + best))
		set_str(&r->repo, index_of(c, c->pool->solvables + best)->repo);
}

static void push_job(struct ctx *c, Queue *job, Id how, Id what, size_t result, Id ip)
{
	size_t k = (size_t)job->count / 2;

	queue_push2(job, how, what);
	c->ji = copa_xgrow(c->ji, &c->ji_cap, k + 1, sizeof(*c->ji));
	c->ji[k] = (struct jobinfo){.result = result, .installed = ip, .dropped = false};
}

/* A request: every installed instance of the name (or of "name:arch") gets a result and maybe a
 * job. */
static void request_jobs(struct ctx *c, const struct copa_deb_request *rq, Queue *job)
{
	Pool *pool = c->pool;
	char want_name[256], want_arch[64] = "";
	const char *colon = strchr(rq->name, ':');
	bool found = false;
	Id ip;
	Solvable *is;

	if (colon) {
		snprintf(want_name, sizeof(want_name), "%.*s", (int)(colon - rq->name), rq->name);
		snprintf(want_arch, sizeof(want_arch), "%s", colon + 1);
	} else {
		snprintf(want_name, sizeof(want_name), "%s", rq->name);
	}
	if (!valid_name(rq->name) ||
	    (rq->fixed_version && !copa_deb_version_valid(rq->fixed_version))) {
		struct copa_deb_result *r = add_result(c);

		set_str(&r->name, want_name);
		set_str(&r->fixed_version, rq->fixed_version);
		r->outcome = COPA_DEB_FAILED;
		r->reason = copa_xstrdup("invalid package name or version in the request");
		return;
	}
	FOR_REPO_SOLVABLES(c->installed, ip, is)
	{
		char buf[256];
		struct copa_deb_result *r;
		Queue q;
		Id best;

		if (ip == c->standin ||
		    strcmp(base_name(c, is, buf, sizeof(buf)), want_name) != 0 ||
		    (want_arch[0] && strcmp(pool_id2str(pool, is->arch), want_arch) != 0))
			continue;
		found = true;
		r = add_result(c);
		fill_installed(c, r, ip);
		set_str(&r->fixed_version, rq->fixed_version);
		queue_init(&q);
		candidates(c, ip, rq->fixed_version, &q, &best);
		set_best(c, r, best);
		if (rq->fixed_version &&
		    copa_deb_version_cmp(r->installed_version, rq->fixed_version) >= 0) {
			r->outcome = COPA_DEB_ALREADY_FIXED;
		} else if (MAPTST(&c->held, ip)) {
			r->outcome = COPA_DEB_HELD;
			r->reason =
			    copa_xstrdup("held (apt-mark hold / dpkg hold): left at its version");
		} else if (!q.count && (r->reason = pin_reason(c, ip))) {
			r->outcome = COPA_DEB_HELD;
		} else if (!q.count && !rq->fixed_version) {
			r->outcome = COPA_DEB_ALREADY_FIXED;
		} else if (!q.count && !(c->o->best_available && best &&
		                         pool_evrcmp(pool, pool->solvables[best].evr, is->evr,
		                                     EVRCMP_COMPARE) > 0)) {
			r->outcome = COPA_DEB_NOT_AVAILABLE;
			r->reason =
			    best ? copa_xasprintf("the repositories offer at most %s",
			                          r->best_available)
			         : copa_xstrdup("the repositories do not offer this package");
		} else {
			if (!q.count) {
				/* --best-available: the highest version there is. */
				candidates(c, ip, NULL, &q, &best);
				r->reason =
				    copa_xasprintf("fixed version %s not available; updating "
				                   "to the highest available",
				                   rq->fixed_version);
			}
			r->outcome = COPA_DEB_UPDATED;
			push_job(c, job, SOLVER_INSTALL | SOLVER_SOLVABLE_ONE_OF,
			         pool_queuetowhatprovides(pool, &q), c->plan->n_results - 1, ip);
		}
		queue_free(&q);
	}
	if (!found) {
		struct copa_deb_result *r = add_result(c);

		set_str(&r->name, want_name);
		if (want_arch[0])
			set_str(&r->arch, want_arch);
		set_str(&r->fixed_version, rq->fixed_version);
		r->outcome = COPA_DEB_NOT_INSTALLED;
		r->reason = copa_xstrdup("the image does not have this package installed");
	}
}

/*
 * Reports list a package once per vulnerability: requests for the same name
 * become one, at the first one's place, asking for the highest fixed version
 * given. Fills merged (n entries) and returns how many there are.
 */
static size_t merge_requests(const struct copa_deb_request *all, size_t n,
                             struct copa_deb_request *merged)
{
	struct copa_strmap seen = COPA_STRMAP_INIT;
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		const char *v = all[i].fixed_version;
		uint32_t k;

		if (!copa_strmap_get(&seen, all[i].name, strlen(all[i].name), &k)) {
			copa_strmap_put(&seen, all[i].name, strlen(all[i].name), (uint32_t)m);
			merged[m++] = all[i];
			continue;
		}
		if (!v || !copa_deb_version_valid(v))
			continue;
		if (!merged[k].fixed_version || !copa_deb_version_valid(merged[k].fixed_version) ||
		    copa_deb_version_cmp(v, merged[k].fixed_version) > 0)
			merged[k].fixed_version = v;
	}
	copa_strmap_release(&seen);
	return m;
}

/* Update-all: a targeted update for every installed package with a newer candidate. */
static void update_all_jobs(struct ctx *c, Queue *job)
{
	Pool *pool = c->pool;
	Id ip;
	Solvable *is;

	FOR_REPO_SOLVABLES(c->installed, ip, is)
	{
		Queue q;
		Id best;

		if (ip == c->standin)
			continue;
		queue_init(&q);
		candidates(c, ip, NULL, &q, &best);
		if (q.count) {
			struct copa_deb_result *r = add_result(c);

			fill_installed(c, r, ip);
			set_best(c, r, best);
			if (MAPTST(&c->held, ip)) {
				r->outcome = COPA_DEB_HELD;
				r->reason =
				    copa_xstrdup("held (apt-mark hold / dpkg hold): left at "
				                 "its version");
			} else {
				r->outcome = COPA_DEB_UPDATED;
				push_job(c, job, SOLVER_UPDATE | SOLVER_SOLVABLE, ip,
				         c->plan->n_results - 1, ip);
			}
		}
		queue_free(&q);
		(void)pool;
	}
}

static void drop_job(struct ctx *c, Queue *job, int jobidx, const char *reason)
{
	struct jobinfo *j = &c->ji[jobidx / 2];
	struct copa_deb_result *r = &c->plan->results[j->result];

	job->elements[jobidx] = SOLVER_NOOP;
	job->elements[jobidx + 1] = 0;
	j->dropped = true;
	r->outcome = COPA_DEB_FAILED;
	set_str(&r->chosen_version, NULL);
	free(r->reason);
	r->reason = copa_xstrdup(reason);
}

/* Drops the request jobs a problem involves. Returns how many were dropped. */
static int drop_problem_jobs(struct ctx *c, Solver *solv, Queue *job, Id problem, int njobs)
{
	Queue rules;
	int dropped = 0;
	const char *why = solver_problem2str(solv, problem);

	queue_init(&rules);
	solver_findallproblemrules(solv, problem, &rules);
	for (int i = 0; i < rules.count; i++) {
		Id rid = rules.elements[i];
		int jobidx;

		if (solver_ruleclass(solv, rid) != SOLVER_RULE_JOB)
			continue;
		jobidx = solver_rule2jobidx(solv, rid);
		if (jobidx < 0 || jobidx >= njobs || job->elements[jobidx] == SOLVER_NOOP)
			continue;
		if (c->ji[jobidx / 2].result == (size_t)-1)
			continue; /* a hold, not a request */
		drop_job(c, job, jobidx, why);
		dropped++;
	}
	queue_free(&rules);
	return dropped;
}

/*
 * apt-get upgrade never installs a package the image does not have: lock
 * every available package whose name is not installed, so updates that
 * need one are kept back.
 */
static void lock_new_packages(struct ctx *c, Queue *job)
{
	Pool *pool = c->pool;
	Map names;
	Queue q;
	Id p;
	Solvable *s;

	map_init(&names, pool->ss.nstrings);
	FOR_REPO_SOLVABLES(c->installed, p, s)
	if (s->name < pool->ss.nstrings)
		MAPSET(&names, s->name);
	queue_init(&q);
	for (p = 2; p < pool->nsolvables; p++) {
		s = pool->solvables + p;
		if (s->repo && s->repo != c->installed &&
		    !(s->name < pool->ss.nstrings && MAPTST(&names, s->name)))
			queue_push(&q, p);
	}
	if (q.count)
		push_job(c, job, SOLVER_LOCK | SOLVER_SOLVABLE_ONE_OF,
		         pool_queuetowhatprovides(pool, &q), (size_t)-1, 0);
	queue_free(&q);
	map_free(&names);
}

static int solve(struct ctx *c, Solver *solv, Queue *job, struct copa_err *err)
{
	int njobs = job->count;

	for (int round = 0; round < 100; round++) {
		int nprob = solver_solve(solv, job), dropped = 0;

		if (nprob == 0)
			return 0;
		for (Id problem = 1; problem <= nprob; problem++)
			dropped += drop_problem_jobs(c, solv, job, problem, njobs);
		if (!dropped)
			return copa_err_set(err, COPA_E_PACKAGE, "cannot plan the updates: %s",
			                    solver_problem2str(solv, 1));
	}
	return copa_err_set(err, COPA_E_BUG, "the solver did not settle after 100 rounds");
}

/* ---- the index side of chosen packages ---- */

struct want {
	const char *name, *version, *arch;
	struct copa_deb_pkg *pkg;
	bool found;
};

static int cmp_want(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->name, ((const struct want *)b)->name);
}

static bool valid_filename(struct copa_blob f)
{
	if (f.n == 0 || f.n > 1024 || f.p[0] == '/')
		return false;
	for (size_t i = 0; i < f.n; i++)
		if ((unsigned char)f.p[i] <= 0x20 || (unsigned char)f.p[i] >= 0x7f ||
		    f.p[i] == '\\' || f.p[i] == '?' || f.p[i] == '#')
			return false;
	for (size_t i = 0; i + 1 < f.n; i++)
		if (f.p[i] == '.' && f.p[i + 1] == '.' && (i == 0 || f.p[i - 1] == '/') &&
		    (i + 2 == f.n || f.p[i + 2] == '/'))
			return false;
	return true;
}

static int fill_from_para(const struct copa_deb822_para *para, struct want *w,
                          const struct copa_deb_index *x, struct copa_err *err)
{
	struct copa_blob fn = copa_deb822_get_trim(para, "Filename");
	struct copa_blob size = copa_deb822_get_trim(para, "Size");
	struct copa_blob sha = copa_deb822_get_trim(para, "SHA256");
	struct copa_blob ma = copa_deb822_get_trim(para, "Multi-Arch");
	struct copa_blob isz = copa_deb822_get_trim(para, "Installed-Size");
	uint64_t sz, kib;

	if (!fn.p || !valid_filename(fn))
		return copa_err_set(err, COPA_E_INPUT,
		                    "index '%s': package '%s' %s has no valid Filename", x->label,
		                    w->name, w->version);
	if (!size.p || copa_blob_to_u64(size, 1ULL << 40, &sz) < 0)
		return copa_err_set(err, COPA_E_INPUT,
		                    "index '%s': package '%s' %s has no valid Size", x->label,
		                    w->name, w->version);
	if (!sha.p || sha.n != 64)
		return copa_err_set(err, COPA_E_INPUT,
		                    "index '%s': package '%s' %s has no SHA256 checksum", x->label,
		                    w->name, w->version);
	for (size_t i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)sha.p[i]))
			return copa_err_set(err, COPA_E_INPUT,
			                    "index '%s': package '%s' %s has a malformed SHA256",
			                    x->label, w->name, w->version);
		w->pkg->sha256[i] = (char)tolower((unsigned char)sha.p[i]);
	}
	w->pkg->sha256[64] = 0;
	w->pkg->filename = copa_blob_dup(fn);
	w->pkg->size = sz;
	/* Optional; bounds what the package may unpack to (debfile.h). */
	if (isz.p && copa_blob_to_u64(isz, 1ULL << 34, &kib) == 0)
		w->pkg->installed_size = kib << 10;
	w->pkg->url = copa_xasprintf("%s/%.*s", x->base_uri, (int)fn.n, fn.p);
	if (ma.p && ma.n)
		w->pkg->multi_arch = copa_blob_dup(ma);
	w->found = true;
	return 0;
}

/*
 * Reads a Packages file paragraph by paragraph without holding it in memory. The
 * cached file is not re-hashed when the index is opened (a warm run that loads the
 * .solv form never reads it), so the reader hashes what it reads and, at the end,
 * refuses a file that does not match the digest the signed Release named.
 */
struct para_reader {
	FILE *fp;
	const struct copa_deb_index *x;
	struct copa_hash hash;
	struct copa_buf buf;
	size_t start;
	bool eof;
};

static int para_reader_open(struct para_reader *pr, const struct copa_deb_index *x,
                            struct copa_err *err)
{
	memset(pr, 0, sizeof(*pr));
	pr->x = x;
	pr->fp = fopen(x->path, "re");
	if (!pr->fp)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open index '%s' (%s)", x->label,
		                    x->path);
	copa_hash_init(&pr->hash, COPA_HASH_SHA256);
	return 0;
}

static void para_reader_close(struct para_reader *pr)
{
	if (pr->fp) {
		fclose(pr->fp);
		copa_hash_release(&pr->hash);
	}
	copa_buf_release(&pr->buf);
	memset(pr, 0, sizeof(*pr));
}

/* At the end of the file: whether it is the content the index's digest names. */
static int para_reader_check(struct para_reader *pr, struct copa_err *err)
{
	char hex[COPA_HASH_HEX_MAX];
	const char *want = strchr(pr->x->digest, ':');

	copa_hash_final_hex(&pr->hash, hex);
	if (want && strcmp(want + 1, hex) == 0)
		return 0;
	/* Damaged in the cache: dropped, so the next run downloads it again. */
	unlink(pr->x->path);
	return copa_err_set(err, COPA_E_IO,
	                    "the cached copy '%s' does not match its digest %s (it has been "
	                    "removed: run copa again)",
	                    pr->x->path, pr->x->digest);
}

/* The next paragraph's text (without its blank line); 1, 0 at the end, -1 on error. */
static int para_reader_next(struct para_reader *pr, struct copa_blob *text, struct copa_err *err)
{
	for (;;) {
		const char *end =
		    pr->buf.len > pr->start
		        ? memmem(pr->buf.p + pr->start, pr->buf.len - pr->start, "\n\n", 2)
		        : NULL;

		if (end || (pr->eof && pr->start < pr->buf.len)) {
			size_t n = end ? (size_t)(end - pr->buf.p - pr->start) + 1
			               : pr->buf.len - pr->start;

			*text = copa_blob(pr->buf.p + pr->start, n);
			pr->start = end ? (size_t)(end - pr->buf.p) + 2 : pr->buf.len;
			if (copa_blob_trim(*text).n == 0)
				continue;
			return 1;
		}
		if (pr->eof)
			return 0;
		if (pr->start) {
			memmove(pr->buf.p, pr->buf.p + pr->start, pr->buf.len - pr->start);
			copa_buf_truncate(&pr->buf, pr->buf.len - pr->start);
			pr->start = 0;
		}
		if (pr->buf.len > (8u << 20))
			return copa_err_set(err, COPA_E_LIMIT,
			                    "index '%s': a paragraph is larger than 8 MiB",
			                    pr->x->label);
		{
			char chunk[65536];
			size_t n = fread(chunk, 1, sizeof(chunk), pr->fp);

			if (n == 0) {
				if (ferror(pr->fp))
					return copa_err_sys(err, COPA_E_IO, errno,
					                    "cannot read index '%s'", pr->x->label);
				pr->eof = true;
				if (para_reader_check(pr, err) < 0)
					return -1;
			}
			copa_hash_update(&pr->hash, chunk, n);
			copa_buf_add(&pr->buf, chunk, n);
		}
	}
}

/*
 * Streams one Packages file and fills in the chosen packages it holds
 * (wants sorted by name).
 */
static int scan_index(const struct copa_deb_index *x, struct want *wants, size_t nw,
                      struct copa_err *err)
{
	struct para_reader pr;
	struct copa_deb822_para para = {0};
	struct copa_blob text;
	int r, n;

	if (para_reader_open(&pr, x, err) < 0)
		return -1;
	while ((n = para_reader_next(&pr, &text, err)) == 1) {
		struct copa_deb822_parser p;
		struct copa_blob name;
		struct want key, *w;
		char nb[256];

		copa_deb822_init(&p, text.p, text.n, "index", false);
		if (copa_deb822_next(&p, &para, err) < 0) {
			copa_err_wrap(err, "index '%s'", x->label);
			n = -1;
			break;
		}
		name = copa_deb822_get_trim(&para, "Package");
		if (!name.p || name.n >= sizeof(nb))
			continue;
		snprintf(nb, sizeof(nb), "%.*s", (int)name.n, name.p);
		key.name = nb;
		w = bsearch(&key, wants, nw, sizeof(*wants), cmp_want);
		while (w && w > wants && strcmp(w[-1].name, nb) == 0)
			w--;
		for (; w && w < wants + nw && strcmp(w->name, nb) == 0; w++) {
			if (w->found ||
			    !copa_blob_eqs(copa_deb822_get_trim(&para, "Version"), w->version) ||
			    !copa_blob_eqs(copa_deb822_get_trim(&para, "Architecture"), w->arch))
				continue;
			if (fill_from_para(&para, w, x, err) < 0) {
				n = -1;
				break;
			}
		}
		if (n < 0)
			break;
	}
	r = n < 0 ? -1 : 0;
	copa_deb822_para_release(&para);
	para_reader_close(&pr);
	return r;
}

/* ---- feeding libsolv ---- */

/* The fields the solver uses; everything else (descriptions above all) is dropped. */
static const char *const solver_fields[] = {
    "Package",     "Version",  "Architecture", "Multi-Arch", "Depends",
    "Pre-Depends", "Provides", "Conflicts",    "Breaks",     "Replaces",
};

/*
 * Caps on what reaches libsolv, checked as the text enters it. libsolv
 * resolves "a | b | c" recursively, one stack frame per alternative: 40,000
 * of them overflowed the stack. Real indexes stay far below (bookworm: at
 * most 20 alternatives in a group, a 75 KB Provides, names under 100 bytes).
 */
#define MAX_ALTERNATIVES 256
#define MAX_SOLVER_FIELD (1u << 20)
#define MAX_NAME_FIELD   256

static bool single_word_field(const char *name)
{
	return !strcmp(name, "Package") || !strcmp(name, "Version") ||
	       !strcmp(name, "Architecture") || !strcmp(name, "Multi-Arch");
}

/* The package a paragraph is about, for errors: its name, shortened. */
static struct copa_blob para_subject(const struct copa_deb822_para *para)
{
	struct copa_blob name = copa_deb822_get_trim(para, "Package");

	if (!name.p)
		return copa_blob("(no name)", 9);
	if (name.n > 64)
		name.n = 64;
	return name;
}

static int check_solver_field(const struct copa_deb822_para *para, const char *field,
                              struct copa_blob v, struct copa_err *err)
{
	struct copa_blob who = para_subject(para);
	size_t cap = single_word_field(field) ? MAX_NAME_FIELD : MAX_SOLVER_FIELD;
	size_t alts = 1;

	if (v.n > cap)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "package '%.*s': field '%s' is %zu bytes long, more than copa "
		                    "accepts (%zu)",
		                    (int)who.n, who.p, field, v.n, cap);
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] == ',')
			alts = 1;
		else if (v.p[i] == '|' && ++alts > MAX_ALTERNATIVES)
			return copa_err_set(err, COPA_E_LIMIT,
			                    "package '%.*s': field '%s' has more than %d "
			                    "alternatives ('a | b | ...') in one dependency",
			                    (int)who.n, who.p, field, MAX_ALTERNATIVES);
	}
	return 0;
}

/*
 * Appends a paragraph reduced to the solver's fields, one field per line
 * (continuation lines joined), then a blank line. Both the indexes and the
 * installed database go through here: libsolv's parser moves a paragraph's
 * text once per continuation line, so a long Description costs quadratic
 * time, and the caps above hold for both.
 */
static int reduce_para(const struct copa_deb822_para *para, struct copa_buf *out,
                       struct copa_err *err)
{
	for (size_t i = 0; i < COPA_ARRAY_SIZE(solver_fields); i++) {
		struct copa_blob v = copa_deb822_get_trim(para, solver_fields[i]);

		if (!v.p)
			continue;
		if (check_solver_field(para, solver_fields[i], v, err) < 0)
			return -1;
		copa_buf_adds(out, solver_fields[i]);
		copa_buf_adds(out, ": ");
		/* Continuation lines join the first one. */
		while (v.n) {
			const char *nl = memchr(v.p, '\n', v.n);
			size_t k = nl ? (size_t)(nl - v.p) : v.n;

			copa_buf_add(out, v.p, k && v.p[k - 1] == '\r' ? k - 1 : k);
			if (!nl)
				break;
			copa_buf_addc(out, ' ');
			v.p += k + 1;
			v.n -= k + 1;
		}
		copa_buf_addc(out, '\n');
	}
	copa_buf_addc(out, '\n');
	return 0;
}

/*
 * A stdio stream (fopencookie) that yields a Packages file reduced to the
 * solver's fields, one field per line: libsolv's parser moves a paragraph's
 * text once per continuation line, so long descriptions make it slow.
 */
struct feed {
	struct para_reader pr;
	struct copa_deb822_para para;
	struct copa_buf out;
	size_t pos;
	struct copa_err err;
	bool failed;
};

static ssize_t feed_read(void *cookie, char *buf, size_t size)
{
	struct feed *f = cookie;

	while (f->pos >= f->out.len) {
		struct copa_blob text;
		struct copa_deb822_parser p;
		int n;

		copa_buf_reset(&f->out);
		f->pos = 0;
		if (f->failed)
			return -1;
		n = para_reader_next(&f->pr, &text, &f->err);
		if (n == 0)
			return 0;
		copa_deb822_init(&p, text.p, text.n, "index", false);
		if (n < 0 || copa_deb822_next(&p, &f->para, &f->err) < 0 ||
		    reduce_para(&f->para, &f->out, &f->err) < 0) {
			f->failed = true;
			return -1;
		}
	}
	{
		size_t n = f->out.len - f->pos < size ? f->out.len - f->pos : size;

		memcpy(buf, f->out.p + f->pos, n);
		f->pos += n;
		return (ssize_t)n;
	}
}

static int feed_close(void *cookie)
{
	return 0;
}

/* Parses an index into repo through the reduced feed. */
static int parse_index(Repo *repo, const struct copa_deb_index *x, struct copa_err *err)
{
	struct feed f = {0};
	cookie_io_functions_t io = {.read = feed_read, .close = feed_close};
	FILE *fp;
	int r = 0;

	if (para_reader_open(&f.pr, x, err) < 0)
		return -1;
	fp = fopencookie(&f, "r", io);
	if (!fp) {
		para_reader_close(&f.pr);
		return copa_err_sys(err, COPA_E_IO, errno, "index '%s'", x->label);
	}
	repo_add_debpackages(repo, fp, 0);
	fclose(fp);
	if (f.failed) {
		*err = f.err;
		r = copa_err_wrap(err, "index '%s'", x->label);
	}
	copa_deb822_para_release(&f.para);
	copa_buf_release(&f.out);
	para_reader_close(&f.pr);
	return r;
}

/* Cache namespace: index digest + libsolv version -> digest of the repository in .solv form. */
#define NS_SOLV "deb-solv"

static char *solv_key(const struct copa_deb_index *x)
{
	const char *hex = strchr(x->digest, ':');

	return copa_xasprintf("%s-libsolv-%s", hex ? hex + 1 : x->digest, solv_version);
}

/* Loads a cached .solv form of the index; true when it did. */
static bool load_cached_solv(Repo *repo, const struct copa_deb_index *x, struct copa_cache *cache)
{
	struct copa_err e2 = COPA_ERR_INIT;
	struct copa_buf m = COPA_BUF_INIT;
	_cleanup_free_ char *key = solv_key(x);
	bool ok = false;
	int fd;
	FILE *fp;

	if (copa_cache_get(cache, NS_SOLV, key, COPA_DIGEST_MAX, &m, &e2) != 1 ||
	    !copa_digest_valid(copa_buf_str(&m)))
		goto out;
	/* Verified against its digest: a damaged cache entry is dropped, not trusted. */
	fd = copa_cache_open_blob(cache, copa_buf_str(&m), true, &e2);
	if (fd < 0)
		goto out;
	fp = fdopen(fd, "r");
	if (!fp) {
		close(fd);
		goto out;
	}
	ok = repo_add_solv(repo, fp, 0) == 0;
	fclose(fp);
	if (!ok)
		repo_empty(repo, 1);
out:
	copa_buf_release(&m);
	return ok;
}

static void store_solv(Repo *repo, const struct copa_deb_index *x, struct copa_cache *cache,
                       struct copa_out *out)
{
	struct copa_err e2 = COPA_ERR_INIT;
	struct copa_tmpfile t = {.fd = -1};
	_cleanup_free_ char *key = solv_key(x);
	char digest[COPA_DIGEST_MAX];
	FILE *fp;
	int fd, wr;

	if (copa_cache_begin(cache, &t, &e2) < 0)
		goto fail;
	fd = dup(t.fd);
	fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!fp) {
		if (fd >= 0)
			close(fd);
		copa_err_sys(&e2, COPA_E_IO, errno, "cannot write the solver cache");
		goto fail;
	}
	wr = repo_write(repo, fp);
	if (fclose(fp) != 0 || wr != 0) {
		copa_err_set(&e2, COPA_E_IO, "cannot write the solver cache");
		goto fail;
	}
	if (copa_cache_commit_blob(cache, &t, NULL, false, digest, &e2) < 0 ||
	    copa_cache_put(cache, NS_SOLV, key, digest, strlen(digest), &e2) < 0)
		goto fail;
	copa_tmpfile_release(&t);
	return;
fail:
	/* The cache only saves time; planning goes on without it. */
	copa_debug(out, "not caching the solver form of '%s': %s", x->label, e2.msg);
	copa_tmpfile_release(&t);
}

static int load_index(struct ctx *c, Repo *repo, const struct copa_deb_index *x,
                      struct copa_err *err)
{
	if (c->o->cache && load_cached_solv(repo, x, c->o->cache))
		return 0;
	if (parse_index(repo, x, err) < 0)
		return -1;
	if (c->o->cache)
		store_solv(repo, x, c->o->cache, c->o->out);
	return 0;
}

static int cmp_pkg(const void *a, const void *b)
{
	const struct copa_deb_pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->arch, y->arch);
}

/* Turns the solution into the package list and final outcomes. */
static int collect(struct ctx *c, Solver *solv, Queue *job, struct copa_err *err)
{
	Pool *pool = c->pool;
	Transaction *t = solver_create_transaction(solv);
	struct want *wants = NULL;
	size_t nw = 0, wcap = 0, pcap = 0;
	int r = -1;

	for (int i = 0; i < t->steps.count; i++) {
		Id p = t->steps.elements[i];
		Solvable *s = pool->solvables + p;
		struct copa_deb_pkg *pkg;
		char buf[256];
		Id old;

		if (s->repo == c->installed) {
			Id type = transaction_type(
			    t, p, SOLVER_TRANSACTION_SHOW_ALL | SOLVER_TRANSACTION_SHOW_OBSOLETES);

			if (type != SOLVER_TRANSACTION_UPGRADED &&
			    type != SOLVER_TRANSACTION_CHANGED &&
			    type != SOLVER_TRANSACTION_REINSTALLED) {
				copa_err_set(err, COPA_E_BUG,
				             "the solution would remove '%s'; copa never removes "
				             "packages",
				             pool_solvable2str(pool, s));
				goto out;
			}
			continue;
		}
		if (!index_of(c, s))
			continue;
		old = transaction_obs_pkg(t, p);
		c->plan->pkgs =
		    copa_xgrow(c->plan->pkgs, &pcap, c->plan->n_pkgs + 1, sizeof(*c->plan->pkgs));
		pkg = &c->plan->pkgs[c->plan->n_pkgs++];
		memset(pkg, 0, sizeof(*pkg));
		pkg->name = copa_xstrdup(base_name(c, s, buf, sizeof(buf)));
		pkg->arch = copa_xstrdup(pool_id2str(pool, s->arch));
		pkg->version = copa_xstrdup(pool_id2str(pool, s->evr));
		pkg->old_version =
		    old ? copa_xstrdup(pool_id2str(pool, pool->solvables[old].evr)) : NULL;
		pkg->repo = copa_xstrdup(index_of(c, s)->repo);
		/* Outcomes of the jobs this package answers. */
		for (int j = 0; j < job->count; j += 2) {
			struct jobinfo *ji = &c->ji[j / 2];

			if (job->elements[j] == SOLVER_NOOP || ji->result == (size_t)-1 ||
			    pool->solvables[ji->installed].name != s->name)
				continue;
			set_str(&c->plan->results[ji->result].chosen_version, pkg->version);
			set_str(&c->plan->results[ji->result].repo, pkg->repo);
		}
	}
	/* Jobs the solver could satisfy only by keeping the old version (update-all). */
	for (int j = 0; j < job->count; j += 2) {
		struct jobinfo *ji = &c->ji[j / 2];
		struct copa_deb_result *res;

		if (ji->result == (size_t)-1 || job->elements[j] == SOLVER_NOOP)
			continue;
		res = &c->plan->results[ji->result];
		if (res->outcome == COPA_DEB_UPDATED && !res->chosen_version) {
			res->outcome = COPA_DEB_FAILED;
			set_str(
			    &res->reason,
			    c->o->no_new_packages
			        ? "kept back: the update needs a package the image does not have"
			        : "kept back: the newer version cannot be installed with the other "
			          "installed packages");
		}
	}
	/* Filename, Size and SHA256 come from the verified index text. */
	for (size_t i = 0; i < c->plan->n_pkgs; i++) {
		wants = copa_xgrow(wants, &wcap, nw + 1, sizeof(*wants));
		wants[nw++] = (struct want){.name = c->plan->pkgs[i].name,
		                            .version = c->plan->pkgs[i].version,
		                            .arch = c->plan->pkgs[i].arch,
		                            .pkg = &c->plan->pkgs[i]};
	}
	for (size_t x = 0; x < c->ix->n; x++) {
		struct want *sub = NULL;
		size_t ns = 0, scap = 0;

		for (size_t i = 0; i < nw; i++)
			if (strcmp(wants[i].pkg->repo, c->ix->v[x].repo) == 0 && !wants[i].found) {
				sub = copa_xgrow(sub, &scap, ns + 1, sizeof(*sub));
				sub[ns++] = wants[i];
			}
		if (!ns)
			continue;
		qsort(sub, ns, sizeof(*sub), cmp_want);
		if (scan_index(&c->ix->v[x], sub, ns, err) < 0) {
			free(sub);
			goto out;
		}
		for (size_t i = 0; i < ns; i++)
			if (sub[i].found)
				for (size_t k = 0; k < nw; k++)
					if (wants[k].pkg == sub[i].pkg)
						wants[k].found = true;
		free(sub);
	}
	for (size_t i = 0; i < nw; i++)
		if (!wants[i].found) {
			copa_err_set(
			    err, COPA_E_INPUT,
			    "package '%s' %s (%s) vanished from its index '%s' while planning",
			    wants[i].name, wants[i].version, wants[i].arch, wants[i].pkg->repo);
			goto out;
		}
	if (c->plan->n_pkgs > 1)
		qsort(c->plan->pkgs, c->plan->n_pkgs, sizeof(*c->plan->pkgs), cmp_pkg);
	r = 0;
out:
	free(wants);
	transaction_free(t);
	return r;
}

/* ---- entry point ---- */

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Logs the time a phase took at debug level (for tuning; see bench/). */
static void phase(struct ctx *c, const char *what, long long *t)
{
	long long n = now_us();

	copa_debug(c->o->out, "plan: %s took %lld ms", what, (n - *t) / 1000);
	*t = n;
}

static char *arch_policy(struct ctx *c)
{
	struct copa_buf b = COPA_BUF_INIT;

	for (size_t i = 0; i < c->n_archs; i++) {
		if (i)
			copa_buf_addc(&b, ':');
		copa_buf_adds(&b, c->archs[i]);
	}
	return copa_buf_detach(&b, NULL);
}

static void mark_held(struct ctx *c, struct copa_strmap *holds)
{
	Id p;
	Solvable *s;

	map_init(&c->held, c->pool->nsolvables);
	FOR_REPO_SOLVABLES(c->installed, p, s)
	{
		const char *n = pool_id2str(c->pool, s->name);
		uint32_t v;

		/* Holds are recorded by plain package name (all architectures). */
		if (copa_strmap_get(holds, n, strcspn(n, ":"), &v))
			MAPSET(&c->held, p);
	}
}

static int plan_solve(const struct copa_deb_status *st, const struct copa_deb_indexes *ix,
                      const struct copa_deb_plan_opts *o, struct copa_deb_plan *plan,
                      struct copa_err *err)
{
	struct ctx c = {.st = st, .ix = ix, .o = o, .plan = plan};
	struct copa_strmap holds = COPA_STRMAP_INIT;
	struct copa_arena arena = COPA_ARENA_INIT;
	Solver *solv = NULL;
	Queue job;
	_cleanup_free_ char *policy = NULL;
	char *archv[18];
	long long t = now_us();
	int r = -1;

	memset(plan, 0, sizeof(*plan));
	plan->update_all = o->n_requests == 0;
	queue_init(&job);
	if (o->n_requests > COPA_DEB_REQUESTS_MAX)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d package requests",
		                    COPA_DEB_REQUESTS_MAX);
	archv[c.n_archs++] = st->native_arch;
	for (char **a = st->foreign_archs; a && *a && c.n_archs < 17; a++)
		archv[c.n_archs++] = *a;
	c.archs = archv;
	c.pool = pool_create();
	pool_setdisttype(c.pool, DISTTYPE_DEB);
	policy = arch_policy(&c);
	pool_setarchpolicy(c.pool, policy);
	if (load_installed(&c, &holds, &arena, err) < 0)
		goto out;
	phase(&c, "loading the dpkg database", &t);
	for (size_t i = 0; i < ix->n; i++) {
		Repo *repo = repo_create(c.pool, ix->v[i].label);

		repo->appdata = (void *)(uintptr_t)(i + 1);
		if (load_index(&c, repo, &ix->v[i], err) < 0)
			goto out;
		plan->n_available += (size_t)repo->nsolvables;
	}
	plan->n_installed = (size_t)c.installed->nsolvables;
	phase(&c, "loading the indexes", &t);
	model_multiarch(&c);
	pool_addfileprovides(c.pool);
	pool_createwhatprovides(c.pool);
	if (add_omitted_standin(&c) > 0)
		pool_createwhatprovides(c.pool);
	/* With pins, apt's whole policy decides (NotAutomatic is part of it); else the short rule.
	 */
	if (o->prefs && o->prefs->n)
		setup_pins(&c);
	else
		setup_considered(&c);
	if (c.have_considered)
		pool_createwhatprovides(c.pool);
	phase(&c, "preparing the pool", &t);
	mark_held(&c, &holds);
	if (o->n_requests) {
		struct copa_deb_request *merged = copa_xcalloc(o->n_requests, sizeof(*merged));
		size_t nm;

		for (size_t i = 0; i < o->n_requests; i++)
			if (!o->requests[i].name) {
				free(merged);
				copa_err_set(err, COPA_E_BUG, "request %zu has no package name", i);
				goto out;
			}
		nm = merge_requests(o->requests, o->n_requests, merged);
		for (size_t i = 0; i < nm; i++)
			request_jobs(&c, &merged[i], &job);
		free(merged);
	} else {
		update_all_jobs(&c, &job);
	}
	/* Held packages stay exactly as they are, even as dependencies of other updates. */
	{
		Id p;
		Solvable *s;

		FOR_REPO_SOLVABLES(c.installed, p, s)
		if (MAPTST(&c.held, p))
			push_job(&c, &job, SOLVER_LOCK | SOLVER_SOLVABLE, p, (size_t)-1, p);
	}
	if (o->no_new_packages)
		lock_new_packages(&c, &job);
	solv = solver_create(c.pool);
	solver_set_flag(solv, SOLVER_FLAG_ALLOW_UNINSTALL, 0);
	solver_set_flag(solv, SOLVER_FLAG_ALLOW_DOWNGRADE, 0);
	solver_set_flag(solv, SOLVER_FLAG_ALLOW_NAMECHANGE, 0);
	solver_set_flag(solv, SOLVER_FLAG_ALLOW_ARCHCHANGE, 0);
	solver_set_flag(solv, SOLVER_FLAG_ALLOW_VENDORCHANGE, 1);
	solver_set_flag(solv, SOLVER_FLAG_NO_UPDATEPROVIDE, 1);
	solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, 1);
	solver_set_flag(solv, SOLVER_FLAG_KEEP_ORPHANS, 1);
	phase(&c, "making the jobs", &t);
	if (job.count && solve(&c, solv, &job, err) < 0)
		goto out;
	phase(&c, "solving", &t);
	if (job.count && collect(&c, solv, &job, err) < 0)
		goto out;
	phase(&c, "collecting the packages", &t);
	r = 0;
out:
	if (r < 0)
		copa_deb_plan_release(plan);
	if (solv)
		solver_free(solv);
	queue_free(&job);
	if (c.have_considered) {
		c.pool->considered = NULL;
		map_free(&c.considered);
	}
	map_free(&c.held);
	if (c.have_pins)
		map_free(&c.pin_cut);
	pool_free(c.pool);
	free(c.ji);
	copa_strmap_release(&holds);
	copa_arena_release(&arena);
	return r;
}

/* Cache namespace: plan key (copa_deb_plan_key) -> the plan record. */
#define NS_PLAN         "deb-plan"
#define PLAN_RECORD_MAX (64u << 20)

static bool load_cached_plan(const struct copa_deb_plan_opts *o, const char *key,
                             struct copa_deb_plan *plan)
{
	struct copa_buf rec = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	bool ok = copa_cache_get(o->cache, NS_PLAN, key, PLAN_RECORD_MAX, &rec, &e2) == 1 &&
	          copa_deb_plan_decode(rec.p ? rec.p : "", rec.len, plan, &e2) == 0;

	if (!ok && e2.msg[0])
		copa_debug(o->out, "plan: not using the cached plan %s: %s", key, e2.msg);
	copa_buf_release(&rec);
	return ok;
}

static void store_plan(const struct copa_deb_plan_opts *o, const char *key,
                       const struct copa_deb_plan *plan)
{
	struct copa_buf rec = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;

	/* The cache only saves time; planning went fine without it. */
	if (copa_deb_plan_encode(plan, &rec, &e2) < 0 ||
	    copa_cache_put(o->cache, NS_PLAN, key, rec.p, rec.len, &e2) < 0)
		copa_debug(o->out, "plan: not caching the plan: %s", e2.msg);
	copa_buf_release(&rec);
}

int copa_deb_plan(const struct copa_deb_status *st, const struct copa_deb_indexes *ix,
                  const struct copa_deb_plan_opts *o, struct copa_deb_plan *plan,
                  struct copa_err *err)
{
	_cleanup_free_ char *key = o->cache ? copa_deb_plan_key(st, ix, o) : NULL;

	if (key && load_cached_plan(o, key, plan)) {
		copa_debug(o->out,
		           "plan: planned before for the same packages, indexes and "
		           "requests (%s)",
		           key);
		return 0;
	}
	if (plan_solve(st, ix, o, plan, err) < 0)
		return -1;
	if (key)
		store_plan(o, key, plan);
	return 0;
}

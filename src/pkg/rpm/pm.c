/*
 * pm.c: the rpm family behind pkg/pm.h. Detects an rpm-based image (an rpm
 * database, or the distroless rpm manifest) and patches two kinds: images
 * with an sqlite rpm database (open copies it out of the view into a private
 * root, where librpm and libsolv read it and librpm writes it; it is read back
 * from the layer) and Azure Linux / CBL-Mariner distroless images (the
 * installed set from the rpm manifests, which are rewritten). Repositories:
 * rpmrepo.h; plan: rpmplan.h; apply, database and manifests: rpmapply.h.
 * Berkeley DB images (RHEL/UBI 8, CentOS 7, Amazon Linux 2) go the same
 * way through an sqlite conversion of their `Packages` and are written back
 * in Berkeley DB (rpmbdb.h). NDB databases are refused by name.
 */
#include "pkg/pm.h"

#include "pkg/fs.h"
#include "pkg/rpm/rpmapply.h"
#include "pkg/rpm/rpmbdb.h"
#include "pkg/rpm/rpmdb.h"
#include "pkg/rpm/rpmeffects.h"
#include "pkg/rpm/rpmmanifest.h"
#include "pkg/rpm/rpmplan.h"
#include "pkg/rpm/rpmrepo.h"
#include "util/blob.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/repo.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RPM_MANIFEST_MAX (256 * 1024 * 1024)

static int rpm_detect(struct copa_view *v, struct copa_pm_info *info, struct copa_err *err)
{
	static const char *const dbs[] = {"var/lib/rpm/rpmdb.sqlite",
	                                  "usr/lib/sysimage/rpm/rpmdb.sqlite",
	                                  "var/lib/rpm/Packages",
	                                  "var/lib/rpm/Packages.db",
	                                  "usr/lib/sysimage/rpm/Packages.db",
	                                  "var/lib/rpmmanifest/container-manifest-2",
	                                  NULL};
	static const char *const bins[] = {
	    "usr/bin/rpm",  "usr/bin/dnf", "usr/bin/yum", "usr/bin/microdnf",
	    "usr/bin/tdnf", "bin/rpm",     NULL};

	for (const char *const *db = dbs; *db; db++) {
		if (!copa_pm_has_file(v, *db))
			continue;
		info->db_path = copa_xstrdup(*db);
		info->distroless = copa_pm_distroless(v, bins);
		info->n_packages = -1;
		if (strstr(*db, "rpmmanifest")) {
			struct copa_buf b = COPA_BUF_INIT;
			struct copa_blob rest, line;

			if (copa_view_read(v, *db, RPM_MANIFEST_MAX, &b, err) < 0) {
				copa_buf_release(&b);
				return copa_err_wrap(err, "rpm manifest");
			}
			info->n_packages = 0;
			rest = copa_blob(b.p, b.len);
			while (copa_blob_split(&rest, '\n', &line))
				if (copa_blob_trim(line).n)
					info->n_packages++;
			copa_buf_release(&b);
		}
		return 1;
	}
	return 0;
}

struct rpm_pm {
	struct copa_pm base; /* first */
	struct copa_pm_open_opts o;
	char *work;  /* private directory, removed by free */
	char *root;  /* work/root (absolute): root/var/lib/rpm holds the database copy */
	char *dbdir; /* the database directory in the image, canonical */
	char *bdb;   /* Berkeley DB image: work/bdb/Packages, the image's copy; NULL for sqlite */
	char *arch;
	Pool *pool;
	struct copa_rpm_sources src;
	struct copa_rpm_step *steps;
	struct copa_rpm_apply *apply;
	struct copa_layer_builder *builder; /* lent by apply, for verify */
	bool distroless;                    /* no database: the rpm manifests */
	struct copa_rpmmf mf;               /* distroless: container-manifest-2 as read */
	struct copa_rpm_effects fx;         /* what the applied packages changed (rpmeffects.h) */
};

static void rpm_free(struct copa_pm *pm)
{
	struct rpm_pm *r = (struct rpm_pm *)pm;
	struct copa_err e = COPA_ERR_INIT;

	if (!r)
		return;
	copa_rpm_apply_free(r->apply);
	copa_rpm_steps_free(r->steps, r->base.plan.n_pkgs);
	copa_pm_plan_release(&r->base.plan);
	copa_rpm_sources_release(&r->src);
	copa_rpmmf_release(&r->mf);
	if (r->pool)
		pool_free(r->pool);
	if (r->work)
		copa_fs_rm_rf(AT_FDCWD, r->work, &e);
	free(r->work);
	free(r->root);
	free(r->dbdir);
	free(r->bdb);
	free(r->arch);
	free(r);
}

/* rpm's architecture for an OCI platform. */
static const char *rpm_arch(const char *oci, const char *variant)
{
	static const struct {
		const char *oci, *rpm;
	} t[] = {{"amd64", "x86_64"}, {"arm64", "aarch64"}, {"ppc64le", "ppc64le"},
	         {"s390x", "s390x"},  {"386", "i686"},      {"riscv64", "riscv64"}};

	if (oci && strcmp(oci, "arm") == 0)
		return variant && strcmp(variant, "v6") == 0 ? "armv6hl" : "armv7hl";
	for (size_t i = 0; oci && i < COPA_ARRAY_SIZE(t); i++)
		if (strcmp(oci, t[i].oci) == 0)
			return t[i].rpm;
	return "x86_64";
}

/* The image's %_dbpath from its macro files in the view (rpm's order); NULL when none. */
static char *view_dbpath(struct copa_view *v)
{
	static const char *const files[] = {"usr/lib/rpm/macros", "etc/rpm/macros"};
	static const char *const dirs[] = {"usr/lib/rpm/macros.d", "etc/rpm"};
	char *out = NULL;

	for (size_t i = 0; i < 2; i++) {
		const struct copa_view_entry **kids = NULL;
		size_t n = 0;
		struct copa_buf b = COPA_BUF_INIT;
		struct copa_err e = COPA_ERR_INIT;

		if (copa_view_read(v, files[i], 1u << 20, &b, &e) == 0)
			copa_rpmdb_macros_scan(b.p ? b.p : "", b.len, &out);
		copa_view_children(v, dirs[i], &kids, &n);
		/* children come in name order, as rpm globs them */
		for (size_t k = 0; k < n; k++) {
			_cleanup_free_ char *p = NULL;

			if (strncmp(kids[k]->name, "macros.", 7) != 0)
				continue;
			p = copa_xasprintf("%s/%s", dirs[i], kids[k]->name);
			if (copa_view_read(v, p, 1u << 20, &b, &e) == 0)
				copa_rpmdb_macros_scan(b.p ? b.p : "", b.len, &out);
			copa_err_clear(&e);
		}
		free(kids);
		copa_buf_release(&b);
	}
	return out;
}

/* Finds the database directory in the view (canonical) and refuses what copa cannot write. */
static int locate_db(struct copa_view *v, char **dbdir, bool *is_bdb, struct copa_err *err)
{
	_cleanup_free_ char *mine = view_dbpath(v);
	const char *cands[] = {mine, "usr/lib/sysimage/rpm", "var/lib/rpm"};

	for (size_t i = 0; i < COPA_ARRAY_SIZE(cands); i++) {
		struct copa_buf canon = COPA_BUF_INIT;
		const struct copa_view_entry *e = NULL;
		struct copa_err e2 = COPA_ERR_INIT;
		_cleanup_free_ char *sq = NULL, *bdb = NULL, *ndb = NULL;
		const char *dir;

		if (!cands[i] ||
		    copa_view_resolve(v, cands[i], COPA_VIEW_FOLLOW, &canon, &e, &e2) < 0 || !e ||
		    e->type != COPA_FT_DIR) {
			copa_buf_release(&canon);
			continue;
		}
		dir = copa_buf_str(&canon);
		sq = copa_xasprintf("%s/rpmdb.sqlite", dir);
		bdb = copa_xasprintf("%s/Packages", dir);
		ndb = copa_xasprintf("%s/Packages.db", dir);
		if (copa_pm_has_file(v, sq)) {
			*dbdir = copa_buf_detach(&canon, NULL);
			return 0;
		}
		if (copa_pm_has_file(v, bdb)) {
			*is_bdb = true;
			*dbdir = copa_buf_detach(&canon, NULL);
			return 0;
		}
		if (copa_pm_has_file(v, ndb)) {
			copa_err_set(
			    err, COPA_E_UNSUPPORTED,
			    "the rpm database '%s' is SUSE's NDB: copa patches images with "
			    "an sqlite or Berkeley DB rpm database for now",
			    ndb);
			copa_buf_release(&canon);
			return -1;
		}
		copa_buf_release(&canon);
	}
	if (copa_pm_has_file(v, COPA_RPMMF2_PATH)) {
		*dbdir = NULL; /* distroless: the manifests */
		return 0;
	}
	return copa_err_set(err, COPA_E_NOTFOUND, "no rpm database in the image");
}

/* Copies dbdir/name from the view to dst (NULL: into the private root); optional files may be
 * absent. */
static int copy_db_file(struct rpm_pm *r, const char *name, bool optional, const char *to,
                        struct copa_err *err)
{
	_cleanup_free_ char *src = copa_xasprintf("%s/%s", r->dbdir, name);
	_cleanup_free_ char *dst =
	    to ? copa_xstrdup(to) : copa_xasprintf("%s/var/lib/rpm/%s", r->root, name);
	struct copa_buf b = COPA_BUF_INIT;
	int rc;

	if (optional && !copa_pm_has_file(r->o.view, src))
		return 0;
	rc = copa_view_read(r->o.view, src, COPA_RPMDB_FILE_MAX, &b, err);
	if (rc == 0)
		rc = copa_fs_write_atomic(AT_FDCWD, dst, b.p ? b.p : "", b.len, 0600, err);
	copa_buf_release(&b);
	return rc < 0 ? copa_err_wrap(err, "rpm database '%s'", src) : 0;
}

/* A private root under $TMPDIR with dir var/lib/rpm; *work and *root malloc'd. */
static int private_root(char **work, char **root, struct copa_err *err)
{
	_cleanup_free_ char *real = NULL, *dbd = NULL;

	*work = copa_fs_mkdtemp(copa_fs_tmpdir(), "copa-rpm-", err);
	if (!*work)
		return -1;
	real = realpath(*work, NULL);
	if (!real)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot resolve '%s'", *work);
	*root = copa_xasprintf("%s/root", real);
	dbd = copa_xasprintf("%s/var/lib/rpm", *root);
	return copa_fs_mkdir_p(AT_FDCWD, dbd, 0700, err);
}

/* Counts the software packages (not gpg-pubkey) librpm lists under root. */
static int count_packages(const char *root, size_t *n, struct copa_out *out, struct copa_err *err)
{
	struct copa_rpmdb db = {0};
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", root);
	rc = copa_rpmdb_read(fd, "var/lib/rpm", &db, out, err);
	close(fd);
	*n = 0;
	for (size_t i = 0; rc == 0 && i < db.n; i++)
		if (!db.v[i].pubkey)
			(*n)++;
	copa_rpmdb_release(&db);
	return rc;
}

/* dnf's $releasever: the installed system-release(releasever) provide, else VERSION_ID. */
static const char *releasever(Pool *pool, const struct copa_osrelease *os)
{
	Id want = pool_str2id(pool, "system-release(releasever)", 0);
	Solvable *s;
	Id p;

	if (!want || !pool->installed)
		return os && os->version_id ? os->version_id : NULL;
	FOR_REPO_SOLVABLES(pool->installed, p, s)
	{
		for (Id *pp = s->provides ? s->repo->idarraydata + s->provides : NULL; pp && *pp;
		     pp++) {
			Reldep *rd;

			if (!ISRELDEP(*pp))
				continue;
			rd = GETRELDEP(pool, *pp);
			if (rd->name == want)
				return pool_id2str(pool, rd->evr);
		}
	}
	return os && os->version_id ? os->version_id : NULL;
}

/* Reads and checks the two manifests of a distroless image into r->mf. */
static int read_manifests(struct rpm_pm *r, struct copa_err *err)
{
	struct copa_buf b2 = COPA_BUF_INIT, b1 = COPA_BUF_INIT;
	struct copa_rpmmf1 m1 = {0};
	int rc = -1;

	if (copa_view_read(r->o.view, COPA_RPMMF2_PATH, COPA_RPMMF_FILE_MAX, &b2, err) < 0 ||
	    copa_view_read(r->o.view, COPA_RPMMF1_PATH, COPA_RPMMF_FILE_MAX, &b1, err) < 0 ||
	    copa_rpmmf_parse(b2.p ? b2.p : "", b2.len, COPA_RPMMF2_PATH, &r->mf, err) < 0 ||
	    copa_rpmmf1_parse(b1.p ? b1.p : "", b1.len, COPA_RPMMF1_PATH, &m1, err) < 0 ||
	    copa_rpmmf_check_pair(&r->mf, &m1, err) < 0)
		goto out;
	if (r->mf.n == 0) {
		copa_err_set(err, COPA_E_INPUT, "'%s' lists no package", COPA_RPMMF2_PATH);
		goto out;
	}
	rc = 0;
out:
	copa_rpmmf1_release(&m1);
	copa_buf_release(&b1);
	copa_buf_release(&b2);
	return rc;
}

/*
 * The installed packages of a distroless image: one solvable per manifest line.
 * The manifests carry no dependencies, so each takes the provides (file
 * provides included: pool_addfileprovides ran first) of the repository package
 * with the same name, EVR and arch when there is one, else only itself.
 */
static void installed_from_manifest(struct rpm_pm *r)
{
	Pool *pool = r->pool;
	Repo *inst = repo_create(pool, "@System");

	pool_addfileprovides(pool);
	pool_createwhatprovides(pool);
	for (size_t i = 0; i < r->mf.n; i++) {
		const struct copa_rpmmf_entry *e = &r->mf.v[i];
		_cleanup_free_ char *evr =
		    e->epoch ? copa_xasprintf("%u:%s-%s", e->epoch, e->version, e->release)
		             : copa_xasprintf("%s-%s", e->version, e->release);
		Id p = repo_add_solvable(inst), q, qq;
		Solvable *s = pool->solvables + p;

		s->name = pool_str2id(pool, e->name, 1);
		s->evr = pool_str2id(pool, evr, 1);
		s->arch = pool_str2id(pool, e->arch, 1);
		s->provides = repo_addid_dep(inst, s->provides,
		                             pool_rel2id(pool, s->name, s->evr, REL_EQ, 1), 0);
		FOR_PROVIDES(q, qq, s->name)
		{
			Solvable *rs = pool->solvables + q;

			if (rs->repo == inst || rs->name != s->name || rs->evr != s->evr ||
			    rs->arch != s->arch || !rs->provides)
				continue;
			for (Id *pp = rs->repo->idarraydata + rs->provides; *pp; pp++)
				s->provides = repo_addid_dep(inst, s->provides, *pp, 0);
			break;
		}
	}
	pool_set_installed(pool, inst);
}

static struct copa_pm *rpm_open(const struct copa_pm_open_opts *o, struct copa_err *err)
{
	struct rpm_pm *r = copa_xcalloc(1, sizeof(*r));
	struct copa_rpmrepo_opts ro = {0};
	size_t n = 0;
	bool bdb = false;

	r->base.ops = &copa_pm_rpm_ops;
	r->o = *o;
	r->arch = copa_xstrdup(rpm_arch(o->oci_arch, o->oci_variant));
	if (locate_db(o->view, &r->dbdir, &bdb, err) < 0 ||
	    private_root(&r->work, &r->root, err) < 0)
		goto fail;
	if (bdb) {
		/* librpm works on an sqlite conversion; finish writes Berkeley DB back */
		_cleanup_free_ char *bd = copa_xasprintf("%s/bdb", r->work);
		_cleanup_free_ char *dbd = copa_xasprintf("%s/var/lib/rpm", r->root);

		r->bdb = copa_xasprintf("%s/Packages", bd);
		if (copa_fs_mkdir_p(AT_FDCWD, bd, 0700, err) < 0 ||
		    copy_db_file(r, "Packages", false, r->bdb, err) < 0)
			goto fail;
		if (copa_rpmbdb_to_sqlite(r->bdb, dbd, o->out, err) < 0) {
			copa_err_wrap(err, "rpm database '%s/Packages'", r->dbdir);
			goto fail;
		}
	}
	r->distroless = r->dbdir == NULL;
	r->pool = pool_create();
	pool_setdisttype(r->pool, DISTTYPE_RPM);
	pool_setarch(r->pool, r->arch);
	if (r->distroless) {
		if (read_manifests(r, err) < 0)
			goto fail;
	} else if ((!bdb && (copy_db_file(r, "rpmdb.sqlite", false, NULL, err) < 0 ||
	                     copy_db_file(r, "rpmdb.sqlite-wal", true, NULL, err) < 0)) ||
	           count_packages(r->root, &n, o->out, err) < 0) {
		goto fail;
	} else if (copa_rpm_pool_installed(r->pool, r->root, n, o->out, err) < 0) {
		copa_err_wrap(err, "rpm database '%s'", r->dbdir);
		goto fail;
	}
	ro.view = o->view;
	ro.releasever = releasever(r->pool, o->os);
	ro.os_id = o->os ? o->os->id : NULL;
	ro.version_id = o->os ? o->os->version_id : NULL;
	ro.arch = r->arch;
	ro.repos = o->repos;
	ro.repos_replace = o->repos_replace;
	ro.keyrings = o->keyrings;
	ro.allow_insecure = o->allow_insecure;
	ro.http = o->http;
	ro.cache = o->cache;
	ro.out = o->out;
	ro.work = r->work;
	if (copa_rpmrepo_load(r->pool, &ro, &r->src, err) < 0)
		goto fail;
	if (r->distroless)
		installed_from_manifest(r);
	return &r->base;
fail:
	rpm_free(&r->base);
	return NULL;
}

static int rpm_plan(struct copa_pm *pm, const struct copa_pm_request *req, size_t n,
                    struct copa_err *err)
{
	struct rpm_pm *r = (struct rpm_pm *)pm;

	return copa_rpm_plan(r->pool, &r->src, req, n, &pm->plan, &r->steps, r->o.out, err);
}

static int rpm_apply(struct copa_pm *pm, struct copa_layer_builder *b, size_t i,
                     struct copa_pm_applied *res, struct copa_err *err)
{
	struct rpm_pm *r = (struct rpm_pm *)pm;
	const struct copa_pm_pkg *pk = &pm->plan.pkgs[i];
	const struct copa_rpm_source *src = &r->src.v[r->steps[i].src];
	_cleanup_free_ char *label = copa_xasprintf("%s-%s.%s", pk->name, pk->version, pk->arch);
	struct copa_rpm_apply_pkg ap = {
	    .path = pk->local_path,
	    .label = label,
	    .gpgcheck = src->gpgcheck,
	    .keys = src->keys,
	    .n_keys = src->n_keys,
	    .keys_desc = src->keys_desc,
	    .replaces = r->steps[i].replaces,
	};

	if (!r->apply) {
		struct copa_rpm_apply_opts ao = {
		    .view = r->o.view,
		    .builder = b,
		    .root = r->distroless ? NULL : r->root,
		    .dbdir = r->dbdir,
		    .bdb = r->bdb,
		    .out = r->o.out,
		};

		r->apply = copa_rpm_apply_new(&ao, err);
		if (!r->apply)
			return -1;
		r->builder = b;
		/* a re-patch seeds b with the previous layer: count from there */
		copa_rpm_effects_scan(b, &r->fx);
	}
	if (copa_rpm_apply_package(r->apply, &ap, res, err) < 0)
		return -1;
	copa_rpm_effects_after_package(b, &r->fx, &res->skipped);
	return 0;
}

static int rpm_finish(struct copa_pm *pm, struct copa_err *err)
{
	struct rpm_pm *r = (struct rpm_pm *)pm;

	if (!r->apply)
		return 0;
	if (copa_rpm_effects_finish(r->o.view, r->builder, &r->fx, r->o.out, err) < 0)
		return -1;
	if (r->distroless)
		return copa_rpm_apply_manifests(r->apply, &r->mf, COPA_RPMMF2_PATH,
		                                COPA_RPMMF1_PATH, err);
	return copa_rpm_apply_finish(r->apply, err);
}

/* Distroless: the manifests as the layer leaves them list every applied package. */
static int verify_manifests(struct rpm_pm *r, const bool *applied, char **versions,
                            struct copa_err *err)
{
	struct copa_buf b2 = COPA_BUF_INIT, b1 = COPA_BUF_INIT;
	struct copa_rpmmf m = {0};
	struct copa_rpmmf1 m1 = {0};
	int rc = -1;

	if (copa_pkgfs_read(r->o.view, r->builder, COPA_RPMMF2_PATH, COPA_RPMMF_FILE_MAX, &b2,
	                    err) < 0 ||
	    copa_pkgfs_read(r->o.view, r->builder, COPA_RPMMF1_PATH, COPA_RPMMF_FILE_MAX, &b1,
	                    err) < 0 ||
	    copa_rpmmf_parse(b2.p ? b2.p : "", b2.len, COPA_RPMMF2_PATH, &m, err) < 0 ||
	    copa_rpmmf1_parse(b1.p ? b1.p : "", b1.len, COPA_RPMMF1_PATH, &m1, err) < 0 ||
	    copa_rpmmf_check_pair(&m, &m1, err) < 0) {
		copa_err_wrap(err, "reading back the patched rpm manifests");
		goto out;
	}
	for (size_t i = 0; i < r->base.plan.n_pkgs; i++) {
		const struct copa_pm_pkg *pk = &r->base.plan.pkgs[i];

		if (!applied[i])
			continue;
		for (size_t k = 0; k < m.n && !versions[i]; k++) {
			const struct copa_rpmmf_entry *e = &m.v[k];
			_cleanup_free_ char *evr =
			    e->epoch ? copa_xasprintf("%u:%s-%s", e->epoch, e->version, e->release)
			             : copa_xasprintf("%s-%s", e->version, e->release);

			if (strcmp(e->name, pk->name) == 0 && strcmp(e->arch, pk->arch) == 0 &&
			    strcmp(evr, pk->version) == 0)
				versions[i] = steal_ptr(&evr);
		}
		if (!versions[i]) {
			copa_err_set(err, COPA_E_VERIFY,
			             "package '%s' %s is not in the patched rpm manifests",
			             pk->name, pk->version);
			goto out;
		}
	}
	rc = 0;
out:
	copa_rpmmf_release(&m);
	copa_rpmmf1_release(&m1);
	copa_buf_release(&b1);
	copa_buf_release(&b2);
	return rc;
}

/* Reads the database as the layer leaves it, from a second private root. */
static int rpm_verify(struct copa_pm *pm, const bool *applied, char **versions,
                      struct copa_err *err)
{
	struct rpm_pm *r = (struct rpm_pm *)pm;
	const char *file = r->bdb ? "Packages" : "rpmdb.sqlite";
	_cleanup_free_ char *path = copa_xasprintf("%s/%s", r->dbdir ? r->dbdir : "", file);
	_cleanup_free_ char *vroot = copa_xasprintf("%s/verify", r->work);
	_cleanup_free_ char *dst = copa_xasprintf("%s/var/lib/rpm/%s", vroot, file);
	_cleanup_free_ char *dbd = copa_xasprintf("%s/var/lib/rpm", vroot);
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_rpmdb db = {0};
	int fd = -1, rc = -1;

	if (!r->apply || !r->builder)
		return 0;
	if (r->distroless)
		return verify_manifests(r, applied, versions, err);
	if (copa_pkgfs_read(r->o.view, r->builder, path, COPA_RPMDB_FILE_MAX, &b, err) < 0 ||
	    copa_fs_mkdir_p(AT_FDCWD, dbd, 0700, err) < 0 ||
	    copa_fs_write_atomic(AT_FDCWD, dst, b.p ? b.p : "", b.len, 0600, err) < 0)
		goto out;
	fd = open(vroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", vroot);
		goto out;
	}
	if (copa_rpmdb_read(fd, "var/lib/rpm", &db, r->o.out, err) < 0) {
		copa_err_wrap(err, "reading back the patched rpm database");
		goto out;
	}
	for (size_t i = 0; i < pm->plan.n_pkgs; i++) {
		const struct copa_pm_pkg *pk = &pm->plan.pkgs[i];
		char *found = NULL;

		if (!applied[i])
			continue;
		for (size_t k = 0; k < db.n; k++) {
			struct copa_rpm_pkg *d = &db.v[k];
			_cleanup_free_ char *evr = NULL;
			struct copa_err e2 = COPA_ERR_INIT;
			int c = 1;

			if (strcmp(d->name, pk->name) != 0 || !d->arch || strcmp(d->arch, pk->arch))
				continue;
			evr = copa_rpm_pkg_evr(d);
			if (copa_version_cmp(COPA_FAM_RPM, evr, pk->version, &c, &e2) == 0 &&
			    c == 0) {
				free(found);
				found = steal_ptr(&evr);
				break;
			}
			if (!found)
				found = steal_ptr(&evr);
		}
		if (!found) {
			copa_err_set(err, COPA_E_VERIFY,
			             "package '%s' is not in the patched rpm database", pk->name);
			goto out;
		}
		versions[i] = found;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	copa_rpmdb_release(&db);
	copa_buf_release(&b);
	return rc;
}

static int rpm_list_repos(struct copa_view *v, const struct copa_osrelease *os,
                          const char *oci_arch, struct copa_pm_repos *out, struct copa_err *err)
{
	struct copa_rpm_repos r = {0};
	bool defaults = false;

	memset(out, 0, sizeof(*out));
	if (copa_rpmrepo_configured(v, os->id, os->version_id, rpm_arch(oci_arch, NULL), &r,
	                            &defaults, NULL, err) < 0) {
		copa_rpm_repos_release(&r);
		return -1;
	}
	out->v = r.n ? copa_xcalloc(r.n, sizeof(*out->v)) : NULL;
	out->n = r.n;
	out->defaults = defaults;
	for (size_t i = 0; i < r.n; i++) {
		const struct copa_rpm_repo *rr = &r.v[i];
		const char *url = rr->baseurls && rr->baseurls[0] ? rr->baseurls[0]
		                  : rr->metalink                  ? rr->metalink
		                  : rr->mirrorlist                ? rr->mirrorlist
		                                                  : "";

		out->v[i].id = copa_xstrdup(rr->id);
		out->v[i].url = copa_xstrdup(url);
		out->v[i].from = copa_xstrdup(defaults ? "defaults" : rr->where ? rr->where : "");
		out->v[i].enabled = rr->enabled;
	}
	copa_rpm_repos_release(&r);
	return 0;
}

const struct copa_pm_ops copa_pm_rpm_ops = {
    .fam = COPA_FAM_RPM,
    .name = "rpm",
    .pkg_suffix = ".rpm",
    .detect = rpm_detect,
    .open = rpm_open,
    .plan = rpm_plan,
    .apply = rpm_apply,
    .finish = rpm_finish,
    .verify = rpm_verify,
    .free = rpm_free,
    .list_repos = rpm_list_repos,
};

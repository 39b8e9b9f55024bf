/*
 * patch.c: the `copa patch` pipeline.
 *
 *   reports ─┐
 *   image ───┴─▶ per platform: view ▶ probe ▶ repositories ▶ plan ▶ fetch
 *                 ▶ apply into one layer ▶ config + manifest
 *             ▶ write the image (patched manifests substituted, the rest copied)
 *             ▶ summary, OpenVEX
 *
 * Nothing is written at the destination before every platform has been
 * patched; the image module then writes blobs first and the root last.
 * A previous copa patch layer (found by its history comment) is folded into
 * the new layer and dropped, so patch layers never stack.
 */
#include "core/patch.h"

#include "core/eol.h"
#include "core/probe.h"
#include "core/session.h"
#include "pkg/version.h"
#include "image/image.h"
#include "layer/layer.h"
#include "pkg/fetch.h"
#include "pkg/pm.h"
#include "report/report.h"
#include "util/blob.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/outfile.h"
#include "util/proc.h"
#include "util/runctl.h"
#include "vex/summary.h"
#include "vex/vex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The history comment that marks copa's patch layer, and the OCI annotations copa sets. */
#define PATCH_COMMENT     "copa-patch-layer"
#define ANN_LAYER         "sh.copa.patch.layer"
#define ANN_PATCHED       "sh.copa.image.patched"
#define ANN_CREATED       "org.opencontainers.image.created"
#define ANN_BASE_DIGEST   "org.opencontainers.image.base.digest"
#define ANN_BASE_NAME     "org.opencontainers.image.base.name"
#define MAX_HISTORY_NAMES 20

struct job {
	struct copa_platform want;
	const struct copa_update_manifest *report; /* NULL: update everything */
	struct copa_update_manifest *synth;        /* stands in for a report in update-all mode */
	struct copa_summary_platform *sp;
	bool patched;
	char old_digest[COPA_DIGEST_MAX];
	struct copa_desc new_desc;
	struct copa_buf new_raw;
	struct copa_desc layer_desc, config_desc;
	char layer_diff_id[COPA_DIGEST_MAX];
	char *layer_path, *config_path; /* in the cache */
};

struct run {
	const struct copa_patch_opts *o;
	struct copa_session s;
	struct copa_image_ref src_ref;
	struct copa_image_ref dst_ref; /* where the image is written */
	char *dst_string;              /* what the user asked for (for messages and the summary) */
	char *src_string;
	char *loader;    /* "docker"/"podman": load dst_ref's archive afterwards */
	char *loaded_as; /* the name the loader lists the image under */
	char *load_dir;  /* temporary directory holding that archive */
	struct copa_image_src *src;
	struct copa_update_manifest_list reports;
	struct copa_summary *summary;
	size_t n_skipped; /* packages --ignore-errors skipped, on every platform */
	struct job *jobs;
	size_t n_jobs;
	char now[32]; /* RFC 3339, UTC */
	char root_digest[COPA_DIGEST_MAX];
};

static void now_rfc3339(char out[32])
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = time(NULL);
	struct tm tm;

	if (sde && *sde) {
		char *end;
		long long v = strtoll(sde, &end, 10);

		if (!*end && v >= 0)
			t = (time_t)v;
	}
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- destination ---- */

static bool looks_like_destination(const char *t)
{
	return strchr(t, ':') || strchr(t, '/') || strchr(t, '@');
}

/* The tag of the source, or NULL when it has none (digest-only, untagged layout). */
static const char *source_tag(const struct copa_image_ref *r)
{
	switch (r->transport) {
	case COPA_TRANSPORT_REGISTRY:
		return r->ref.tag;
	case COPA_TRANSPORT_OCI:
	case COPA_TRANSPORT_OCI_ARCHIVE:
		return r->tag;
	case COPA_TRANSPORT_DOCKER_ARCHIVE:
		return r->has_ref ? r->ref.tag : NULL;
	}
	return NULL;
}

/* "dir/app.tar" + "1.0-patched" -> "dir/app-1.0-patched.tar". */
static char *sibling_archive(const char *path, const char *tag)
{
	size_t n = strlen(path);

	if (n > 4 && !strcmp(path + n - 4, ".tar"))
		n -= 4;
	return copa_xasprintf("%.*s-%s.tar", (int)n, path, tag);
}

static bool program_in_path(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = copa_xstrdup(path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = copa_xasprintf("%s/%s", dir, name);

		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* True when `docker` has a daemon to talk to (the client alone is not enough). */
static bool docker_usable(void)
{
	const char *argv[] = {"docker", "version", "--format", "{{.Server.Version}}", NULL};
	struct copa_buf out = COPA_BUF_INIT, errout = COPA_BUF_INIT;
	struct copa_proc p = {.argv = argv, .out = &out, .errout = &errout, .timeout_ms = 10000};
	int status = 1;
	bool ok;

	copa_buf_init(&out, 4096);
	copa_buf_init(&errout, 65536);
	ok = program_in_path("docker") && copa_proc_run(&p, &status, NULL) == 0 && status == 0;
	copa_buf_release(&out);
	copa_buf_release(&errout);
	return ok;
}

/*
 * The name the loader lists a loaded image under: docker shortens docker.io
 * names ("out:1.0"); podman files a name without a registry under
 * localhost/ ("localhost/out:1.0").
 */
static char *loaded_name(const char *loader, const struct copa_ref *ref)
{
	const char *path = ref->path;

	if (!ref->tag)
		return copa_ref_string(ref);
	if (strcmp(ref->domain, "docker.io"))
		return copa_xasprintf("%s/%s:%s", ref->domain, ref->path, ref->tag);
	if (!strncmp(path, "library/", 8))
		path += 8;
	return copa_xasprintf("%s%s:%s", strcmp(loader, "podman") ? "" : "localhost/", path,
	                      ref->tag);
}

/*
 * A registry destination without --push goes into the local docker or
 * podman (as the original copa does), through a docker-archive.
 */
static int choose_loader(struct run *r, struct copa_err *err)
{
	const char *want = r->o->loader;
	_cleanup_free_ char *name = copa_ref_string(&r->dst_ref.ref);
	_cleanup_free_ char *archive = NULL;
	_cleanup_free_ char *spec = NULL;

	if (!want || strcmp(want, "none")) {
		if ((!want || !strcmp(want, "docker")) && docker_usable())
			r->loader = copa_xstrdup("docker");
		else if ((!want || !strcmp(want, "podman")) && program_in_path("podman"))
			r->loader = copa_xstrdup("podman");
	}
	if (!r->loader) {
		if (want && !strcmp(want, "none"))
			return copa_err_set(
			    err, COPA_E_USAGE,
			    "'%s' is a registry destination and --loader none loads "
			    "it nowhere: add --push to push it, or write it locally "
			    "with -t oci:DIR:TAG",
			    name);
		if (want)
			return copa_err_set(
			    err, COPA_E_USAGE,
			    "'%s' is a registry destination and --loader %s is not "
			    "usable here: add --push to push it, or write it locally "
			    "with -t oci:DIR:TAG",
			    name, want);
		return copa_err_set(
		    err, COPA_E_USAGE,
		    "'%s' is a registry destination: add --push to push it, or write "
		    "it locally with -t oci:DIR:TAG (no docker daemon or podman found "
		    "to load it into)",
		    name);
	}
	r->loaded_as = loaded_name(r->loader, &r->dst_ref.ref);
	/* From a local source the registry name is a surprise: say where the image goes. */
	if (r->src_ref.transport != COPA_TRANSPORT_REGISTRY)
		copa_info(r->o->out,
		          "note: -t '%s' names a registry image; without --push copa loads it into "
		          "%s, which names it %s (for a file, use -t oci:DIR:TAG)",
		          r->o->tag ? r->o->tag : r->dst_string, r->loader, r->loaded_as);
	r->load_dir = copa_fs_mkdtemp(r->s.cache.path, "load-", err);
	if (!r->load_dir)
		return -1;
	archive = copa_xasprintf("%s/image.tar", r->load_dir);
	spec = copa_xasprintf("docker-archive:%s:%s", archive, name);
	copa_image_ref_release(&r->dst_ref);
	return copa_image_ref_parse(spec, &r->dst_ref, err);
}

static int resolve_destination(struct run *r, struct copa_err *err)
{
	const struct copa_patch_opts *o = r->o;
	const struct copa_image_ref *src = &r->src_ref;
	_cleanup_free_ char *tag = NULL;
	_cleanup_free_ char *spec = NULL;

	if (o->tag && looks_like_destination(o->tag)) {
		spec = copa_xstrdup(o->tag);
	} else {
		const char *st = source_tag(src);

		if (o->tag)
			tag = copa_xstrdup(o->tag);
		else if (st)
			tag = copa_xasprintf("%s-%s", st, o->tag_suffix);
		else if (src->transport == COPA_TRANSPORT_OCI ||
		         src->transport == COPA_TRANSPORT_REGISTRY)
			return copa_err_set(
			    err, COPA_E_USAGE,
			    "'%s' has no tag to derive the patched image's tag from: "
			    "give one with -t TAG or a full destination with -t",
			    r->src_string);
		if (tag && !copa_ref_tag_valid(tag))
			return copa_err_set(
			    err, COPA_E_USAGE,
			    "invalid tag '%s' (letters, digits, '_', '.', '-'; at most "
			    "128; not starting with '.' or '-')",
			    tag);
		switch (src->transport) {
		case COPA_TRANSPORT_REGISTRY: {
			_cleanup_free_ char *name = copa_ref_name(&src->ref);

			spec = copa_xasprintf("%s:%s", name, tag);
			break;
		}
		case COPA_TRANSPORT_OCI:
			spec = copa_xasprintf("oci:%s:%s", src->path, tag);
			break;
		case COPA_TRANSPORT_OCI_ARCHIVE: {
			_cleanup_free_ char *file =
			    sibling_archive(src->path, tag ? tag : o->tag_suffix);

			spec = tag ? copa_xasprintf("oci-archive:%s:%s", file, tag)
			           : copa_xasprintf("oci-archive:%s", file);
			break;
		}
		case COPA_TRANSPORT_DOCKER_ARCHIVE: {
			_cleanup_free_ char *file =
			    sibling_archive(src->path, tag ? tag : o->tag_suffix);
			_cleanup_free_ char *name = src->has_ref ? copa_ref_name(&src->ref) : NULL;

			spec = name && tag
			           ? copa_xasprintf("docker-archive:%s:%s:%s", file, name, tag)
			           : copa_xasprintf("docker-archive:%s", file);
			break;
		}
		}
	}
	if (copa_image_ref_parse(spec, &r->dst_ref, err) < 0)
		return copa_err_wrap(err, "destination");
	r->dst_string = copa_image_ref_string(&r->dst_ref);
	if (r->dst_ref.transport == COPA_TRANSPORT_REGISTRY && !o->push)
		return choose_loader(r, err);
	if (r->dst_ref.transport != COPA_TRANSPORT_REGISTRY && o->push)
		return copa_err_set(err, COPA_E_USAGE,
		                    "--push writes to a registry, but the destination '%s' is "
		                    "local: drop --push, or give -t REGISTRY/NAME:TAG",
		                    r->dst_string);
	return 0;
}

/*
 * A docker-archive source named without :REF still has a name in its
 * manifest.json (RepoTags). The default destination takes it, so the
 * patched archive carries <name>:<tag>-patched and `docker load` does not
 * show <none>. Only when -t does not name the destination in full.
 */
static int adopt_archive_name(struct run *r, struct copa_err *err)
{
	const char *rt = copa_image_src_repo_tag(r->src);
	struct copa_ref ref;

	if (r->src_ref.transport != COPA_TRANSPORT_DOCKER_ARCHIVE || r->src_ref.has_ref || !rt ||
	    (r->o->tag && looks_like_destination(r->o->tag)))
		return 0;
	if (copa_ref_parse(rt, &ref, NULL) < 0)
		return 0;
	if (!ref.tag) {
		copa_ref_release(&ref);
		return 0;
	}
	r->src_ref.ref = ref;
	r->src_ref.has_ref = true;
	copa_image_ref_release(&r->dst_ref);
	free(r->dst_string);
	r->dst_string = NULL;
	return resolve_destination(r, err);
}

/* ---- platforms ---- */

static int find_platform(const struct copa_image_platform *v, size_t n,
                         const struct copa_platform *want)
{
	for (size_t i = 0; i < n; i++)
		if (copa_platform_match(want, &v[i].platform))
			return (int)i;
	return -1;
}

static void list_platforms(const struct copa_image_platform *v, size_t n, struct copa_buf *b)
{
	char buf[256];

	for (size_t i = 0; i < n; i++)
		copa_buf_addf(b, "%s%s", i ? ", " : "",
		              copa_platform_str(&v[i].platform, buf, sizeof(buf)));
}

static bool job_exists(const struct run *r, const struct copa_platform *p)
{
	for (size_t i = 0; i < r->n_jobs; i++)
		if (copa_platform_match(&r->jobs[i].want, p) &&
		    copa_platform_match(p, &r->jobs[i].want))
			return true;
	return false;
}

static void add_job(struct run *r, const struct copa_platform *p,
                    const struct copa_update_manifest *m)
{
	struct job *j;

	if (job_exists(r, p))
		return;
	r->jobs = copa_xrealloc(r->jobs, (r->n_jobs + 1) * sizeof(*r->jobs));
	j = &r->jobs[r->n_jobs++];
	memset(j, 0, sizeof(*j));
	j->want = *p;
	j->report = m;
}

static bool wanted_by_flag(const struct copa_patch_opts *o, const struct copa_platform *p)
{
	if (!o->platforms)
		return true;
	for (const char **f = o->platforms; *f; f++) {
		struct copa_platform w;

		if (copa_platform_parse(*f, &w, NULL) == 0 && copa_platform_match(&w, p))
			return true;
	}
	return false;
}

/*
 * Decides which platforms to patch: those of the reports (a report
 * directory has one per platform), else those named by --platform, else
 * every platform of the image.
 */
static int plan_jobs(struct run *r, struct copa_err *err)
{
	struct copa_image_platform *plats = NULL;
	size_t n = 0;
	struct copa_buf avail = COPA_BUF_INIT;
	char buf[256];
	int rc = 0;

	if (copa_image_src_platforms(r->src, &plats, &n, err) < 0)
		return -1;
	list_platforms(plats, n, &avail);
	if (r->o->platforms)
		for (const char **f = r->o->platforms; *f && rc == 0; f++) {
			struct copa_platform w;

			if (copa_platform_parse(*f, &w, err) < 0)
				rc = copa_err_wrap(err, "--platform");
			else if (find_platform(plats, n, &w) < 0)
				rc = copa_err_set(
				    err, COPA_E_NOTFOUND,
				    "'%s' has no image for platform '%s' (available: %s)",
				    r->src_string, *f, copa_buf_str(&avail));
		}
	for (size_t i = 0; rc == 0 && i < r->reports.n; i++) {
		const struct copa_update_manifest *m = r->reports.v[i];
		struct copa_platform want;
		int k;

		if (n == 1 && !r->reports.v[i]->arch[0]) {
			k = 0;
		} else {
			snprintf(buf, sizeof(buf), "linux/%s%s%s", m->arch[0] ? m->arch : "amd64",
			         m->variant[0] ? "/" : "", m->variant);
			if (copa_platform_parse(buf, &want, err) < 0) {
				rc = copa_err_wrap(err, "report '%s'", m->source);
				break;
			}
			k = find_platform(plats, n, &want);
			if (k < 0 && n == 1 && r->reports.n == 1) {
				rc = copa_err_set(
				    err, COPA_E_INPUT,
				    "report '%s' is for %s but '%s' is %s: scan the image "
				    "you patch",
				    m->source, buf, r->src_string, copa_buf_str(&avail));
				break;
			}
			if (k < 0) {
				rc = copa_err_set(err, COPA_E_NOTFOUND,
				                  "report '%s' is for %s, which '%s' does not have "
				                  "(available: %s)",
				                  m->source, buf, r->src_string,
				                  copa_buf_str(&avail));
				break;
			}
		}
		if (wanted_by_flag(r->o, &plats[k].platform))
			add_job(r, &plats[k].platform, m);
	}
	if (rc == 0 && r->reports.n == 0)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(plats[i].platform.os, "linux") &&
			    wanted_by_flag(r->o, &plats[i].platform))
				add_job(r, &plats[i].platform, NULL);
	if (rc == 0 && r->n_jobs == 0)
		rc = copa_err_set(err, COPA_E_NOTFOUND,
		                  "no platform of '%s' to patch (available: %s)", r->src_string,
		                  copa_buf_str(&avail));
	copa_buf_release(&avail);
	copa_image_platforms_free(plats, n);
	return rc;
}

/* ---- one platform ---- */

struct platform_ctx {
	struct run *r;
	struct job *j;
	char name[256]; /* "linux/amd64", for messages */
	struct copa_image img;
	bool have_img;
	struct copa_image_layers layers;
	bool have_layers;
	struct copa_image_fs *fs;
	struct copa_probe probe;
	bool have_probe;
	struct copa_pm *pm; /* the image's package family, open */
	bool have_plan;
	int prev; /* index of copa's previous patch layer, or -1 */
	char *stage_dir;
	int stage_fd;
	struct copa_layer_builder *builder;
	struct copa_pm_applied *applied; /* per plan package; name NULL when not applied */
	bool *ok;                        /* per plan package: applied into the layer */
	char **failed; /* per plan package: why it was skipped (--ignore-errors), or NULL */
	size_t n_ok;
};

static void platform_ctx_release(struct platform_ctx *c)
{
	size_t n = c->pm ? c->pm->plan.n_pkgs : 0;

	for (size_t i = 0; c->applied && i < n; i++)
		copa_pm_applied_release(&c->applied[i]);
	for (size_t i = 0; c->failed && i < n; i++)
		free(c->failed[i]);
	free(c->applied);
	free(c->ok);
	free(c->failed);
	if (c->pm)
		c->pm->ops->free(c->pm);
	copa_layer_builder_free(c->builder);
	if (c->stage_fd >= 0)
		close(c->stage_fd);
	if (c->stage_dir) {
		copa_fs_rm_rf(AT_FDCWD, c->stage_dir, NULL);
		free(c->stage_dir);
	}
	if (c->have_probe)
		copa_probe_release(&c->probe);
	copa_image_fs_free(c->fs);
	if (c->have_layers)
		copa_image_layers_release(&c->layers);
	if (c->have_img)
		copa_image_release(&c->img);
}

/* The last layer is copa's previous patch when the last layer-producing history entry says so. */
static int find_previous_patch(const struct copa_image *img)
{
	json_t *hist = copa_json_arr(img->config.json, "history");
	size_t i;
	json_t *h;
	json_t *last = NULL;

	if (!hist || img->manifest.n_layers < 2)
		return -1;
	json_array_foreach(hist, i, h)
	{
		if (!json_is_true(json_object_get(h, "empty_layer")))
			last = h;
	}
	if (last && !strcmp(copa_json_str(last, "comment") ? copa_json_str(last, "comment") : "",
	                    PATCH_COMMENT))
		return (int)img->manifest.n_layers - 1;
	return -1;
}

/* The update of the report that names package `name`, or NULL. */
static const struct copa_update *report_update(const struct copa_update_manifest *m,
                                               const char *name)
{
	for (size_t i = 0; m && i < m->n_updates; i++)
		if (!strcmp(m->updates[i].name, name))
			return &m->updates[i];
	return NULL;
}

static enum copa_outcome outcome_of(enum copa_pm_outcome o)
{
	switch (o) {
	case COPA_PM_UPDATED:
		return COPA_OUTCOME_UPDATED;
	case COPA_PM_ALREADY_FIXED:
		return COPA_OUTCOME_ALREADY_FIXED;
	case COPA_PM_NOT_AVAILABLE:
		return COPA_OUTCOME_NOT_AVAILABLE;
	case COPA_PM_FAILED:
		return COPA_OUTCOME_FAILED;
	case COPA_PM_HELD:
	case COPA_PM_NOT_INSTALLED:
		return COPA_OUTCOME_SKIPPED;
	}
	return COPA_OUTCOME_FAILED;
}

/* The plan package named `name`, or -1. */
static long plan_index(const struct platform_ctx *c, const char *name)
{
	for (size_t i = 0; c->pm && i < c->pm->plan.n_pkgs; i++)
		if (!strcmp(c->pm->plan.pkgs[i].name, name))
			return (long)i;
	return -1;
}

static const struct copa_pm_applied *applied_result(const struct platform_ctx *c, const char *name)
{
	long i = plan_index(c, name);

	return i >= 0 && c->applied && c->ok[i] ? &c->applied[i] : NULL;
}

/* Why the plan package named `name` was skipped under --ignore-errors, or NULL. */
static const char *failed_reason(const struct platform_ctx *c, const char *name)
{
	long i = plan_index(c, name);

	return i >= 0 && c->failed ? c->failed[i] : NULL;
}

/* The maintainer scripts the applier skipped for a package go into its summary entry. */
static void set_skipped_scripts(struct copa_pkg_result *pr, const struct copa_pm_applied *ap)
{
	size_t n = 0;

	if (!ap || !ap->skipped)
		return;
	while (ap->skipped[n])
		n++;
	pr->skipped_scripts = (const char *const *)ap->skipped;
	pr->n_skipped_scripts = n;
}

/*
 * True when two OS versions name the same release: equal, or one extends the
 * other at a '.' ("12" and "12.5"; "3.18" and "3.18.4"). A report's version
 * is compared up to its first space ("2 (Karoo)").
 */
static bool os_version_matches(const char *report, const char *image)
{
	size_t a = strcspn(report, " "), b = strlen(image), n = a < b ? a : b;

	if (strncmp(report, image, n) != 0)
		return false;
	return a == b || (a > b ? report[n] : image[n]) == '.';
}

/* True when the report's image name cannot be the image being patched. */
static bool artifact_differs(const struct run *r, const char *artifact)
{
	struct copa_ref a = {0};
	const char *src_tag = source_tag(&r->src_ref);
	bool differs = false;

	if (!strcmp(artifact, r->src_string) || copa_ref_parse(artifact, &a, NULL) < 0)
		return false;
	/*
	 * Registries: the repository's last component, so that a scan of
	 * docker.io/library/nginx:1.25 matches its mirror localhost:5000/nginx:1.25.
	 */
	if (r->src_ref.transport == COPA_TRANSPORT_REGISTRY && a.path && r->src_ref.ref.path) {
		const char *as = strrchr(a.path, '/'), *ss = strrchr(r->src_ref.ref.path, '/');

		differs = strcmp(as ? as + 1 : a.path, ss ? ss + 1 : r->src_ref.ref.path) != 0;
	}
	/* A local image's name is a path; its tag still says which image it is. */
	if (!a.tag_defaulted && a.tag && src_tag && strcmp(a.tag, src_tag) != 0)
		differs = true;
	copa_ref_release(&a);
	return differs;
}

/*
 * A report made for another image would pass as "up to date": say so when
 * its OS version or image name is not the image's (the OS type and the
 * architecture are errors, checked elsewhere).
 */
static void warn_report_mismatch(const struct platform_ctx *c)
{
	const struct copa_update_manifest *m = c->j->report;
	const char *iv = c->probe.os.version_id;

	if (m->os_version && *m->os_version && iv && *iv && !os_version_matches(m->os_version, iv))
		copa_warn(c->r->o->out,
		          "%s: report '%s' was made for %s %s but '%s' is %s %s: its fixes may not "
		          "apply (scan the image you patch)",
		          c->name, m->source, m->os_type, m->os_version, c->r->src_string,
		          c->probe.os.id ? c->probe.os.id : m->os_type, iv);
	if (m->artifact && *m->artifact && artifact_differs(c->r, m->artifact))
		copa_warn(c->r->o->out,
		          "%s: report '%s' was made for image '%s', not '%s': check that it is a "
		          "report of the image you patch",
		          c->name, m->source, m->artifact, c->r->src_string);
}

/*
 * Update-all mode only (as the original): a release past the end of its
 * security support (the shipped table, core/eol.h) is a warning, or with
 * --exit-on-eol an error. With a report, the scanner already says what is
 * fixable.
 */
static int check_eol(struct platform_ctx *c, struct copa_err *err)
{
	const char *id = c->probe.os.id, *ver = c->probe.os.version_id, *date;
	bool past;

	if (!copa_eol_lookup(id, ver, time(NULL), &date, &past) || !past)
		return 0;
	if (c->r->o->exit_on_eol)
		return copa_err_set(err, COPA_E_UNSUPPORTED,
		                    "%s: '%s' is %s %s, whose security support ended on %s "
		                    "(--exit-on-eol): move to a supported release",
		                    c->name, c->r->src_string, id, ver, date);
	copa_warn(c->r->o->out,
	          "%s: '%s' is %s %s, whose security support ended on %s: its repositories "
	          "get no new fixes (--exit-on-eol makes this an error)",
	          c->name, c->r->src_string, id, ver, date);
	return 0;
}

static int probe_platform(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	struct copa_image_fs_opts fo = {
	    .cache = &r->s.cache, .out = r->o->out, .threads = r->o->jobs};
	struct copa_out *out = r->o->out;
	int rc;

	copa_phase_begin(out, "load-image", c->name);
	rc = copa_image_src_load(r->src, &c->j->want, &c->img, err);
	copa_phase_end(out, "load-image", c->name, rc == 0);
	if (rc < 0)
		return -1;
	c->have_img = true;
	snprintf(c->j->old_digest, sizeof(c->j->old_digest), "%s", c->img.desc.digest);
	c->prev = find_previous_patch(&c->img);
	if (c->prev >= 0)
		copa_info(r->o->out,
		          "%s: %s was patched by copa before; its patch layer is replaced", c->name,
		          r->src_string);
	/* The patched image must stay readable: copa (and this check) read at most the cap. */
	if (c->prev < 0 && c->img.manifest.n_layers >= COPA_OCI_MAX_LAYERS)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s: '%s' has %zu layers; the patch layer would make %zu, more "
		                    "than the limit of %d layers per image: squash the image first",
		                    c->name, r->src_string, c->img.manifest.n_layers,
		                    c->img.manifest.n_layers + 1, COPA_OCI_MAX_LAYERS);
	if (c->prev < 0 &&
	    json_array_size(json_object_get(c->img.config.json, "history")) >= COPA_OCI_MAX_HISTORY)
		return copa_err_set(
		    err, COPA_E_LIMIT,
		    "%s: the config of '%s' has %zu history entries; the patch would "
		    "make one more than the limit of %d: squash the image first",
		    c->name, r->src_string,
		    json_array_size(json_object_get(c->img.config.json, "history")),
		    COPA_OCI_MAX_HISTORY);
	copa_phase_begin(out, "fetch-layers", c->name);
	rc = copa_image_src_layer_blobs(r->src, &c->img, &c->layers, err);
	copa_phase_end(out, "fetch-layers", c->name, rc == 0);
	if (rc < 0)
		return -1;
	c->have_layers = true;
	copa_phase_begin(out, "read-layers", c->name);
	c->fs = copa_image_fs_open(c->layers.v, c->layers.n, &fo, err);
	copa_phase_end(out, "read-layers", c->name, c->fs != NULL);
	if (!c->fs)
		return -1;
	copa_phase_begin(out, "probe", c->name);
	rc = copa_probe_image(copa_image_fs_view(c->fs), &c->probe, err);
	copa_phase_end(out, "probe", c->name, rc == 0);
	if (rc < 0)
		return -1;
	c->have_probe = true;
	if (!c->probe.pm || !c->probe.pm->open) {
		const char *id = c->probe.os.id ? c->probe.os.id : "an unknown OS";

		if (!c->probe.pm)
			return copa_err_set(
			    err, COPA_E_UNSUPPORTED,
			    "%s: no package database found in '%s' (%s): nothing copa "
			    "can patch",
			    c->name, r->src_string, id);
		return copa_err_set(
		    err, COPA_E_UNSUPPORTED,
		    "%s: '%s' is %s with %s packages; copa patches dpkg- and apk-based "
		    "images (Debian, Ubuntu, Alpine, Wolfi) for now",
		    c->name, r->src_string, id, copa_probe_manager(&c->probe));
	}
	/* the report's type is canonical ("redhat"); os-release has the ID ("rhel") */
	if (c->j->report && c->probe.os.id && c->j->report->os_type &&
	    strcmp(c->j->report->os_type, c->probe.os.id) != 0 &&
	    (!copa_os_lookup(c->probe.os.id) ||
	     strcmp(c->j->report->os_type, copa_os_lookup(c->probe.os.id)->id) != 0))
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "report '%s' describes %s but '%s' (%s) is %s: scan the image you "
		    "patch",
		    c->j->report->source, c->j->report->os_type, r->src_string, c->name,
		    c->probe.os.id);
	if (c->j->report)
		warn_report_mismatch(c);
	else if (check_eol(c, err) < 0)
		return -1;
	return 0;
}

/* Opens the image's package family: its database, repositories, keys, pins and indexes. */
static int open_pm(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	const struct copa_patch_opts *o = r->o;
	struct copa_pm_open_opts po = {
	    .view = copa_image_fs_view(c->fs),
	    .os = &c->probe.os,
	    .oci_arch = c->img.platform.arch,
	    .oci_variant = c->img.platform.variant,
	    .repos = (char *const *)(uintptr_t)o->repos,
	    .repos_replace = o->repos_replace,
	    .keyrings = (char *const *)(uintptr_t)o->keyrings,
	    .allow_insecure = o->allow_insecure_repo,
	    .http = r->s.http,
	    .cache = &r->s.cache,
	    .out = o->out,
	};

	copa_phase_begin(o->out, "repositories", c->name);
	c->pm = c->probe.pm->open(&po, err);
	copa_phase_end(o->out, "repositories", c->name, c->pm != NULL);
	if (!c->pm)
		return copa_err_wrap(err, "%s", c->name);
	return 0;
}

/* Says how many of the packages a report names the image does not have (another image's report?).
 */
static void warn_not_installed(const struct platform_ctx *c)
{
	const struct copa_update_manifest *m = c->j->report;
	const struct copa_pm_plan *plan = &c->pm->plan;
	struct copa_buf names = COPA_BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; m && i < plan->n_results; i++) {
		if (plan->results[i].outcome != COPA_PM_NOT_INSTALLED)
			continue;
		if (n++ < 3)
			copa_buf_addf(&names, "%s'%s'", n > 1 ? ", " : "", plan->results[i].name);
	}
	if (n)
		copa_warn(c->r->o->out,
		          "%s: %zu of the %zu packages report '%s' asks to update %s not installed "
		          "in '%s' (%s%s)",
		          c->name, n, m->n_updates, m->source, n == 1 ? "is" : "are",
		          c->r->src_string, copa_buf_str(&names), n > 3 ? ", ..." : "");
	copa_buf_release(&names);
}

/* Plans, and turns per-package trouble into an error unless --ignore-errors. */
static int plan_updates(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	const struct copa_update_manifest *m = c->j->report;
	struct copa_pm_request *req = NULL;
	size_t n_req = 0;
	struct copa_buf problems = COPA_BUF_INIT;
	size_t n_problems = 0;
	int rc;

	if (m) {
		if (m->n_updates == 0)
			return 0;
		req = copa_xcalloc(m->n_updates + 1, sizeof(*req));
		for (size_t i = 0; i < m->n_updates; i++) {
			req[i].name = m->updates[i].name;
			req[i].fixed_version = m->updates[i].fixed;
		}
		n_req = m->n_updates;
	}
	copa_phase_begin(r->o->out, "plan", c->name);
	rc = c->pm->ops->plan(c->pm, req, n_req, err);
	copa_phase_end(r->o->out, "plan", c->name, rc == 0);
	free(req);
	if (rc < 0)
		return copa_err_wrap(err, "%s", c->name);
	c->have_plan = true;
	warn_not_installed(c);
	for (size_t i = 0; i < c->pm->plan.n_results; i++) {
		const struct copa_pm_result *res = &c->pm->plan.results[i];

		if (res->outcome == COPA_PM_HELD)
			copa_warn(r->o->out,
			          "%s: package '%s' is held in the image and is left at %s",
			          c->name, res->name,
			          res->installed_version ? res->installed_version : "its version");
		if (!m || !copa_pm_outcome_is_error(res->outcome))
			continue;
		if (r->o->ignore_errors) {
			copa_warn(r->o->out, "%s: skipping '%s': %s", c->name, res->name,
			          res->reason ? res->reason : copa_pm_outcome_str(res->outcome));
			continue;
		}
		if (n_problems++ < 3)
			copa_buf_addf(
			    &problems, "%s'%s': %s", n_problems > 1 ? "; " : "", res->name,
			    res->reason ? res->reason : copa_pm_outcome_str(res->outcome));
	}
	if (n_problems) {
		copa_err_set(err, COPA_E_PACKAGE,
		             "%s: %zu package%s cannot be updated to the fixed version: %s%s "
		             "(use --ignore-errors to patch the rest)",
		             c->name, n_problems, n_problems > 1 ? "s" : "",
		             copa_buf_str(&problems), n_problems > 3 ? "; ..." : "");
		copa_buf_release(&problems);
		return -1;
	}
	copa_buf_release(&problems);
	return 0;
}

/* The hex of a "sha256:<hex>" digest (the reuse key's input since before the digests moved). */
static const char *digest_hex(const char *d)
{
	const char *colon = strchr(d, ':');

	return colon ? colon + 1 : d;
}

/*
 * The reuse key of a patch layer: the same source image, the same packages
 * (by checksum) and the same layer options give the same layer, so a second
 * run reuses the one it built (the cache holds the blob and this record).
 */
static void reuse_key(const struct platform_ctx *c, char hex[COPA_HASH_HEX_MAX])
{
	struct copa_hash h;
	const char *comp = c->r->o->compression ? c->r->o->compression : "gzip";

	copa_hash_init(&h, COPA_HASH_SHA256);
	copa_hash_update(&h, "copa-patch-layer-v1\n", 20);
	copa_hash_update(&h, c->img.desc.digest, strlen(c->img.desc.digest));
	copa_hash_update(&h, "\n", 1);
	copa_hash_update(&h, comp, strlen(comp));
	for (size_t i = 0; i < c->pm->plan.n_pkgs; i++) {
		const struct copa_pm_pkg *p = &c->pm->plan.pkgs[i];
		/* apk indexes give an identity (C:) rather than a digest of the file. */
		const char *hx = p->digest[0] ? digest_hex(p->digest) : p->id ? p->id : "";

		copa_hash_update(&h, "\n", 1);
		copa_hash_update(&h, p->name, strlen(p->name));
		copa_hash_update(&h, " ", 1);
		copa_hash_update(&h, hx, strlen(hx));
	}
	copa_hash_final_hex(&h, hex);
}

/* Per-package bookkeeping for the plan's packages. */
static void alloc_applied(struct platform_ctx *c)
{
	size_t n = c->pm->plan.n_pkgs;

	c->applied = copa_xcalloc(n + 1, sizeof(*c->applied));
	c->ok = copa_xcalloc(n + 1, sizeof(*c->ok));
	c->failed = copa_xcalloc(n + 1, sizeof(*c->failed));
}

/* Loads a reusable layer record; returns true when the layer can be reused. */
static bool reuse_load(struct platform_ctx *c, const char *key)
{
	struct run *r = c->r;
	struct copa_buf b = COPA_BUF_INIT;
	json_t *doc = NULL, *applied;
	const char *digest, *diff_id, *mt;
	json_int_t size = 0;
	bool ok = false;
	size_t i;
	json_t *a;

	if (copa_cache_get(&r->s.cache, "patch-layer", key, 1 << 20, &b, NULL) != 1)
		goto out;
	doc = json_loadb(b.p, b.len, 0, NULL);
	digest = copa_json_str(doc, "digest");
	diff_id = copa_json_str(doc, "diff_id");
	mt = copa_json_str(doc, "mediaType");
	applied = copa_json_arr(doc, "applied");
	if (!digest || !diff_id || !mt || !applied || !copa_json_int(doc, "size", &size) ||
	    !copa_digest_valid(digest) || !copa_digest_valid(diff_id) ||
	    !copa_cache_has_blob(&r->s.cache, digest))
		goto out;
	copa_desc_make(&c->j->layer_desc, mt, digest, (int64_t)size, NULL);
	c->j->layer_path = copa_cache_blob_path(&r->s.cache, digest);
	snprintf(c->j->layer_diff_id, sizeof(c->j->layer_diff_id), "%s", diff_id);
	/* A layer is recorded only when every package of the plan went into it. */
	json_array_foreach(applied, i, a)
	{
		const char *name = copa_json_str(a, "name");
		json_t *sk = copa_json_arr(a, "skipped");
		long k = name ? plan_index(c, name) : -1;
		size_t m;
		json_t *v;

		if (k < 0 || c->ok[k])
			continue;
		c->ok[k] = true;
		c->n_ok++;
		c->applied[k].name = copa_xstrdup(name);
		c->applied[k].skipped = copa_xcalloc(json_array_size(sk) + 1, sizeof(char *));
		json_array_foreach(sk, m, v) c->applied[k].skipped[m] =
		    copa_xstrdup(json_string_value(v) ? json_string_value(v) : "");
	}
	for (size_t k = 0; k < c->pm->plan.n_pkgs; k++)
		if (!c->ok[k]) {
			c->ok[k] = true;
			c->n_ok++;
		}
	ok = true;
out:
	json_decref(doc);
	copa_buf_release(&b);
	return ok;
}

static void reuse_store(struct platform_ctx *c, const char *key)
{
	struct run *r = c->r;
	json_t *doc = json_object(), *applied = json_array();
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;

	json_object_set_new(doc, "digest", json_string(c->j->layer_desc.digest));
	json_object_set_new(doc, "diff_id", json_string(c->j->layer_diff_id));
	json_object_set_new(doc, "mediaType", json_string(c->j->layer_desc.media_type));
	json_object_set_new(doc, "size", json_integer(c->j->layer_desc.size));
	for (size_t i = 0; i < c->pm->plan.n_pkgs; i++) {
		json_t *sk = json_array();

		if (!c->ok[i])
			continue;
		for (char **p = c->applied[i].skipped; p && *p; p++)
			json_array_append_new(sk, json_string(*p));
		json_array_append_new(
		    applied, json_pack("{s:s, s:o}", "name", c->applied[i].name, "skipped", sk));
	}
	json_object_set_new(doc, "applied", applied);
	if (copa_json_dump(doc, 0, &b, &e) < 0 ||
	    copa_cache_put(&r->s.cache, "patch-layer", key, b.p, b.len, &e) < 0)
		copa_warn(r->o->out, "cannot record the patch layer for reuse: %s", e.msg);
	json_decref(doc);
	copa_buf_release(&b);
}

/* The family's prepare, run on a fetch worker. */
static int prepare_one(void *ctx, size_t i, struct copa_pm_pkg *p, struct copa_err *err)
{
	struct platform_ctx *c = ctx;
	_cleanup_free_ char *dir = copa_xasprintf("%s/prepared", c->stage_dir);

	return c->pm->ops->prepare(c->pm, i, p, dir, err);
}

/* The family's check of a package its index gives no digest for, run on a fetch worker. */
static int check_one(void *ctx, size_t i, const struct copa_pm_pkg *p, const char *path,
                     struct copa_err *err)
{
	struct platform_ctx *c = ctx;

	return c->pm->ops->check(c->pm, i, p, path, err);
}

/*
 * A package that cannot be fetched or applied: under --ignore-errors it is
 * skipped (recorded as failed), else the platform fails. An apply refuses bad
 * package input before its first write, so a refused package changed nothing;
 * a local I/O error (ENOSPC, EIO) can strike between two writes of one
 * package, so it is never skipped: the platform fails and nothing is committed.
 */
static int package_failed(struct platform_ctx *c, size_t i, bool applying, struct copa_err *err)
{
	const struct copa_pm_pkg *p = &c->pm->plan.pkgs[i];

	if (!c->r->o->ignore_errors || err->code == COPA_E_CANCELED ||
	    err->code == COPA_E_TIMEOUT || (applying && err->code == COPA_E_IO))
		return -1;
	copa_warn(c->r->o->out, "%s: skipping package '%s' %s: %s", c->name, p->name, p->version,
	          err->msg);
	c->failed[i] = copa_xstrdup(err->msg);
	c->r->n_skipped++;
	copa_err_clear(err);
	return 0;
}

static int fetch_and_apply(struct platform_ctx *c, const struct copa_pkg_fetch_opts *fo,
                           struct copa_pkg_fetch_stats *stats, struct copa_err *err)
{
	struct copa_pm_plan *plan = &c->pm->plan;
	struct copa_pkg_fetch *f = copa_pkg_fetch_start(plan->pkgs, plan->n_pkgs, fo);

	for (size_t i = 0; i < plan->n_pkgs; i++) {
		struct copa_pm_pkg *p = &plan->pkgs[i];

		if (copa_runctl_check(err) < 0) {
			copa_pkg_fetch_cancel(f);
			copa_pkg_fetch_end(f, NULL, NULL);
			return -1;
		}
		if (copa_pkg_fetch_wait(f, i, err) < 0) {
			copa_err_wrap(err, "%s", c->name);
			if (package_failed(c, i, false, err) == 0)
				continue;
			copa_pkg_fetch_end(f, NULL, NULL);
			return -1;
		}
		if (c->pm->ops->apply(c->pm, c->builder, i, &c->applied[i], err) < 0) {
			copa_err_wrap(err, "%s: package '%s' %s", c->name, p->name, p->version);
			if (package_failed(c, i, true, err) == 0)
				goto next;
			copa_pkg_fetch_cancel(f);
			copa_pkg_fetch_end(f, NULL, NULL);
			return -1;
		}
		c->ok[i] = true;
		c->n_ok++;
	next:
		/* What prepare left (a decompressed data.tar) has served; free the space now. */
		if (p->prepared) {
			unlink(p->prepared);
			free(p->prepared);
			p->prepared = NULL;
		}
	}
	if (copa_pkg_fetch_end(f, stats, err) < 0)
		return copa_err_wrap(err, "%s", c->name);
	return 0;
}

static int apply_updates(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	const struct copa_pm_ops *ops = c->pm->ops;
	struct copa_pm_plan *plan = &c->pm->plan;
	struct copa_pkg_fetch_opts fo = {.http = r->s.http,
	                                 .cache = &r->s.cache,
	                                 .out = r->o->out,
	                                 .suffix = ops->pkg_suffix,
	                                 .keep_going = r->o->ignore_errors,
	                                 .jobs = r->o->jobs};
	struct copa_pkg_fetch_stats stats = {0};
	char **got;
	_cleanup_free_ char *prep_dir = NULL;
	int rc = 0;

	c->stage_dir = copa_fs_mkdtemp(r->s.cache.path, "tmp/stage-", err);
	if (!c->stage_dir)
		return -1;
	c->stage_fd = open(c->stage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->stage_fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", c->stage_dir);
	/* The fetch workers run the family's prepare (Debian: data.tar decompression) here. */
	if (ops->prepare) {
		prep_dir = copa_xasprintf("%s/prepared", c->stage_dir);
		if (mkdir(prep_dir, 0700) < 0)
			return copa_err_sys(err, COPA_E_IO, errno, "cannot create '%s'", prep_dir);
		fo.prepare = prepare_one;
		fo.prepare_ctx = c;
	}
	if (ops->check) {
		fo.check = check_one;
		fo.check_ctx = c;
	}
	c->builder = copa_layer_builder_new(c->stage_fd);
	if (c->prev >= 0 && copa_layer_builder_seed(c->builder, &c->layers.v[c->prev], err) < 0)
		return copa_err_wrap(err, "%s: previous patch layer", c->name);
	/* Downloads and preparation run ahead; packages are applied in order as they come. */
	copa_phase_begin(r->o->out, "fetch-apply", c->name);
	rc = fetch_and_apply(c, &fo, &stats, err);
	copa_phase_end(r->o->out, "fetch-apply", c->name, rc == 0);
	if (rc < 0)
		return -1;
	copa_info(r->o->out, "%s: %zu package%s (%zu downloaded, %zu from the cache, %.1f MiB)",
	          c->name, plan->n_pkgs, plan->n_pkgs == 1 ? "" : "s", stats.downloaded,
	          stats.cached, stats.bytes / (1024.0 * 1024));
	if (c->n_ok == 0)
		return 0;
	if (copa_runctl_check(err) < 0)
		return copa_err_wrap(err, "%s", c->name);
	copa_phase_begin(r->o->out, "finish", c->name);
	rc = ops->finish(c->pm, err);
	if (rc < 0) {
		copa_phase_end(r->o->out, "finish", c->name, 0);
		return copa_err_wrap(err, "%s", c->name);
	}
	got = copa_xcalloc(plan->n_pkgs + 1, sizeof(*got));
	if (ops->verify(c->pm, c->ok, got, err) < 0)
		rc = copa_err_wrap(err, "%s: the new package database", c->name);
	copa_phase_end(r->o->out, "finish", c->name, rc == 0);
	/* Read back, every requested package must be at its fixed version or newer. */
	for (size_t i = 0; rc == 0 && i < plan->n_pkgs; i++) {
		const struct copa_update *u = report_update(c->j->report, plan->pkgs[i].name);
		int cmp = 0;

		if (!c->ok[i] || !u || !u->fixed || !got[i])
			continue;
		if (copa_version_cmp(ops->fam, got[i], u->fixed, &cmp, err) < 0)
			rc = copa_err_wrap(err, "%s: package '%s'", c->name, plan->pkgs[i].name);
		else if (cmp < 0)
			rc = copa_err_set(
			    err, COPA_E_VERIFY,
			    "%s: package '%s' is at %s after patching, below the fixed "
			    "version %s",
			    c->name, plan->pkgs[i].name, got[i], u->fixed);
	}
	for (size_t i = 0; i < plan->n_pkgs; i++)
		free(got[i]);
	free(got);
	return rc;
}

/* Writes a finished temporary file into the cache and describes it. */
static int to_cache(struct run *r, struct copa_tmpfile *t, const char *digest, bool verified,
                    const char *media_type, int64_t size, struct copa_desc *d, char **path,
                    struct copa_err *err)
{
	char got[COPA_DIGEST_MAX];

	if (copa_cache_commit_blob(&r->s.cache, t, digest, verified, got, err) < 0)
		return -1;
	copa_desc_make(d, media_type, got, size, NULL);
	*path = copa_cache_blob_path(&r->s.cache, got);
	return 0;
}

/*
 * Compressed patch layers by content: the key is the compression and the
 * uncompressed tar's digest (diff_id). Another image with the same base and
 * the same updates (a fleet), or a re-run, gets byte-identical tar content;
 * its compressed blob is taken from the cache instead of compressing again,
 * which is most of a warm run. The tar pass that finds the diff_id costs a
 * fraction of compressing (no compression, one sha256).
 */
#define LAYER_NS "patch-layers"

static char *layer_key(const char *comp, const char *diff_id)
{
	const char *hex = strchr(diff_id, ':');

	return copa_xasprintf("%s-%s", comp, hex ? hex + 1 : diff_id);
}

/*
 * Whether the cache records any compressed layer of this compression. When
 * it records none (a new cache: every first run), no diff_id can match and
 * the tar pass that finds the diff_id is skipped. Any doubt (an unreadable
 * directory) answers yes: the pass only costs time.
 */
static bool any_layer_recorded(const struct run *r, const char *comp)
{
	size_t n = strlen(comp);
	struct dirent *de;
	bool found = false;
	DIR *d;
	int fd = openat(r->s.cache.dirfd, LAYER_NS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return errno != ENOENT;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return true;
	}
	while (!found && (de = readdir(d)))
		found = !strncmp(de->d_name, comp, n) && de->d_name[n] == '-';
	closedir(d);
	return found;
}

/* 1 with res filled when a compressed blob of this layer is in the cache, 0 when not. */
static int reuse_layer(struct run *r, const struct copa_layer_write_opts *wo,
                       const struct copa_layer_builder *b, const char *comp,
                       struct copa_layer_result *res, struct copa_err *err)
{
	struct copa_layer_write_opts po = *wo;
	struct copa_layer_result pre;
	struct copa_buf rec = COPA_BUF_INIT;
	struct copa_err e2 = COPA_ERR_INIT;
	_cleanup_free_ char *key = NULL;
	char digest[COPA_DIGEST_MAX];
	unsigned long long size;
	int fd, found = 0;

	if (wo->compression == COPA_COMPRESS_NONE)
		return 0;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	po.compression = COPA_COMPRESS_NONE;
	po.out_fd = fd;
	po.out = NULL;
	if (copa_layer_builder_write(b, &po, &pre, err) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	key = layer_key(comp, pre.diff_id);
	if (copa_cache_get(&r->s.cache, LAYER_NS, key, 256, &rec, &e2) == 1 &&
	    sscanf(copa_buf_str(&rec), "%71s %llu", digest, &size) == 2 &&
	    copa_digest_valid(digest)) {
		/* Verified: a cache entry that no longer matches its name is dropped. */
		int bfd = copa_cache_open_blob(&r->s.cache, digest, true, &e2);

		struct stat st;

		if (bfd >= 0 && fstat(bfd, &st) == 0 && (unsigned long long)st.st_size == size) {
			memset(res, 0, sizeof(*res));
			snprintf(res->digest, sizeof(res->digest), "%s", digest);
			snprintf(res->diff_id, sizeof(res->diff_id), "%s", pre.diff_id);
			res->size = size;
			res->tar_size = pre.tar_size;
			found = 1;
			copa_info(r->o->out,
			          "new layer: the same content was compressed before (%s)", digest);
		}
	}
	copa_buf_release(&rec);
	return found;
}

static void remember_layer(struct run *r, const char *comp, const struct copa_layer_result *res)
{
	_cleanup_free_ char *key = layer_key(comp, res->diff_id);
	_cleanup_free_ char *rec =
	    copa_xasprintf("%s %llu\n", res->digest, (unsigned long long)res->size);
	struct copa_err e2 = COPA_ERR_INIT;

	/* Best effort: a run that cannot record it compresses again next time. */
	(void)copa_cache_put(&r->s.cache, LAYER_NS, key, rec, strlen(rec), &e2);
}

static int write_layer(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	struct copa_tmpfile t;
	struct copa_layer_write_opts wo = {.out = r->o->out, .threads = r->o->jobs};
	struct copa_layer_result res;
	const char *comp = r->o->compression ? r->o->compression : "gzip";
	enum copa_mt_compression mc = COPA_MT_GZIP;
	json_t *ann;
	int rc;

	if (!strcmp(comp, "zstd")) {
		wo.compression = COPA_COMPRESS_ZSTD;
		mc = COPA_MT_ZSTD;
	} else if (!strcmp(comp, "none")) {
		wo.compression = COPA_COMPRESS_NONE;
		mc = COPA_MT_TAR;
	} else {
		wo.compression = COPA_COMPRESS_GZIP;
	}
	rc = 0;
	if (wo.compression != COPA_COMPRESS_NONE && any_layer_recorded(r, comp)) {
		copa_phase_begin(r->o->out, "layer-digest", c->name);
		rc = reuse_layer(r, &wo, c->builder, comp, &res, err);
		copa_phase_end(r->o->out, "layer-digest", c->name, rc >= 0);
	}
	if (rc == 1) {
		copa_desc_make(&c->j->layer_desc, copa_mt_layer(c->img.manifest.family, mc),
		               res.digest, (int64_t)res.size, NULL);
		c->j->layer_path = copa_cache_blob_path(&r->s.cache, res.digest);
		rc = 0;
	} else if (rc == 0) {
		if (copa_cache_begin(&r->s.cache, &t, err) < 0)
			return -1;
		wo.out_fd = t.fd;
		copa_phase_begin(r->o->out, "compress", c->name);
		rc = copa_layer_builder_write(c->builder, &wo, &res, err);
		if (rc == 0)
			rc = to_cache(r, &t, res.digest, true,
			              copa_mt_layer(c->img.manifest.family, mc), (int64_t)res.size,
			              &c->j->layer_desc, &c->j->layer_path, err);
		copa_phase_end(r->o->out, "compress", c->name, rc == 0);
		copa_tmpfile_release(&t);
		if (rc == 0)
			remember_layer(r, comp, &res);
	}
	if (rc < 0)
		return copa_err_wrap(err, "%s: new layer", c->name);
	if (c->img.manifest.family == COPA_FAMILY_OCI) {
		/* Marks copa's layer for tools that look at descriptors. */
		ann = json_pack("{s:s}", ANN_LAYER, "true");
		json_object_set(c->j->layer_desc.json, "annotations", ann);
		json_decref(ann);
	}
	copa_info(r->o->out, "%s: new layer %s (%.1f MiB, %zu entries)", c->name, res.digest,
	          res.size / (1024.0 * 1024), copa_layer_builder_count(c->builder));
	snprintf(c->j->layer_diff_id, sizeof(c->j->layer_diff_id), "%s", res.diff_id);
	return 0;
}

/* "copa patch: libssl3 3.0.11-1~deb12u2 -> 3.0.15-1~deb12u1, ..." (bounded; applied packages). */
static char *history_line(const struct platform_ctx *c)
{
	const struct copa_pm_plan *plan = &c->pm->plan;
	struct copa_buf b = COPA_BUF_INIT;
	size_t k = 0;

	copa_buf_adds(&b, "copa patch:");
	for (size_t i = 0; i < plan->n_pkgs; i++) {
		const struct copa_pm_pkg *p = &plan->pkgs[i];

		if (!c->ok[i])
			continue;
		if (k == MAX_HISTORY_NAMES) {
			copa_buf_addf(&b, " and %zu more", c->n_ok - k);
			break;
		}
		copa_buf_addf(&b, "%s %s %s%s%s", k++ ? "," : "", p->name,
		              p->old_version ? p->old_version : "(new)", " -> ", p->version);
	}
	return copa_buf_detach(&b, NULL);
}

/* Drops the last diff_id and the last layer-producing history entry (the previous patch). */
static void drop_last_layer(json_t *cfg)
{
	json_t *rootfs = copa_json_obj(cfg, "rootfs");
	json_t *ids = rootfs ? copa_json_arr(rootfs, "diff_ids") : NULL;
	json_t *hist = copa_json_arr(cfg, "history");

	if (ids && json_array_size(ids))
		json_array_remove(ids, json_array_size(ids) - 1);
	for (size_t i = hist ? json_array_size(hist) : 0; i-- > 0;)
		if (!json_is_true(json_object_get(json_array_get(hist, i), "empty_layer"))) {
			json_array_remove(hist, i);
			break;
		}
}

static int write_config(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	struct copa_config cfg;
	struct copa_tmpfile t;
	_cleanup_free_ char *line = history_line(c);
	const char *diff_id = c->j->layer_diff_id;
	int rc;

	if (copa_config_parse(c->img.config.raw.p, c->img.config.raw.len, "image config", &cfg,
	                      err) < 0)
		return -1;
	if (c->prev >= 0)
		drop_last_layer(cfg.json);
	/* The image as it now is was made now (or at SOURCE_DATE_EPOCH). */
	json_object_set_new(cfg.json, "created", json_string(r->now));
	rc = copa_config_append_layer(&cfg, diff_id, r->now, line, PATCH_COMMENT, err);
	if (rc == 0)
		rc = copa_config_serialize(&cfg, err);
	if (rc == 0)
		rc = copa_cache_begin(&r->s.cache, &t, err);
	if (rc == 0) {
		rc = copa_fs_write_all(t.fd, cfg.raw.p, cfg.raw.len, err);
		if (rc == 0)
			rc = to_cache(r, &t, cfg.digest, false,
			              copa_mt_config(c->img.manifest.family), (int64_t)cfg.raw.len,
			              &c->j->config_desc, &c->j->config_path, err);
		copa_tmpfile_release(&t);
	}
	copa_config_release(&cfg);
	if (rc < 0)
		return copa_err_wrap(err, "%s: new config", c->name);
	return 0;
}

/* OCI layouts and archives hold OCI documents only (what skopeo and umoci read). */
static bool dst_oci_only(const struct copa_image_ref *d)
{
	return d->transport == COPA_TRANSPORT_OCI || d->transport == COPA_TRANSPORT_OCI_ARCHIVE;
}

/*
 * Converts a Docker schema 2 manifest to OCI now, rather than letting the
 * copy do it, so that the digest copa reports is the one written.
 */
static int convert_to_oci(struct copa_buf *raw, struct copa_err *err)
{
	struct copa_manifest dm;
	struct copa_buf conv = COPA_BUF_INIT;
	int rc;

	if (copa_manifest_parse(raw->p, raw->len, NULL, "new manifest", &dm, err) < 0)
		return -1;
	rc = copa_manifest_to_oci(&dm, &conv, err);
	copa_manifest_release(&dm);
	if (rc < 0) {
		copa_buf_release(&conv);
		return -1;
	}
	copa_buf_release(raw);
	*raw = conv;
	return 0;
}

/*
 * The new manifest: the source's, with the config replaced, the previous
 * patch layer dropped, the new layer appended, and (OCI) the annotations
 * that say what it is based on and when it was patched.
 */
static int write_manifest(struct platform_ctx *c, struct copa_err *err)
{
	struct run *r = c->r;
	const struct copa_manifest *m = &c->img.manifest;
	json_t *old_ann = copa_json_obj(m->json, "annotations");
	/* A re-patch keeps naming the original base. */
	bool name_base = c->prev < 0 || !json_object_get(old_ann, ANN_BASE_DIGEST);
	const char *ann[] = {ANN_CREATED,
	                     r->now,
	                     ANN_PATCHED,
	                     r->now,
	                     name_base ? ANN_BASE_DIGEST : NULL,
	                     c->img.desc.digest,
	                     ANN_BASE_NAME,
	                     r->src_string,
	                     NULL};
	struct copa_manifest_edit edit = {
	    .drop_last = c->prev >= 0 ? 1 : 0,
	    /* Docker schema 2 manifests have no annotations. */
	    .annotations = m->family == COPA_FAMILY_OCI ? ann : NULL,
	};
	struct copa_buf raw = COPA_BUF_INIT;
	char digest[COPA_DIGEST_MAX];
	int rc;

	rc =
	    copa_manifest_build_edit(m, &c->j->config_desc, &c->j->layer_desc, 1, &edit, &raw, err);
	if (rc == 0 && dst_oci_only(&r->dst_ref) && m->family == COPA_FAMILY_DOCKER)
		rc = convert_to_oci(&raw, err);
	if (rc < 0) {
		copa_buf_release(&raw);
		return copa_err_wrap(err, "%s: new manifest", c->name);
	}
	copa_sha256_digest(raw.p, raw.len, digest);
	{
		json_t *parsed = json_loadb(raw.p, raw.len, 0, NULL);
		const char *mt = copa_json_str(parsed, "mediaType");

		copa_desc_make(&c->j->new_desc, mt ? mt : copa_mt_manifest(m->family), digest,
		               (int64_t)raw.len, NULL);
		json_decref(parsed);
	}
	c->j->new_raw = raw;
	c->j->patched = true;
	return 0;
}

/*
 * Fills the summary with one row per package the plan considered. After a
 * failure (`failed`: its message), the updates planned are recorded as
 * failed with that reason: the image was not written.
 */
static int record_outcomes(struct platform_ctx *c, const char *failed, struct copa_err *err)
{
	struct run *r = c->r;
	const struct copa_pm_plan *plan = c->pm ? &c->pm->plan : NULL;

	for (size_t i = 0; c->have_plan && i < plan->n_results; i++) {
		const struct copa_pm_result *res = &plan->results[i];
		const struct copa_update *u = report_update(c->j->report, res->name);
		const struct copa_pm_applied *ap = applied_result(c, res->name);
		const char *skipped = failed_reason(c, res->name);
		struct copa_pkg_result pr = {
		    .name = res->name,
		    .arch = res->arch,
		    .installed_before = res->installed_version,
		    .requested = res->fixed_version,
		    .chosen = res->chosen_version,
		    .installed = res->outcome == COPA_PM_UPDATED ? res->chosen_version
		                                                 : res->installed_version,
		    .outcome = outcome_of(res->outcome),
		    .reason = res->reason,
		};

		if ((failed || skipped) && pr.outcome == COPA_OUTCOME_UPDATED) {
			pr.outcome = COPA_OUTCOME_FAILED;
			pr.installed = res->installed_version;
			pr.reason = failed ? failed : skipped;
		}
		if (res->outcome == COPA_PM_ALREADY_FIXED && !pr.reason)
			pr.reason = "the installed version already has the fix";
		if (res->outcome == COPA_PM_HELD && !pr.reason)
			pr.reason = "held in the image";
		if (res->outcome == COPA_PM_NOT_INSTALLED && !pr.reason)
			pr.reason = "not installed in the image";
		if (u) {
			pr.vuln_ids = u->vuln_ids;
			pr.n_vuln_ids = u->n_vuln_ids;
		}
		set_skipped_scripts(&pr, ap);
		if (copa_summary_add_package(r->summary, c->j->sp, &pr, err) < 0)
			return -1;
	}
	/* New packages the updates needed are in the new layer too: list them. */
	for (size_t i = 0; c->have_plan && i < plan->n_pkgs; i++) {
		const struct copa_pm_pkg *p = &plan->pkgs[i];
		const struct copa_pm_applied *ap = applied_result(c, p->name);
		const char *skipped = c->failed ? c->failed[i] : NULL;
		struct copa_pkg_result pr = {
		    .name = p->name,
		    .arch = p->arch,
		    .chosen = p->version,
		    .installed = p->version,
		    .outcome = COPA_OUTCOME_UPDATED,
		    .reason = "new dependency of an update",
		};

		if (p->old_version)
			continue;
		if (failed || skipped) {
			pr.outcome = COPA_OUTCOME_FAILED;
			pr.installed = NULL;
			pr.reason = failed ? failed : skipped;
		}
		set_skipped_scripts(&pr, ap);
		if (copa_summary_add_package(r->summary, c->j->sp, &pr, err) < 0)
			return -1;
	}
	return 0;
}

static int synth_manifest(struct platform_ctx *c, struct copa_err *err)
{
	struct copa_update_manifest *m =
	    copa_update_manifest_new("(no report: update everything)", "none");

	c->j->synth = m;
	if (copa_update_manifest_set_os(m, c->probe.os.id ? c->probe.os.id : "debian",
	                                c->probe.os.version_id ? c->probe.os.version_id : "unknown",
	                                c->img.platform.arch, c->img.platform.variant, c->probe.fam,
	                                err) < 0 ||
	    copa_update_manifest_finish(m, err) < 0)
		return copa_err_wrap(err, "%s", c->name);
	return 0;
}

static int patch_platform(struct run *r, struct job *j, struct copa_err *err)
{
	struct platform_ctx c = {.r = r, .j = j, .stage_fd = -1, .prev = -1};
	char key[COPA_HASH_HEX_MAX];
	int rc = -1;

	copa_platform_str(&j->want, c.name, sizeof(c.name));
	copa_info(r->o->out, "%s: reading %s", c.name, r->src_string);
	if (probe_platform(&c, err) < 0)
		goto out;
	if (!j->report && synth_manifest(&c, err) < 0)
		goto out;
	j->sp = copa_summary_add_manifest(r->summary, j->report ? j->report : j->synth);
	copa_summary_platform_set_name(r->summary, j->sp, c.name);
	if (j->report && j->report->n_updates == 0) {
		copa_info(r->o->out, "%s: the report lists no fixable OS package", c.name);
		rc = 0;
		goto out;
	}
	if (copa_runctl_check(err) < 0 || open_pm(&c, err) < 0 || copa_runctl_check(err) < 0 ||
	    plan_updates(&c, err) < 0 || copa_runctl_check(err) < 0)
		goto out;
	if (!c.have_plan || c.pm->plan.n_pkgs == 0) {
		copa_info(r->o->out, "%s: every package is already up to date%s", c.name,
		          j->report ? " for the report's fixes" : "");
		rc = record_outcomes(&c, NULL, err);
		goto out;
	}
	reuse_key(&c, key);
	alloc_applied(&c);
	if (reuse_load(&c, key)) {
		copa_info(r->o->out,
		          "%s: reusing the layer built before from the same image and "
		          "packages (%s)",
		          c.name, j->layer_desc.digest);
	} else {
		if (apply_updates(&c, err) < 0 || copa_runctl_check(err) < 0)
			goto out;
		if (c.n_ok == 0) {
			/* --ignore-errors skipped every package: the image stays as it was. */
			copa_warn(r->o->out,
			          "%s: no package could be updated; %s is kept as it was", c.name,
			          r->src_string);
			rc = record_outcomes(&c, NULL, err);
			goto out;
		}
		if (write_layer(&c, err) < 0)
			goto out;
		/* A layer that lacks a skipped package is not the plan's layer: never reuse it. */
		if (c.n_ok == c.pm->plan.n_pkgs)
			reuse_store(&c, key);
	}
	if (copa_runctl_check(err) < 0)
		goto out;
	copa_phase_begin(r->o->out, "config", c.name);
	rc = write_config(&c, err) < 0 || write_manifest(&c, err) < 0 ? -1 : 0;
	copa_phase_end(r->o->out, "config", c.name, rc == 0);
	if (rc < 0 || (rc = record_outcomes(&c, NULL, err)) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0 && j->sp && c.have_plan && j->sp->n_pkgs == 0) {
		/* The summary still tells what was planned and did not happen. */
		struct copa_err e2 = COPA_ERR_INIT;
		char *why = copa_xasprintf("the patch failed: %s", err->msg);

		record_outcomes(&c, why, &e2);
		free(why);
	}
	if (rc < 0 && !j->sp && !j->synth && r->o->ignore_errors && r->n_jobs > 1 && c.have_probe &&
	    c.probe.os.id) {
		/* A platform --ignore-errors may keep still gets its row in the summary. */
		struct copa_err e2 = COPA_ERR_INIT;
		struct copa_update_manifest *m = copa_update_manifest_new("(no report)", "none");

		if (copa_update_manifest_set_os(
		        m, c.probe.os.id, c.probe.os.version_id ? c.probe.os.version_id : "unknown",
		        c.img.platform.arch, c.img.platform.variant, c.probe.fam, &e2) == 0 &&
		    copa_update_manifest_finish(m, &e2) == 0) {
			j->synth = m;
			j->sp = copa_summary_add_manifest(r->summary, m);
		} else {
			copa_update_manifest_free(m);
		}
	}
	if (j->sp && rc == 0)
		copa_summary_platform_digests(
		    r->summary, j->sp, c.have_img ? c.img.desc.digest : NULL,
		    j->patched ? j->new_desc.digest : (c.have_img ? c.img.desc.digest : NULL));
	/* Freeing the indexes and removing the staged files takes time worth showing. */
	copa_phase_begin(r->o->out, "cleanup", c.name);
	platform_ctx_release(&c);
	copa_phase_end(r->o->out, "cleanup", c.name, 1);
	return rc;
}

/*
 * --ignore-errors on a multi-platform image: a platform that cannot be
 * patched is kept as it was (its manifest copied untouched) and the summary
 * says why; the other platforms are patched. A stop (signal, deadline) is
 * never kept going past. Returns -1 (err kept) when the failure stands.
 */
static int keep_platform(struct run *r, struct job *j, struct copa_err *err)
{
	struct copa_err stop = COPA_ERR_INIT;
	char name[256];

	if (!r->o->ignore_errors || r->n_jobs < 2 || err->code == COPA_E_CANCELED ||
	    err->code == COPA_E_TIMEOUT || copa_runctl_check(&stop) < 0)
		return -1;
	copa_platform_str(&j->want, name, sizeof(name));
	copa_warn(r->o->out, "%s cannot be patched and is kept as it was: %s", name, err->msg);
	if (!j->sp && j->report)
		j->sp = copa_summary_add_manifest(r->summary, j->report);
	if (j->sp) {
		copa_summary_platform_set_name(r->summary, j->sp, name);
		copa_summary_platform_error(r->summary, j->sp, err->msg);
		copa_summary_platform_digests(r->summary, j->sp,
		                              j->old_digest[0] ? j->old_digest : NULL,
		                              j->old_digest[0] ? j->old_digest : NULL);
	}
	j->patched = false;
	copa_err_clear(err);
	return 0;
}

/* ---- writing ---- */

static int put_file_blob(struct copa_image_dst *d, const struct copa_desc *desc, const char *path,
                         struct copa_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot open '%s'", path);
	return copa_image_dst_put_blob_fd(d, desc, fd, err);
}

static int run_loader(struct run *r, struct copa_err *err)
{
	const char *argv[] = {r->loader, "load", "-i", r->dst_ref.path, NULL};
	struct copa_buf errout = COPA_BUF_INIT;
	struct copa_proc p = {.argv = argv, .errout = &errout, .timeout_ms = 30 * 60 * 1000};
	int status = 0;
	int rc;

	copa_buf_init(&errout, 1 << 20);
	copa_info(r->o->out, "loading the image into %s", r->loader);
	rc = copa_proc_run(&p, &status, err);
	if (rc == 0 && status != 0)
		rc = copa_err_set(
		    err, COPA_E_EXEC, "'%s load' failed (exit %d): %s", r->loader, status,
		    copa_blob_trim(copa_blob(errout.p, errout.len)).n ? copa_buf_str(&errout)
		                                                      : "no message");
	copa_buf_release(&errout);
	return rc;
}

static int write_image(struct run *r, struct copa_err *err)
{
	struct copa_image_dst *d = copa_image_dst_open(&r->dst_ref, &r->s.image, err);
	struct copa_image_replace *rep = copa_xcalloc(r->n_jobs + 1, sizeof(*rep));
	struct copa_copy_opts co = {.replace = rep, .root_digest = r->root_digest};
	size_t n = 0;
	int rc = 0;

	if (!d) {
		free(rep);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < r->n_jobs; i++) {
		struct job *j = &r->jobs[i];

		if (!j->patched)
			continue;
		if (put_file_blob(d, &j->layer_desc, j->layer_path, err) < 0 ||
		    put_file_blob(d, &j->config_desc, j->config_path, err) < 0) {
			rc = -1;
			break;
		}
		rep[n++] = (struct copa_image_replace){j->old_digest, &j->new_desc, j->new_raw.p,
		                                       j->new_raw.len};
		if (!co.platform)
			co.platform = &j->want;
	}
	co.n_replace = n;
	if (rc == 0 && copa_image_dst_single(d) && n > 1)
		rc = copa_err_set(err, COPA_E_USAGE,
		                  "'%s' holds one image but %zu platforms were patched: choose one "
		                  "with --platform, or write to oci:DIR:TAG",
		                  r->dst_string, n);
	if (rc == 0 && !copa_image_dst_single(d))
		co.platform = NULL;
	if (rc == 0)
		rc = copa_image_copy(r->src, d, &co, err);
	copa_image_dst_free(d);
	free(rep);
	if (rc == 0 && r->loader)
		rc = run_loader(r, err);
	return rc;
}

/*
 * The closing tally on the console, as `copa report` ends: findings fixed,
 * not fixable yet (no fixed version published) and not fixed (see the
 * warnings and the summary). Report mode only; update-all has no findings.
 */
static void say_counts(const struct run *r)
{
	struct copa_summary_counts t = {0};

	if (r->reports.n == 0)
		return;
	for (size_t i = 0; i < r->n_jobs; i++) {
		struct copa_summary_counts c = {0};

		if (!r->jobs[i].sp)
			continue;
		copa_summary_platform_counts(r->jobs[i].sp, &c);
		t.fixed += c.fixed;
		t.not_fixable += c.not_fixable;
		t.failed += c.failed;
	}
	if (t.failed)
		copa_info(r->o->out, "%zu fixed, %zu not fixable yet, %zu not fixed (see above)",
		          t.fixed, t.not_fixable, t.failed);
	else
		copa_info(r->o->out, "%zu fixed, %zu not fixable yet", t.fixed, t.not_fixable);
}

static int write_outputs(struct run *r, bool patched, struct copa_err *err)
{
	const struct copa_patch_opts *o = r->o;

	copa_summary_set_output(r->summary, patched ? r->dst_string : NULL,
	                        patched ? r->root_digest : NULL);
	if (o->summary_out && copa_summary_write(r->summary, o->summary_out, err) < 0)
		return copa_err_wrap(err, "--summary '%s'", o->summary_out);
	if (o->vex_out && !patched)
		copa_info(o->out,
		          "nothing was patched, so no vulnerability is fixed: -o '%s' not "
		          "written",
		          o->vex_out);
	if (o->vex_out && patched) {
		struct copa_vex_opts vo = {.author = o->vex_author ? o->vex_author : "copa"};
		struct copa_vex *v = copa_vex_new(&vo, err);
		int rc;

		if (!v)
			return -1;
		rc = copa_vex_add_summary(v, r->summary, err);
		if (rc == 0 && copa_vex_count(v) == 0)
			copa_info(o->out, "no vulnerability was fixed: %s not written", o->vex_out);
		else if (rc == 0)
			rc = copa_vex_write(v, o->vex_out, err);
		copa_vex_free(v);
		if (rc < 0)
			return copa_err_wrap(err, "-o '%s'", o->vex_out);
	}
	return 0;
}

/*
 * Checks -o and --summary before anything is written or pushed: a run that
 * cannot record what it did must not do it.
 */
static int check_outputs(const struct run *r, struct copa_err *err)
{
	const struct copa_patch_opts *o = r->o;

	if (o->summary_out && copa_outfile_check(o->summary_out, err) < 0)
		return copa_err_wrap(err, "--summary");
	if (o->vex_out && copa_outfile_check(o->vex_out, err) < 0)
		return copa_err_wrap(err, "-o");
	return 0;
}

/*
 * Repositories an image declares are untrusted: they must not make copa
 * connect to the link-local or metadata addresses of the machine it runs on.
 * The user's own --repo mirrors and the registries the user named may be
 * anywhere.
 */
static void guard_repositories(struct run *r)
{
	const struct copa_patch_opts *o = r->o;
	const char **trusted = NULL;
	size_t n = 0;
	char **owned = NULL;
	size_t n_owned = 0;
	const struct copa_image_ref *refs[] = {&r->src_ref, &r->dst_ref};

	for (const char **rp = o->repos; rp && *rp; rp++) {
		/* The URI of a one-line entry: its first word with "://" in it. */
		_cleanup_free_ char *copy = copa_xstrdup(*rp);
		char *save = NULL;

		for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			if (strstr(w, "://")) {
				owned = copa_xrealloc(owned, (n_owned + 1) * sizeof(*owned));
				owned[n_owned++] = copa_xstrdup(w);
				break;
			}
	}
	for (size_t i = 0; i < COPA_ARRAY_SIZE(refs); i++)
		if (refs[i]->transport == COPA_TRANSPORT_REGISTRY && refs[i]->ref.domain) {
			owned = copa_xrealloc(owned, (n_owned + 1) * sizeof(*owned));
			owned[n_owned++] = copa_xasprintf("https://%s/", refs[i]->ref.domain);
		}
	trusted = copa_xcalloc(n_owned + 1, sizeof(*trusted));
	for (size_t i = 0; i < n_owned; i++)
		trusted[n++] = owned[i];
	copa_http_guard_link_local(r->s.http, trusted);
	for (size_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	free(trusted);
}

/*
 * A failure while the run was being canceled or after its deadline is
 * reported as the cancel or the timeout, in the same words wherever it hit:
 * whatever broke was broken by the stop (a transfer aborted, a read cut
 * short, a helper killed). The original message goes to the debug log.
 */
static void stop_error(const struct run *r, struct copa_err *err)
{
	struct copa_err stop = COPA_ERR_INIT;

	if (copa_runctl_check(&stop) == 0)
		return;
	if (err->msg[0] && strcmp(err->msg, stop.msg) != 0)
		copa_debug(r->o->out, "while stopping: %s", err->msg);
	*err = stop;
}

static void run_release(struct run *r)
{
	for (size_t i = 0; i < r->n_jobs; i++) {
		struct job *j = &r->jobs[i];

		copa_desc_release(&j->new_desc);
		copa_desc_release(&j->layer_desc);
		copa_desc_release(&j->config_desc);
		copa_buf_release(&j->new_raw);
		free(j->layer_path);
		free(j->config_path);
		copa_update_manifest_free(j->synth);
	}
	free(r->jobs);
	copa_summary_free(r->summary);
	copa_update_manifest_list_release(&r->reports);
	copa_image_src_free(r->src);
	copa_image_ref_release(&r->src_ref);
	copa_image_ref_release(&r->dst_ref);
	if (r->load_dir) {
		copa_fs_rm_rf(AT_FDCWD, r->load_dir, NULL);
		free(r->load_dir);
	}
	free(r->loader);
	free(r->loaded_as);
	free(r->dst_string);
	free(r->src_string);
	copa_session_release(&r->s);
}

/*
 * Ends a run. A run that failed after its outputs were checked still writes
 * its summary (what was planned, what failed), as docs/summary.md promises,
 * except when a signal stopped it: then nothing is written anywhere.
 */
static int finish(struct run *r, int rc, bool write_summary, struct copa_err *err)
{
	if (rc < 0) {
		stop_error(r, err);
		if (write_summary && r->o->summary_out && err->code != COPA_E_CANCELED) {
			struct copa_err e2 = COPA_ERR_INIT;

			copa_summary_set_output(r->summary, NULL, NULL);
			if (copa_summary_write(r->summary, r->o->summary_out, &e2) < 0)
				copa_warn(r->o->out, "--summary '%s': %s", r->o->summary_out,
				          e2.msg);
		}
	}
	run_release(r);
	copa_phase_end(r->o->out, "run", "", rc == 0);
	return rc;
}

int copa_patch(const struct copa_patch_opts *o, enum copa_patch_result *result,
               struct copa_err *err)
{
	struct run r = {.o = o};
	struct copa_session_opts so = {
	    .cache_dir = o->cache_dir,
	    .timeout_s = o->timeout_s,
	    .ca_file = o->ca_file,
	    .insecure_registries = o->insecure_registries,
	    .out = o->out,
	};
	size_t n_patched = 0;
	bool outputs_ok = false;
	int rc = -1;

	copa_phase_begin(o->out, "run", "");
	now_rfc3339(r.now);
	/* The deadline covers the whole run, not only its HTTP requests. */
	copa_runctl_set_timeout(o->timeout_s > 0 ? o->timeout_s * 1000LL : 0);
	if (copa_session_init(&r.s, &so, err) < 0) {
		copa_phase_end(o->out, "run", "", 0);
		return -1;
	}
	r.s.image.jobs = o->jobs;
	r.summary = copa_summary_new();
	if (copa_image_ref_parse(o->image, &r.src_ref, err) < 0)
		goto out;
	r.src_string = copa_image_ref_string(&r.src_ref);
	if (resolve_destination(&r, err) < 0 || check_outputs(&r, err) < 0)
		goto out;
	outputs_ok = true;
	guard_repositories(&r);
	if (o->report) {
		struct copa_report_opts ro = {.scanner = o->scanner, .out = o->out};

		copa_phase_begin(o->out, "report", "");
		rc = copa_report_load(o->report, &ro, &r.reports, err);
		copa_phase_end(o->out, "report", "", rc == 0);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	copa_phase_begin(o->out, "open-image", "");
	r.src = copa_image_src_open(&r.src_ref, &r.s.image, err);
	copa_phase_end(o->out, "open-image", "", r.src != NULL);
	if (!r.src)
		goto out;
	copa_summary_set_input(r.summary, r.src_string, copa_image_src_root(r.src)->desc.digest);
	if (adopt_archive_name(&r, err) < 0)
		goto out;
	if (plan_jobs(&r, err) < 0)
		goto out;
	for (size_t i = 0; i < r.n_jobs; i++) {
		if (patch_platform(&r, &r.jobs[i], err) < 0 &&
		    keep_platform(&r, &r.jobs[i], err) < 0)
			goto out;
		n_patched += r.jobs[i].patched;
	}
	if (n_patched == 0) {
		if (r.n_skipped)
			copa_info(o->out,
			          "nothing patched: %zu package%s could not be updated (see the "
			          "warnings above); %s is kept as it was; no image written",
			          r.n_skipped, r.n_skipped == 1 ? "" : "s", r.src_string);
		else
			copa_info(o->out, "nothing to patch: %s is up to date; no image written",
			          r.src_string);
		*result = COPA_PATCH_NOTHING_TO_DO;
		say_counts(&r);
		copa_phase_begin(o->out, "outputs", "");
		rc = write_outputs(&r, false, err);
		copa_phase_end(o->out, "outputs", "", rc == 0);
		goto out;
	}
	if (copa_runctl_check(err) < 0)
		goto out;
	copa_phase_begin(o->out, "write", "");
	rc = write_image(&r, err);
	copa_phase_end(o->out, "write", "", rc == 0);
	if (rc < 0)
		goto out;
	if (r.loader)
		copa_info(o->out, "patched %zu platform%s: loaded into %s as %s", n_patched,
		          n_patched == 1 ? "" : "s", r.loader, r.loaded_as);
	else
		copa_info(o->out, "patched %zu platform%s: %s (%s)", n_patched,
		          n_patched == 1 ? "" : "s", r.dst_string, r.root_digest);
	*result = COPA_PATCH_PATCHED;
	say_counts(&r);
	copa_phase_begin(o->out, "outputs", "");
	rc = write_outputs(&r, true, err);
	copa_phase_end(o->out, "outputs", "", rc == 0);
	return finish(&r, rc, false, err);
out:
	return finish(&r, rc, outputs_ok, err);
}

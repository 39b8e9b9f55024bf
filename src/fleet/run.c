/* run.c: bulk patching with worker processes (see run.h). */
#include "fleet/run.h"

#include "core/session.h"
#include "fleet/config.h"
#include "fleet/work.h"
#include "image/ref.h"
#include "registry/registry.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/outfile.h"
#include "util/runctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_MAX      (4u << 20)
#define REPORT_MAX      (256u << 20)
#define ANN_BASE_DIGEST "org.opencontainers.image.base.digest"
#define MAX_PARALLEL    64

/* Worker exit codes (besides 0 patched and 1 failed). */
#define EXIT_UNCHANGED 10

enum job_status { JOB_PENDING, JOB_PATCHED, JOB_UP_TO_DATE, JOB_FAILED };

struct job_state {
	enum job_status status;
	char *details;
	pid_t pid;
	double seconds;
	struct timespec start;
};

/* ---- a plain log sink for a worker, into its log file ---- */

static void worker_log(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};
	int fd = (int)(intptr_t)out->ctx;

	dprintf(fd, "%s: %s\n", names[level], msg);
}

/* ---- reports by artifact ---- */

struct report_ix {
	char **artifact, **path;
	size_t n, cap;
};

static void report_ix_release(struct report_ix *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->artifact[i]);
		free(ix->path[i]);
	}
	free(ix->artifact);
	free(ix->path);
}

/* The image a Trivy (ArtifactName) or Grype (source.target.userInput) report is about. */
static const char *report_artifact(const json_t *j)
{
	const char *a = copa_json_str(j, "ArtifactName");

	if (!a) {
		json_t *src = copa_json_obj(j, "source");
		json_t *tgt = src ? copa_json_obj(src, "target") : NULL;

		a = tgt ? copa_json_str(tgt, "userInput") : NULL;
	}
	return a;
}

static int index_reports(const char *dir, struct report_ix *ix, struct copa_out *out,
                         struct copa_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read the report directory '%s'",
		                    dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		_cleanup_free_ char *path = NULL;
		struct copa_err e2 = COPA_ERR_INIT;
		json_t *j;
		const char *a;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		path = copa_xasprintf("%s/%s", dir, de->d_name);
		j = copa_json_load_file(path, REPORT_MAX, "report", &e2);
		if (!j) {
			copa_warn(out, "report '%s' skipped: %s", path, e2.msg);
			continue;
		}
		a = report_artifact(j);
		if (a) {
			ix->artifact =
			    copa_xgrow(ix->artifact, &ix->cap, ix->n + 1, sizeof(char *));
			ix->path = copa_xrealloc(ix->path, ix->cap * sizeof(char *));
			ix->artifact[ix->n] = copa_xstrdup(a);
			ix->path[ix->n++] = steal_ptr(&path);
		}
		json_decref(j);
	}
	closedir(d);
	return 0;
}

/* The canonical form of a registry reference, so "nginx:1" matches "docker.io/library/nginx:1". */
static char *canonical(const char *ref)
{
	struct copa_ref r;
	struct copa_err e = COPA_ERR_INIT;
	char *s;

	if (copa_ref_parse(ref, &r, &e) < 0)
		return copa_xstrdup(ref);
	s = copa_ref_string(&r);
	copa_ref_release(&r);
	return s;
}

static const char *report_for(const struct report_ix *ix, const char *source)
{
	_cleanup_free_ char *want = canonical(source);

	for (size_t i = 0; i < ix->n; i++) {
		_cleanup_free_ char *have = canonical(ix->artifact[i]);

		if (!strcmp(have, want))
			return ix->path[i];
	}
	return NULL;
}

/* ---- tags ---- */

static struct copa_registry *registry_for(struct copa_session *s, const char *repo_ref,
                                          struct copa_err *err)
{
	_cleanup_free_ char *withtag = copa_xasprintf("%s:x", repo_ref);
	struct copa_ref r;
	struct copa_registry *reg;

	if (copa_ref_parse(withtag, &r, err) < 0)
		return NULL;
	reg = copa_registry_new(&s->registry, r.domain, r.path, err);
	copa_ref_release(&r);
	return reg;
}

static char **image_tags(struct copa_session *s, const struct copa_fleet_image *img, size_t *n,
                         struct copa_err *err)
{
	struct copa_registry *reg;
	char **avail = NULL, **sel;
	size_t navail = 0;

	if (img->tags.strategy == COPA_FLEET_LIST)
		return copa_fleet_select_tags(img, NULL, 0, n, err);
	reg = registry_for(s, img->image, err);
	if (reg)
		avail = copa_registry_list_tags(reg, 0, &navail, err);
	copa_registry_free(reg);
	if (!avail)
		return NULL;
	sel = copa_fleet_select_tags(img, avail, navail, n, err);
	for (size_t i = 0; i < navail; i++)
		free(avail[i]);
	free(avail);
	return sel;
}

/* ---- one job, in the worker ---- */

/* Appends a copy of s to the NULL-terminated vector *v (copa_strv_free releases it). */
static void strv_push(char ***v, size_t *cap, size_t *n, const char *s)
{
	*v = copa_xgrow(*v, cap, *n + 2, sizeof(char *));
	(*v)[(*n)++] = copa_xstrdup(s);
	(*v)[*n] = NULL;
}

/* The digests of the platform manifests of ref (or of the manifest itself), and their base
 * annotations. NOTFOUND is 0 with *found false. */
static int manifest_digests(struct copa_session *s, const char *ref, bool *found, char ***digests,
                            size_t *nd, char ***bases, size_t *nb, struct copa_err *err)
{
	struct copa_ref r;
	struct copa_registry *reg = NULL;
	struct copa_buf body = COPA_BUF_INIT;
	char *mt = NULL;
	char digest[COPA_DIGEST_MAX];
	json_t *j = NULL, *list;
	size_t cd = 0, cb = 0;
	int rc = -1;

	*found = false;
	*nd = *nb = 0;
	*digests = *bases = NULL;
	if (copa_ref_parse(ref, &r, err) < 0)
		return -1;
	reg = copa_registry_new(&s->registry, r.domain, r.path, err);
	if (!reg)
		goto out;
	if (copa_registry_get_manifest(reg, r.tag ? r.tag : r.digest, &body, &mt, digest, err) <
	    0) {
		if (err->code == COPA_E_NOTFOUND) {
			copa_err_clear(err);
			rc = 0;
		}
		goto out;
	}
	*found = true;
	j = copa_json_parse(body.p, body.len, body.len + 1, "manifest", err);
	if (!j)
		goto out;
	list = json_object_get(j, "manifests");
	if (json_is_array(list)) {
		for (size_t i = 0; i < json_array_size(list) && i < 256; i++) {
			const char *d = copa_json_str(json_array_get(list, i), "digest");
			struct copa_buf cb2 = COPA_BUF_INIT;
			char *cmt = NULL;
			char cdig[COPA_DIGEST_MAX];
			json_t *cj;
			const char *base;

			if (!d)
				continue;
			strv_push(digests, &cd, nd, d);
			if (copa_registry_get_manifest(reg, d, &cb2, &cmt, cdig, err) < 0) {
				copa_buf_release(&cb2);
				goto out;
			}
			cj = copa_json_parse(cb2.p, cb2.len, cb2.len + 1, "manifest", err);
			base = cj ? copa_json_str(copa_json_obj(cj, "annotations"), ANN_BASE_DIGEST)
			          : NULL;
			if (base) {
				strv_push(bases, &cb, nb, base);
			}
			if (cj)
				json_decref(cj);
			free(cmt);
			copa_buf_release(&cb2);
		}
	} else {
		const char *base = copa_json_str(copa_json_obj(j, "annotations"), ANN_BASE_DIGEST);

		strv_push(digests, &cd, nd, digest);
		if (base) {
			strv_push(bases, &cb, nb, base);
		}
	}
	rc = 0;
out:
	if (j)
		json_decref(j);
	free(mt);
	copa_buf_release(&body);
	copa_registry_free(reg);
	copa_ref_release(&r);
	return rc;
}

/* Whether target exists and was made by copa from the source's current manifests. */
static int made_from_source(struct copa_session *s, const char *source, const char *target,
                            bool *same, struct copa_err *err)
{
	char **sd = NULL, **sb = NULL, **td = NULL, **tb = NULL;
	size_t nsd = 0, nsb = 0, ntd = 0, ntb = 0;
	bool sfound, tfound;
	int rc;

	*same = false;
	rc = manifest_digests(s, target, &tfound, &td, &ntd, &tb, &ntb, err);
	if (rc == 0 && tfound && ntb > 0)
		rc = manifest_digests(s, source, &sfound, &sd, &nsd, &sb, &nsb, err);
	if (rc == 0 && tfound && ntb > 0 && sfound) {
		*same = true;
		for (size_t i = 0; i < ntb && *same; i++) {
			bool in = false;

			for (size_t k = 0; k < nsd && !in; k++)
				in = !strcmp(tb[i], sd[k]);
			*same = in;
		}
	}
	copa_strv_free(sd);
	copa_strv_free(sb);
	copa_strv_free(td);
	copa_strv_free(tb);
	return rc;
}

struct worker_in {
	const struct copa_fleet_run_opts *o;
	const struct copa_fleet_config *c;
	const struct copa_fleet_job *job;
	const char *report;
	const char *dir;
	size_t index;
};

/* Runs in the child; never returns. */
static void worker(const struct worker_in *w, int logfd)
{
	struct copa_out out = {.log = worker_log,
	                       .min_level = w->o->verbose ? COPA_LOG_DEBUG : COPA_LOG_INFO,
	                       .ctx = (void *)(intptr_t)logfd};
	struct copa_patch_opts po = *w->o->patch;
	const struct copa_fleet_image *img = &w->c->images[w->job->image];
	struct copa_session s;
	struct copa_session_opts so = {
	    .cache_dir = po.cache_dir,
	    .timeout_s = po.timeout_s,
	    .ca_file = po.ca_file,
	    .insecure_registries = po.insecure_registries,
	    .out = &out,
	};
	struct copa_err err = COPA_ERR_INIT;
	enum copa_patch_result result;
	_cleanup_free_ char *summary = copa_xasprintf("%s/%zu.summary.json", w->dir, w->index);
	bool same = false;
	int code = 1;

	if (copa_session_init(&s, &so, &err) == 0) {
		if (made_from_source(&s, w->job->source, w->job->target, &same, &err) < 0) {
			copa_log(&out, COPA_LOG_WARN, "cannot check '%s' (%s): patching from '%s'",
			         w->job->target, err.msg, w->job->source);
			copa_err_clear(&err);
			same = false;
		}
		copa_session_release(&s);
	} else {
		copa_err_clear(&err);
	}
	po.image = same ? w->job->target : w->job->source;
	po.tag = w->job->target;
	po.push = true;
	po.report = w->report;
	if (img->nplatforms) {
		const char **plats = copa_xcalloc(img->nplatforms + 1, sizeof(*plats));

		for (size_t i = 0; i < img->nplatforms; i++)
			plats[i] = img->platforms[i];
		po.platforms = plats; /* freed by _exit */
	}
	po.summary_out = summary;
	po.vex_out = NULL;
	po.loader = NULL;
	po.out = &out;
	copa_log(&out, COPA_LOG_INFO, "%s: %s -> %s", same ? "re-patch" : "patch", po.image,
	         po.tag);
	if (copa_patch(&po, &result, &err) < 0) {
		dprintf(logfd, "result: %s\n", err.msg);
		code = err.code == COPA_E_CANCELED ? 130 : 1;
	} else {
		code = result == COPA_PATCH_PATCHED ? 0 : EXIT_UNCHANGED;
		dprintf(logfd, "result: %s\n",
		        result == COPA_PATCH_PATCHED ? "patched"
		        : same ? "up to date: nothing newer in the repositories"
		               : "nothing to patch: the source is up to date");
	}
	close(logfd);
	_exit(code);
}

/* ---- the parent ---- */

/* The last "result: " line of a worker's log, for the table. */
static char *log_result(const char *path)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;
	char *res = NULL;

	if (copa_fs_read_file(AT_FDCWD, path, 16u << 20, &b, &e) == 0 && b.len) {
		const char *p = copa_buf_str(&b), *hit = NULL;

		for (const char *q = p; (q = strstr(q, "result: ")); q++)
			if (q == p || q[-1] == '\n')
				hit = q;
		if (hit)
			res = copa_xstrndup(hit + 8, strcspn(hit + 8, "\n"));
	}
	copa_buf_release(&b);
	return res;
}

/* "3 packages updated" from a patched job's summary. */
static char *patched_details(const char *dir, size_t k)
{
	_cleanup_free_ char *sp = copa_xasprintf("%s/%zu.summary.json", dir, k);
	struct copa_err e = COPA_ERR_INIT;
	json_t *sum = copa_json_load_file(sp, 64u << 20, "summary", &e);
	json_t *pk = sum ? copa_json_obj(copa_json_obj(sum, "counts"), "packages") : NULL;
	json_int_t up = 0;
	char *out;

	if (!pk || !copa_json_int(pk, "updated", &up))
		out = copa_xstrdup("patched");
	else
		out = copa_xasprintf("%lld package%s updated", (long long)up, up == 1 ? "" : "s");
	if (sum)
		json_decref(sum);
	return out;
}

static void copy_log(struct copa_out *out, const char *path)
{
	struct copa_buf b = COPA_BUF_INIT;
	struct copa_err e = COPA_ERR_INIT;

	if (copa_fs_read_file(AT_FDCWD, path, 16u << 20, &b, &e) == 0 && b.len)
		copa_log(out, COPA_LOG_DEBUG, "%s", copa_buf_str(&b));
	copa_buf_release(&b);
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static const char *status_str(enum job_status s)
{
	switch (s) {
	case JOB_PENDING:
		return "pending";
	case JOB_PATCHED:
		return "patched";
	case JOB_UP_TO_DATE:
		return "up-to-date";
	case JOB_FAILED:
		return "failed";
	}
	return "failed";
}

struct table_row {
	const char *image, *tag, *status, *target, *details;
};

static void print_table(const struct table_row *rows, size_t n)
{
	size_t w[4] = {5, 3, 6, 11};

	for (size_t i = 0; i < n; i++) {
		const char *f[4] = {rows[i].image, rows[i].tag, rows[i].status, rows[i].target};

		for (int k = 0; k < 4; k++)
			if (strlen(f[k]) > w[k])
				w[k] = strlen(f[k]);
	}
	printf("\n%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], "IMAGE", (int)w[1], "TAG", (int)w[2],
	       "STATUS", (int)w[3], "PATCHED TAG", "DETAILS");
	for (size_t i = 0; i < n; i++)
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], rows[i].image, (int)w[1],
		       rows[i].tag, (int)w[2], rows[i].status, (int)w[3], rows[i].target,
		       rows[i].details);
}

static unsigned cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

int copa_fleet_run(const struct copa_fleet_run_opts *o, struct copa_err *err)
{
	struct copa_fleet_config c;
	struct copa_buf text = COPA_BUF_INIT;
	struct copa_fleet_jobs jobs = {0};
	struct report_ix rix = {0};
	struct copa_session s;
	struct copa_session_opts so = {
	    .cache_dir = o->patch->cache_dir,
	    .timeout_s = o->patch->timeout_s,
	    .ca_file = o->patch->ca_file,
	    .insecure_registries = o->patch->insecure_registries,
	    .out = o->out,
	};
	struct job_state *st = NULL;
	/* Images whose tags could not be listed: failed rows without jobs. */
	struct bad_row {
		const char *image;
		char *details;
	} *bad = NULL;
	size_t nbad = 0, capbad = 0;
	unsigned shard_i = 0, shard_n = 1, parallel;
	_cleanup_free_ char *dir = NULL;
	size_t next = 0, running = 0, failed = 0, finished = 0;
	int rc = -1;

	if (o->shard && copa_fleet_shard_parse(o->shard, getenv("JOB_COMPLETION_INDEX"), &shard_i,
	                                       &shard_n, err) < 0)
		return -1;
	if (o->summary_out && strcmp(o->summary_out, "-") != 0 &&
	    copa_outfile_check(o->summary_out, err) < 0)
		return -1;
	if (copa_fs_read_file(AT_FDCWD, o->config_path, CONFIG_MAX, &text, err) < 0) {
		copa_buf_release(&text);
		return copa_err_wrap(err, "config");
	}
	rc = copa_fleet_config_parse(&c, o->config_path, text.p ? text.p : "", text.len, err);
	copa_buf_release(&text);
	if (rc < 0)
		return -1;
	rc = -1;
	if (o->report_dir && index_reports(o->report_dir, &rix, o->out, err) < 0)
		goto out_config;
	/* Tag discovery in the parent, before any worker exists. */
	if (copa_session_init(&s, &so, err) < 0)
		goto out_config;
	for (size_t i = 0; i < c.nimages; i++) {
		struct copa_err e2 = COPA_ERR_INIT;
		size_t n = 0;
		char **tags = image_tags(&s, &c.images[i], &n, &e2);

		if (!tags || copa_fleet_jobs_add(&jobs, &c, i, tags, n, &e2) < 0) {
			bad = copa_xgrow(bad, &capbad, nbad + 1, sizeof(*bad));
			bad[nbad++] = (struct bad_row){c.images[i].name, copa_xstrdup(e2.msg)};
			copa_log(o->out, COPA_LOG_ERROR, "%s", e2.msg);
		}
		if (tags) {
			copa_strv_free(tags);
		}
	}
	copa_session_release(&s);
	if (copa_fleet_jobs_finish(&jobs, err) < 0)
		goto out_jobs;
	{
		size_t total = jobs.n;

		copa_fleet_jobs_shard(&jobs, shard_i, shard_n);
		if (o->shard)
			copa_info(o->out, "shard %u/%u: %zu of %zu jobs", shard_i, shard_n, jobs.n,
			          total);
	}
	dir = copa_fs_mkdtemp(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", "copa-fleet-", err);
	if (!dir)
		goto out_jobs;
	parallel = o->jobs ? o->jobs : cpu_count();
	if (parallel > MAX_PARALLEL)
		parallel = MAX_PARALLEL;
	st = copa_xcalloc(jobs.n + 1, sizeof(*st));
	copa_info(o->out, "%zu image%s to patch, %u at a time", jobs.n, jobs.n == 1 ? "" : "s",
	          parallel);
	fflush(NULL);
	while (next < jobs.n || running > 0) {
		/* After SIGINT/SIGTERM (the workers got it too): start nothing new. */
		if (copa_runctl_signal() && next < jobs.n) {
			copa_warn(o->out, "interrupted: %zu image%s not started", jobs.n - next,
			          jobs.n - next == 1 ? "" : "s");
			for (size_t k = next; k < jobs.n; k++) {
				st[k].status = JOB_FAILED;
				st[k].details =
				    copa_xstrdup("not started: the run was interrupted");
				failed++;
			}
			next = jobs.n;
		}
		/*
		 * The first image runs alone: it fills the cache (indexes, packages, their
		 * decompressed data, the compressed layer) that the images after it share,
		 * instead of every worker fetching and decompressing the same things at once.
		 */
		while (next < jobs.n && running < (finished == 0 ? 1u : parallel)) {
			_cleanup_free_ char *logp = copa_xasprintf("%s/%zu.log", dir, next);
			int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			pid_t pid;

			if (fd < 0) {
				copa_err_sys(err, COPA_E_IO, errno, "cannot create '%s'", logp);
				goto out_wait;
			}
			clock_gettime(CLOCK_MONOTONIC, &st[next].start);
			pid = fork();
			if (pid == 0) {
				struct worker_in w = {
				    o,   &c,  &jobs.v[next], report_for(&rix, jobs.v[next].source),
				    dir, next};

				worker(&w, fd);
			}
			close(fd);
			if (pid < 0) {
				copa_err_sys(err, COPA_E_IO, errno, "cannot start a worker");
				goto out_wait;
			}
			st[next].pid = pid;
			next++;
			running++;
		}
		{
			int wst;
			pid_t pid = waitpid(-1, &wst, 0);
			size_t k;

			if (pid < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (k = 0; k < jobs.n && st[k].pid != pid; k++)
				;
			if (k == jobs.n)
				continue;
			running--;
			finished++;
			st[k].pid = 0;
			st[k].seconds = since(&st[k].start);
			{
				_cleanup_free_ char *logp = copa_xasprintf("%s/%zu.log", dir, k);
				int code = WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;

				st[k].details = log_result(logp);
				if (code == 0) {
					st[k].status = JOB_PATCHED;
					free(st[k].details);
					st[k].details = patched_details(dir, k);
				} else if (code == EXIT_UNCHANGED)
					st[k].status = JOB_UP_TO_DATE;
				else {
					st[k].status = JOB_FAILED;
					failed++;
					if (!st[k].details)
						st[k].details =
						    WIFSIGNALED(wst)
						        ? copa_xasprintf(
						              "the worker died of signal %d",
						              WTERMSIG(wst))
						        : copa_xasprintf("the worker exited %d",
						                         code);
				}
				if (o->verbose)
					copy_log(o->out, logp);
				copa_log(
				    o->out,
				    st[k].status == JOB_FAILED ? COPA_LOG_ERROR : COPA_LOG_INFO,
				    "[%zu/%zu] %s -> %s: %s (%.1f s)%s%s", (size_t)(k + 1), jobs.n,
				    jobs.v[k].source, jobs.v[k].target, status_str(st[k].status),
				    st[k].seconds, st[k].details ? ": " : "",
				    st[k].details ? st[k].details : "");
			}
		}
	}
	rc = 0;
out_wait:
	/* After a failure to start one: let the running workers end, then report. */
	while (running > 0) {
		int wst;
		pid_t pid = waitpid(-1, &wst, 0);

		if (pid < 0 && errno != EINTR)
			break;
		if (pid > 0)
			running--;
	}
	if (rc == 0) {
		struct table_row *rows = copa_xcalloc(jobs.n + nbad + 1, sizeof(*rows));
		json_t *arr = json_array();
		size_t nrows = 0, n_patched = 0;

		for (size_t k = 0; k < jobs.n; k++)
			n_patched += st[k].status == JOB_PATCHED;

		for (size_t i = 0; i < nbad; i++) {
			rows[nrows++] =
			    (struct table_row){bad[i].image, "-", "failed", "-", bad[i].details};
			json_array_append_new(arr, json_pack("{s:s,s:n,s:s,s:n,s:s,s:n}", "image",
			                                     bad[i].image, "source", "status",
			                                     "failed", "target", "details",
			                                     bad[i].details, "patch"));
		}
		for (size_t k = 0; k < jobs.n; k++) {
			const struct copa_fleet_job *jb = &jobs.v[k];
			_cleanup_free_ char *sp = copa_xasprintf("%s/%zu.summary.json", dir, k);
			struct copa_err e2 = COPA_ERR_INIT;
			json_t *sum = copa_json_load_file(sp, 64u << 20, "summary", &e2);

			rows[nrows++] = (struct table_row){c.images[jb->image].name, jb->source_tag,
			                                   status_str(st[k].status), jb->target,
			                                   st[k].details ? st[k].details : ""};
			json_array_append_new(
			    arr, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:f,s:o}", "image",
			                   c.images[jb->image].name, "source", jb->source, "status",
			                   status_str(st[k].status), "target", jb->target,
			                   "details", st[k].details, "seconds", st[k].seconds,
			                   "patch", sum ? sum : json_null()));
		}
		print_table(rows, nrows);
		printf("\n%zu image%s: %zu patched, %zu up to date, %zu failed\n", jobs.n + nbad,
		       jobs.n + nbad == 1 ? "" : "s", n_patched, jobs.n - failed - n_patched,
		       failed + nbad);
		fflush(stdout);
		if (o->summary_out) {
			json_t *doc = json_pack("{s:i,s:s,s:o}", "fleetSummaryVersion", 1, "config",
			                        o->config_path, "images", arr);
			char *txt = json_dumps(doc, JSON_INDENT(2));

			if (copa_outfile_write(o->summary_out, txt, strlen(txt), err) < 0)
				rc = -1;
			free(txt);
			json_decref(doc);
		} else {
			json_decref(arr);
		}
		free(rows);
		if (rc == 0)
			rc = failed + nbad ? 1 : 0;
		/* Interrupted: the table is out, the exit status says how it ended (130/143). */
		if (rc >= 0 && copa_runctl_signal() && copa_runctl_check(err) < 0)
			rc = -1;
	}
	for (size_t k = 0; st && k < jobs.n; k++)
		free(st[k].details);
	free(st);
	if (dir) {
		struct copa_err e2 = COPA_ERR_INIT;

		copa_fs_rm_rf(AT_FDCWD, dir, &e2);
	}
out_jobs:
	for (size_t i = 0; i < nbad; i++)
		free(bad[i].details);
	free(bad);
	copa_fleet_jobs_release(&jobs);
out_config:
	report_ix_release(&rix);
	copa_fleet_config_release(&c);
	return rc;
}

/*
 * copa-debplan (test helper): runs the Debian probe, repository loader and
 * planner on a root file system and prints the plan, so the end-to-end
 * tests can compare it with apt's own answer on the same data.
 *
 *   copa-debplan (--root DIR | --rootfs-tar TAR) [--request NAME=FIXEDVER]...
 *                [--repo ENTRY]... [--repo-replace] [--mirror FROM=TO]...
 *                [--keyring FILE]... [--host-keyrings DIR] [--allow-insecure-repo]
 *                [--no-new-packages] [--best-available] [--arch ARCH]
 *                [--cache-dir DIR] [--fetch] [--jobs N] [--now EPOCH] [--json] [-v]
 *
 * Exit status: 0 when planned (per-package outcomes are in the output), 1
 * on an error (one line on stderr), 2 on a usage error.
 */
#include "util/cache.h"
#include "pkg/fetch.h"
#include "pkg/deb/plan.h"
#include "pkg/deb/probe_repo.h"
#include "pkg/deb/debrepo.h"
#include "pkg/osrelease.h"
#include "util/http.h"
#include "util/json.h"
#include "util/mem.h"
#include "viewload.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct strv {
	char **v;
	size_t n, cap;
};

static void push(struct strv *s, const char *x)
{
	s->v = copa_xgrow(s->v, &s->cap, s->n + 2, sizeof(char *));
	s->v[s->n++] = copa_xstrdup(x);
	s->v[s->n] = NULL;
}

static bool verbose;

static void log_stderr(struct copa_out *out, enum copa_log_level level, const char *msg)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};

	fprintf(stderr, "copa-debplan: %s: %s\n", names[level], msg);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: copa-debplan (--root DIR | --rootfs-tar TAR) [--request NAME=VER]... "
	        "[--repo ENTRY]... [--repo-replace] [--mirror FROM=TO]... [--keyring FILE]... "
	        "[--host-keyrings DIR] [--allow-insecure-repo] [--no-new-packages] "
	        "[--best-available] [--arch ARCH] [--cache-dir DIR] [--fetch] [--jobs N] "
	        "[--now EPOCH] [--json] [-v]\n");
	exit(2);
}

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void print_json(const struct copa_deb_status *st, const struct copa_deb_sources *src,
                       const struct copa_deb_indexes *ix, const struct copa_deb_plan *plan,
                       double load_ms, double plan_ms, double fetch_ms)
{
	json_t *root = json_object(), *a;
	struct copa_buf out = COPA_BUF_INIT;
	struct copa_err err = COPA_ERR_INIT;
	struct rusage ru;

	json_object_set_new(root, "native_arch", json_string(st->native_arch));
	a = json_array();
	for (char **f = st->foreign_archs; f && *f; f++)
		json_array_append_new(a, json_string(*f));
	json_object_set_new(root, "foreign_archs", a);
	json_object_set_new(root, "distroless", json_boolean(st->distroless));
	json_object_set_new(root, "update_all", json_boolean(plan->update_all));
	a = json_array();
	for (size_t i = 0; i < src->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "uri", json_string(src->v[i].uri));
		json_object_set_new(o, "suite", json_string(src->v[i].suite));
		json_object_set_new(o, "where", json_string(src->v[i].where));
		json_object_set_new(o, "keys", jstr(src->v[i].keyring_desc));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "sources", a);
	a = json_array();
	for (size_t i = 0; i < ix->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "label", json_string(ix->v[i].label));
		json_object_set_new(o, "digest", json_string(ix->v[i].digest));
		json_object_set_new(o, "size", json_integer((json_int_t)ix->v[i].size));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "indexes", a);
	a = json_array();
	for (size_t i = 0; i < plan->n_pkgs; i++) {
		const struct copa_deb_pkg *p = &plan->pkgs[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "arch", json_string(p->arch));
		json_object_set_new(o, "version", json_string(p->version));
		json_object_set_new(o, "old_version", jstr(p->old_version));
		json_object_set_new(o, "multi_arch", jstr(p->multi_arch));
		json_object_set_new(o, "url", json_string(p->url));
		json_object_set_new(o, "filename", json_string(p->filename));
		json_object_set_new(o, "size", json_integer((json_int_t)p->size));
		json_object_set_new(o, "sha256", json_string(p->sha256));
		json_object_set_new(o, "repo", json_string(p->repo));
		json_object_set_new(o, "deb_path", jstr(p->deb_path));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "packages", a);
	a = json_array();
	for (size_t i = 0; i < plan->n_results; i++) {
		const struct copa_deb_result *r = &plan->results[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(r->name));
		json_object_set_new(o, "arch", jstr(r->arch));
		json_object_set_new(o, "installed_version", jstr(r->installed_version));
		json_object_set_new(o, "fixed_version", jstr(r->fixed_version));
		json_object_set_new(o, "chosen_version", jstr(r->chosen_version));
		json_object_set_new(o, "best_available", jstr(r->best_available));
		json_object_set_new(o, "repo", jstr(r->repo));
		json_object_set_new(o, "outcome", json_string(copa_deb_outcome_str(r->outcome)));
		json_object_set_new(
		    o, "error",
		    json_boolean(!plan->update_all && copa_deb_outcome_is_error(r->outcome)));
		json_object_set_new(o, "reason", jstr(r->reason));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "results", a);
	getrusage(RUSAGE_SELF, &ru);
	json_object_set_new(
	    root, "stats",
	    json_pack("{s:I, s:I, s:f, s:f, s:f, s:I}", "installed", (json_int_t)plan->n_installed,
	              "available", (json_int_t)plan->n_available, "load_ms", load_ms, "plan_ms",
	              plan_ms, "fetch_ms", fetch_ms, "max_rss_kb", (json_int_t)ru.ru_maxrss));
	if (copa_json_dump(root, 2, &out, &err) == 0)
		printf("%s\n", copa_buf_str(&out));
	copa_buf_release(&out);
	json_decref(root);
}

static void print_text(const struct copa_deb_plan *plan)
{
	for (size_t i = 0; i < plan->n_pkgs; i++) {
		const struct copa_deb_pkg *p = &plan->pkgs[i];

		printf("%s:%s %s -> %s (%s)\n", p->name, p->arch,
		       p->old_version ? p->old_version : "(new)", p->version, p->repo);
	}
	for (size_t i = 0; i < plan->n_results; i++) {
		const struct copa_deb_result *r = &plan->results[i];

		printf("%s %s: %s%s%s\n", copa_deb_outcome_str(r->outcome), r->name,
		       r->chosen_version ? r->chosen_version : "", r->reason ? " - " : "",
		       r->reason ? r->reason : "");
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"rootfs-tar", required_argument, NULL, 't'},
	    {"request", required_argument, NULL, 'q'},
	    {"repo", required_argument, NULL, 'R'},
	    {"repo-replace", no_argument, NULL, 'X'},
	    {"mirror", required_argument, NULL, 'm'},
	    {"keyring", required_argument, NULL, 'k'},
	    {"host-keyrings", required_argument, NULL, 'H'},
	    {"allow-insecure-repo", no_argument, NULL, 'I'},
	    {"no-new-packages", no_argument, NULL, 'N'},
	    {"best-available", no_argument, NULL, 'B'},
	    {"arch", required_argument, NULL, 'a'},
	    {"cache-dir", required_argument, NULL, 'c'},
	    {"fetch", no_argument, NULL, 'f'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"now", required_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'J'},
	    {"verbose", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	const char *root = NULL, *tar = NULL, *arch = NULL, *cache_dir = NULL,
	           *host_keyrings = NULL;
	struct strv repos = {0}, mirrors = {0}, keyrings = {0}, reqs = {0};
	bool repo_replace = false, insecure = false, no_new = false, best = false, json = false,
	     fetch = false;
	unsigned jobs = 0;
	int64_t now = 0;
	int c;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_out out = {.log = log_stderr, .min_level = COPA_LOG_WARN};
	struct copa_view *v = NULL;
	struct copa_osrelease os = {0};
	struct copa_deb_status st = {0};
	struct copa_deb_sources src = {0};
	struct copa_apt_prefs prefs = {0};
	struct copa_deb_indexes ix = {0};
	struct copa_deb_plan plan = {0};
	struct copa_cache cache = {.dirfd = -1};
	struct copa_http *http = NULL;
	struct copa_deb_request *rq = NULL;
	struct timespec t0;
	double load_ms = 0, plan_ms = 0, fetch_ms = 0;
	int rc = 1;

	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 't':
			tar = optarg;
			break;
		case 'q':
			push(&reqs, optarg);
			break;
		case 'R':
			push(&repos, optarg);
			break;
		case 'X':
			repo_replace = true;
			break;
		case 'm':
			push(&mirrors, optarg);
			break;
		case 'k':
			push(&keyrings, optarg);
			break;
		case 'H':
			host_keyrings = optarg;
			break;
		case 'I':
			insecure = true;
			break;
		case 'N':
			no_new = true;
			break;
		case 'B':
			best = true;
			break;
		case 'a':
			arch = optarg;
			break;
		case 'c':
			cache_dir = optarg;
			break;
		case 'f':
			fetch = true;
			break;
		case 'j':
			jobs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			now = strtoll(optarg, NULL, 10);
			break;
		case 'J':
			json = true;
			break;
		case 'v':
			verbose = true;
			out.min_level = COPA_LOG_DEBUG;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (!root == !tar))
		usage();
	rq = copa_xcalloc(reqs.n + 1, sizeof(*rq));
	for (size_t i = 0; i < reqs.n; i++) {
		char *eq = strchr(reqs.v[i], '=');

		if (eq)
			*eq++ = 0;
		rq[i].name = reqs.v[i];
		rq[i].fixed_version = eq && *eq ? eq : NULL;
	}
	v = root ? copa_test_view_from_dir(root, &err) : copa_test_view_from_tar(tar, &err);
	if (!v)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (copa_osrelease_read(v, &os, &err) < 0 || copa_deb_probe_status(v, arch, &st, &err) < 0)
		goto fail;
	{
		struct copa_deb_repo_opts ro = {.repos = repos.v,
		                                .repo_replace = repo_replace,
		                                .mirrors = mirrors.v,
		                                .keyrings = keyrings.v,
		                                .host_keyring_dir = host_keyrings,
		                                .out = &out};

		if (copa_deb_probe_repos(v, &os, st.native_arch, &ro, &src, &err) < 0)
			goto fail;
		if (copa_deb_probe_prefs(v, &prefs, &out, &err) < 0)
			goto fail;
	}
	if (copa_cache_open(&cache, cache_dir, &err) < 0)
		goto fail;
	{
		struct copa_http_opts ho = {.out = &out, .max_retries = 2, .backoff_ms = 200};

		http = copa_http_new(&ho, &err);
		if (!http)
			goto fail;
	}
	{
		struct copa_debrepo_opts ro = {.http = http,
		                               .cache = &cache,
		                               .out = &out,
		                               .native_arch = st.native_arch,
		                               .foreign_archs = st.foreign_archs,
		                               .allow_insecure = insecure,
		                               .now = now};

		if (copa_debrepo_load(&src, &ro, &ix, &err) < 0)
			goto fail;
	}
	load_ms = ms_since(&t0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		struct copa_deb_plan_opts po = {.requests = reqs.n ? rq : NULL,
		                                .n_requests = reqs.n,
		                                .no_new_packages = no_new,
		                                .best_available = best,
		                                .cache = &cache,
		                                .out = &out,
		                                .prefs = &prefs};

		if (copa_deb_plan(&st, &ix, &po, &plan, &err) < 0)
			goto fail;
	}
	plan_ms = ms_since(&t0);
	if (fetch) {
		struct copa_pkg_fetch_opts fo = {
		    .http = http, .cache = &cache, .out = &out, .jobs = jobs, .suffix = ".deb"};

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (copa_deb_fetch(plan.pkgs, plan.n_pkgs, &fo, &err) < 0)
			goto fail;
		fetch_ms = ms_since(&t0);
	}
	if (json)
		print_json(&st, &src, &ix, &plan, load_ms, plan_ms, fetch_ms);
	else
		print_text(&plan);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "copa-debplan: %s\n", err.msg);
	rc = err.code == COPA_E_USAGE ? 2 : 1;
out:
	copa_deb_plan_release(&plan);
	copa_deb_indexes_release(&ix);
	copa_deb_sources_release(&src);
	copa_apt_prefs_release(&prefs);
	copa_deb_status_release(&st);
	copa_osrelease_release(&os);
	if (http)
		copa_http_free(http);
	if (cache.dirfd >= 0)
		copa_cache_release(&cache);
	if (v)
		copa_view_free(v);
	free(rq);
	if (reqs.v)
		copa_strv_free(reqs.v);
	if (repos.v)
		copa_strv_free(repos.v);
	if (mirrors.v)
		copa_strv_free(mirrors.v);
	if (keyrings.v)
		copa_strv_free(keyrings.v);
	return rc;
}

/*
 * copa inspect: what copa sees in an image: its platforms and layers, the OS,
 * the package manager and database, how many packages, whether it is
 * distroless. Reads the image and its merged view; runs nothing from it.
 */
#include "cli/cli.h"
#include "core/probe.h"
#include "core/session.h"
#include "util/json.h"
#include "util/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage_text[] =
    "usage: copa inspect IMAGE [options]\n"
    "\n"
    "Show what copa sees in IMAGE: platforms, layers, OS, package manager and\n"
    "database, installed packages, and whether the image is distroless.\n"
    "IMAGE uses the transport syntax of skopeo/podman (registry reference,\n"
    "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]).\n"
    "\n"
    "      --platform P           platform of a multi-platform image (default: the\n"
    "                             host's, or the only one)\n"
    "      --json                 one JSON object on stdout\n"
    "      --insecure-registry H  allow plain HTTP to registry host H (repeatable)\n"
    "      --ca-file FILE         extra CA certificates (PEM)\n"
    "      --cache-dir DIR        cache directory (default: $XDG_CACHE_HOME/copa)\n"
    "      --timeout DURATION     limit for the whole run, e.g. 300, 90s, 5m (default 5m)\n"
    "      --progress MODE        auto, tty, plain, quiet or json\n"
    "  -v, --verbose              debug output\n"
    "  -h, --help                 this help\n";

struct inspect {
	const char *image;
	const char *platform;
	bool json;
	struct copa_session s;
	struct copa_image_ref ref;
	struct copa_image_src *src;
	struct copa_image img;
	struct copa_image_layers layers;
	struct copa_image_platform *plats;
	size_t n_plats;
	struct copa_image_fs *fs;
	struct copa_probe probe;
	bool have_img, have_layers, have_probe;
	struct copa_pm_repos
	    repos; /* configured or default repositories (families that list them) */
	bool have_repos;
};

static void human_size(int64_t n, char *buf, size_t len)
{
	if (n >= 1024 * 1024)
		snprintf(buf, len, "%.1f MiB", n / (1024.0 * 1024));
	else if (n >= 1024)
		snprintf(buf, len, "%.1f KiB", n / 1024.0);
	else
		snprintf(buf, len, "%lld B", (long long)n);
}

static int load(struct inspect *in, struct copa_err *err)
{
	struct copa_platform want, *wantp = NULL;
	struct copa_image_fs_opts fo = {.cache = &in->s.cache, .out = in->s.out};

	if (in->platform) {
		if (copa_platform_parse(in->platform, &want, err) < 0)
			return -1;
		wantp = &want;
	}
	if (copa_image_ref_parse(in->image, &in->ref, err) < 0)
		return -1;
	in->src = copa_image_src_open(&in->ref, &in->s.image, err);
	if (!in->src)
		return -1;
	if (copa_image_src_platforms(in->src, &in->plats, &in->n_plats, err) < 0)
		return -1;
	if (copa_image_src_load(in->src, wantp, &in->img, err) < 0)
		return -1;
	in->have_img = true;
	/* A single-platform image loads whatever platform was asked: say it is not the one. */
	if (wantp && !copa_platform_match(wantp, &in->img.platform)) {
		char buf[256];

		return copa_err_set(err, COPA_E_NOTFOUND,
		                    "'%s' has no image for platform '%s': it has only %s",
		                    in->image, in->platform,
		                    copa_platform_str(&in->img.platform, buf, sizeof(buf)));
	}
	/* Show the config's platform as the index entries are shown: normalised (arm64/v8 is
	 * arm64). */
	copa_platform_normalize(&in->img.platform);
	if (copa_image_src_layer_blobs(in->src, &in->img, &in->layers, err) < 0)
		return -1;
	in->have_layers = true;
	in->fs = copa_image_fs_open(in->layers.v, in->layers.n, &fo, err);
	if (!in->fs)
		return -1;
	if (copa_probe_image(copa_image_fs_view(in->fs), &in->probe, err) < 0)
		return -1;
	in->have_probe = true;
	if (in->probe.pm && in->probe.pm->list_repos) {
		struct copa_err e = COPA_ERR_INIT;

		/* what patch would use; a broken configuration is patch's error to report */
		in->have_repos =
		    in->probe.pm->list_repos(copa_image_fs_view(in->fs), &in->probe.os,
		                             in->img.platform.arch, &in->repos, &e) == 0;
		if (!in->have_repos)
			copa_pm_repos_release(&in->repos);
	}
	return 0;
}

static int print_json(struct inspect *in, struct copa_err *err)
{
	const struct copa_image_root *root = copa_image_src_root(in->src);
	json_t *o = json_object(), *plats = json_array(), *layers = json_array(), *os;
	struct copa_buf b = COPA_BUF_INIT;
	_cleanup_free_ char *refstr = copa_image_ref_string(&in->ref);
	char buf[256];
	int r;

	json_object_set_new(o, "reference", json_string(refstr));
	json_object_set_new(o, "digest", json_string(root->desc.digest));
	json_object_set_new(o, "mediaType", json_string(root->desc.media_type));
	for (size_t i = 0; i < in->n_plats; i++)
		json_array_append_new(plats, json_string(copa_platform_str(&in->plats[i].platform,
		                                                           buf, sizeof(buf))));
	json_object_set_new(o, "platforms", plats);
	json_object_set_new(o, "platform",
	                    json_string(copa_platform_str(&in->img.platform, buf, sizeof(buf))));
	json_object_set_new(o, "manifest", json_string(in->img.desc.digest));
	json_object_set_new(o, "config", json_string(in->img.manifest.config.digest));
	for (size_t i = 0; i < in->img.manifest.n_layers; i++) {
		const struct copa_desc *d = &in->img.manifest.layers[i];

		json_array_append_new(layers,
		                      json_pack("{s:s, s:I, s:s}", "digest", d->digest, "size",
		                                (json_int_t)d->size, "mediaType", d->media_type));
	}
	json_object_set_new(o, "layers", layers);
	if (in->probe.has_os_release) {
		os = json_object();
		json_object_set_new(os, "id",
		                    in->probe.os.id ? json_string(in->probe.os.id) : json_null());
		json_object_set_new(os, "version_id",
		                    in->probe.os.version_id ? json_string(in->probe.os.version_id)
		                                            : json_null());
		if (in->probe.os.version_codename)
			json_object_set_new(os, "version_codename",
			                    json_string(in->probe.os.version_codename));
		if (in->probe.os.pretty_name)
			json_object_set_new(os, "pretty_name",
			                    json_string(in->probe.os.pretty_name));
		json_object_set_new(o, "os", os);
	} else {
		json_object_set_new(o, "os", json_null());
	}
	json_object_set_new(o, "package_manager",
	                    copa_probe_manager(&in->probe)
	                        ? json_string(copa_probe_manager(&in->probe))
	                        : json_null());
	json_object_set_new(o, "package_db",
	                    in->probe.db_path ? json_string(in->probe.db_path) : json_null());
	json_object_set_new(o, "packages",
	                    in->probe.n_packages >= 0 ? json_integer(in->probe.n_packages)
	                                              : json_null());
	json_object_set_new(o, "distroless", json_boolean(in->probe.distroless));
	if (in->have_repos) {
		json_t *repos = json_array();

		for (size_t i = 0; i < in->repos.n; i++) {
			const struct copa_pm_repo *rr = &in->repos.v[i];

			json_array_append_new(repos, json_pack("{s:s, s:s, s:b, s:s}", "id", rr->id,
			                                       "url", rr->url, "enabled",
			                                       rr->enabled, "from", rr->from));
		}
		json_object_set_new(o, "repositories", repos);
	}
	r = copa_json_dump(o, 2, &b, err);
	if (r == 0)
		printf("%s\n", b.p);
	copa_buf_release(&b);
	json_decref(o);
	return r;
}

static void print_human(struct inspect *in)
{
	const struct copa_image_root *root = copa_image_src_root(in->src);
	_cleanup_free_ char *refstr = copa_image_ref_string(&in->ref);
	const struct copa_probe *p = &in->probe;
	char buf[256], size[32];

	printf("reference:   %s\n", refstr);
	printf("digest:      %s\n", root->desc.digest);
	printf("media type:  %s\n", root->desc.media_type);
	printf("platforms:  ");
	for (size_t i = 0; i < in->n_plats; i++)
		printf(" %s", copa_platform_str(&in->plats[i].platform, buf, sizeof(buf)));
	printf("\nplatform:    %s (manifest %s)\n",
	       copa_platform_str(&in->img.platform, buf, sizeof(buf)), in->img.desc.digest);
	if (p->has_os_release)
		printf("os:          %s %s%s%s%s\n", p->os.id ? p->os.id : "unknown",
		       p->os.version_id ? p->os.version_id : "", p->os.version_codename ? " (" : "",
		       p->os.version_codename ? p->os.version_codename : "",
		       p->os.version_codename ? ")" : "");
	else
		printf("os:          unknown (no os-release)\n");
	if (p->pm) {
		if (p->n_packages >= 0)
			printf("packages:    %ld installed (%s database %s)\n", p->n_packages,
			       copa_probe_manager(p), p->db_path);
		else
			printf("packages:    %s database %s\n", copa_probe_manager(p), p->db_path);
	} else {
		printf("packages:    no package database found\n");
	}
	printf("distroless:  %s\n", p->distroless ? "yes (no package manager binary)" : "no");
	if (in->have_repos) {
		printf("repositories:%s\n",
		       in->repos.n
		           ? (in->repos.defaults ? " (none in the image: the distribution's)" : "")
		           : " none (name one with --repo)");
		for (size_t i = 0; i < in->repos.n; i++)
			printf("  %s  %s%s\n", in->repos.v[i].id, in->repos.v[i].url,
			       in->repos.v[i].enabled ? "" : " (disabled)");
	}
	printf("layers:      %zu\n", in->img.manifest.n_layers);
	for (size_t i = 0; i < in->img.manifest.n_layers; i++) {
		const struct copa_desc *d = &in->img.manifest.layers[i];

		human_size(d->size, size, sizeof(size));
		printf("  %s  %10s  %s\n", d->digest, size, d->media_type);
	}
}

static void cleanup(struct inspect *in)
{
	if (in->have_probe)
		copa_probe_release(&in->probe);
	copa_pm_repos_release(&in->repos);
	copa_image_fs_free(in->fs);
	if (in->have_layers)
		copa_image_layers_release(&in->layers);
	if (in->have_img)
		copa_image_release(&in->img);
	if (in->plats)
		copa_image_platforms_free(in->plats, in->n_plats);
	copa_image_src_free(in->src);
	copa_image_ref_release(&in->ref);
}

static int run(int argc, char **argv)
{
	enum {
		OPT_PLATFORM = 256,
		OPT_JSON,
		OPT_INSECURE,
		OPT_CA,
		OPT_CACHE,
		OPT_TIMEOUT,
		OPT_PROGRESS
	};
	static const struct option longopts[] = {
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"insecure-registry", required_argument, NULL, OPT_INSECURE},
	    {"ca-file", required_argument, NULL, OPT_CA},
	    {"cache-dir", required_argument, NULL, OPT_CACHE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"progress", required_argument, NULL, OPT_PROGRESS},
	    {"verbose", no_argument, NULL, 'v'},
	    {"debug", no_argument, NULL, 'v'}, /* the original's name for it */
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct inspect in = {0};
	struct copa_session_opts so = {.timeout_s = 300};
	const char *insecure[33] = {NULL};
	size_t n_insecure = 0;
	enum copa_cli_progress progress = COPA_CLI_PROGRESS_AUTO;
	bool verbose = false;
	struct copa_err err = COPA_ERR_INIT;
	struct copa_out *out;
	int c, r, rc = 0;

	if (copa_cli_check_opts("inspect", argc, argv, "vh", longopts))
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PLATFORM:
			if (copa_cli_platform_opt("inspect", optarg, NULL))
				return 2;
			in.platform = optarg;
			break;
		case OPT_JSON:
			in.json = true;
			break;
		case OPT_INSECURE:
			if (n_insecure == 32)
				return copa_cli_usage_error("inspect",
				                            "too many --insecure-registry");
			insecure[n_insecure++] = optarg;
			break;
		case OPT_CA:
			so.ca_file = optarg;
			break;
		case OPT_CACHE:
			so.cache_dir = optarg;
			break;
		case OPT_TIMEOUT:
			if (copa_cli_timeout_opt("inspect", optarg, &so.timeout_s))
				return 2;
			break;
		case OPT_PROGRESS:
			if (copa_cli_parse_progress(optarg, &progress) < 0)
				return copa_cli_usage_error("inspect", "invalid --progress '%s'",
				                            optarg);
			break;
		default:
			r = copa_cli_common_opt("inspect", c, usage_text, &verbose);
			if (r >= 0)
				return r;
			break;
		}
	}
	if (optind + 1 != argc)
		return copa_cli_usage_error("inspect", optind == argc ? "IMAGE is required"
		                                                      : "expected one IMAGE");
	in.image = argv[optind];
	out = copa_cli_out_new(progress, verbose);
	so.out = out;
	so.insecure_registries = insecure;
	if (copa_session_init(&in.s, &so, &err) < 0) {
		rc = copa_cli_fail(out, &err);
		copa_cli_out_free(out);
		return rc;
	}
	if (load(&in, &err) < 0 || (in.json ? print_json(&in, &err) : (print_human(&in), 0)) < 0)
		rc = copa_cli_fail(out, &err);
	cleanup(&in);
	copa_session_release(&in.s);
	copa_cli_out_free(out);
	return rc;
}

const struct copa_cli_cmd copa_cmd_inspect = {"inspect", "show what copa sees in an image", run};

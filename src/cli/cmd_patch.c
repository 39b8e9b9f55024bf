/* copa patch: flags into struct copa_patch_opts, then the core pipeline. */
#include "cli/cli.h"
#include "cli/generate.h"
#include "core/patch.h"
#include "fleet/run.h"
#include "image/ref.h"
#include "util/mem.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: copa patch -i IMAGE [options]\n"
    "       copa patch --config FILE [--jobs N] [--shard I/N] [options]\n"
    "\n"
    "Patch the OS packages of IMAGE and write the image plus one layer of updates.\n"
    "\n"
    "Image references use the transport syntax of skopeo/podman: a bare reference is a\n"
    "registry image (localhost:5000/app:1.0); oci:DIR[:TAG], oci-archive:FILE[:TAG] and\n"
    "docker-archive:FILE[:REF] name local images.\n"
    "\n"
    "  -i, --image IMAGE          image to patch (required)\n"
    "  -r, --report FILE|DIR      vulnerability report, or a directory of reports (one per\n"
    "                             platform); without it every upgradable package is updated\n"
    "  -s, --scanner NAME         report format: trivy, grype, native, or a plugin run as\n"
    "                             copa-NAME REPORT (default: detected from each file)\n"
    "  -t, --tag TAG|DEST         tag for the result (same repository/location), or a full\n"
    "                             destination; default: <source tag>-<suffix>\n"
    "      --tag-suffix SUFFIX    suffix of the default tag (default: patched)\n"
    "  -p, --push                 write a registry destination (required for registries)\n"
    "      --platform LIST        platforms to patch, e.g. linux/amd64,linux/arm64; others\n"
    "                             are kept unchanged in the output index\n"
    "      --ignore-errors        skip packages that cannot be updated instead of failing\n"
    "      --timeout DURATION     limit for the whole run, e.g. 300, 90s, 5m (default 5m)\n"
    "  -o, --output FILE          write an OpenVEX document of the fixed vulnerabilities\n"
    "                             ('-': standard output)\n"
    "  -f, --format FORMAT        VEX format (openvex)\n"
    "      --vex-author NAME      VEX author (default: $COPA_VEX_AUTHOR or copa)\n"
    "      --summary FILE         write a JSON summary of the run (see docs/summary.md;\n"
    "                             '-': standard output)\n"
    "      --repo LINE            add a repository, one-line sources format, e.g.\n"
    "                             'deb [signed-by=/k.gpg] http://mirror/debian bookworm main'\n"
    "                             or 'deb file:///srv/mirror bookworm main'; Alpine: a URL\n"
    "                             ('https://mirror/alpine/v3.20/main') or '@tag URL' (repeatable)\n"
    "      --repo-replace         use only the --repo repositories, not the image's\n"
    "      --keyring FILE         trust the OpenPGP keys in FILE for repositories; Alpine: an\n"
    "                             RSA public key (PEM) named as its signatures name it\n"
    "                             (repeatable)\n"
    "      --allow-insecure-repo  accept repositories marked trusted=yes (no signature check)\n"
    "      --insecure-registry H  allow plain HTTP to registry host H (repeatable; also\n"
    "                             COPA_INSECURE_REGISTRIES=h1,h2); loopback is always allowed\n"
    "      --ca-file FILE         extra CA certificates (PEM) for registries and repositories\n"
    "      --compression ALG      new layer compression: gzip (default), zstd, none\n"
    "                             (also the original's uncompressed, estargz = gzip)\n"
    "      --oci-dir DIR          write an OCI layout: the destination oci:DIR:TAG\n"
    "  -l, --loader NAME          for a registry destination without --push: docker, podman\n"
    "                             or none (default: docker, then podman, when present)\n"
    "      --exit-on-eol          fail when no report is given and the image's release is\n"
    "                             past its security support (else a warning); from a table\n"
    "                             shipped with copa, no network call\n"
    "      --cache-dir DIR        cache directory (default: $XDG_CACHE_HOME/copa)\n"
    "      --progress MODE        auto, tty, plain, quiet or json (default: auto)\n"
    "      --config FILE          bulk mode: patch every image and tag of a PatchConfig file\n"
    "                             (docs/fleet.md); excludes -i and -t; -r DIR gives each\n"
    "                             image the report whose artifact names it\n"
    "      --jobs N               bulk mode: images patched at once (default: CPU count);\n"
    "                             one image: threads for downloads, layer reading and\n"
    "                             compression (default: per pool); the output is the same\n"
    "      --shard I/N            bulk mode: run only part I (0-based) of N; auto/N takes I\n"
    "                             from $JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)\n"
    "  -v, --verbose, --debug     debug output\n"
    "  -h, --help                 this help\n"
    "\n"
    "Accepted from the original copa with a one-line note (they configure BuildKit,\n"
    "which copa does not use): -a/--addr, --cacert, --cert, --key,\n"
    "-w/--working-folder, --force-compression, --eol-api-url.\n"
    "\n"
    "Exit status: 0 patched or nothing to patch, 1 error, 2 usage error, 130/143\n"
    "interrupted by SIGINT/SIGTERM (nothing written).\n";

static const char generate_usage[] =
    "usage: copa generate -i IMAGE [options] [--output-context FILE]\n"
    "\n"
    "Patch IMAGE as copa patch does, but write the patch as a Docker build context: a\n"
    "tar holding a Dockerfile (FROM IMAGE, COPY patch/ /) and the new layer's files\n"
    "under patch/, for docker build / BuildKit. Files the patch removes cannot be\n"
    "removed by a COPY: they are listed on stderr and in --summary.\n"
    "\n"
    "      --output-context FILE  write the context to FILE (default: standard output,\n"
    "                             which must not be a terminal)\n"
    "  -i, -r, -s, --platform (one), --ignore-errors, --timeout, -o, -f, --vex-author,\n"
    "  --summary, --repo, --repo-replace, --keyring, --allow-insecure-repo,\n"
    "  --insecure-registry, --ca-file, --exit-on-eol, --compression, --cache-dir,\n"
    "  --progress, -v/--debug: as for copa patch. -t, --tag-suffix and -l/--loader\n"
    "  are accepted and ignored (with a note for -t and --loader).\n"
    "  -h, --help                 this help\n"
    "\n"
    "Example: copa generate -i docker.io/library/nginx:1.25 | docker build -t nginx:fixed -\n"
    "\n"
    "Exit status: 0 written or nothing to patch (then nothing is written), 1 error,\n"
    "2 usage error.\n";

/* Appends s to a NULL-terminated vector. */
static void strv_push(const char ***v, size_t *n, const char *s)
{
	*v = copa_xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/*
 * -t is a bare tag or a full destination (the core tells them apart by a
 * ':', '/' or '@'); either way a malformed one is a usage error, caught
 * before the image is read.
 */
static int check_tag(const char *cmd, const char *tag)
{
	struct copa_image_ref ref;
	struct copa_err err = COPA_ERR_INIT;

	if (!strchr(tag, ':') && !strchr(tag, '/') && !strchr(tag, '@')) {
		if (copa_ref_tag_valid(tag))
			return 0;
		return copa_cli_usage_error(cmd,
		                            "invalid -t '%s': a tag is letters, digits, '_', '.' "
		                            "and '-' (at most 128), or give a full destination",
		                            tag);
	}
	if (copa_image_ref_parse(tag, &ref, &err) < 0)
		return copa_cli_usage_error(cmd, "invalid -t '%s': %s", tag, err.msg);
	copa_image_ref_release(&ref);
	return 0;
}

/*
 * The original's --oci-dir DIR as a destination: oci:DIR:TAG with -t's
 * bare tag, else the default tag (<source tag>-<suffix>), else untagged.
 */
static char *oci_dir_dest(const char *dir, const char *image, const char *tag, const char *suffix)
{
	struct copa_image_ref ref;
	const char *st = NULL;
	char *dest;

	if (tag)
		return copa_xasprintf("oci:%s:%s", dir, tag);
	if (copa_image_ref_parse(image, &ref, NULL) < 0)
		return copa_xasprintf("oci:%s", dir);
	if (ref.transport == COPA_TRANSPORT_OCI || ref.transport == COPA_TRANSPORT_OCI_ARCHIVE)
		st = ref.tag;
	else if (ref.has_ref)
		st = ref.ref.tag;
	dest = st ? copa_xasprintf("oci:%s:%s-%s", dir, st, suffix) : copa_xasprintf("oci:%s", dir);
	copa_image_ref_release(&ref);
	return dest;
}

static int run_cmd(int argc, char **argv, bool generate)
{
	const char *cmd = generate ? "generate" : "patch";
	enum {
		OPT_TAG_SUFFIX = 256,
		OPT_PLATFORM,
		OPT_IGNORE_ERRORS,
		OPT_TIMEOUT,
		OPT_VEX_AUTHOR,
		OPT_SUMMARY,
		OPT_REPO,
		OPT_REPO_REPLACE,
		OPT_KEYRING,
		OPT_ALLOW_INSECURE_REPO,
		OPT_INSECURE_REGISTRY,
		OPT_CA_FILE,
		OPT_COMPRESSION,
		OPT_LOADER,
		OPT_CACHE_DIR,
		OPT_PROGRESS,
		OPT_CONFIG,
		OPT_JOBS,
		OPT_SHARD,
		OPT_CACERT,
		OPT_CERT,
		OPT_KEY,
		OPT_OCI_DIR,
		OPT_FORCE_COMPRESSION,
		OPT_DEBUG,
		OPT_EOL_API_URL,
		OPT_EXIT_ON_EOL,
		OPT_OUTPUT_CONTEXT,
	};
	static const struct option longopts[] = {
	    {"image", required_argument, NULL, 'i'},
	    {"report", required_argument, NULL, 'r'},
	    {"scanner", required_argument, NULL, 's'},
	    {"tag", required_argument, NULL, 't'},
	    {"tag-suffix", required_argument, NULL, OPT_TAG_SUFFIX},
	    {"push", no_argument, NULL, 'p'},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"ignore-errors", no_argument, NULL, OPT_IGNORE_ERRORS},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'f'},
	    {"vex-author", required_argument, NULL, OPT_VEX_AUTHOR},
	    {"summary", required_argument, NULL, OPT_SUMMARY},
	    {"repo", required_argument, NULL, OPT_REPO},
	    {"repo-replace", no_argument, NULL, OPT_REPO_REPLACE},
	    {"keyring", required_argument, NULL, OPT_KEYRING},
	    {"allow-insecure-repo", no_argument, NULL, OPT_ALLOW_INSECURE_REPO},
	    {"insecure-registry", required_argument, NULL, OPT_INSECURE_REGISTRY},
	    {"ca-file", required_argument, NULL, OPT_CA_FILE},
	    {"compression", required_argument, NULL, OPT_COMPRESSION},
	    {"loader", required_argument, NULL, OPT_LOADER},
	    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
	    {"progress", required_argument, NULL, OPT_PROGRESS},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"jobs", required_argument, NULL, OPT_JOBS},
	    {"shard", required_argument, NULL, OPT_SHARD},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"exit-on-eol", no_argument, NULL, OPT_EXIT_ON_EOL},
	    {"output-context", required_argument, NULL, OPT_OUTPUT_CONTEXT},
	    {"oci-dir", required_argument, NULL, OPT_OCI_DIR},
	    /* The original's flags: mapped (--debug) or accepted with a note. */
	    {"debug", no_argument, NULL, OPT_DEBUG},
	    {"addr", required_argument, NULL, 'a'},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {"cert", required_argument, NULL, OPT_CERT},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"working-folder", required_argument, NULL, 'w'},
	    {"force-compression", no_argument, NULL, OPT_FORCE_COMPRESSION},
	    {"eol-api-url", required_argument, NULL, OPT_EOL_API_URL},
	    {NULL, 0, NULL, 0},
	};
	static const char shortopts[] = "i:r:s:t:po:f:l:a:w:vh";
	const char *notes[8];
	size_t n_notes = 0;
	const char *oci_dir = NULL;
	const char *context_out = "-";
	_cleanup_free_ char *oci_dest = NULL;
	struct copa_patch_opts o = {
	    .tag_suffix = "patched",
	    .timeout_s = 300,
	    .vex_format = "openvex",
	    .compression = "gzip",
	};
	_cleanup_free_ const char **platforms = NULL, **repos = NULL, **keyrings = NULL,
	                          **insecure = NULL;
	size_t n_platforms = 0, n_repos = 0, n_keyrings = 0, n_insecure = 0;
	_cleanup_free_ char *platform_copy = NULL;
	enum copa_cli_progress progress = COPA_CLI_PROGRESS_AUTO;
	bool verbose = false;
	struct copa_err err = COPA_ERR_INIT;
	enum copa_patch_result result;
	const char *config = NULL, *shard = NULL;
	unsigned jobs = 0;
	int c, r, rc;

	if (copa_cli_check_opts(cmd, argc, argv, shortopts, longopts))
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (n_notes == sizeof(notes) / sizeof(notes[0]))
			n_notes--; /* a flag repeated many times: its note once is enough */
		switch (c) {
		case 'i':
			o.image = optarg;
			break;
		case 'r':
			o.report = optarg;
			break;
		case 's':
			o.scanner = optarg;
			break;
		case 't':
			o.tag = optarg;
			break;
		case OPT_TAG_SUFFIX:
			o.tag_suffix = optarg;
			break;
		case 'p':
			o.push = true;
			break;
		case OPT_PLATFORM:
			free(platform_copy);
			platform_copy = copa_xstrdup(optarg);
			n_platforms = 0;
			/* Split by hand: strtok_r would pass over an empty item ("a,,b", ""). */
			for (char *tok = platform_copy, *next; tok; tok = next) {
				next = strchr(tok, ',');
				if (next)
					*next++ = '\0';
				if (copa_cli_platform_opt(cmd, tok, NULL))
					return 2;
				strv_push(&platforms, &n_platforms, tok);
			}
			break;
		case OPT_IGNORE_ERRORS:
			o.ignore_errors = true;
			break;
		case OPT_TIMEOUT:
			if (copa_cli_timeout_opt(cmd, optarg, &o.timeout_s))
				return 2;
			break;
		case 'o':
			o.vex_out = optarg;
			break;
		case 'f':
			o.vex_format = optarg;
			break;
		case OPT_VEX_AUTHOR:
			o.vex_author = optarg;
			break;
		case OPT_SUMMARY:
			o.summary_out = optarg;
			break;
		case OPT_REPO:
			strv_push(&repos, &n_repos, optarg);
			break;
		case OPT_REPO_REPLACE:
			o.repos_replace = true;
			break;
		case OPT_KEYRING:
			strv_push(&keyrings, &n_keyrings, optarg);
			break;
		case OPT_ALLOW_INSECURE_REPO:
			o.allow_insecure_repo = true;
			break;
		case OPT_INSECURE_REGISTRY:
			strv_push(&insecure, &n_insecure, optarg);
			break;
		case OPT_CA_FILE:
			o.ca_file = optarg;
			break;
		case OPT_COMPRESSION:
			/* The original's names too: uncompressed, estargz. */
			if (!strcmp(optarg, "uncompressed")) {
				o.compression = "none";
			} else if (!strcmp(optarg, "estargz")) {
				o.compression = "gzip";
				notes[n_notes++] =
				    "--compression estargz: the new layer is plain "
				    "gzip (copa writes no eStargz table of contents)";
			} else if (strcmp(optarg, "gzip") && strcmp(optarg, "zstd") &&
			           strcmp(optarg, "none")) {
				return copa_cli_usage_error(
				    cmd,
				    "invalid --compression '%s' (gzip, zstd, "
				    "none or uncompressed)",
				    optarg);
			} else {
				o.compression = optarg;
			}
			break;
		case 'l':
		case OPT_LOADER:
			if (!*optarg || !strcmp(optarg, "auto")) {
				o.loader = NULL; /* the original's default: detect */
				break;
			}
			if (strcmp(optarg, "docker") && strcmp(optarg, "podman") &&
			    strcmp(optarg, "none"))
				return copa_cli_usage_error(
				    cmd, "invalid --loader '%s' (docker, podman or none)", optarg);
			o.loader = optarg;
			break;
		case OPT_EXIT_ON_EOL:
			o.exit_on_eol = true;
			break;
		case OPT_OCI_DIR:
			if (!*optarg)
				return copa_cli_usage_error(cmd, "empty --oci-dir");
			oci_dir = optarg;
			break;
		case OPT_OUTPUT_CONTEXT:
			if (!generate)
				return copa_cli_usage_error(cmd, "--output-context is an option of "
				                                 "copa generate");
			if (!*optarg)
				return copa_cli_usage_error(cmd, "empty --output-context");
			context_out = optarg;
			break;
		case OPT_DEBUG:
			verbose = true;
			break;
		case 'a':
			notes[n_notes++] = "--addr ignored: copa needs no BuildKit";
			break;
		case OPT_CACERT:
		case OPT_CERT:
		case OPT_KEY:
			notes[n_notes++] = "--cacert/--cert/--key ignored: they are for BuildKit, "
			                   "which copa does not use (registry TLS: --ca-file, "
			                   "certs.d)";
			break;
		case 'w':
			notes[n_notes++] = "--working-folder ignored: copa stages in its cache "
			                   "directory (--cache-dir)";
			break;
		case OPT_FORCE_COMPRESSION:
			notes[n_notes++] = "--force-compression ignored: copa keeps the original "
			                   "layers byte for byte and compresses only the new one";
			break;
		case OPT_EOL_API_URL:
			notes[n_notes++] = "--eol-api-url ignored: copa uses its shipped "
			                   "end-of-life table (no network call)";
			break;
		case OPT_CACHE_DIR:
			o.cache_dir = optarg;
			break;
		case OPT_PROGRESS:
			if (copa_cli_parse_progress(optarg, &progress) < 0)
				return copa_cli_usage_error(
				    cmd,
				    "invalid --progress '%s' (auto, tty, plain, quiet or json)",
				    optarg);
			break;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_JOBS: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || v == 0 || v > 64)
				return copa_cli_usage_error(
				    "patch", "invalid --jobs '%s' (a number from 1 to 64)", optarg);
			jobs = (unsigned)v;
			break;
		}
		case OPT_SHARD:
			shard = optarg;
			break;
		default:
			r = copa_cli_common_opt(cmd, c, generate ? generate_usage : usage_text,
			                        &verbose);
			if (r >= 0)
				return r;
			break;
		}
	}
	if (optind < argc)
		return copa_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (config && (o.image || o.tag || generate))
		return copa_cli_usage_error(cmd,
		                            "--config cannot be used with -i/--image or -t/--tag "
		                            "(the config names the images and their targets)");
	if (!config && shard)
		return copa_cli_usage_error(cmd, "--shard is for --config");
	if (!o.image && !config)
		return copa_cli_usage_error(cmd, "-i/--image (or --config FILE) is required");
	if (o.tag && check_tag(cmd, o.tag))
		return 2;
	if (strcmp(o.vex_format, "openvex") != 0)
		return copa_cli_usage_error(cmd, "unsupported --format '%s' (only openvex)",
		                            o.vex_format);
	if (o.vex_out && o.summary_out && !strcmp(o.vex_out, "-") && !strcmp(o.summary_out, "-"))
		return copa_cli_usage_error(cmd, "-o and --summary cannot both be '-' (stdout)");
	if (n_repos == 0 && o.repos_replace)
		return copa_cli_usage_error(cmd, "--repo-replace needs at least one --repo");
	if (generate) {
		if (o.push || oci_dir)
			return copa_cli_usage_error(cmd,
			                            "%s: copa generate writes a build context, "
			                            "not an image",
			                            o.push ? "--push" : "--oci-dir");
		if (n_platforms > 1)
			return copa_cli_usage_error(cmd,
			                            "a build context is for one platform: give "
			                            "one --platform");
		if (o.summary_out && !strcmp(o.summary_out, "-") && !strcmp(context_out, "-"))
			return copa_cli_usage_error(cmd, "--summary - and the build context cannot "
			                                 "both go to standard output");
		if (!strcmp(context_out, "-") && isatty(STDOUT_FILENO))
			return copa_cli_usage_error(cmd, "refusing to write a tar stream to a "
			                                 "terminal: use --output-context FILE or "
			                                 "redirect standard output");
		if (o.tag)
			notes[n_notes++] = "-t ignored: a build context names no image (tag the "
			                   "result of docker build -t)";
		if (o.loader)
			notes[n_notes++] = "--loader ignored: copa generate loads nothing";
		o.tag = NULL;
		o.loader = NULL;
	}
	if (oci_dir) {
		if (o.push) {
			notes[n_notes++] = "--oci-dir ignored with --push (as the original does)";
		} else if (o.tag && strpbrk(o.tag, ":/@")) {
			return copa_cli_usage_error(
			    cmd, "--oci-dir and -t '%s' both name the destination: give one",
			    o.tag);
		} else {
			oci_dest = oci_dir_dest(oci_dir, o.image, o.tag, o.tag_suffix);
			o.tag = oci_dest;
		}
	}
	if (!o.vex_author)
		o.vex_author = getenv("COPA_VEX_AUTHOR");
	o.platforms = platforms;
	o.repos = repos;
	o.keyrings = keyrings;
	o.insecure_registries = insecure;
	if (!config)
		o.jobs = jobs;
	o.out = copa_cli_out_new(progress, verbose);
	for (size_t i = 0; i < n_notes; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= notes[k] == notes[i];
		if (!seen)
			copa_info(o.out, "note: %s", notes[i]);
	}
	copa_cli_signals();
	if (config) {
		struct copa_fleet_run_opts fo = {
		    .config_path = config,
		    .patch = &o,
		    .report_dir = o.report,
		    .jobs = jobs,
		    .shard = shard,
		    .summary_out = o.summary_out,
		    .verbose = verbose,
		    .out = o.out,
		};

		o.report = NULL;
		o.summary_out = NULL;
		rc = copa_fleet_run(&fo, &err);
		if (rc < 0)
			rc = err.code == COPA_E_USAGE ? copa_cli_usage_error(cmd, "%s", err.msg)
			                              : copa_cli_fail(o.out, &err);
		copa_cli_out_free(o.out);
		return rc;
	}
	if (generate)
		rc = copa_cli_generate(&o, context_out, n_platforms ? platforms[0] : NULL);
	else if (copa_patch(&o, &result, &err) < 0)
		rc = -1;
	else
		rc = 0;
	/* -v: where the time went, before the error line (the last thing a user reads). */
	copa_cli_out_phases(o.out);
	if (rc < 0)
		rc = copa_cli_fail(o.out, &err);
	copa_cli_out_free(o.out);
	return rc;
}

static int run_patch(int argc, char **argv)
{
	return run_cmd(argc, argv, false);
}

static int run_generate(int argc, char **argv)
{
	return run_cmd(argc, argv, true);
}

const struct copa_cli_cmd copa_cmd_patch = {"patch", "patch an image's OS packages", run_patch};
const struct copa_cli_cmd copa_cmd_generate = {
    "generate", "write the patch as a Docker build context (Dockerfile + patch/)", run_generate};

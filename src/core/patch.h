/*
 * patch.h: the `copa patch` pipeline (BRIEF section 2): parse the report,
 * read the image, probe it, plan with the package-manager adapter, fetch,
 * apply into one new layer, assemble and write the image, then VEX and
 * summary. The CLI fills struct copa_patch_opts and calls copa_patch().
 */
#ifndef COPA_CORE_PATCH_H
#define COPA_CORE_PATCH_H

#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

struct copa_patch_opts {
	const char *image;        /* -i: source image reference (transport syntax) */
	const char *report;       /* -r: report file or directory; NULL: update everything */
	const char *scanner;      /* -s: trivy, grype, native, a plugin name; NULL: detected */
	const char *tag;          /* -t: bare tag or full destination; NULL: <tag>-<suffix> */
	const char *tag_suffix;   /* --tag-suffix, default "patched" */
	bool push;                /* --push: a registry destination may be written */
	const char **platforms;   /* --platform list (NULL-terminated), NULL: default */
	bool ignore_errors;       /* --ignore-errors */
	long timeout_s;           /* --timeout, default 300 */
	const char *vex_out;      /* -o */
	const char *vex_format;   /* -f, only "openvex" */
	const char *vex_author;   /* --vex-author or $COPA_VEX_AUTHOR */
	const char *summary_out;  /* --summary */
	const char *cache_dir;    /* --cache-dir */
	const char **repos;       /* --repo (one-line sources entries), NULL-terminated */
	bool repos_replace;       /* --repo replaces the image's repositories instead of adding */
	const char **keyrings;    /* --keyring files, NULL-terminated */
	bool allow_insecure_repo; /* --allow-insecure-repo: accept trusted=yes sources */
	const char **insecure_registries; /* --insecure-registry hosts, NULL-terminated */
	const char *ca_file;              /* --ca-file */
	const char *compression;          /* --compression gzip|zstd|none */
	const char *loader;               /* --loader docker|podman|none */
	bool exit_on_eol; /* --exit-on-eol: an end-of-life release fails update-all mode */
	unsigned jobs;    /* --jobs for one image: threads per pool (downloads, layer reading,
	                     compression, blob copies); 0: each pool's default. No effect on output */
	struct copa_out *out;
};

/* Outcome of a run, for the CLI's exit code and last message. */
enum copa_patch_result {
	COPA_PATCH_PATCHED,
	COPA_PATCH_NOTHING_TO_DO,
};

/*
 * Runs the pipeline. Returns 0 with *result set, or -1 with err set (nothing
 * written at the destination in that case).
 */
int copa_patch(const struct copa_patch_opts *opts, enum copa_patch_result *result,
               struct copa_err *err);

#endif

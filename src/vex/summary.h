/*
 * summary.h: the patch summary, a JSON document a CI job can act on without
 * parsing logs (`copa patch --summary FILE`; schema in docs/summary.md).
 *
 * Owns: struct copa_summary, filled by the patch pipeline as it goes (a
 * builder: set the images, add a platform per patched platform, add a
 * result per package), rendered or written atomically at the end; the VEX
 * writer reads it (copa_vex_add_summary) so both documents tell the same
 * story.
 *
 * Invariants: every string is copied into the summary's arena; package
 * results keep insertion order; counts are computed at render time from
 * the results, never stored twice.
 * Callers: `copa patch` (future), src/vex/vex.c, tests/helpers/.
 */
#ifndef COPA_VEX_SUMMARY_H
#define COPA_VEX_SUMMARY_H

#include "pkg/version.h"
#include "report/manifest.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>

/* What happened to one package. */
enum copa_outcome {
	COPA_OUTCOME_UPDATED,       /* a newer version is installed in the output image */
	COPA_OUTCOME_ALREADY_FIXED, /* the image already had the fixed version or newer */
	COPA_OUTCOME_NOT_AVAILABLE, /* no version >= the fixed one in the repositories */
	COPA_OUTCOME_FAILED,        /* download, verification or unpacking failed */
	COPA_OUTCOME_SKIPPED,       /* not attempted (not installed, excluded, after an error) */
};

/* "updated", "already-fixed", "not-available", "failed", "skipped". */
const char *copa_outcome_name(enum copa_outcome o);
/* Parses a name above; -1 when unknown. */
int copa_outcome_parse(const char *s, enum copa_outcome *out);
/* True for outcomes after which the output image is not vulnerable (updated, already-fixed). */
bool copa_outcome_fixes(enum copa_outcome o);

/* One package's result, as the caller describes it (borrowed; add copies). */
struct copa_pkg_result {
	const char *name;
	const char *arch;             /* package architecture; NULL: from the platform */
	const char *installed_before; /* version in the input image; NULL unknown */
	const char *requested;        /* fixed version the report asked for; NULL: update-all */
	const char *chosen;           /* version the planner picked; NULL none */
	const char *installed;        /* version in the output image; NULL none */
	enum copa_outcome outcome;
	const char *reason;          /* why, for anything but updated; NULL none */
	const char *const *vuln_ids; /* the vulnerabilities the update addresses */
	size_t n_vuln_ids;
	const char *const *skipped_scripts; /* maintainer scripts not run ("postinst") */
	size_t n_skipped_scripts;
};

/* Stored copies (read-only for callers). NULL strings mean "unknown". */
struct copa_pkg_outcome {
	const char *name, *arch, *installed_before, *requested, *chosen, *installed, *reason;
	enum copa_outcome outcome;
	const char **vuln_ids;
	size_t n_vuln_ids;
	const char **skipped_scripts;
	size_t n_skipped_scripts;
};

struct copa_unfixable_finding {
	const char *name, *installed, *vuln_id;
};

struct copa_summary_platform {
	const char *platform; /* "linux/amd64", "linux/arm/v7" */
	const char *arch, *variant;
	const char *os_type, *os_version, *os_purl_ns;
	enum copa_pkgfam fam;
	const char *input_digest, *output_digest; /* this platform's image manifests */
	const char *error; /* why it could not be patched (kept as it was), or NULL */
	struct copa_pkg_outcome *pkgs;
	size_t n_pkgs, cap_pkgs;
	struct copa_unfixable_finding *unfixable;
	size_t n_unfixable, cap_unfixable;
};

struct copa_summary {
	struct copa_arena arena;
	const char *input_ref, *input_digest;   /* the image (index) patched */
	const char *output_ref, *output_digest; /* the image (index) written */
	struct copa_summary_platform **platforms;
	size_t n_platforms;
};

struct copa_summary *copa_summary_new(void);
void copa_summary_free(struct copa_summary *s);

/* Sets the input or output image reference and digest (either may be NULL). */
void copa_summary_set_input(struct copa_summary *s, const char *ref, const char *digest);
void copa_summary_set_output(struct copa_summary *s, const char *ref, const char *digest);

/*
 * Adds a platform described by a finished manifest: platform string, OS,
 * family and its findings without a fix (which the summary lists and
 * counts). Returns the platform, owned by s.
 */
struct copa_summary_platform *copa_summary_add_manifest(struct copa_summary *s,
                                                        const struct copa_update_manifest *m);

/*
 * Sets a platform's "os/arch[/variant]" string from the image itself (a
 * report may not say its architecture; the image always does).
 */
void copa_summary_platform_set_name(struct copa_summary *s, struct copa_summary_platform *p,
                                    const char *platform);

/* Sets a platform's input and output image manifest digests (either may be NULL). */
void copa_summary_platform_digests(struct copa_summary *s, struct copa_summary_platform *p,
                                   const char *input_digest, const char *output_digest);

/*
 * Marks a platform that could not be patched and was kept as it was
 * (--ignore-errors on a multi-platform image): its status becomes "error"
 * and the message is kept.
 */
void copa_summary_platform_error(struct copa_summary *s, struct copa_summary_platform *p,
                                 const char *msg);

/* Records one package's result. Fails on an empty name or more than 100000 packages. */
int copa_summary_add_package(struct copa_summary *s, struct copa_summary_platform *p,
                             const struct copa_pkg_result *r, struct copa_err *err);

/* Counts over findings (package, vulnerability ID): see docs/summary.md. */
struct copa_summary_counts {
	size_t fixed, not_fixable, failed;
	size_t pkgs[5]; /* per enum copa_outcome */
};
void copa_summary_platform_counts(const struct copa_summary_platform *p,
                                  struct copa_summary_counts *c);

/* Renders the JSON document (2-space indent, trailing newline) into out. */
int copa_summary_render(const struct copa_summary *s, struct copa_buf *out, struct copa_err *err);

/*
 * Writes the rendered document to path as util/outfile.h describes: "-" is
 * standard output, a device or FIFO is written in place, a file is replaced
 * atomically (temp file + rename).
 */
int copa_summary_write(const struct copa_summary *s, const char *path, struct copa_err *err);

#endif

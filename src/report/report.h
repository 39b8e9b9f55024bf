/*
 * report.h: scanner reports in, update manifests out (the "Parse" stage).
 *
 * Owns: reading Trivy JSON (SchemaVersion 2, the default), Grype JSON, copa's
 * native update manifest (v1alpha1 and v1alpha2) and the output of scanner
 * plugins (`copa-NAME REPORT` from PATH, run without a shell); turning a
 * report directory into one manifest per platform; writing a manifest back
 * as native v1alpha2 JSON.
 *
 * Invariants: every input is capped (file size, plugin output size, number
 * of files, results, findings, field lengths); every error is one line that
 * names the file and what is wrong and, where it helps, the -s flag to use.
 * Manifests returned are finished (see manifest.h). Nothing here prints: a
 * plugin's stderr passes through to copa's stderr untouched.
 *
 * Callers: `copa report`, `copa patch`, the fuzz targets and test helpers.
 */
#ifndef COPA_REPORT_REPORT_H
#define COPA_REPORT_REPORT_H

#include "report/manifest.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <stdbool.h>
#include <stddef.h>

#define COPA_REPORT_MAX_SIZE       (256u * 1024 * 1024) /* bytes in one report or plugin output */
#define COPA_REPORT_MAX_FILES      256                  /* reports in a directory */
#define COPA_REPORT_MAX_RESULTS    100000               /* Trivy Results[], native documents */
#define COPA_REPORT_PLUGIN_TIMEOUT (5 * 60 * 1000)      /* default plugin timeout, ms */

struct copa_report_opts {
	const char *scanner;  /* "trivy", "grype", "native", a plugin NAME; NULL: detect per file */
	int timeout_ms;       /* plugin timeout; 0: COPA_REPORT_PLUGIN_TIMEOUT */
	size_t max_size;      /* 0: COPA_REPORT_MAX_SIZE */
	struct copa_out *out; /* warnings (files of a directory skipped); may be NULL */
};

/* True when name may be a plugin: ^[a-zA-Z0-9][a-zA-Z0-9_-]*$, at most 64 bytes. */
bool copa_report_scanner_name_valid(const char *name);

/*
 * Reads the report at path (a file, or a directory of reports: every regular
 * file not starting with '.', in name order) with the chosen scanner and
 * appends one finished manifest per platform to out. Two reports in a
 * directory for the same platform, or a directory report without an
 * architecture, are errors. COPA_E_USAGE for an invalid scanner name.
 */
int copa_report_load(const char *path, const struct copa_report_opts *opts,
                     struct copa_update_manifest_list *out, struct copa_err *err);

/*
 * Parses one in-memory document with a built-in scanner ("trivy", "grype",
 * "native"); source names it in errors. Appends the manifest(s) to out (a
 * native document may be an array of manifests, as `copa report --json`
 * writes for a directory).
 */
int copa_report_parse(const char *scanner, const void *data, size_t n, const char *source,
                      struct copa_update_manifest_list *out, struct copa_err *err);

/*
 * Writes m as native v1alpha2 JSON (2-space indent, trailing newline): the
 * fixable findings in osupdates exactly as listed, langupdates empty, and the
 * findings without a fix in "unfixable" (an extension copa reads back and
 * other readers ignore). A list of several manifests is written as a JSON
 * array of such documents. Replaces out's contents.
 */
int copa_report_write_native(const struct copa_update_manifest *const *v, size_t n, bool as_array,
                             struct copa_buf *out, struct copa_err *err);

#endif

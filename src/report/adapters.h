/*
 * adapters.h: internal interface between report.c (files, directories,
 * plugins, format detection) and the per-scanner parsers. Not for use
 * outside src/report/.
 *
 * Each parser reads a decoded JSON document and appends finished manifests to
 * out. Its messages do not name the file: report.c prefixes "report '<file>': ".
 */
#ifndef COPA_REPORT_ADAPTERS_H
#define COPA_REPORT_ADAPTERS_H

#include "report/manifest.h"
#include "report/report.h"
#include "util/err.h"

#include <jansson.h>

/* What a JSON document looks like, for "wrong tool" messages. */
enum copa_doc_kind {
	COPA_DOC_UNKNOWN,
	COPA_DOC_TRIVY,
	COPA_DOC_GRYPE,
	COPA_DOC_NATIVE,
	COPA_DOC_CYCLONEDX,
	COPA_DOC_SPDX,
	COPA_DOC_SARIF,
	COPA_DOC_OPENVEX,
};

enum copa_doc_kind copa_report_detect(const json_t *doc);

/*
 * Fails with a message that says what doc is when it is not of kind `want`
 * (and the -s flag to use); returns 0 when it is, or looks like nothing known.
 */
int copa_report_check_kind(const json_t *doc, enum copa_doc_kind want, struct copa_err *err);

int copa_report_trivy(const json_t *doc, const char *source, struct copa_update_manifest_list *out,
                      struct copa_err *err);
int copa_report_grype(const json_t *doc, const char *source, struct copa_update_manifest_list *out,
                      struct copa_err *err);
int copa_report_native(const json_t *doc, const char *source, const char *scanner,
                       struct copa_update_manifest_list *out, struct copa_err *err);

/*
 * Typed access for the parsers: a missing member (or JSON null) gives NULL
 * or the default; a member of the wrong type is an error naming its path.
 */
int copa_rj_str(const json_t *obj, const char *key, const char *path, const char **out,
                struct copa_err *err);
int copa_rj_obj(const json_t *obj, const char *key, const char *path, const json_t **out,
                struct copa_err *err);
int copa_rj_arr(const json_t *obj, const char *key, const char *path, const json_t **out,
                size_t max, struct copa_err *err);

/* The package family a purl ("pkg:deb/...") or package type ("rpm") names. */
enum copa_pkgfam copa_report_fam_of_type(const char *type);

#endif

/*
 * report.c: report files and directories, scanner plugins, format detection
 * and the typed JSON accessors the parsers share.
 */
#include "report/report.h"

#include "report/adapters.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/mem.h"
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------ JSON accessors */

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static const json_t *member(const json_t *obj, const char *key)
{
	const json_t *v = json_is_object(obj) ? copa_json_get_ci(obj, key) : NULL;

	return json_is_null(v) ? NULL : v;
}

int copa_rj_str(const json_t *obj, const char *key, const char *path, const char **out,
                struct copa_err *err)
{
	const json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return copa_err_set(err, COPA_E_INPUT, "%s.%s is %s, not a string", path, key,
		                    json_kind(v));
	*out = json_string_value(v);
	return 0;
}

int copa_rj_obj(const json_t *obj, const char *key, const char *path, const json_t **out,
                struct copa_err *err)
{
	const json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return copa_err_set(err, COPA_E_INPUT, "%s.%s is %s, not an object", path, key,
		                    json_kind(v));
	*out = v;
	return 0;
}

int copa_rj_arr(const json_t *obj, const char *key, const char *path, const json_t **out,
                size_t max, struct copa_err *err)
{
	const json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return copa_err_set(err, COPA_E_INPUT, "%s.%s is %s, not an array", path, key,
		                    json_kind(v));
	if (json_array_size(v) > max)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "%s.%s has %zu elements, more than the %zu "
		                    "allowed",
		                    path, key, json_array_size(v), max);
	*out = v;
	return 0;
}

enum copa_pkgfam copa_report_fam_of_type(const char *t)
{
	if (!t)
		return COPA_FAM_NONE;
	if (!strncmp(t, "pkg:", 4))
		t += 4;
	if (!strncmp(t, "deb", 3) && (t[3] == '\0' || t[3] == '/'))
		return COPA_FAM_DEB;
	if (!strncmp(t, "apk", 3) && (t[3] == '\0' || t[3] == '/'))
		return COPA_FAM_APK;
	if (!strncmp(t, "rpm", 3) && (t[3] == '\0' || t[3] == '/'))
		return COPA_FAM_RPM;
	return COPA_FAM_NONE;
}

/* ------------------------------------------------------------ detection */

enum copa_doc_kind copa_report_detect(const json_t *doc)
{
	const char *s;
	const json_t *v;

	if (json_is_array(doc)) {
		v = json_array_get(doc, 0);
		return json_is_object(v) && copa_json_get_ci(v, "apiVersion") ? COPA_DOC_NATIVE
		                                                              : COPA_DOC_UNKNOWN;
	}
	if (!json_is_object(doc))
		return COPA_DOC_UNKNOWN;
	if (copa_json_get_ci(doc, "apiVersion"))
		return COPA_DOC_NATIVE;
	if (copa_json_get_ci(doc, "SchemaVersion") || copa_json_get_ci(doc, "Results") ||
	    (copa_json_get_ci(doc, "ArtifactName") && copa_json_get_ci(doc, "Metadata")))
		return COPA_DOC_TRIVY;
	if (json_object_get(doc, "matches") &&
	    (json_object_get(doc, "descriptor") || json_object_get(doc, "distro") ||
	     json_object_get(doc, "source")))
		return COPA_DOC_GRYPE;
	if ((s = json_string_value(json_object_get(doc, "bomFormat"))) && !strcmp(s, "CycloneDX"))
		return COPA_DOC_CYCLONEDX;
	if (json_object_get(doc, "spdxVersion"))
		return COPA_DOC_SPDX;
	if (((s = json_string_value(json_object_get(doc, "$schema"))) && strstr(s, "sarif")) ||
	    (json_object_get(doc, "runs") && json_object_get(doc, "version")))
		return COPA_DOC_SARIF;
	if ((s = json_string_value(json_object_get(doc, "@context"))) && strstr(s, "openvex"))
		return COPA_DOC_OPENVEX;
	return COPA_DOC_UNKNOWN;
}

static const char *flag_for(enum copa_doc_kind k)
{
	switch (k) {
	case COPA_DOC_TRIVY:
		return "-s trivy";
	case COPA_DOC_GRYPE:
		return "-s grype";
	case COPA_DOC_NATIVE:
		return "-s native";
	default:
		return NULL;
	}
}

static const char *kind_name(enum copa_doc_kind k)
{
	switch (k) {
	case COPA_DOC_TRIVY:
		return "a Trivy report";
	case COPA_DOC_GRYPE:
		return "a Grype report";
	case COPA_DOC_NATIVE:
		return "a copa update manifest";
	case COPA_DOC_CYCLONEDX:
		return "a CycloneDX SBOM";
	case COPA_DOC_SPDX:
		return "an SPDX SBOM";
	case COPA_DOC_SARIF:
		return "a SARIF report";
	case COPA_DOC_OPENVEX:
		return "an OpenVEX document";
	case COPA_DOC_UNKNOWN:
		break;
	}
	return "an unknown document";
}

int copa_report_check_kind(const json_t *doc, enum copa_doc_kind want, struct copa_err *err)
{
	enum copa_doc_kind k = copa_report_detect(doc);

	if (k == want || k == COPA_DOC_UNKNOWN)
		return 0;
	if (flag_for(k))
		return copa_err_set(err, COPA_E_INPUT, "this is %s, not %s: use %s", kind_name(k),
		                    kind_name(want), flag_for(k));
	return copa_err_set(err, COPA_E_INPUT,
	                    "this is %s, not a vulnerability report: give copa the JSON report of "
	                    "`trivy image -f json` (-s trivy) or `grype -o json` (-s grype)",
	                    kind_name(k));
}

/* -------------------------------------------------------------- parsing */

/*
 * Messages quote strings from the report (package names, versions, OS
 * names): replace control bytes so a message stays one line and cannot
 * drive the terminal. Returns -1 for `return sanitized(err);`.
 */
static int sanitized(struct copa_err *err)
{
	if (err)
		for (char *p = err->msg; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	return -1;
}

static bool all_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", p[i]))
			return false;
	return true;
}

static json_t *decode(const void *data, size_t n, struct copa_err *err)
{
	json_error_t je;
	json_t *doc;

	if (n == 0 || all_blank(data, n)) {
		copa_err_set(err, COPA_E_INPUT, "the file is empty");
		return NULL;
	}
	doc = json_loadb(data, n, JSON_REJECT_DUPLICATES, &je);
	if (doc)
		return doc;
	/* jansson says "... near end of file" or "premature end of input". */
	if (strstr(je.text, "premature end") || strstr(je.text, "near end of file"))
		copa_err_set(err, COPA_E_INPUT,
		             "the JSON ends early at line %d (truncated file?): %s", je.line,
		             je.text);
	else
		copa_err_set(err, COPA_E_INPUT, "not JSON: %s at line %d column %d", je.text,
		             je.line, je.column);
	return NULL;
}

static int parse_doc(const char *scanner, const char *label, const json_t *doc, const char *source,
                     struct copa_update_manifest_list *out, struct copa_err *err)
{
	if (!strcmp(scanner, "trivy"))
		return copa_report_trivy(doc, source, out, err);
	if (!strcmp(scanner, "grype"))
		return copa_report_grype(doc, source, out, err);
	return copa_report_native(doc, source, label, out, err);
}

int copa_report_parse(const char *scanner, const void *data, size_t n, const char *source,
                      struct copa_update_manifest_list *out, struct copa_err *err)
{
	json_t *doc;
	int r;

	if (strcmp(scanner, "trivy") && strcmp(scanner, "grype") && strcmp(scanner, "native"))
		COPA_BUG("copa_report_parse: scanner '%s' is not built in", scanner);
	if (n > COPA_REPORT_MAX_SIZE)
		return copa_err_set(err, COPA_E_LIMIT,
		                    "report '%s' is %zu bytes, more than the %u "
		                    "allowed",
		                    source, n, COPA_REPORT_MAX_SIZE);
	doc = decode(data, n, err);
	if (!doc) {
		copa_err_wrap(err, "report '%s'", source);
		return sanitized(err);
	}
	r = parse_doc(scanner, "native", doc, source, out, err);
	json_decref(doc);
	if (r < 0) {
		copa_err_wrap(err, "report '%s'", source);
		return sanitized(err);
	}
	return 0;
}

/* -------------------------------------------------------------- plugins */

bool copa_report_scanner_name_valid(const char *name)
{
	size_t n;

	if (!name || !*name)
		return false;
	n = strlen(name);
	if (n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			return false;
	}
	return true;
}

static int run_plugin(const char *name, const char *path, const struct copa_report_opts *o,
                      struct copa_update_manifest_list *out, struct copa_err *err)
{
	char prog[80];
	const char *argv[3];
	struct copa_buf stdout_buf;
	struct copa_proc p = {0};
	int status = -1, timeout = o->timeout_ms > 0 ? o->timeout_ms : COPA_REPORT_PLUGIN_TIMEOUT;
	json_t *doc;
	int r;

	snprintf(prog, sizeof(prog), "copa-%s", name);
	argv[0] = prog;
	argv[1] = path;
	argv[2] = NULL;
	copa_buf_init(&stdout_buf, o->max_size ? o->max_size : COPA_REPORT_MAX_SIZE);
	p.argv = argv;
	p.out = &stdout_buf;
	p.errout = NULL; /* the plugin's messages go to the user as they are */
	p.timeout_ms = timeout;
	if (copa_proc_run(&p, &status, err) < 0) {
		copa_buf_release(&stdout_buf);
		switch (err->code) {
		case COPA_E_NOTFOUND:
			return copa_err_set(
			    err, COPA_E_NOTFOUND,
			    "scanner plugin '%s' not found in PATH: install it, or use "
			    "-s trivy, -s grype or -s native",
			    prog);
		case COPA_E_TIMEOUT:
			return copa_err_set(
			    err, COPA_E_TIMEOUT,
			    "scanner plugin '%s' did not finish on '%s' within %d.%03d s "
			    "and was killed (raise --timeout)",
			    prog, path, timeout / 1000, timeout % 1000);
		case COPA_E_LIMIT:
			return copa_err_set(
			    err, COPA_E_LIMIT,
			    "scanner plugin '%s' printed more than %zu bytes on '%s' and "
			    "was killed",
			    prog, stdout_buf.max, path);
		default:
			return copa_err_wrap(err, "scanner plugin '%s'", prog);
		}
	}
	if (status != 0) {
		copa_buf_release(&stdout_buf);
		if (status > 128)
			return copa_err_set(
			    err, COPA_E_EXEC,
			    "scanner plugin '%s' was killed by signal %d while reading "
			    "'%s'",
			    prog, status - 128, path);
		return copa_err_set(err, COPA_E_EXEC,
		                    "scanner plugin '%s' failed on '%s' with exit status %d (its "
		                    "messages, if any, are above)",
		                    prog, path, status);
	}
	doc = decode(stdout_buf.p, stdout_buf.len, err);
	copa_buf_release(&stdout_buf);
	if (!doc)
		return copa_err_wrap(err,
		                     "scanner plugin '%s' on '%s' did not print an update "
		                     "manifest (plugins print only its JSON on stdout)",
		                     prog, path);
	r = copa_report_native(doc, path, name, out, err);
	json_decref(doc);
	if (r < 0)
		return copa_err_wrap(err, "scanner plugin '%s' on '%s'", prog, path);
	return 0;
}

/* --------------------------------------------------------- files, dirs */

static bool is_report(enum copa_doc_kind k)
{
	return k == COPA_DOC_TRIVY || k == COPA_DOC_GRYPE || k == COPA_DOC_NATIVE;
}

/*
 * Reads one report: 0, or -1 with err set. In a directory (in_dir), a file
 * that is not JSON or is JSON of no report format (a README, an SBOM) is
 * skipped with a warning and gives 1: one stray file does not fail the run.
 * scanner "auto" parses each file as the format it is detected to be.
 */
static int load_file(const char *path, const char *scanner, const struct copa_report_opts *o,
                     bool in_dir, struct copa_update_manifest_list *out, struct copa_err *err)
{
	struct copa_buf b = COPA_BUF_INIT;
	size_t max = o->max_size ? o->max_size : COPA_REPORT_MAX_SIZE;
	enum copa_doc_kind kind;
	json_t *doc;
	int r;

	if (strcmp(scanner, "auto") && strcmp(scanner, "trivy") && strcmp(scanner, "grype") &&
	    strcmp(scanner, "native"))
		return run_plugin(scanner, path, o, out, err);
	if (copa_fs_read_file(AT_FDCWD, path, max, &b, err) < 0) {
		copa_buf_release(&b);
		if (err->code == COPA_E_LIMIT)
			return copa_err_set(err, COPA_E_LIMIT,
			                    "report '%s' is larger than the %zu bytes copa reads",
			                    path, max);
		return copa_err_wrap(err, "cannot read report");
	}
	doc = decode(b.p, b.len, err);
	copa_buf_release(&b);
	if (!doc && in_dir) {
		copa_warn(o->out, "skipping '%s' in the report directory: %s", path, err->msg);
		copa_err_clear(err);
		return 1;
	}
	if (!doc)
		return copa_err_wrap(err, "report '%s'", path);
	kind = copa_report_detect(doc);
	if (in_dir && !is_report(kind)) {
		copa_warn(o->out, "skipping '%s' in the report directory: it is %s, not a report",
		          path, kind_name(kind));
		json_decref(doc);
		return 1;
	}
	if (!strcmp(scanner, "auto"))
		scanner = kind == COPA_DOC_GRYPE    ? "grype"
		          : kind == COPA_DOC_NATIVE ? "native"
		                                    : "trivy";
	r = parse_doc(scanner, "native", doc, path, out, err);
	json_decref(doc);
	if (r < 0)
		return copa_err_wrap(err, "report '%s'", path);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, const char *scanner, const struct copa_report_opts *o,
                    struct copa_update_manifest_list *out, struct copa_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, first = out->n, loaded = 0;
	int rc = -1;
	struct copa_buf pa = COPA_BUF_INIT, pb = COPA_BUF_INIT;

	if (!d)
		return copa_err_sys(err, COPA_E_IO, errno, "cannot read report directory '%s'",
		                    dir);
	while ((de = readdir(d))) {
		char *full;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		full = copa_xasprintf("%s/%s", dir, de->d_name);
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n >= COPA_REPORT_MAX_FILES) {
			free(full);
			copa_err_set(err, COPA_E_LIMIT,
			             "report directory '%s' holds more than %d reports", dir,
			             COPA_REPORT_MAX_FILES);
			goto out;
		}
		names = copa_xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = full;
	}
	if (n == 0) {
		copa_err_set(err, COPA_E_INPUT, "report directory '%s' holds no report files", dir);
		goto out;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		int r = load_file(names[i], scanner, o, true, out, err);

		if (r < 0)
			goto out;
		loaded += r == 0;
	}
	if (loaded == 0) {
		copa_err_set(err, COPA_E_INPUT,
		             "report directory '%s' holds no report (the warnings above say why "
		             "each file was skipped)",
		             dir);
		goto out;
	}
	for (size_t i = first; i < out->n; i++) {
		if (!*out->v[i]->arch) {
			copa_err_set(
			    err, COPA_E_INPUT,
			    "report '%s' names no architecture: in a report directory every "
			    "report must say which platform it is for",
			    out->v[i]->source);
			goto out;
		}
		copa_update_manifest_platform(out->v[i], &pa);
		for (size_t j = first; j < i; j++) {
			copa_update_manifest_platform(out->v[j], &pb);
			if (!strcmp(copa_buf_str(&pa), copa_buf_str(&pb))) {
				copa_err_set(
				    err, COPA_E_INPUT,
				    "reports '%s' and '%s' are both for %s: keep one report "
				    "per platform in '%s'",
				    out->v[j]->source, out->v[i]->source, copa_buf_str(&pa), dir);
				goto out;
			}
		}
	}
	rc = 0;
out:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	copa_buf_release(&pa);
	copa_buf_release(&pb);
	return rc;
}

int copa_report_load(const char *path, const struct copa_report_opts *opts,
                     struct copa_update_manifest_list *out, struct copa_err *err)
{
	struct copa_report_opts o = opts ? *opts : (struct copa_report_opts){0};
	const char *scanner = o.scanner && *o.scanner ? o.scanner : "auto";
	struct stat st;

	if (strcmp(scanner, "auto") && !copa_report_scanner_name_valid(scanner)) {
		copa_err_set(err, COPA_E_USAGE,
		             "invalid scanner '%.80s': use trivy, grype, native or a plugin name "
		             "matching ^[a-zA-Z0-9][a-zA-Z0-9_-]*$",
		             scanner);
		return sanitized(err);
	}
	if (stat(path, &st) < 0) {
		copa_err_sys(err, errno == ENOENT ? COPA_E_NOTFOUND : COPA_E_IO, errno,
		             "cannot read report '%s'", path);
		return sanitized(err);
	}
	if ((S_ISDIR(st.st_mode) ? load_dir(path, scanner, &o, out, err)
	                         : load_file(path, scanner, &o, false, out, err)) < 0)
		return sanitized(err);
	return 0;
}

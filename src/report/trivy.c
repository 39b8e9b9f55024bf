/*
 * trivy.c: Trivy JSON reports (`trivy image -f json`, SchemaVersion 2).
 *
 * What is read (and nothing else, so fields older and newer Trivy versions
 * add or omit do not matter): Metadata.OS.{Family,Name},
 * Metadata.ImageConfig.{architecture,variant}, Results[].{Class,Type,
 * Vulnerabilities[].{VulnerabilityID,PkgName,InstalledVersion,FixedVersion,
 * PkgIdentifier.PURL}}. Only os-pkgs results feed OS patching; a result
 * without a Class (older Trivy) counts as os-pkgs when its Type is the OS
 * family. Keys match case-insensitively, as Go's decoder does.
 */
#include "report/adapters.h"

#include "util/json.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PATHLEN 96

/* The package family the first os-pkgs purl names (for OS types without one). */
static enum copa_pkgfam purl_hint(const json_t *results)
{
	size_t i, j;
	json_t *r, *v;

	json_array_foreach(results, i, r)
	{
		json_t *vulns = copa_json_arr_ci(r, "Vulnerabilities");

		json_array_foreach(vulns, j, v)
		{
			json_t *id = copa_json_obj_ci(v, "PkgIdentifier");
			const char *purl = copa_json_str_ci(id, "PURL");
			enum copa_pkgfam f = copa_report_fam_of_type(purl);

			if (f != COPA_FAM_NONE)
				return f;
		}
	}
	return COPA_FAM_NONE;
}

static bool is_os_result(const char *class, const char *type, const char *family)
{
	if (class && *class)
		return !strcmp(class, "os-pkgs");
	return type && family && !strcasecmp(type, family);
}

static int read_vuln(struct copa_update_manifest *m, const json_t *v, const char *path,
                     const char *type, const char *class, struct copa_err *err)
{
	struct copa_entry e = {0};

	if (!json_is_object(v))
		return copa_err_set(err, COPA_E_INPUT, "%s is not an object", path);
	if (copa_rj_str(v, "VulnerabilityID", path, &e.vuln_id, err) < 0 ||
	    copa_rj_str(v, "PkgName", path, &e.name, err) < 0 ||
	    copa_rj_str(v, "InstalledVersion", path, &e.installed, err) < 0 ||
	    copa_rj_str(v, "FixedVersion", path, &e.fixed, err) < 0)
		return -1;
	e.type = type;
	e.class = class;
	if (copa_update_manifest_add(m, &e, err) < 0)
		return copa_err_wrap(err, "%s", path);
	return 0;
}

static int read_results(struct copa_update_manifest *m, const json_t *results, const char *family,
                        struct copa_err *err)
{
	size_t i, j;
	json_t *r, *v;

	json_array_foreach(results, i, r)
	{
		char path[PATHLEN];
		const char *class = NULL, *type = NULL;
		const json_t *vulns;

		snprintf(path, sizeof(path), "Results[%zu]", i);
		if (!json_is_object(r))
			return copa_err_set(err, COPA_E_INPUT, "%s is not an object", path);
		if (copa_rj_str(r, "Class", path, &class, err) < 0 ||
		    copa_rj_str(r, "Type", path, &type, err) < 0 ||
		    copa_rj_arr(r, "Vulnerabilities", path, &vulns, COPA_MANIFEST_MAX_ENTRIES,
		                err) < 0)
			return -1;
		if (!vulns)
			continue;
		if (!is_os_result(class, type, family)) {
			if (class && !strcmp(class, "lang-pkgs"))
				m->n_lang_ignored += json_array_size(vulns);
			continue;
		}
		json_array_foreach(vulns, j, v)
		{
			char vpath[PATHLEN];

			snprintf(vpath, sizeof(vpath), "Results[%zu].Vulnerabilities[%zu]", i, j);
			if (read_vuln(m, v, vpath, type ? type : "", class ? class : "os-pkgs",
			              err) < 0)
				return -1;
		}
	}
	return 0;
}

int copa_report_trivy(const json_t *doc, const char *source, struct copa_update_manifest_list *out,
                      struct copa_err *err)
{
	const json_t *meta = NULL, *os = NULL, *cfg = NULL, *results = NULL, *sv;
	const char *family = NULL, *name = NULL, *arch = NULL, *variant = NULL, *artifact = NULL;
	struct copa_update_manifest *m;

	if (copa_report_check_kind(doc, COPA_DOC_TRIVY, err) < 0)
		return -1;
	if (!json_is_object(doc))
		return copa_err_set(err, COPA_E_INPUT,
		                    "not a Trivy report: the document is not a JSON object");
	sv = copa_json_get_ci(doc, "SchemaVersion");
	if (sv && !json_is_null(sv)) {
		if (!json_is_integer(sv))
			return copa_err_set(err, COPA_E_INPUT, "SchemaVersion is not a number");
		if (json_integer_value(sv) != 2)
			return copa_err_set(
			    err, COPA_E_UNSUPPORTED,
			    "Trivy SchemaVersion %lld is not supported: copa reads "
			    "SchemaVersion 2 (`trivy image -f json`, Trivy 0.20 or newer)",
			    (long long)json_integer_value(sv));
	}
	if (copa_rj_str(doc, "ArtifactName", "report", &artifact, err) < 0 ||
	    copa_rj_obj(doc, "Metadata", "report", &meta, err) < 0 ||
	    copa_rj_arr(doc, "Results", "report", &results, COPA_REPORT_MAX_RESULTS, err) < 0 ||
	    copa_rj_obj(meta, "OS", "Metadata", &os, err) < 0 ||
	    copa_rj_str(os, "Family", "Metadata.OS", &family, err) < 0 ||
	    copa_rj_str(os, "Name", "Metadata.OS", &name, err) < 0 ||
	    copa_rj_obj(meta, "ImageConfig", "Metadata", &cfg, err) < 0 ||
	    copa_rj_str(cfg, "architecture", "Metadata.ImageConfig", &arch, err) < 0 ||
	    copa_rj_str(cfg, "variant", "Metadata.ImageConfig", &variant, err) < 0)
		return -1;
	if (!family || !*family || !strcasecmp(family, "none"))
		return copa_err_set(err, COPA_E_INPUT,
		                    "no OS metadata (Metadata.OS.Family): Trivy found no operating "
		                    "system in '%s'; copa patches OS packages, so scan a container "
		                    "image with `trivy image -f json`",
		                    artifact && *artifact ? artifact : "the scanned artifact");
	if (!name || !*name)
		return copa_err_set(err, COPA_E_INPUT,
		                    "no OS version (Metadata.OS.Name) for OS family '%s'", family);
	m = copa_update_manifest_new(source, "trivy");
	if (artifact && strlen(artifact) <= COPA_MANIFEST_MAX_FIELD)
		m->artifact = copa_update_manifest_strdup(m, artifact);
	if (copa_update_manifest_set_os(m, family, name, arch, variant, purl_hint(results), err) <
	        0 ||
	    read_results(m, results, family, err) < 0) {
		copa_update_manifest_free(m);
		return -1;
	}
	return copa_update_manifest_list_finish_push(out, m, err);
}

/*
 * grype.c: Grype JSON reports (`grype -o json`), read natively.
 *
 * What is read: descriptor.name (must be "grype" when present),
 * distro.{name,version}, source.target.{architecture,variant} (target may
 * be a string for directory scans), and matches[].{artifact.{type,name,
 * version,metadata.epoch}, vulnerability.{id,fix.{state,versions}}}. Only
 * deb, apk and rpm artifacts are OS packages; the rest are counted as
 * language findings. The rpm epoch Grype keeps in artifact.metadata.epoch is
 * put back in front of the version ("1:1.1.1k-7.el8_6"), as Trivy writes it.
 * Of several fixed versions, the lowest one above the installed version is
 * taken (the first one when none compares).
 */
#include "report/adapters.h"

#include "util/json.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define PATHLEN 96

static bool is_os_type(const char *t)
{
	return t && (!strcmp(t, "deb") || !strcmp(t, "apk") || !strcmp(t, "rpm"));
}

static enum copa_pkgfam type_hint(const json_t *matches)
{
	size_t i;
	json_t *mt;

	json_array_foreach(matches, i, mt)
	{
		const char *t = copa_json_str_ci(copa_json_obj_ci(mt, "artifact"), "type");

		if (is_os_type(t))
			return copa_report_fam_of_type(t);
	}
	return COPA_FAM_NONE;
}

/* "2:1.30-6.el8" from version "1.30-6.el8" and metadata.epoch 2. */
static const char *with_epoch(struct copa_update_manifest *m, const json_t *artifact,
                              const char *version)
{
	const json_t *md = copa_json_obj_ci(artifact, "metadata");
	json_t *ep = copa_json_get_ci(md, "epoch");
	char buf[64];
	size_t n;
	char *s;

	if (!version || !json_is_integer(ep) || json_integer_value(ep) <= 0 || strchr(version, ':'))
		return version;
	snprintf(buf, sizeof(buf), "%lld:", (long long)json_integer_value(ep));
	n = strlen(buf) + strlen(version) + 1;
	s = copa_arena_alloc(&m->arena, n);
	snprintf(s, n, "%s%s", buf, version);
	return s;
}

static int pick_fix(struct copa_update_manifest *m, const json_t *versions, const char *installed,
                    const char *path, const char **out, struct copa_err *err)
{
	size_t i;
	json_t *v;

	*out = NULL;
	json_array_foreach(versions, i, v)
	{
		const char *s = json_string_value(v);
		int r;

		if (!s)
			return copa_err_set(err, COPA_E_INPUT,
			                    "%s.vulnerability.fix.versions[%zu] is "
			                    "not a string",
			                    path, i);
		if (!*out) {
			*out = s;
			continue;
		}
		/* Prefer the lowest version that still fixes (above installed). */
		if (!copa_version_valid(m->fam, s) || !copa_version_valid(m->fam, *out) ||
		    !installed || !copa_version_valid(m->fam, installed))
			continue;
		if (copa_version_cmp(m->fam, *out, installed, &r, err) < 0)
			return -1;
		if (r <= 0) {
			*out = s;
			continue;
		}
		if (copa_version_cmp(m->fam, s, installed, &r, err) < 0)
			return -1;
		if (r > 0 && copa_version_cmp(m->fam, s, *out, &r, err) == 0 && r < 0)
			*out = s;
	}
	return 0;
}

static int read_match(struct copa_update_manifest *m, const json_t *mt, const char *path,
                      struct copa_err *err)
{
	const json_t *art = NULL, *vuln = NULL, *fix = NULL, *versions = NULL;
	const char *type = NULL, *state = NULL;
	struct copa_entry e = {0};

	if (!json_is_object(mt))
		return copa_err_set(err, COPA_E_INPUT, "%s is not an object", path);
	if (copa_rj_obj(mt, "artifact", path, &art, err) < 0 ||
	    copa_rj_obj(mt, "vulnerability", path, &vuln, err) < 0 ||
	    copa_rj_str(art, "type", path, &type, err) < 0)
		return -1;
	if (!is_os_type(type)) {
		m->n_lang_ignored++;
		return 0;
	}
	if (copa_rj_str(art, "name", path, &e.name, err) < 0 ||
	    copa_rj_str(art, "version", path, &e.installed, err) < 0 ||
	    copa_rj_str(vuln, "id", path, &e.vuln_id, err) < 0 ||
	    copa_rj_obj(vuln, "fix", path, &fix, err) < 0 ||
	    copa_rj_str(fix, "state", path, &state, err) < 0 ||
	    copa_rj_arr(fix, "versions", path, &versions, 4096, err) < 0)
		return -1;
	e.installed = with_epoch(m, art, e.installed);
	if (state && !strcmp(state, "fixed") &&
	    pick_fix(m, versions, e.installed, path, &e.fixed, err) < 0)
		return -1;
	e.type = m->os_type;
	e.class = "os-pkgs";
	if (copa_update_manifest_add(m, &e, err) < 0)
		return copa_err_wrap(err, "%s", path);
	return 0;
}

int copa_report_grype(const json_t *doc, const char *source, struct copa_update_manifest_list *out,
                      struct copa_err *err)
{
	const json_t *desc = NULL, *distro = NULL, *src = NULL, *target, *matches = NULL;
	const char *dname = NULL, *name = NULL, *version = NULL, *arch = NULL, *variant = NULL;
	struct copa_update_manifest *m;
	size_t i;
	json_t *mt;

	if (copa_report_check_kind(doc, COPA_DOC_GRYPE, err) < 0)
		return -1;
	if (!json_is_object(doc))
		return copa_err_set(err, COPA_E_INPUT,
		                    "not a Grype report: the document is not a JSON object");
	if (copa_rj_obj(doc, "descriptor", "report", &desc, err) < 0 ||
	    copa_rj_str(desc, "name", "descriptor", &dname, err) < 0 ||
	    copa_rj_arr(doc, "matches", "report", &matches, COPA_MANIFEST_MAX_ENTRIES, err) < 0 ||
	    copa_rj_obj(doc, "distro", "report", &distro, err) < 0 ||
	    copa_rj_str(distro, "name", "distro", &name, err) < 0 ||
	    copa_rj_str(distro, "version", "distro", &version, err) < 0 ||
	    copa_rj_obj(doc, "source", "report", &src, err) < 0)
		return -1;
	if (dname && strcmp(dname, "grype"))
		return copa_err_set(err, COPA_E_INPUT,
		                    "not a Grype report: descriptor.name is '%s', not 'grype'",
		                    dname);
	if (!matches && !copa_json_get_ci(doc, "matches"))
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "not a Grype report: it has no 'matches' (expected `grype -o json` "
		    "output)");
	target = copa_json_get_ci(src, "target");
	if (json_is_object(target) &&
	    (copa_rj_str(target, "architecture", "source.target", &arch, err) < 0 ||
	     copa_rj_str(target, "variant", "source.target", &variant, err) < 0))
		return -1;
	if (!name || !*name)
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "no OS metadata (distro.name): Grype found no operating system; "
		    "copa patches OS packages, so scan a container image with "
		    "`grype -o json`");
	if (!version || !*version)
		return copa_err_set(err, COPA_E_INPUT, "no OS version (distro.version) for OS '%s'",
		                    name);
	m = copa_update_manifest_new(source, "grype");
	if (json_is_object(target) && json_is_string(copa_json_get_ci(target, "userInput")) &&
	    strlen(json_string_value(copa_json_get_ci(target, "userInput"))) <=
	        COPA_MANIFEST_MAX_FIELD)
		m->artifact = copa_update_manifest_strdup(
		    m, json_string_value(copa_json_get_ci(target, "userInput")));
	if (copa_update_manifest_set_os(m, name, version, arch, variant, type_hint(matches), err) <
	    0)
		goto fail;
	json_array_foreach(matches, i, mt)
	{
		char path[PATHLEN];

		snprintf(path, sizeof(path), "matches[%zu]", i);
		if (read_match(m, mt, path, err) < 0)
			goto fail;
	}
	return copa_update_manifest_list_finish_push(out, m, err);
fail:
	copa_update_manifest_free(m);
	return -1;
}

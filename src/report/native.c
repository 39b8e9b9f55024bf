/*
 * native.c: copa's update manifest JSON (apiVersion v1alpha1 and v1alpha2,
 * field-compatible with the original copa's plugin format), read and written.
 *
 * v1alpha1: {apiVersion, metadata:{os:{type,version}, config:{arch}},
 *            updates:[{name, installedVersion, fixedVersion, vulnerabilityID}]}
 * v1alpha2: {apiVersion, metadata:{os:{type,version}, config:{arch, variant?}},
 *            osupdates:[{... , type, class}], langupdates:[...]}
 * copa adds "unfixable" (same shape, empty fixedVersion) so that `copa report
 * --json` keeps the findings without a fix; readers that do not know it
 * ignore it. An entry of osupdates without a fixedVersion is unfixable too.
 * A JSON array of such documents is one manifest per platform.
 */
#include "report/adapters.h"

#include "util/json.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

#define PATHLEN 96

static int read_list(struct copa_update_manifest *m, const json_t *doc, const char *key, bool v2,
                     struct copa_err *err)
{
	const json_t *list = NULL;
	size_t i;
	json_t *u;

	if (copa_rj_arr(doc, key, "manifest", &list, COPA_MANIFEST_MAX_ENTRIES, err) < 0)
		return -1;
	json_array_foreach(list, i, u)
	{
		char path[PATHLEN];
		struct copa_entry e = {0};

		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if (!json_is_object(u))
			return copa_err_set(err, COPA_E_INPUT, "%s is not an object", path);
		if (copa_rj_str(u, "name", path, &e.name, err) < 0 ||
		    copa_rj_str(u, "installedVersion", path, &e.installed, err) < 0 ||
		    copa_rj_str(u, "fixedVersion", path, &e.fixed, err) < 0 ||
		    copa_rj_str(u, "vulnerabilityID", path, &e.vuln_id, err) < 0)
			return -1;
		if (v2 && (copa_rj_str(u, "type", path, &e.type, err) < 0 ||
		           copa_rj_str(u, "class", path, &e.class, err) < 0))
			return -1;
		if (!strcmp(key, "unfixable"))
			e.fixed = "";
		if (copa_update_manifest_add(m, &e, err) < 0)
			return copa_err_wrap(err, "%s", path);
	}
	return 0;
}

static int read_one(const json_t *doc, const char *source, const char *scanner,
                    struct copa_update_manifest_list *out, struct copa_err *err)
{
	const json_t *meta = NULL, *os = NULL, *cfg = NULL, *lang = NULL;
	const char *api = NULL, *type = NULL, *version = NULL, *arch = NULL, *variant = NULL;
	struct copa_update_manifest *m;
	bool v2;

	if (!json_is_object(doc))
		return copa_err_set(
		    err, COPA_E_INPUT,
		    "not a copa update manifest: the document is not a JSON object");
	if (copa_rj_str(doc, "apiVersion", "manifest", &api, err) < 0)
		return -1;
	if (!api) {
		if (copa_report_check_kind(doc, COPA_DOC_NATIVE, err) < 0)
			return -1;
		return copa_err_set(err, COPA_E_INPUT,
		                    "not a copa update manifest: it has no apiVersion (expected "
		                    "v1alpha1 or v1alpha2)");
	}
	if (strcmp(api, "v1alpha1") && strcmp(api, "v1alpha2"))
		return copa_err_set(
		    err, COPA_E_UNSUPPORTED,
		    "unsupported apiVersion '%.64s' (copa reads v1alpha1 and v1alpha2)", api);
	v2 = !strcmp(api, "v1alpha2");
	if (copa_rj_obj(doc, "metadata", "manifest", &meta, err) < 0 ||
	    copa_rj_obj(meta, "os", "metadata", &os, err) < 0 ||
	    copa_rj_str(os, "type", "metadata.os", &type, err) < 0 ||
	    copa_rj_str(os, "version", "metadata.os", &version, err) < 0 ||
	    copa_rj_obj(meta, "config", "metadata", &cfg, err) < 0 ||
	    copa_rj_str(cfg, "arch", "metadata.config", &arch, err) < 0 ||
	    (v2 && copa_rj_str(cfg, "variant", "metadata.config", &variant, err) < 0))
		return -1;
	if (!type || !*type)
		return copa_err_set(err, COPA_E_INPUT, "no OS metadata (metadata.os.type)");
	if (!version || !*version)
		return copa_err_set(err, COPA_E_INPUT,
		                    "no OS version (metadata.os.version) for OS '%s'", type);
	m = copa_update_manifest_new(source, scanner);
	if (copa_update_manifest_set_os(m, type, version, arch, variant, COPA_FAM_NONE, err) < 0)
		goto fail;
	if (v2) {
		if (read_list(m, doc, "osupdates", true, err) < 0 ||
		    read_list(m, doc, "unfixable", true, err) < 0 ||
		    copa_rj_arr(doc, "langupdates", "manifest", &lang, COPA_MANIFEST_MAX_ENTRIES,
		                err) < 0)
			goto fail;
		m->n_lang_ignored = json_array_size(lang);
	} else if (read_list(m, doc, "updates", false, err) < 0) {
		goto fail;
	}
	return copa_update_manifest_list_finish_push(out, m, err);
fail:
	copa_update_manifest_free(m);
	return -1;
}

int copa_report_native(const json_t *doc, const char *source, const char *scanner,
                       struct copa_update_manifest_list *out, struct copa_err *err)
{
	size_t i;
	json_t *d;

	if (!json_is_array(doc))
		return read_one(doc, source, scanner, out, err);
	if (json_array_size(doc) == 0)
		return copa_err_set(err, COPA_E_INPUT, "the list of update manifests is empty");
	if (json_array_size(doc) > COPA_REPORT_MAX_FILES)
		return copa_err_set(err, COPA_E_LIMIT, "more than %d update manifests in one list",
		                    COPA_REPORT_MAX_FILES);
	json_array_foreach(doc, i, d)
	{
		if (read_one(d, source, scanner, out, err) < 0)
			return copa_err_wrap(err, "manifest [%zu]", i);
	}
	return 0;
}

static json_t *entry_json(const struct copa_entry *e)
{
	json_t *o = json_object();

	copa_json_set_str(o, "name", e->name);
	copa_json_set_str(o, "installedVersion", e->installed);
	copa_json_set_str(o, "fixedVersion", e->fixed);
	copa_json_set_str(o, "vulnerabilityID", e->vuln_id);
	copa_json_set_str(o, "type", e->type);
	copa_json_set_str(o, "class", e->class);
	return o;
}

static json_t *manifest_json(const struct copa_update_manifest *m)
{
	json_t *doc = json_object(), *meta = json_object(), *os = json_object(),
	       *cfg = json_object(), *osu = json_array(), *unf = json_array();

	copa_json_set_str(os, "type", m->os_type);
	copa_json_set_str(os, "version", m->os_version);
	copa_json_set_str(cfg, "arch", m->arch);
	if (*m->variant)
		copa_json_set_str(cfg, "variant", m->variant);
	json_object_set_new(meta, "os", os);
	json_object_set_new(meta, "config", cfg);
	copa_json_set_str(doc, "apiVersion", "v1alpha2");
	json_object_set_new(doc, "metadata", meta);
	for (size_t i = 0; i < m->n_entries; i++)
		json_array_append_new(osu, entry_json(&m->entries[i]));
	for (size_t i = 0; i < m->n_unfixable; i++)
		json_array_append_new(unf, entry_json(&m->unfixable[i]));
	json_object_set_new(doc, "osupdates", osu);
	json_object_set_new(doc, "langupdates", json_array());
	json_object_set_new(doc, "unfixable", unf);
	return doc;
}

int copa_report_write_native(const struct copa_update_manifest *const *v, size_t n, bool as_array,
                             struct copa_buf *out, struct copa_err *err)
{
	json_t *doc;
	int r;

	if (!as_array && n != 1)
		COPA_BUG("native output of %zu manifests without an array", n);
	if (as_array) {
		doc = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(doc, manifest_json(v[i]));
	} else {
		doc = manifest_json(v[0]);
	}
	r = copa_json_dump(doc, 2, out, err);
	json_decref(doc);
	if (r < 0)
		return -1;
	return copa_buf_addc(out, '\n') < 0 ? copa_err_set(err, COPA_E_LIMIT, "output too large")
	                                    : 0;
}

/*
 * plancache.c: plans kept in the cache, keyed by everything a plan is a function of (see
 * plan.h, copa_deb_plan_key). Images of a fleet that share a base have the same dpkg status
 * and the same repositories, so the second one gets the first one's plan without loading
 * the indexes into libsolv again.
 */
#include "pkg/deb/plan.h"

#include "pkg/deb/debrepo.h"
#include "pkg/deb/probe_repo.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/mem.h"

#include <solv/solvversion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_FORMAT   "copa-deb-plan-v1"
#define PLAN_PKGS_MAX 100000
#define PLAN_STR_MAX  4096

/* A field of the key: its length, then its bytes, so no two field lists hash alike. */
static void put(struct copa_hash *h, const char *s)
{
	char n[32];
	size_t len = s ? strlen(s) : 0;

	snprintf(n, sizeof(n), s ? "%zu:" : "-:", len);
	copa_hash_update(h, n, strlen(n));
	if (s)
		copa_hash_update(h, s, len);
}

char *copa_deb_plan_key(const struct copa_deb_status *st, const struct copa_deb_indexes *ix,
                        const struct copa_deb_plan_opts *o)
{
	struct copa_hash h;
	char hex[COPA_HASH_HEX_MAX], n[64];

	/* Pins are a parsed policy with file and line references: not worth a canonical form. */
	if (o->prefs && o->prefs->n)
		return NULL;
	copa_hash_init(&h, COPA_HASH_SHA256);
	put(&h, PLAN_FORMAT);
	put(&h, solv_version);
	snprintf(n, sizeof(n), "%zu %d %d %d %zu", st->len, st->distroless, o->no_new_packages,
	         o->best_available, o->n_requests);
	put(&h, n);
	copa_hash_update(&h, st->text ? st->text : "", st->len);
	put(&h, st->native_arch);
	for (char **a = st->foreign_archs; a && *a; a++)
		put(&h, *a);
	put(&h, "indexes");
	for (size_t i = 0; i < ix->n; i++) {
		const struct copa_deb_index *x = &ix->v[i];

		put(&h, x->digest);
		put(&h, x->repo);
		put(&h, x->label);
		put(&h, x->base_uri);
		put(&h, x->component);
		put(&h, x->arch);
		put(&h, x->rel_origin);
		put(&h, x->rel_label);
		put(&h, x->rel_suite);
		put(&h, x->rel_codename);
		put(&h, x->host);
		snprintf(n, sizeof(n), "%d %d %zu", x->not_automatic, x->but_automatic_upgrades,
		         x->source);
		put(&h, n);
	}
	put(&h, "requests");
	for (size_t i = 0; i < o->n_requests; i++) {
		put(&h, o->requests[i].name);
		put(&h, o->requests[i].fixed_version);
	}
	copa_hash_final_hex(&h, hex);
	copa_hash_release(&h);
	return copa_xstrdup(hex);
}

int copa_deb_plan_encode(const struct copa_deb_plan *plan, struct copa_buf *out,
                         struct copa_err *err)
{
	json_t *pkgs = json_array(), *res = json_array(), *doc;
	int r;

	for (size_t i = 0; i < plan->n_pkgs; i++) {
		const struct copa_deb_pkg *p = &plan->pkgs[i];

		json_array_append_new(
		    pkgs,
		    json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:I,s:I,s:s,s:s}", "name", p->name,
		              "arch", p->arch, "version", p->version, "multi_arch", p->multi_arch,
		              "old_version", p->old_version, "url", p->url, "filename", p->filename,
		              "size", (json_int_t)p->size, "installed_size",
		              (json_int_t)p->installed_size, "sha256", p->sha256, "repo", p->repo));
	}
	for (size_t i = 0; i < plan->n_results; i++) {
		const struct copa_deb_result *x = &plan->results[i];

		json_array_append_new(
		    res, json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:i,s:s?}", "name", x->name,
		                   "arch", x->arch, "installed_version", x->installed_version,
		                   "fixed_version", x->fixed_version, "chosen_version",
		                   x->chosen_version, "best_available", x->best_available, "repo",
		                   x->repo, "outcome", (int)x->outcome, "reason", x->reason));
	}
	doc = json_pack("{s:s,s:o,s:o,s:b,s:I,s:I}", "format", PLAN_FORMAT, "packages", pkgs,
	                "results", res, "update_all", plan->update_all, "installed",
	                (json_int_t)plan->n_installed, "available", (json_int_t)plan->n_available);
	if (!doc)
		return copa_err_set(err, COPA_E_BUG, "cannot encode the plan");
	r = copa_json_dump(doc, 0, out, err);
	json_decref(doc);
	if (r == 0) {
		char hex[COPA_HASH_HEX_MAX];

		copa_hash_hex(COPA_HASH_SHA256, out->p, out->len, hex);
		copa_buf_addf(out, "\n%s\n", hex);
	}
	return r;
}

/* A string member: *out is a copy, NULL when absent or null; false when it is something else
 * or too long. */
static bool get_str(const json_t *o, const char *key, bool required, char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return !required;
	if (!json_is_string(v) || json_string_length(v) > PLAN_STR_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return false;
	*out = copa_xstrdup(json_string_value(v));
	return true;
}

static bool get_u64(const json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static bool is_sha256_hex(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static bool decode_pkg(const json_t *o, struct copa_deb_pkg *p)
{
	char *sha = NULL;
	bool ok = json_is_object(o) && get_str(o, "name", true, &p->name) &&
	          get_str(o, "arch", true, &p->arch) && get_str(o, "version", true, &p->version) &&
	          get_str(o, "multi_arch", false, &p->multi_arch) &&
	          get_str(o, "old_version", false, &p->old_version) &&
	          get_str(o, "url", true, &p->url) && get_str(o, "filename", true, &p->filename) &&
	          get_str(o, "repo", true, &p->repo) && get_u64(o, "size", &p->size) &&
	          get_u64(o, "installed_size", &p->installed_size) &&
	          get_str(o, "sha256", true, &sha) && is_sha256_hex(sha);

	if (ok)
		memcpy(p->sha256, sha, 65);
	free(sha);
	return ok;
}

static bool decode_result(const json_t *o, struct copa_deb_result *x)
{
	json_t *oc = json_object_get(o, "outcome");

	if (!json_is_object(o) || !json_is_integer(oc) || json_integer_value(oc) < 0 ||
	    json_integer_value(oc) > COPA_DEB_FAILED)
		return false;
	x->outcome = (enum copa_deb_outcome)json_integer_value(oc);
	return get_str(o, "name", true, &x->name) && get_str(o, "arch", false, &x->arch) &&
	       get_str(o, "installed_version", false, &x->installed_version) &&
	       get_str(o, "fixed_version", false, &x->fixed_version) &&
	       get_str(o, "chosen_version", false, &x->chosen_version) &&
	       get_str(o, "best_available", false, &x->best_available) &&
	       get_str(o, "repo", false, &x->repo) && get_str(o, "reason", false, &x->reason);
}

int copa_deb_plan_decode(const void *data, size_t n, struct copa_deb_plan *plan,
                         struct copa_err *err)
{
	const char *text = data;
	char hex[COPA_HASH_HEX_MAX];
	json_t *doc, *pkgs, *res, *ua;
	const char *fmt;
	uint64_t inst = 0, avail = 0;
	bool ok;

	memset(plan, 0, sizeof(*plan));
	/* "<json>\n<sha256 of json>\n": a damaged record is refused before it is parsed. */
	if (n < 66 || text[n - 1] != '\n' || text[n - 66] != '\n')
		return copa_err_set(err, COPA_E_INPUT, "plan record: no checksum");
	copa_hash_hex(COPA_HASH_SHA256, text, n - 66, hex);
	if (memcmp(hex, text + n - 65, 64) != 0)
		return copa_err_set(err, COPA_E_INPUT, "plan record: checksum mismatch");
	doc = copa_json_parse(text, n - 66, 64u << 20, "plan record", err);
	if (!doc)
		return -1;
	fmt = copa_json_str(doc, "format");
	pkgs = json_object_get(doc, "packages");
	res = json_object_get(doc, "results");
	ua = json_object_get(doc, "update_all");
	ok = fmt && strcmp(fmt, PLAN_FORMAT) == 0 && json_is_array(pkgs) && json_is_array(res) &&
	     json_is_boolean(ua) && json_array_size(pkgs) <= PLAN_PKGS_MAX &&
	     json_array_size(res) <= PLAN_PKGS_MAX && get_u64(doc, "installed", &inst) &&
	     get_u64(doc, "available", &avail);
	if (ok) {
		plan->update_all = json_is_true(ua);
		plan->n_installed = (size_t)inst;
		plan->n_available = (size_t)avail;
		plan->pkgs = copa_xcalloc(json_array_size(pkgs) + 1, sizeof(*plan->pkgs));
		for (size_t i = 0; ok && i < json_array_size(pkgs); i++) {
			plan->n_pkgs++;
			ok = decode_pkg(json_array_get(pkgs, i), &plan->pkgs[i]);
		}
		plan->results = copa_xcalloc(json_array_size(res) + 1, sizeof(*plan->results));
		for (size_t i = 0; ok && i < json_array_size(res); i++) {
			plan->n_results++;
			ok = decode_result(json_array_get(res, i), &plan->results[i]);
		}
	}
	json_decref(doc);
	if (!ok) {
		copa_deb_plan_release(plan);
		return copa_err_set(err, COPA_E_INPUT, "plan record: not a %s record", PLAN_FORMAT);
	}
	return 0;
}
